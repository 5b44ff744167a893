#!/usr/bin/env node
// Package bin. A checkout (it has the TypeScript sources) runs them through
// the tsx loader, so `nas` there is always the code checked out, never a
// stale build; a production install ships the compiled JavaScript in dist/
// (`npm run build`) and no sources, and runs that: no loader, no tsx.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/cli/main.js');
}
