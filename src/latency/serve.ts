// HTTP server for browser profiling: the page (web/profile), the TFLite
// browser runtime from node_modules, the bundle, and POST /results, which
// validates an upload and stores the table only when it is complete and
// valid. `nas profile --serve` runs it; the REST API can mount the handler.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join, normalize, resolve, sep } from 'node:path';
import { shippedPaths } from '../config/paths.ts';
import { readBundleManifest } from './bundle.ts';
import { defaultTablesDir, saveTable } from './table.ts';
import { resultsToTable } from './upload.ts';

export interface ServeOptions {
  bundleDir: string;
  /** where uploaded tables are stored (default: <data dir>/latency-tables) */
  tablesDir?: string;
  /** folder of index.html and profile.js (default: web/profile shipped with the package) */
  webDir?: string;
  port?: number;
  host?: string;
  /** largest accepted upload (default 64 MiB) */
  maxBodyBytes?: number;
  onStored?: (deviceId: string, path: string) => void;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.json': 'application/json',
  '.wasm': 'application/wasm', '.tflite': 'application/octet-stream',
};

function libFiles(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const pkgDir = (name: string) => dirname(require.resolve(`${name}/package.json`));
  return {
    'lib/tf-core.js': join(pkgDir('@tensorflow/tfjs-core'), 'dist/tf-core.min.js'),
    'lib/tf-backend-cpu.js': join(pkgDir('@tensorflow/tfjs-backend-cpu'), 'dist/tf-backend-cpu.min.js'),
    'lib/tf-tflite.js': join(pkgDir('@tensorflow/tfjs-tflite'), 'dist/tf-tflite.min.js'),
    'tflite-wasm/': join(pkgDir('@tensorflow/tfjs-tflite'), 'wasm'),
  };
}

/** A file under root, or null when the path escapes it or does not exist. */
function under(root: string, rel: string): string | null {
  const p = resolve(root, normalize(rel));
  if (p !== resolve(root) && !p.startsWith(resolve(root) + sep)) return null;
  return existsSync(p) && statSync(p).isFile() ? p : null;
}

function send(res: ServerResponse, status: number, body: string | Buffer, type = 'application/json'): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

async function readBody(req: IncomingMessage, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > max) throw Object.assign(new Error(`upload larger than ${max} bytes`), { status: 413 });
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function createProfileHandler(opts: ServeOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const manifest = readBundleManifest(opts.bundleDir);
  const web = opts.webDir ?? join(shippedPaths.web, 'profile');
  const tablesDir = opts.tablesDir ?? defaultTablesDir();
  const libs = libFiles();
  return (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      let path: string;
      try {
        path = decodeURIComponent(url.pathname).replace(/^\/+/, '');
      } catch {
        return send(res, 400, JSON.stringify({ error: `malformed percent-encoding in path ${JSON.stringify(url.pathname)}` }));
      }
      if (path.includes('\0')) return send(res, 400, JSON.stringify({ error: 'path contains a NUL byte' }));
      if (req.method === 'POST' && path === 'results') {
        try {
          const text = await readBody(req, opts.maxBodyBytes ?? 64 * 2 ** 20);
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            return send(res, 400, JSON.stringify({ error: 'results are not valid JSON' }));
          }
          const table = resultsToTable(manifest, body);
          const stored = saveTable(table, tablesDir);
          opts.onStored?.(table.device.id, stored);
          return send(res, 200, JSON.stringify({ ok: true, device: table.device.id, entries: Object.keys(table.entries).length, overhead: table.overhead }));
        } catch (e) {
          const status = (e as { status?: number }).status ?? 500;
          return send(res, status >= 400 && status < 600 ? status : 500, JSON.stringify({ error: (e as Error).message }));
        }
      }
      if (path === 'results' || req.method !== 'GET') {
        res.setHeader('Allow', path === 'results' ? 'POST' : 'GET');
        return send(res, 405, JSON.stringify({ error: `${req.method} /${path}: method not allowed (use ${path === 'results' ? 'POST' : 'GET'})` }));
      }
      let file: string | null = null;
      if (path === '' || path === 'index.html') file = under(web, 'index.html');
      else if (path === 'profile.js') file = under(web, 'profile.js');
      else if (libs[path]) file = libs[path];
      else if (path.startsWith('tflite-wasm/')) file = under(libs['tflite-wasm/'], path.slice('tflite-wasm/'.length));
      else if (path.startsWith('bundle/')) file = under(opts.bundleDir, path.slice('bundle/'.length));
      if (!file) return send(res, 404, JSON.stringify({ error: `not found: /${path}` }));
      const ext = file.slice(file.lastIndexOf('.'));
      return send(res, 200, readFileSync(file), TYPES[ext] ?? 'application/octet-stream');
    })().catch((e) => send(res, 500, JSON.stringify({ error: (e as Error).message })));
  };
}

export async function serveProfiling(opts: ServeOptions): Promise<{ server: Server; url: string }> {
  const server = createServer(createProfileHandler(opts));
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => ok());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return { server, url: `http://${opts.host ?? '127.0.0.1'}:${port}/` };
}
