// Hardening headers on every answer (helmet): a Content-Security-Policy the
// dashboard and the profiling page pass (their scripts and styles are files
// of this origin: no inline script, no inline handler, no inline style),
// no framing (frame-ancestors 'none', X-Frame-Options DENY), nosniff, no
// referrer. The profiling page alone may compile WebAssembly and run the
// code its TFLite runtime generates (Emscripten's embind builds functions
// with `new Function`); the dashboard, which keeps the API key, may not.
// HSTS is left to the TLS proxy in front (the service itself speaks HTTP).

import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

/** The profiling page and what it loads (src/http/routes/profile.ts). */
const isProfilePage = (req: IncomingMessage): boolean => /^\/profile(\/|$|\?)/.test(req.url ?? '');

export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        // the profiling page only (no API key there): its TFLite runtime compiles WebAssembly and builds functions from strings
        scriptSrc: ["'self'", (req) => (isProfilePage(req) ? "'unsafe-eval' 'wasm-unsafe-eval'" : '')],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    strictTransportSecurity: false,
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  }) as RequestHandler;
}
