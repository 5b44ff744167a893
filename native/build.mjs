#!/usr/bin/env node
// Builds the optional native kernel addon (fastkernels.cc -> build/fastkernels.node)
// with g++ directly (no node-gyp needed). Uses oneDNN (Debian libdnnl-dev) for GEMM
// when its header is present. Never fails the caller: without a compiler or Node
// headers it prints why and exits 0, and the engine falls back to JS kernels.
// Flags: --strict (exit 1 on failure), --no-dnnl, --quiet.
// $NAS_NATIVE_MARCH sets -march (default: native, i.e. this CPU; a container
// image built on one machine and run on others sets a portable level such as
// x86-64-v3).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = new Set(process.argv.slice(2));
const log = (m) => { if (!args.has('--quiet')) console.log(`[native] ${m}`); };
const fail = (m) => { console.log(`[native] not built: ${m} (the fast backend falls back to JS kernels)`); process.exit(args.has('--strict') ? 1 : 0); };

const headerDirs = [
  join(dirname(process.execPath), '..', 'include', 'node'),
  '/usr/include/node',
  '/usr/local/include/node',
];
const nodeInclude = headerDirs.find((d) => existsSync(join(d, 'node_api.h')));
if (!nodeInclude) fail('Node headers (node_api.h) not found in ' + headerDirs.join(', '));
const dnnl = !args.has('--no-dnnl') && ['/usr/include/oneapi/dnnl/dnnl.h', '/usr/local/include/oneapi/dnnl/dnnl.h'].some((p) => existsSync(p));
const cxx = process.env.CXX || 'g++';
const out = join(here, 'build', 'fastkernels.node');
mkdirSync(join(here, 'build'), { recursive: true });
const march = process.env.NAS_NATIVE_MARCH || 'native';
if (!/^[a-z0-9][a-z0-9.+_-]*$/i.test(march)) fail(`NAS_NATIVE_MARCH=${march} is not a -march value`);
const flags = [
  '-O3', `-march=${march}`, '-fopenmp', '-std=c++17', '-shared', '-fPIC', '-fvisibility=hidden',
  `-I${nodeInclude}`, '-DNODE_GYP_MODULE_NAME=fastkernels', '-DNAPI_VERSION=8',
  ...(dnnl ? ['-DHAVE_DNNL'] : []),
  join(here, 'fastkernels.cc'), '-o', out,
  ...(dnnl ? ['-ldnnl'] : []),
];
try {
  execFileSync(cxx, flags, { stdio: args.has('--quiet') ? 'pipe' : 'inherit' });
} catch (e) {
  fail(`${cxx} failed: ${e.message.split('\n')[0]}`);
}
log(`built ${out} for -march=${march} (${dnnl ? 'oneDNN sgemm' : 'builtin gemm; install libdnnl-dev for oneDNN'})`);
