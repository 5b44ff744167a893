// The browser profiling page, served by the app: GET /profile/?device=<id>&token=<upload token>[&autostart=1].
// The page downloads the device's benchmark suite from the /v1 API, runs it
// in the TFLite WASM runtime and uploads to /v1/devices/{id}/measurements
// with the token. Static files only; nothing here writes anything. The
// TFLite/tfjs browser builds come from node_modules.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Response, Router } from 'express';
import type { AppContext } from '../context.ts';
import { ApiError } from '../errors.ts';

/** The page's libraries by the name the page asks for (a Map: a requested name never reaches Object.prototype). */
function libFiles(): { libs: ReadonlyMap<string, string>; wasmDir: string } {
  const require = createRequire(import.meta.url);
  const pkgDir = (name: string) => dirname(require.resolve(`${name}/package.json`));
  return {
    libs: new Map([
      ['tf-core.js', join(pkgDir('@tensorflow/tfjs-core'), 'dist/tf-core.min.js')],
      ['tf-backend-cpu.js', join(pkgDir('@tensorflow/tfjs-backend-cpu'), 'dist/tf-backend-cpu.min.js')],
      ['tf-tflite.js', join(pkgDir('@tensorflow/tfjs-tflite'), 'dist/tf-tflite.min.js')],
    ]),
    wasmDir: join(pkgDir('@tensorflow/tfjs-tflite'), 'wasm'),
  };
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function noCache(res: Response): Response {
  // the page URL carries the upload token: never send it on as a referrer
  return res.set({ 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer', 'X-Content-Type-Options': 'nosniff' });
}

export function register(router: Router, ctx: AppContext): void {
  const web = join(ctx.shipped.web, 'profile');
  const { libs, wasmDir } = libFiles();
  const page = () => readFileSync(join(web, 'index.html'), 'utf8').replace('<head>', '<head>\n<meta name="nas-api" content="/v1">');

  // (the router is not strict: '/profile' also matches '/profile/'; relative URLs in the page need the slash)
  router.get('/profile', (req, res) => {
    const path = req.originalUrl.split('?')[0]!;
    if (!path.endsWith('/')) return res.redirect(301, '/profile/' + req.originalUrl.slice(path.length));
    noCache(res).type('html').send(page());
  });
  router.get('/profile/profile.js', (_req, res) => {
    noCache(res).type('text/javascript').sendFile('profile.js', { root: web });
  });
  router.get('/profile/profile.css', (_req, res) => {
    noCache(res).type('text/css').sendFile('profile.css', { root: web });
  });
  const runtimeFile = (name: string, res: Response) => {
    const f = join(wasmDir, name);
    if (!SAFE_NAME.test(name) || !existsSync(f) || !statSync(f).isFile()) throw new ApiError(404, 'not_found', `no runtime file "${name}"`);
    res.type(name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript').sendFile(name, { root: wasmDir });
  };
  router.get('/profile/lib/:file', (req, res) => {
    const name = req.params.file as string;
    const f = libs.get(name);
    // tfjs-tflite loads its runtime client next to its own script as soon as it loads, before the page
    // points it at tflite-wasm/ (setWasmPath): the runtime files answer here too, not a 404 in the console
    if (!f && name.startsWith('tflite_web_api_')) return runtimeFile(name, res);
    if (!f) throw new ApiError(404, 'not_found', `no library "${String(name)}"`);
    res.type('text/javascript').sendFile(f);
  });
  router.get('/profile/tflite-wasm/:file', (req, res) => runtimeFile(req.params.file as string, res));
}
