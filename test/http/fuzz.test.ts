// Fuzzing the whole /v1 contract: for every path + method in api/openapi.json,
// fast-check generates requests from the operation's own schemas (valid-shaped
// bodies, then mutated: wrong types, missing and extra fields, huge, negative
// and overflowing numbers, unicode, long strings, __proto__/constructor keys),
// path segments (known ids, random text, malformed percent-encodings, `..`)
// and query strings, sent without a key, with a garbage key, a user key and
// the admin key. Every answer must be < 500; every 4xx must carry the JSON
// error shape; and a rejected (4xx) request must leave the store exactly as it
// was (row counts and a hash of every table's contents). Accepted requests
// may change the store. Searches are queued on a queue that is never started,
// so nothing trains. Then the security-sensitive grammars: dataset
// references (whitespace, Unicode spaces, case variants, folders, another
// key's uploads), spellings of the Authorization header against the upload
// rate limit, and encodings of ?token= against the request log. A fixed seed
// and run count keep the file bounded.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import sharp from 'sharp';
import { parseApiDatasetRef } from '../../src/app/datasets.ts';
import { serviceHandlers } from '../../src/jobs/handlers.ts';
import { InProcessQueue } from '../../src/jobs/inprocess.ts';
import { attachJobQueue } from '../../src/jobs/queue.ts';
import { resolveRunOptions } from '../../src/app/run-options.ts';
import type { Db } from '../../src/store/db.ts';
import { finishModel, insertModel } from '../../src/store/models.ts';
import { FakeExecutor } from '../search/fakes.ts';
import { ADMIN, spec, testApp } from './helpers.ts';
import { makeZip } from './zip.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const SEED = Number(process.env.NAS_FUZZ_SEED ?? 20261130);
const RUNS_PER_OPERATION = Number(process.env.NAS_FUZZ_RUNS ?? 100);

// ---------- the store's fingerprint ----------
function snapshot(db: Db): string {
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
  const h = createHash('sha256');
  const counts: string[] = [];
  for (const t of tables) {
    const rows = db.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).raw().all() as unknown[][];
    counts.push(`${t}:${rows.length}`);
    for (const r of rows) h.update(JSON.stringify(r, (_k, v) => (Buffer.isBuffer(v) ? v.toString('base64') : typeof v === 'bigint' ? String(v) : v)));
  }
  return `${counts.join(',')} ${h.digest('hex')}`;
}

/**
 * The data directory's files (path and size): a rejected request leaves none
 * behind either. The profiling bundles (thousands of generated .tflite files,
 * caches made on demand by the first request for the full or the quick suite,
 * whatever its answer) are not user data and are left out.
 */
function filesOf(root: string): string {
  if (!existsSync(root)) return '';
  const out: string[] = [];
  for (const top of readdirSync(root).sort()) {
    if (top === 'bundles') continue;
    const names = [top, ...(statSync(join(root, top)).isDirectory() ? (readdirSync(join(root, top), { recursive: true, encoding: 'utf8' }) as string[]).map((n) => join(top, n)) : [])];
    for (const f of names.sort()) {
      try {
        const st = statSync(join(root, f));
        out.push(st.isFile() ? `${f}:${st.size}` : `${f}/`);
      } catch { out.push(`${f}:gone`); }
    }
  }
  return out.join('\n');
}

// ---------- raw JSON: literal text for numbers JSON.stringify cannot write, own __proto__ keys ----------
class Raw { constructor(readonly text: string) {} }
function stringify(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) return `[${Array.from({ length: v.length }, (_x, i) => stringify(v[i])).join(',')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.keys(v).map((k) => `${JSON.stringify(k)}:${stringify((v as Json)[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}
function setOwn(o: Json, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, configurable: true, writable: true });
}

// ---------- arbitraries from the schemas ----------
function resolve(s: Json): Json {
  let out = s;
  while (out && out.$ref) out = out.$ref.split('/').slice(1).reduce((a: Json, k: string) => a[k], spec);
  return out ?? {};
}

const weirdString = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', ' ', '..', '../../etc/passwd', '\u0000', '%zz', '\ud83d\ude00', 'x'.repeat(70_000), 'a'.repeat(300), 'NaN', 'Infinity', '-1', '1e400',
    '__proto__', 'constructor', 'dataset:../../x', 'folder:/etc', 'synthetic', 'node-tflite-wasm', '28x28x1', '0x0', '99999999x99999999'),
);
const weirdNumber = fc.oneof(
  fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -1, -0.5, 1e308, -1e308, 2 ** 53 + 1, 1e-320, 0.1),
  fc.constantFrom(new Raw('1e400'), new Raw('-1e400'), new Raw('1E+999'), new Raw('-0')),
);
const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  weirdString, weirdNumber, fc.boolean(), fc.constant(null), fc.constant([]), fc.constant({}),
  fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
  // deep nesting and wide arrays (within the 64 KiB JSON limit)
  fc.constantFrom(new Raw(`${'['.repeat(5000)}${']'.repeat(5000)}`), new Raw(`${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}`), new Raw(`[${Array(8000).fill('1').join(',')}]`)),
);

// Known-good values by field name, so that valid-shaped bodies reach the use cases behind the edge validation.
const HINTS: Record<string, fc.Arbitrary<unknown>> = {
  dataset: fc.constantFrom('synthetic', 'fashion-mnist', 'mnist', 'dataset:missing', 'folder:/nonexistent', 'folder:../..', ''),
  deviceId: fc.constantFrom('node-tflite-wasm', 'node-tfjs-wasm', 'fuzz-phone', 'nope'),
  input: fc.constantFrom('28x28x1', '32x32x3', '224x224x3', '20x20x1', '4x4x1', '32x28x3', '0x0x0', '99999x99999x3', '28x28'),
  arch: fc.constantFrom('mobilenet-v2', 'mnasnet-a1', 'efficientnet-b0', 'ir_r1_k3_s1_e1_c16 ir_r2_k5_s2_e6_c24_se0.25', 'stem_k3_s1_c8 ds_r1_k3_s2_c16 head_c32', 'ir_r9_k9', '{"version":1}'),
  latencyTargetMs: fc.constantFrom(1000, 5, 0.001, 1e308, 50),
  classes: fc.constantFrom(10, 1, 2, 100_000),
  version: fc.constantFrom(1, 2, 0, 99),
  runtime: fc.constantFrom('tflite-android', 'tflite-wasm', 'tfjs-wasm'),
};

/** `minimal`: objects with their required fields only (the bodies most likely to be accepted). */
function fromSchema(schema: Json, depth = 0, minimal = false): fc.Arbitrary<unknown> {
  const s = resolve(schema);
  if (depth > 6) return weirdValue;
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...(s.enum as unknown[]));
  const alts = (s.oneOf ?? s.anyOf) as Json[] | undefined;
  if (alts) return fc.oneof(...alts.map((a) => fromSchema(a, depth + 1, minimal)));
  if (s.allOf) return fromSchema(Object.assign({}, ...(s.allOf as Json[]).map(resolve)), depth + 1, minimal);
  const type = Array.isArray(s.type) ? s.type.find((t: string) => t !== 'null') : s.type;
  if (type === 'object' || s.properties) {
    const props = (s.properties ?? {}) as Json;
    const req = new Set<string>(s.required ?? []);
    const shape: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [k, v] of Object.entries(props)) shape[k] = HINTS[k] ? fc.oneof({ weight: 3, arbitrary: HINTS[k]! }, { weight: 1, arbitrary: fromSchema(v, depth + 1, minimal) }) : fromSchema(v, depth + 1, minimal);
    if (minimal) for (const k of Object.keys(shape)) if (!req.has(k)) delete shape[k];
    if (Object.keys(shape).length === 0) return fc.dictionary(fc.string({ maxLength: 8 }), fromSchema(s.additionalProperties && s.additionalProperties !== true ? s.additionalProperties : {}, depth + 1), { maxKeys: 3 });
    return fc.record(shape, { requiredKeys: Object.keys(shape).filter((k) => req.has(k)) });
  }
  if (type === 'array') return fc.array(fromSchema(s.items ?? {}, depth + 1, minimal), { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 4, 4) });
  if (type === 'integer') return fc.integer({ min: s.minimum ?? -10, max: s.maximum ?? Math.max(10, (s.minimum ?? 0) + 10) });
  if (type === 'number') return fc.double({ min: s.minimum ?? s.exclusiveMinimum ?? -10, max: s.maximum ?? 1000, noNaN: true, noDefaultInfinity: true });
  if (type === 'boolean') return fc.boolean();
  if (type === 'string') {
    if (s.examples?.length) return fc.oneof(fc.constantFrom(...(s.examples as string[])), fc.string({ minLength: s.minLength ?? 0, maxLength: 12 }));
    if (s.example !== undefined) return fc.oneof(fc.constant(s.example), fc.string({ maxLength: 12 }));
    return fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 12, 12) });
  }
  return weirdValue;
}

/** All container paths of a JSON value (objects and arrays), root first. */
function containers(v: unknown, out: (Json | unknown[])[] = []): (Json | unknown[])[] {
  if (v !== null && typeof v === 'object' && !(v instanceof Raw)) {
    out.push(v as Json);
    for (const x of Object.values(v as Json)) containers(x, out);
  }
  return out;
}

interface Mutation { kind: 'delete' | 'replace' | 'extra' | 'proto'; pick: number; key: string; value: unknown }
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('delete', 'replace', 'replace', 'extra', 'proto'),
  pick: fc.nat(),
  key: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty')),
  value: weirdValue,
}) as fc.Arbitrary<Mutation>;

/** A deep copy keeping Raw numbers (fast-check may hand out the same constant object twice). */
function clone(v: unknown): unknown {
  if (v instanceof Raw || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return Array.from({ length: v.length }, (_x, i) => clone(v[i]));
  const o: Json = {};
  for (const k of Object.keys(v)) setOwn(o, k, clone((v as Json)[k]));
  return o;
}

function mutate(value: unknown, ms: Mutation[]): unknown {
  const root = { v: clone(value) } as Json;
  for (const m of ms) {
    const cs = containers(root).slice(0);
    const c = cs[m.pick % cs.length]!;
    const keys = Object.keys(c);
    const k = keys.length ? keys[m.pick % keys.length]! : m.key;
    if (m.kind === 'delete' && keys.length && c !== root) delete (c as Json)[k];
    else if (m.kind === 'replace') setOwn(c as Json, c === root ? 'v' : k, clone(m.value));
    else if (m.kind === 'extra' && !Array.isArray(c) && c !== root) setOwn(c as Json, m.key, clone(m.value));
    else if (m.kind === 'proto' && !Array.isArray(c) && c !== root) setOwn(c as Json, ['__proto__', 'constructor', 'prototype'][m.pick % 3]!, { polluted: true, status: 500 });
  }
  return root.v;
}

// ---------- path segments and query strings ----------
const rawSegment = fc.oneof(
  fc.constantFrom('%', '%zz', '%E0%A4%A', '%C0%AF', '%2e%2e', '..', '.', '%2F', '%00', '%FF%FE', '~', '%25', 'a%20b', '%u0041'),
  fc.string({ maxLength: 16 }).map(encodeURIComponent),
  fc.string({ unit: 'grapheme', maxLength: 8 }).map(encodeURIComponent),
  fc.constant('x'.repeat(3000)),
);

function queryArb(params: Json[]): fc.Arbitrary<string> {
  const named = params.filter((p) => p.in === 'query').map((p) => fc.tuple(fc.constant(p.name as string), fc.oneof(fromSchema(p.schema ?? {}).map(String), weirdString)));
  const extra = fc.tuple(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__proto__', 'constructor', 'status[]', 'token')), weirdString);
  const pair = named.length ? fc.oneof(...named, extra) : extra;
  return fc.oneof(
    fc.array(pair, { maxLength: 4 }).map((ps) => ps.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v).slice(0, 2000))}`).join('&')),
    fc.constantFrom('%', 'status=%zz', 'a[b][c]=1', '__proto__[x]=1', 'version=1&version=2', 'format[]=tflite', 'version=-1', 'version=1e400'),
  );
}

// ---------- sending ----------
interface Answer { status: number; type: string; body: string }
function send(base: string, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<Answer> {
  return new Promise((res, rej) => {
    const u = new URL(base);
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers: { ...headers, ...(body ? { 'content-length': String(body.byteLength) } : {}) } }, (r) => {
      const type = String(r.headers['content-type'] ?? '');
      if (type.startsWith('text/event-stream')) { // a live stream: the status is what counts
        r.destroy();
        res({ status: r.statusCode ?? 0, type, body: '' });
        return;
      }
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, type, body: Buffer.concat(chunks).toString('utf8') }));
      r.on('error', rej);
    });
    req.on('error', rej);
    req.end(body);
  });
}

describe('fuzzing every operation of api/openapi.json', () => {
  const { ctx, app } = testApp({ rateLimit: { uploads: 1_000_000 } });
  // searches are stored and queued but the queue never starts: no training, no background writes
  const queue = new InProcessQueue({ db: ctx.db, concurrency: 1, handlers: serviceHandlers({ db: ctx.db, dataDir: ctx.dataDir, deps: { executor: new FakeExecutor() } }) });
  attachJobQueue(ctx, queue);
  let server: Server;
  let base: string;
  const ids: Record<string, string[]> = {};
  const tokens: Record<string, string | null> = { none: null, garbage: 'nas_not-a-real-key', admin: ADMIN };
  const counts = { total: 0, rejected: 0, accepted: 0 };
  const statuses = new Map<number, number>();

  before(async () => {
    server = app.listen(0);
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const json = (method: string, path: string, token: string, b: unknown) => send(base, method, path, { 'content-type': 'application/json', authorization: `Bearer ${token}` }, Buffer.from(JSON.stringify(b)));
    const key = JSON.parse((await json('POST', '/v1/keys', ADMIN, { name: 'fuzz-user' })).body);
    tokens.user = key.token;
    const dev = await json('POST', '/v1/devices', ADMIN, { id: 'fuzz-phone', name: 'Fuzz phone', runtime: 'tflite-android', runtimeVersion: '2.16', threads: 1, cpu: 'arm64' });
    assert.ok(dev.status < 300, dev.body);
    const search = await json('POST', '/v1/searches', key.token, { dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: 1000, strategy: 'random', budget: { maxTrials: 2 }, proxy: { subset: 64, validationSubset: 32 } });
    assert.equal(search.status, 202, search.body);
    ids.searchId = [JSON.parse(search.body).id];
    ids.deviceId = ['node-tflite-wasm', 'fuzz-phone'];
    // a key the fuzz may revoke, and the admin's own (refused); revoking the user key would only turn the rest into 401s
    const victim = JSON.parse((await json('POST', '/v1/keys', ADMIN, { name: 'fuzz-victim' })).body);
    const adminId = (JSON.parse((await send(base, 'GET', '/v1/keys', { authorization: `Bearer ${ADMIN}` })).body).items as Json[]).find((k) => k.role === 'admin')!.id as string;
    ids.keyId = [victim.id, adminId];
    const png = (v: number) => sharp({ create: { width: 8, height: 8, channels: 3, background: { r: v, g: 255 - v, b: 40 } } }).png().toBuffer();
    const zip = makeZip([{ name: 'cat/a.png', data: await png(10) }, { name: 'cat/b.png', data: await png(30) }, { name: 'cat/c.png', data: await png(50) },
      { name: 'dog/a.png', data: await png(200) }, { name: 'dog/b.png', data: await png(220) }, { name: 'dog/c.png', data: await png(240) }]);
    const ds = await send(base, 'POST', '/v1/datasets?name=fuzz', { 'content-type': 'application/zip', authorization: `Bearer ${key.token}` }, zip);
    assert.ok(ds.status < 300, ds.body);
    ids.datasetId = [JSON.parse(ds.body).id];
    // a model row of the user's (a whole run that has not started yet) and a finished one without files
    const opts = resolveRunOptions({ dataset: 'synthetic', deviceId: 'node-tflite-wasm', latencyTargetMs: 1000 });
    const queued = insertModel(ctx.db, { owner: key.id, searchId: ids.searchId[0], options: opts, stage: 'queued', status: 'queued' });
    const done = insertModel(ctx.db, { owner: key.id, options: opts, stage: 'done' });
    finishModel(ctx.db, done.id, 'succeeded', { card: null });
    ids.modelId = [queued.id, done.id];
    ids.file = ['manifest.json', 'reference.tflite'];
  });
  after(async () => {
    await queue.close();
    await new Promise((r) => server.close(r));
    ctx.db.close();
    rmSync(ctx.dataDir, { recursive: true, force: true });
    console.log(`fuzz: ${counts.total} requests, ${counts.rejected} rejected (4xx), ${counts.accepted} accepted; by status ${JSON.stringify(Object.fromEntries([...statuses].sort((x, y) => x[0] - y[0])))}`);
  });

  const operations: { path: string; method: string; op: Json }[] = [];
  for (const [path, item] of Object.entries(spec.paths as Json)) {
    for (const [method, op] of Object.entries(item as Json)) if (op && typeof op === 'object' && op.responses) operations.push({ path, method, op: op as Json });
  }

  for (const { path, method, op } of operations) {
    it(`${method.toUpperCase()} ${path}: never 5xx, JSON errors, rejected requests change nothing`, async () => {
      const params = [...((spec.paths[path].parameters ?? []) as Json[]), ...((op.parameters ?? []) as Json[])].map(resolve);
      const segNames = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
      const content = (op.requestBody?.content ?? {}) as Json;
      const mediaType = Object.keys(content)[0];
      const seg = (name: string) => fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...(ids[name]?.length ? ids[name]! : ['missing'])).map(encodeURIComponent) }, { weight: 2, arbitrary: rawSegment });
      const bodyArb: fc.Arbitrary<{ type?: string; bytes?: Buffer }> = mediaType === 'application/json'
        ? fc.oneof(
          { weight: 3, arbitrary: fromSchema(content[mediaType].schema, 0, true).map((v) => ({ type: 'application/json', bytes: Buffer.from(stringify(v)) })) },
          { weight: 2, arbitrary: fromSchema(content[mediaType].schema).map((v) => ({ type: 'application/json', bytes: Buffer.from(stringify(v)) })) },
          { weight: 5, arbitrary: fc.tuple(fromSchema(content[mediaType].schema), fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([v, ms]) => ({ type: 'application/json', bytes: Buffer.from(stringify(mutate(v, ms))) })) },
          { weight: 1, arbitrary: fc.constantFrom('{', '{"a":', 'null', '[]', '"x"', '\u0000', '{"__proto__":{"status":500}}', '{"constructor":{"prototype":{"x":1}}}', '1e400').map((t) => ({ type: 'application/json', bytes: Buffer.from(t) })) },
          { weight: 1, arbitrary: fc.constantFrom({}, { type: 'text/plain', bytes: Buffer.from('{}') }, { type: 'application/json; charset=latin1', bytes: Buffer.from('{}') }, { type: 'application/zip', bytes: Buffer.from('PK') }) },
        )
        : mediaType === 'application/zip'
          ? fc.oneof(
            fc.uint8Array({ maxLength: 64 }).map((b) => ({ type: 'application/zip', bytes: Buffer.from(b) })),
            fc.array(fc.tuple(fc.oneof(rawSegment, fc.constantFrom('a/1.png', '../x/1.png', '/abs/1.png', 'b/../../1.png', 'c/\u00e9.png')), fc.uint8Array({ maxLength: 16 })), { maxLength: 4 })
              .map((es) => ({ type: 'application/zip', bytes: makeZip(es.map(([name, data]) => ({ name, data: Buffer.from(data) }))) })),
            fc.constantFrom({}, { type: 'application/json', bytes: Buffer.from('{}') }),
          )
          : fc.oneof({ weight: 4, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.constantFrom({ type: 'application/json', bytes: Buffer.from('{"x":1}') }, { type: 'text/plain', bytes: Buffer.from('hello') }) });
      const requestArb = fc.record({
        segs: fc.tuple(...segNames.map(seg), fc.constant(null)),
        extraSeg: fc.oneof({ weight: 6, arbitrary: fc.constant('') }, { weight: 1, arbitrary: rawSegment.map((s) => `/${s}`) }),
        query: fc.oneof({ weight: 1, arbitrary: fc.constant('') }, { weight: 2, arbitrary: queryArb(params) }),
        auth: fc.constantFrom('none', 'garbage', 'user', 'user', 'admin', 'admin', 'malformed'),
        body: bodyArb,
        encoding: fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'bogus', 'gzip, gzip') }),
      });

      await fc.assert(fc.asyncProperty(requestArb, async (r) => {
        let i = 0;
        const p = path.replace(/\{\w+\}/g, () => String(r.segs[i++])) + r.extraSeg + (r.query ? `?${r.query}` : '');
        const headers: Record<string, string> = {};
        if (r.auth === 'malformed') headers.authorization = 'Basic Zm9vOmJhcg==';
        else if (tokens[r.auth]) headers.authorization = `Bearer ${tokens[r.auth]}`;
        if (r.body.type) headers['content-type'] = r.body.type;
        if (r.encoding) headers['content-encoding'] = r.encoding;
        const before = snapshot(ctx.db);
        const filesBefore = filesOf(ctx.dataDir);
        const a = await send(base, method.toUpperCase(), p, headers, r.body.bytes);
        counts.total++;
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        const where = `${method.toUpperCase()} ${p.slice(0, 300)} (${r.auth}${r.encoding ? `, content-encoding ${r.encoding}` : ''}) body ${r.body.bytes?.toString('utf8').slice(0, 300) ?? 'none'}`;
        if (process.env.NAS_FUZZ_DEBUG === `${method} ${path}`) console.log(`${where} -> ${a.status} ${a.body.slice(0, 200)}`);
        assert.ok(a.status < 500, `${where} -> ${a.status} ${a.body.slice(0, 300)}`);
        if (a.status >= 400) {
          counts.rejected++;
          assert.ok(a.type.startsWith('application/json'), `${where} -> ${a.status} with content-type ${a.type}`);
          const e = JSON.parse(a.body) as Json;
          assert.ok(e && typeof e.error === 'object' && typeof e.error.code === 'string' && typeof e.error.message === 'string' && e.error.message !== '', `${where} -> ${a.status} ${a.body.slice(0, 300)}`);
          assert.equal(snapshot(ctx.db), before, `${where} -> ${a.status} changed the store`);
          assert.equal(filesOf(ctx.dataDir), filesBefore, `${where} -> ${a.status} left files behind in the data directory`);
        } else counts.accepted++;
      }), { seed: SEED + operations.findIndex((o) => o.path === path && o.method === method), numRuns: RUNS_PER_OPERATION, endOnFailure: true });
    });
  }

  it('methods and paths outside the contract: 404/405 JSON errors, never 5xx, store unchanged', async () => {
    const methods = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD');
    const pathArb = fc.oneof(
      fc.array(rawSegment, { minLength: 1, maxLength: 5 }).map((ss) => `/${ss.join('/')}`),
      fc.tuple(fc.constantFrom(...operations.map((o) => o.path)), rawSegment).map(([p, x]) => p.replace(/\{\w+\}/g, x)),
      fc.constantFrom('/v1', '/v1/', '//v1/keys', '/v1/keys/', '/v1/../v1/keys', '/v1/%2e%2e/keys', '/profile/../../etc/passwd', '/dashboard/%2e%2e/%2e%2e/package.json', '/%'),
    );
    await fc.assert(fc.asyncProperty(methods, pathArb, fc.constantFrom('none', 'user', 'admin'), async (method, p, who) => {
      const before = snapshot(ctx.db);
      const a = await send(base, method, p, tokens[who] ? { authorization: `Bearer ${tokens[who]}` } : {});
      const where = `${method} ${p.slice(0, 200)} (${who})`;
      assert.ok(a.status < 500, `${where} -> ${a.status} ${a.body.slice(0, 300)}`);
      if (a.status >= 400) {
        if (method !== 'HEAD') assert.ok(a.type.startsWith('application/json') && typeof JSON.parse(a.body).error?.code === 'string', `${where} -> ${a.status} ${a.type} ${a.body.slice(0, 200)}`);
        assert.equal(snapshot(ctx.db), before, `${where} -> ${a.status} changed the store`);
      }
      assert.ok(!/"name"\s*:\s*"mobile-nas"/.test(a.body) && !/root:x:0/.test(a.body), `${where} served a file outside the web root`);
    }), { seed: SEED, numRuns: RUNS_PER_OPERATION * 2, endOnFailure: true });
  });

  it('a search cannot name a folder on the server\'s disk (only built-in or uploaded datasets)', async () => {
    const folder = join(ctx.dataDir, 'datasets', ids.datasetId![0]!, 'images');
    assert.ok(existsSync(folder), folder);
    const before = snapshot(ctx.db);
    const a = await send(base, 'POST', '/v1/searches', { 'content-type': 'application/json', authorization: `Bearer ${tokens.user}` },
      Buffer.from(JSON.stringify({ dataset: `folder:${folder}`, deviceId: 'node-tflite-wasm', latencyTargetMs: 1000, budget: { maxTrials: 1 } })));
    assert.equal(a.status, 400, a.body);
    assert.match(JSON.parse(a.body).error.message, /server folder cannot be named over the API/);
    assert.equal(snapshot(ctx.db), before);
  });

  it('the pollution attempts left Object.prototype alone', () => {
    assert.equal(({} as Json).polluted, undefined);
    assert.equal(({} as Json).status, undefined);
  });
});

// ---------- the dataset-reference grammar, Authorization spellings, credentials in query strings ----------
const SPACES = ['', ' ', '\t', '\n', '\r', '\u00a0', '\u1680', '\u2000', '\u2003', '\u2009', '\u200a', '\u200b', '\u2028', '\u202f', '\u3000', '\ufeff', '\u0085'];
const spaces = fc.array(fc.constantFrom(...SPACES), { maxLength: 2 }).map((a) => a.join(''));
/** `word` with each letter's case chosen (FOLDER:, Dataset:, mNiSt ...). */
const anyCase = (word: string) => fc.array(fc.boolean(), { minLength: word.length, maxLength: word.length }).map((up) => [...word].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));
/** `word` with some bytes percent-encoded (either hex case). */
const anyEncoding = (word: string) => fc.array(fc.constantFrom('plain', 'lower', 'upper'), { minLength: word.length, maxLength: word.length })
  .map((how) => [...word].map((c, i) => (how[i] === 'plain' ? c : `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`)).map((x, i) => (how[i] === 'upper' ? x.toUpperCase() : x)).join(''));

describe('fuzzing the dataset-reference grammar, Authorization spellings and credentials in query strings', () => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)); cb(); } });
  const { ctx, app } = testApp({ rateLimit: { uploads: 3, windowMs: 3_600_000 }, logger: pino({ level: 'info' }, sink) });
  const queue = new InProcessQueue({ db: ctx.db, concurrency: 1, handlers: serviceHandlers({ db: ctx.db, dataDir: ctx.dataDir, deps: { executor: new FakeExecutor() } }) });
  attachJobQueue(ctx, queue);
  let server: Server;
  let base: string;
  const who: Record<string, { token: string; dataset: string }> = {};
  const etcFolders = readdirSync('/etc', { withFileTypes: true }).filter((d) => d.isDirectory() && d.name.length >= 6).map((d) => d.name);
  const datasetPattern = new RegExp((spec.components.schemas.CreateSearchRequest.properties.dataset as Json).pattern as string, 'u');

  before(async () => {
    server = app.listen(0);
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const png = (v: number) => sharp({ create: { width: 8, height: 8, channels: 3, background: { r: v, g: 255 - v, b: 40 } } }).png().toBuffer();
    const zip = makeZip([{ name: 'cat/a.png', data: await png(10) }, { name: 'cat/b.png', data: await png(30) }, { name: 'dog/a.png', data: await png(200) }, { name: 'dog/b.png', data: await png(220) }]);
    for (const name of ['alice', 'bob']) {
      const key = JSON.parse((await send(base, 'POST', '/v1/keys', { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, Buffer.from(JSON.stringify({ name })))).body);
      const ds = await send(base, 'POST', '/v1/datasets', { 'content-type': 'application/zip', authorization: `Bearer ${key.token}` }, zip);
      assert.equal(ds.status, 201, ds.body);
      who[name] = { token: key.token, dataset: JSON.parse(ds.body).id };
    }
  });
  after(async () => {
    await queue.close();
    await new Promise((r) => server.close(r));
    ctx.db.close();
    rmSync(ctx.dataDir, { recursive: true, force: true });
  });

  it('POST /v1/searches: only exact built-in names and the caller\'s own dataset:<id> pass; nothing lists a folder, names a server path or 5xx', async () => {
    const alice = who.alice!;
    const bob = who.bob!;
    const folders = ['/etc', '/', ctx.dataDir, join(ctx.dataDir, 'datasets', bob.dataset, 'images'), join(ctx.dataDir, 'datasets', alice.dataset, 'images'), '../..', '~', '.'];
    const ids = [alice.dataset, bob.dataset, alice.dataset.toUpperCase(), bob.dataset.toUpperCase(), 'ds_0123456789abcdef', `${alice.dataset}0`, alice.dataset.slice(0, -1), '../x'];
    const core = fc.oneof(
      fc.tuple(fc.constantFrom('fashion-mnist', 'mnist', 'synthetic'), fc.boolean()).chain(([n, recase]) => (recase ? anyCase(n) : fc.constant(n))),
      fc.tuple(anyCase('folder:'), spaces, fc.constantFrom(...folders)).map(([k, s, f]) => `${k}${s}${f}`),
      fc.tuple(anyCase('dataset:'), spaces, fc.constantFrom(...ids)).map(([k, s, id]) => `${k}${s}${id}`),
      fc.tuple(fc.constantFrom('file:', 'file://', 'http://127.0.0.1/', 'dataset:/', 'folder://', 'npm:', 'data:'), fc.constantFrom(...folders, ...ids)).map(([k, x]) => k + x),
      fc.string({ maxLength: 24 }),
    );
    const datasetArb = fc.tuple(spaces, core, spaces).map(([a, c, b]) => a + c + b);
    const accepted = new Set(['fashion-mnist', 'mnist', 'synthetic', `dataset:${alice.dataset}`]);
    await fc.assert(fc.asyncProperty(datasetArb, async (dataset) => {
      const a = await send(base, 'POST', '/v1/searches', { 'content-type': 'application/json', authorization: `Bearer ${alice.token}` },
        Buffer.from(JSON.stringify({ dataset, deviceId: 'node-tflite-wasm', latencyTargetMs: 1000, strategy: 'random', budget: { maxTrials: 1 } })));
      const where = `dataset ${JSON.stringify(dataset)} -> ${a.status} ${a.body.slice(0, 300)}`;
      assert.ok(a.status < 500, where);
      // the schema's pattern and the parser are one grammar
      let parses = true;
      try { parseApiDatasetRef(dataset); } catch { parses = false; }
      assert.equal(datasetPattern.test(dataset), parses, `schema and parser disagree on ${JSON.stringify(dataset)}`);
      if (accepted.has(dataset)) assert.equal(a.status, 202, where);
      else if (parses) assert.equal(a.status, 404, where); // a well-formed id that is not the caller's
      else assert.equal(a.status, 400, where);
      if (a.status >= 400) {
        assert.ok(!/image folder|class folder|does not exist|not a folder/.test(a.body), `${where}: it read the disk`);
        for (const name of etcFolders) assert.ok(!a.body.includes(`${name},`) && !a.body.includes(`/etc/${name}`), `${where}: it lists /etc/${name}`);
      }
      assert.ok(!a.body.includes(ctx.dataDir), `${where}: it names the data directory`);
    }), { seed: SEED, numRuns: RUNS_PER_OPERATION * 3, endOnFailure: true });
  });

  it('upload rate limit: however "Bearer" and the spaces around the key are spelled, one key has one bucket; a spelling auth refuses is a JSON 401', async () => {
    const separator = fc.array(fc.constantFrom(' ', '\t', '\u00a0'), { minLength: 1, maxLength: 3 }).map((a) => a.join(''));
    const valid = fc.tuple(anyCase('bearer'), separator, fc.array(fc.constantFrom(' ', '\t'), { maxLength: 2 }).map((a) => a.join(''))).map(([scheme, sep, tail]) => ({ ok: true, h: (t: string) => `${scheme}${sep}${t}${tail}` }));
    const invalid = fc.constantFrom(
      (t: string) => `Basic ${t}`, (t: string) => `Bearer:${t}`, (t: string) => `Bearer ${t} ${t}`, (t: string) => `Bearer${t}`, (t: string) => `Token ${t}`, (t: string) => `Bearer ${t}x`, (t: string) => t,
    ).map((h) => ({ ok: false, h }));
    const spellings = fc.array(fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: invalid }), { minLength: 6, maxLength: 10 });
    await fc.assert(fc.asyncProperty(spellings, async (list) => {
      const key = JSON.parse((await send(base, 'POST', '/v1/keys', { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, Buffer.from('{"name":"spelling"}'))).body).token as string;
      const seen: number[] = [];
      for (const s of list) {
        const a = await send(base, 'POST', '/v1/datasets', { 'content-type': 'application/zip', authorization: s.h(key) }, Buffer.from('PK-not-a-zip'));
        assert.ok(a.status < 500 && a.type.startsWith('application/json'), `${JSON.stringify(s.h(key))} -> ${a.status} ${a.type}`);
        if (!s.ok) assert.equal(a.status, 401, `${JSON.stringify(s.h(key))} -> ${a.status} ${a.body}`);
        else seen.push(a.status);
      }
      const passed = seen.filter((st) => st !== 429).length;
      assert.equal(passed, Math.min(3, seen.length), `statuses of the authenticated uploads: ${seen.join(',')}`);
      assert.ok(seen.every((st, i) => (i < 3 ? st === 400 : st === 429)), `statuses of the authenticated uploads: ${seen.join(',')}`);
    }), { seed: SEED, numRuns: Math.max(10, RUNS_PER_OPERATION / 4), endOnFailure: true });
  });

  it('the request log never holds a key, however the credential parameter is named or encoded', async () => {
    const key = who.alice!.token;
    const secret = key.slice(4);
    const nameArb = fc.oneof(
      fc.constantFrom('token', 'key', 'access_token', 'token[]', 'token[0]').chain(anyCase).chain(anyEncoding),
      fc.string({ maxLength: 6 }).map(encodeURIComponent),
    );
    const valueArb = fc.constantFrom(key, encodeURIComponent(key)).chain((v) => fc.oneof(fc.constant(v), anyEncoding(v)));
    const queryArb = fc.tuple(fc.array(fc.tuple(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })), { maxLength: 2 }), nameArb, valueArb, fc.boolean())
      .map(([others, n, v, first]) => {
        const pairs = others.map(([a, b]) => `${encodeURIComponent(a)}=${encodeURIComponent(b)}`);
        return (first ? [`${n}=${v}`, ...pairs] : [...pairs, `${n}=${v}`]).join('&');
      });
    await fc.assert(fc.asyncProperty(queryArb, async (query) => {
      const before = lines.length;
      const a = await send(base, 'GET', `/v1/searches/s-missing/events?${query}`, {});
      assert.ok(a.status === 401 || a.status === 404 || a.status === 400, `${query} -> ${a.status} ${a.body}`);
      for (let i = 0; i < 100 && lines.length === before; i++) await new Promise((r) => setTimeout(r, 5));
      const logged = lines.slice(before).join('\n');
      assert.ok(logged.includes('s-missing'), `${query}: the request was logged`);
      let decoded = logged;
      for (let i = 0; i < 3; i++) decoded = decoded.replace(/(%[0-9a-fA-F]{2})+/g, (run) => { try { return decodeURIComponent(run); } catch { return run; } });
      assert.ok(!decoded.includes(secret), `${query}: the key is in the log: ${logged}`);
    }), { seed: SEED, numRuns: RUNS_PER_OPERATION * 2, endOnFailure: true });
  });
});
