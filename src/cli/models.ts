// `nas models download <id> --server URL --key K --format F [--out FILE]`:
// a client of the service's download route. The file is written only when
// its bytes match the SHA-256 the server sent (X-Checksum-Sha256), through a
// temporary file renamed into place, so a failed download leaves nothing.

import { createHash } from 'node:crypto';
import { writeFileWhole } from './files.ts';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { apiBase, apiFetch, apiKey } from './api-client.ts';
import { CommandFailed, UsageError } from './errors.ts';

const FORMATS = ['tflite', 'tflite-int8', 'tfjs'];

export interface DownloadOptions {
  server: string;
  key: string;
  modelId: string;
  format: string;
  /** the file to write (default: the server's file name, in the current directory) */
  out?: string;
}

export interface Downloaded { file: string; sizeBytes: number; sha256: string }

export async function downloadModel(o: DownloadOptions): Promise<Downloaded> {
  if (!FORMATS.includes(o.format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(o.format)}`);
  const base = apiBase(o.server);
  const res = await apiFetch(base, `v1/models/${encodeURIComponent(o.modelId)}/download?format=${o.format}`, o.key);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const expected = res.headers.get('x-checksum-sha256');
  if (!expected) throw new CommandFailed('the server sent no X-Checksum-Sha256 header; the download cannot be checked, nothing written');
  if (expected !== sha256) throw new CommandFailed(`checksum mismatch: the server announced sha256 ${expected}, the bytes received hash to ${sha256}; nothing written`);
  const named = /filename="([^"/\\]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1];
  const file = resolve(o.out ?? named ?? `${o.modelId}.${o.format === 'tfjs' ? 'zip' : 'tflite'}`);
  writeFileWhole(file, bytes);
  return { file, sizeBytes: bytes.byteLength, sha256 };
}

export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('models of a running service (nas serve)');
  models.command('download <modelId>')
    .description('download an export of a model; written only when its SHA-256 matches the server\'s')
    .requiredOption('--server <url>', 'the service, e.g. http://127.0.0.1:8080')
    .option('--key <key>', 'API key (default: $NAS_API_KEY)')
    .option('--format <format>', `one of ${FORMATS.join(', ')}`, 'tflite')
    .option('--out <file>', 'file to write (default: the server\'s file name)')
    .action(async (modelId: string, o: { server: string; key?: string; format: string; out?: string }) => {
      const d = await downloadModel({ server: o.server, key: apiKey(o.key), modelId, format: o.format, out: o.out });
      process.stdout.write(`${d.file} (${d.sizeBytes} bytes, sha256 ${d.sha256})\n`);
    });
}
