// Safe extraction of an uploaded dataset archive (a zip with one folder per
// class). Every entry name is checked before anything is written: absolute
// paths, drive letters, backslashes, `..` segments, NUL bytes, symlinks and
// other special files are refused with an error naming the entry; sizes are
// bounded (entries, bytes per file, bytes in all); files land only inside the
// destination folder. A single top-level folder wrapping the class folders
// (what zipping a folder gives) is unwrapped; macOS metadata is skipped.

import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import yauzl from 'yauzl';

export class ArchiveError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(message: string, status = 400, code = 'unsafe_archive') {
    super(message);
    this.name = 'ArchiveError';
    this.status = status;
    this.code = code;
  }
}

export interface ArchiveLimits {
  maxEntries: number;
  maxFileBytes: number;
  maxTotalBytes: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = { maxEntries: 200_000, maxFileBytes: 64 * 2 ** 20, maxTotalBytes: 4 * 2 ** 30 };

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

/** Why an entry name is unsafe, or null when it is a plain relative path. */
export function unsafeEntryName(name: string): string | null {
  if (name === '') return 'empty name';
  if (name.includes('\0')) return 'NUL byte in the name';
  if (name.includes('\\')) return 'backslash in the name (Windows path separator)';
  if (name.startsWith('/')) return 'absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'drive-letter path';
  if (name.split('/').some((s) => s === '..')) return '".." path segment';
  return null;
}

function isSkipped(name: string): boolean {
  return name.startsWith('__MACOSX/') || /(^|\/)\.DS_Store$/.test(name) || /(^|\/)\._/.test(name);
}

interface Planned { name: string; entry: yauzl.Entry; dir: boolean }

/**
 * Check every entry of `zip` (a buffer or a file path), then extract the files into `dest` (created).
 * Returns the extracted file paths relative to `dest` (class/file), after
 * unwrapping a single top-level folder.
 */
export async function extractArchive(zip: Buffer | string, dest: string, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Promise<string[]> {
  let zipfile: yauzl.ZipFile;
  const options = { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: false };
  try {
    zipfile = typeof zip === 'string' ? await yauzl.openPromise(zip, options) : await yauzl.fromBufferPromise(zip, options);
  } catch (e) {
    throw new ArchiveError(`not a readable zip archive (${(e as Error).message})`, 400, 'invalid_archive');
  }
  const planned: Planned[] = [];
  let declared = 0;
  try {
    for await (const entry of zipfile.eachEntry()) {
      const raw = entry.fileNameRaw;
      const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, raw, entry.extraFields, false);
      const why = unsafeEntryName(name);
      if (why) throw new ArchiveError(`archive entry "${name}" is refused: ${why}`);
      const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
      const isDir = name.endsWith('/') || mode === S_IFDIR;
      if (mode !== 0 && mode !== S_IFREG && mode !== S_IFDIR) {
        throw new ArchiveError(`archive entry "${name}" is refused: ${(mode === 0o120000) ? 'symbolic link' : 'not a regular file or folder'}`);
      }
      if (entry.isEncrypted()) throw new ArchiveError(`archive entry "${name}" is encrypted`);
      if (planned.length >= limits.maxEntries) throw new ArchiveError(`archive has more than ${limits.maxEntries} entries`, 413, 'payload_too_large');
      if (!isDir) {
        if (entry.uncompressedSize > limits.maxFileBytes) throw new ArchiveError(`archive entry "${name}" is ${entry.uncompressedSize} bytes, more than ${limits.maxFileBytes}`, 413, 'payload_too_large');
        declared += entry.uncompressedSize;
        if (declared > limits.maxTotalBytes) throw new ArchiveError(`archive expands to more than ${limits.maxTotalBytes} bytes`, 413, 'payload_too_large');
      }
      if (!isSkipped(name)) planned.push({ name, entry, dir: isDir });
    }
  } catch (e) {
    zipfile.close();
    if (e instanceof ArchiveError) throw e;
    throw new ArchiveError(`corrupt zip archive (${(e as Error).message})`, 400, 'invalid_archive');
  }

  // Unwrap one top-level folder when every file lives under it.
  const files = planned.filter((p) => !p.dir);
  const tops = new Set(files.map((p) => p.name.split('/')[0]));
  const strip = tops.size === 1 && files.every((p) => p.name.includes('/')) && files.some((p) => p.name.split('/').length >= 3) ? [...tops][0] + '/' : '';

  const root = resolve(dest);
  mkdirSync(root, { recursive: true });
  const out: string[] = [];
  try {
    for (const p of files) {
      const rel = p.name.slice(strip.length);
      const target = resolve(root, rel);
      if (!target.startsWith(root + sep)) throw new ArchiveError(`archive entry "${p.name}" would land outside the dataset folder`);
      mkdirSync(dirname(target), { recursive: true });
      const stream = await zipfile.openReadStreamPromise(p.entry);
      let n = 0;
      const bound = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          n += chunk.length;
          if (n > limits.maxFileBytes) cb(new ArchiveError(`archive entry "${p.name}" expands past ${limits.maxFileBytes} bytes`, 413, 'payload_too_large'));
          else cb(null, chunk);
        },
      });
      await pipeline(stream, bound, createWriteStream(target, { flags: 'wx' }));
      out.push(rel);
    }
  } catch (e) {
    if (e instanceof ArchiveError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ArchiveError('archive lists the same file twice', 400, 'invalid_archive');
    throw new ArchiveError(`corrupt zip archive (${(e as Error).message})`, 400, 'invalid_archive');
  } finally {
    zipfile.close();
  }
  return out.map((r) => r.split(sep).join('/')).sort();
}
