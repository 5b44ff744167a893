// `nas admin backup <file>` and `nas admin restore <file>`: online backup of
// the SQLite store and a checked, atomic restore (src/store/backup.ts).

import type { Command } from 'commander';
import { dataPaths, setDataDir } from '../config/paths.ts';
import { backupStore, restoreStore } from '../store/backup.ts';
import { UsageError } from './errors.ts';

interface AdminCliOptions {
  dataDir?: string;
  force?: boolean;
  json?: boolean;
}

function storePath(o: AdminCliOptions): string {
  if (o.dataDir !== undefined) {
    if (o.dataDir.trim() === '') throw new UsageError('--data-dir needs a directory');
    setDataDir(o.dataDir);
  }
  return dataPaths().store;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

export function registerAdminCommand(program: Command): void {
  const admin = program.command('admin').description('store administration: backup and restore');
  admin.command('backup <file>')
    .description('copy the store to <file> while it stays in use (SQLite online backup)')
    .option('--data-dir <dir>', 'data directory (default: $NAS_DATA_DIR or ~/.mobile-nas)')
    .option('--force', 'replace <file> if it exists')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, o: AdminCliOptions) => {
      const r = await backupStore({ store: storePath(o), to: file, force: o.force });
      process.stdout.write(o.json ? `${JSON.stringify(r)}\n` : `backed up the store to ${r.file} (schema ${r.schemaVersion}, ${mib(r.sizeBytes)})\n`);
    });
  admin.command('restore <file>')
    .description('replace the store with a backup (checked first; the previous store is kept as <store>.bak)')
    .option('--data-dir <dir>', 'data directory (default: $NAS_DATA_DIR or ~/.mobile-nas)')
    .option('--json', 'print the result as JSON')
    .action((file: string, o: AdminCliOptions) => {
      const r = restoreStore({ store: storePath(o), from: file });
      process.stdout.write(o.json
        ? `${JSON.stringify(r)}\n`
        : `restored ${file} into ${r.file} (schema ${r.schemaVersion}, ${mib(r.sizeBytes)})${r.previous ? `; previous store kept as ${r.previous}` : ''}\n`);
    });
}
