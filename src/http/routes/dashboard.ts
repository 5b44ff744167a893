// The dashboard: static files from the package's web/dashboard/ (no build
// step), the page itself at `/`, and uPlot's dist files served from the
// installed npm package (no CDN) at /vendor/uplot/. No key is needed for the
// static files; the page asks for one and sends it with every API call.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import express, { type Router } from 'express';
import type { AppContext } from '../context.ts';

const require = createRequire(import.meta.url);

/** uPlot's dist folder in node_modules. */
export function uplotDistDir(): string {
  return dirname(require.resolve('uplot'));
}

const UPLOT_FILES = new Set(['uPlot.iife.min.js', 'uPlot.iife.js', 'uPlot.esm.js', 'uPlot.min.css']);

export function register(router: Router, ctx: AppContext): void {
  const dir = join(ctx.shipped.web, 'dashboard');
  const vendor = uplotDistDir();
  router.get('/', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(join(dir, 'index.html'));
  });
  router.use('/dashboard', express.static(dir, { index: 'index.html', fallthrough: true, maxAge: 0 }));
  router.get('/vendor/uplot/:file', (req, res, next) => {
    const file = req.params.file as string;
    if (!UPLOT_FILES.has(file)) return next();
    res.setHeader('Cache-Control', 'public, max-age=86400');
    res.sendFile(join(vendor, file));
  });
}
