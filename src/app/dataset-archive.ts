// Safe extraction of an uploaded dataset archive (a zip with one folder per
// class). Every entry name is checked before anything is written: absolute
// paths, drive letters, backslashes, `..` segments, NUL bytes, symlinks and
// other special files, over-long names are refused with an error naming the
// entry; sizes are bounded (entries, bytes per file, bytes in all, and bytes
// in all relative to the archive's own size, against zip bombs), checked on
// the sizes the archive declares before anything is written and counted
// again as the bytes stream out; files land only inside the destination
// folder. A failure names the entry, never a server path. A single top-level
// folder wrapping the class folders (what zipping a folder gives) is
// unwrapped; macOS metadata is skipped.

import { createWriteStream, mkdirSync, statSync } from 'node:fs';
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
  /** bytes of all files together, whatever the archive's size */
  maxTotalBytes: number;
  /** bytes of all files together per byte of archive (images barely compress; a zip bomb expands ~1000x) */
  maxExpansionRatio: number;
  /** bytes of all files together that any archive may expand to, whatever its ratio */
  ratioFreeBytes: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = {
  maxEntries: 200_000, maxFileBytes: 64 * 2 ** 20, maxTotalBytes: 2 * 2 ** 30, maxExpansionRatio: 20, ratioFreeBytes: 64 * 2 ** 20,
};

/** The bytes an archive of `archiveBytes` may expand to, and why. */
export function expansionBudget(archiveBytes: number, limits: ArchiveLimits): { bytes: number; rule: string } {
  const bytes = Math.min(limits.maxTotalBytes, Math.max(limits.ratioFreeBytes, limits.maxExpansionRatio * archiveBytes));
  return { bytes, rule: `the limit for a ${archiveBytes}-byte archive: ${limits.maxExpansionRatio}x its size, at least ${limits.ratioFreeBytes} and at most ${limits.maxTotalBytes} bytes` };
}

const MAX_NAME_BYTES = 1024;
const MAX_SEGMENT_BYTES = 255;

/** An entry name for messages: the user's own text, cut when long. */
export function entryLabel(name: string): string {
  return name.length > 120 ? `${name.slice(0, 100)}... (${name.length} characters)` : name;
}

/** What a file-system error while writing an entry means, without the server path the error carries. */
const FS_REASONS: Record<string, string> = {
  ENAMETOOLONG: 'its name is too long for the file system',
  EEXIST: 'a file or folder of that name was already extracted (the archive lists it twice, or as both a file and a folder)',
  ENOTDIR: 'a part of its path is a file extracted earlier, not a folder',
  EISDIR: 'a folder of that name was already extracted',
  EILSEQ: 'its name is not valid for the file system',
  EINVAL: 'its name is not valid for the file system',
};

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
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `name longer than ${MAX_NAME_BYTES} bytes`;
  if (name.split('/').some((s) => Buffer.byteLength(s) > MAX_SEGMENT_BYTES)) return `a path segment longer than ${MAX_SEGMENT_BYTES} bytes`;
  return null;
}

/** An error while extracting one entry, as a message naming the entry (a file-system error's path is the server's: left out). */
function entryError(name: string, e: unknown): unknown {
  if (e instanceof ArchiveError) return e;
  const err = e as NodeJS.ErrnoException;
  const reason = err.code !== undefined && Object.hasOwn(FS_REASONS, err.code) ? FS_REASONS[err.code] : undefined;
  if (reason) return new ArchiveError(`archive entry "${entryLabel(name)}" cannot be extracted: ${reason}`, 400, 'invalid_archive');
  // any other file-system error (disk full, permissions) is the server's problem: a 5xx, logged, not described
  if (err.syscall !== undefined || err.path !== undefined) return e;
  return new ArchiveError(`archive entry "${entryLabel(name)}" is corrupt (${err.message})`, 400, 'invalid_archive');
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
  const budget = expansionBudget(typeof zip === 'string' ? statSync(zip).size : zip.length, limits);
  const tooBig = (detail: string) => new ArchiveError(`archive expands to more than ${budget.bytes} bytes (${budget.rule})${detail}`, 413, 'payload_too_large');
  let declared = 0;
  try {
    for await (const entry of zipfile.eachEntry()) {
      const raw = entry.fileNameRaw;
      const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, raw, entry.extraFields, false);
      const why = unsafeEntryName(name);
      if (why) throw new ArchiveError(`archive entry "${entryLabel(name)}" is refused: ${why}`);
      const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
      const isDir = name.endsWith('/') || mode === S_IFDIR;
      if (mode !== 0 && mode !== S_IFREG && mode !== S_IFDIR) {
        throw new ArchiveError(`archive entry "${entryLabel(name)}" is refused: ${(mode === 0o120000) ? 'symbolic link' : 'not a regular file or folder'}`);
      }
      if (entry.isEncrypted()) throw new ArchiveError(`archive entry "${entryLabel(name)}" is encrypted`);
      if (planned.length >= limits.maxEntries) throw new ArchiveError(`archive has more than ${limits.maxEntries} entries`, 413, 'payload_too_large');
      if (!isDir) {
        if (entry.uncompressedSize > limits.maxFileBytes) throw new ArchiveError(`archive entry "${entryLabel(name)}" is ${entry.uncompressedSize} bytes, more than ${limits.maxFileBytes}`, 413, 'payload_too_large');
        declared += entry.uncompressedSize;
        if (declared > budget.bytes) throw tooBig('');
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
  // counted as the bytes stream out, whatever the entries declared
  let total = 0;
  try {
    for (const p of files) {
      const rel = p.name.slice(strip.length);
      const target = resolve(root, rel);
      if (!target.startsWith(root + sep)) throw new ArchiveError(`archive entry "${entryLabel(p.name)}" would land outside the dataset folder`);
      try {
        mkdirSync(dirname(target), { recursive: true });
        const stream = await zipfile.openReadStreamPromise(p.entry);
        let n = 0;
        const bound = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            n += chunk.length;
            total += chunk.length;
            if (n > limits.maxFileBytes) cb(new ArchiveError(`archive entry "${entryLabel(p.name)}" expands past ${limits.maxFileBytes} bytes`, 413, 'payload_too_large'));
            else if (total > budget.bytes) cb(tooBig(`; stopped at entry "${entryLabel(p.name)}"`));
            else cb(null, chunk);
          },
        });
        await pipeline(stream, bound, createWriteStream(target, { flags: 'wx' }));
      } catch (e) {
        throw entryError(p.name, e);
      }
      out.push(rel);
    }
  } finally {
    zipfile.close();
  }
  return out.map((r) => r.split(sep).join('/')).sort();
}
