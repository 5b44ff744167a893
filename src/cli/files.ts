// Files the CLI writes for the user (downloads, exports): written aside,
// then renamed, so a failure (full disk, kill) never leaves a partial file
// under the name asked for.

import { renameSync, rmSync, writeFileSync } from 'node:fs';

export function writeFileWhole(file: string, bytes: Uint8Array): void {
  const tmp = `${file}.part-${process.pid}`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
