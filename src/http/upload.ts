// Large uploads (dataset archives) are streamed to a temporary file with a
// byte limit and hashed on the way, never buffered whole in memory.

import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import type { Request } from 'express';
import { ApiError } from './errors.ts';

export interface ReceivedFile {
  path: string;
  sizeBytes: number;
  sha256: string;
}

/** Stream the request body into a new file under `dir`; 413 past `limitBytes` (the partial file is removed). */
export async function receiveFile(req: Request, dir: string, limitBytes: number): Promise<ReceivedFile> {
  const announced = Number(req.get('content-length') ?? 0);
  if (announced > limitBytes) throw new ApiError(413, 'payload_too_large', `request body of ${announced} bytes is larger than this route's limit of ${limitBytes} bytes`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `.upload-${randomBytes(8).toString('hex')}`);
  const hash = createHash('sha256');
  let n = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      if (n > limitBytes) return cb(new ApiError(413, 'payload_too_large', `request body is larger than this route's limit of ${limitBytes} bytes`));
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(req, meter, createWriteStream(path, { flags: 'wx' }));
  } catch (e) {
    rmSync(path, { force: true });
    if (e instanceof ApiError) {
      req.resume(); // drain what the client still sends so it reads the answer
      throw e;
    }
    throw new ApiError(400, 'bad_request', `upload interrupted (${(e as Error).message})`);
  }
  return { path, sizeBytes: n, sha256: hash.digest('hex') };
}
