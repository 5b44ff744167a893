// The TFLite interpreter (C++ TFLite + XNNPACK compiled to WebAssembly, shipped
// by @tensorflow/tfjs-tflite) hosted in Node.
//
// The package believes it runs in a browser worker when `window` is absent,
// so loading it needs a small shim (see ../shared/notes/probes.md):
//   - `self`, `location` globals; `importScripts(url)` evaluating a local
//     script file in the global scope; `fetch` answering local file URLs;
//   - SharedArrayBuffer hidden while the WASM module loads, so the
//     single-threaded SIMD build is chosen (the threaded build spawns blob:
//     workers that Node refuses).
// The shim is installed lazily on the first load (no import-time effects)
// and the WASM module is loaded once per process; `importScripts` is removed
// again once loaded, so tfjs-backend-wasm can start in the same process.
//
// The runner gives direct views of the interpreter's input/output buffers,
// so `run` copies inputs in and outputs out, and `timeInvoke` calls only
// `Invoke()` in a loop (inputs stay where they were written).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { BuiltinOperator, TfliteGraph } from './graph.ts';
import { readTfliteModel } from './reader.ts';

export type TfliteDType = 'int8' | 'uint8' | 'bool' | 'int16' | 'int32' | 'uint32' | 'float32' | 'float64';
export type TfliteTypedArray = Int8Array | Uint8Array | Int16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

export interface TensorQuantization {
  /** per-tensor scale (first entry for per-channel tensors) */
  scale: number;
  zeroPoint: number;
}

export interface TfliteTensorInfo {
  name: string;
  shape: number[];
  dtype: TfliteDType;
  /** quantization of int8/uint8 input/output tensors, read from the flatbuffer; undefined for float */
  quantization?: TensorQuantization;
}

export interface TfliteProfileItem {
  nodeType: string;
  nodeName: string;
  nodeExecMs: number;
}

export interface LoadOptions {
  /** interpreter threads; the WASM build hosted here is single-threaded, default 1 */
  numThreads?: number;
  /** record per-node times on every invoke (read with `profile()`); default false */
  enableProfiling?: boolean;
}

export interface TfliteModel {
  inputs: TfliteTensorInfo[];
  outputs: TfliteTensorInfo[];
  /** copy inputs in, invoke once, copy outputs out */
  run(inputs: ArrayLike<number>[]): TfliteTypedArray[];
  /** copy inputs in without invoking (for `timeInvoke` on chosen data) */
  setInputs(inputs: ArrayLike<number>[]): void;
  /** invoke on whatever the input buffers hold; throws when Invoke fails */
  invoke(): void;
  /** per-node profile of the latest invokes (needs enableProfiling) */
  profile(): TfliteProfileItem[];
  /** wall time of the latest `run` invoke in ms */
  lastInvokeMs: number | undefined;
  /** frees the interpreter; the model is unusable afterwards */
  dispose(): void;
}

interface RunnerTensor {
  id: number;
  dataType: TfliteDType;
  name: string;
  shape: string;
  data(): TfliteTypedArray;
}

interface Runner {
  getInputs(): RunnerTensor[];
  getOutputs(): RunnerTensor[];
  infer(): boolean;
  getProfilingResults(): TfliteProfileItem[];
  cleanUp(): void;
}

interface TfWeb {
  tflite_web_api: { setWasmPath(path: string): void };
  TFLiteWebModelRunner: {
    create(model: ArrayBuffer, options: { numThreads?: number; enableProfiling?: boolean }): Promise<Runner>;
  };
}

/** Error raised when the interpreter rejects a model or fails to invoke it. */
export class TfliteRuntimeError extends Error {
  readonly status = 422;
  constructor(message: string) {
    super(message);
    this.name = 'TfliteRuntimeError';
  }
}

let tfwebPromise: Promise<TfWeb> | undefined;

function filePathOf(url: string): string {
  const i = url.lastIndexOf('file://');
  return i >= 0 ? decodeURIComponent(url.slice(i + 'file://'.length)) : url;
}

/** Installs the browser-worker shim; returns whether `importScripts` was added (removed after loading). */
function installShim(wasmDir: string): boolean {
  const g = globalThis as Record<string, unknown>;
  if (g.self === undefined) g.self = globalThis;
  if (g.location === undefined) {
    // The package loads its WASM module eagerly at require time, relative to
    // location.href, so point it at the wasm folder.
    const href = pathToFileURL(join(wasmDir, 'index.html')).href;
    g.location = { href, origin: 'file://', protocol: 'file:' };
  }
  const addImportScripts = g.importScripts === undefined;
  if (addImportScripts) {
    g.importScripts = (...urls: string[]) => {
      for (const url of urls) {
        const path = filePathOf(url);
        vm.runInThisContext(readFileSync(path, 'utf8'), { filename: path });
      }
    };
  }
  const origFetch = globalThis.fetch;
  if (!(origFetch as { __tfliteShim?: boolean }).__tfliteShim) {
    const shim = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (url.includes('file://') || url.startsWith('/')) {
        const bytes = readFileSync(filePathOf(url));
        const type = url.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream';
        return new Response(bytes, { status: 200, headers: { 'Content-Type': type } });
      }
      return origFetch(input, init);
    };
    (shim as { __tfliteShim?: boolean }).__tfliteShim = true;
    globalThis.fetch = shim as typeof fetch;
  }
  return addImportScripts;
}

/**
 * Loads the package and instantiates its WASM module once. SharedArrayBuffer
 * is hidden from the moment of `require` (which already starts a load and
 * caches the WASM feature check) until the first runner exists, so the
 * single-threaded SIMD build is chosen and cached.
 */
async function loadTfWeb(probeModel: ArrayBuffer): Promise<TfWeb> {
  const require = createRequire(import.meta.url);
  const pkgMain = require.resolve('@tensorflow/tfjs-tflite');
  const wasmDir = join(dirname(pkgMain), '..', 'wasm');
  const addedImportScripts = installShim(wasmDir);
  const g = globalThis as Record<string, unknown>;
  const sab = g.SharedArrayBuffer;
  delete g.SharedArrayBuffer;
  try {
    require('@tensorflow/tfjs-tflite');
    const tfweb = g.tfweb as TfWeb | undefined;
    if (!tfweb) throw new TfliteRuntimeError('@tensorflow/tfjs-tflite did not register its tfweb client');
    tfweb.tflite_web_api.setWasmPath(pathToFileURL(wasmDir).href + '/');
    // Instantiate the module now (a tiny model), while SharedArrayBuffer is hidden.
    const runner = await tfweb.TFLiteWebModelRunner.create(probeModel, { numThreads: 1, enableProfiling: false });
    runner.cleanUp();
    return tfweb;
  } finally {
    g.SharedArrayBuffer = sab;
    // Both module loads (the package's eager one at require time and ours)
    // have run importScripts by now. Remove it: other Emscripten modules in
    // this process (tfjs-backend-wasm) take a defined `importScripts` as a
    // sign of a web worker and then fail to find their .wasm files.
    if (addedImportScripts) {
      await new Promise((r) => setImmediate(r));
      delete g.importScripts;
    }
  }
}

function getTfWeb(probeModel: ArrayBuffer): Promise<TfWeb> {
  tfwebPromise ??= loadTfWeb(probeModel).catch((e) => {
    tfwebPromise = undefined;
    throw e;
  });
  return tfwebPromise;
}

/**
 * The package's `tfweb` namespace (interpreter and TFLite Task Library
 * clients), started the same way as for `loadTfliteModel`.
 */
export async function loadTfliteWeb(): Promise<unknown> {
  try {
    return await getTfWeb(minimalModelBytes());
  } catch (e) {
    throw new TfliteRuntimeError(`could not start the TFLite WASM interpreter: ${(e as Error).message ?? String(e)}`);
  }
}

/** Per-tensor quantization of the graph inputs/outputs, from the flatbuffer. */
function ioQuantization(buf: Uint8Array): { inputs: (TensorQuantization | undefined)[]; outputs: (TensorQuantization | undefined)[] } {
  const m = readTfliteModel(buf);
  const of = (i: number): TensorQuantization | undefined => {
    const t = m.tensors[i];
    return t.quant && (t.type === 'INT8' || t.type === 'UINT8') ? { scale: t.quant.scale[0], zeroPoint: t.quant.zeroPoint[0] } : undefined;
  };
  return { inputs: m.inputs.map(of), outputs: m.outputs.map(of) };
}

/** A one-op model (input + const) used to instantiate the WASM module. */
function minimalModelBytes(): ArrayBuffer {
  const g = new TfliteGraph();
  const x = g.addTensor({ name: 'x', shape: [1, 1], dtype: 'float32' });
  const c = g.addConstFloat('c', [1], Float32Array.of(1));
  const y = g.addTensor({ name: 'y', shape: [1, 1], dtype: 'float32' });
  g.addOp({ op: BuiltinOperator.ADD, version: 1, inputs: [x, c], outputs: [y] });
  g.inputs = [x];
  g.outputs = [y];
  return g.serialize().buffer as ArrayBuffer;
}

function parseShape(s: string): number[] {
  return s.length === 0 ? [] : s.split(',').map((v) => Number(v));
}

/** Loads a .tflite flatbuffer into the interpreter. */
export async function loadTfliteModel(buf: Uint8Array, opts: LoadOptions = {}): Promise<TfliteModel> {
  let tfweb: TfWeb;
  try {
    tfweb = await getTfWeb(minimalModelBytes());
  } catch (e) {
    throw new TfliteRuntimeError(`could not start the TFLite WASM interpreter: ${(e as Error).message ?? String(e)}`);
  }
  let runner: Runner;
  try {
    runner = await tfweb.TFLiteWebModelRunner.create(buf.slice().buffer, {
      numThreads: opts.numThreads ?? 1,
      enableProfiling: opts.enableProfiling ?? false,
    });
  } catch (e) {
    throw new TfliteRuntimeError(`TFLite interpreter rejected the model: ${(e as Error).message ?? String(e)}`);
  }
  const q = ioQuantization(buf);
  const inT = runner.getInputs();
  const outT = runner.getOutputs();
  const info = (t: RunnerTensor, quant: TensorQuantization | undefined): TfliteTensorInfo => ({
    name: t.name, shape: parseShape(t.shape), dtype: t.dataType, ...(quant ? { quantization: quant } : {}),
  });
  let disposed = false;
  const model: TfliteModel = {
    inputs: inT.map((t, i) => info(t, q.inputs[i])),
    outputs: outT.map((t, i) => info(t, q.outputs[i])),
    lastInvokeMs: undefined,
    setInputs(inputs) {
      if (disposed) throw new TfliteRuntimeError('model was disposed');
      if (inputs.length !== inT.length) {
        throw new TfliteRuntimeError(`model has ${inT.length} input(s), got ${inputs.length}`);
      }
      inputs.forEach((src, i) => {
        // data() re-reads the heap view: the WASM memory may have grown since.
        const dst = inT[i].data();
        if (src.length !== dst.length) {
          throw new TfliteRuntimeError(`input ${i} (${inT[i].name}) needs ${dst.length} values, got ${src.length}`);
        }
        dst.set(src as ArrayLike<number>);
      });
    },
    invoke() {
      if (disposed) throw new TfliteRuntimeError('model was disposed');
      if (!runner.infer()) throw new TfliteRuntimeError('TFLite Invoke() failed');
    },
    run(inputs) {
      model.setInputs(inputs);
      const t0 = performance.now();
      model.invoke();
      model.lastInvokeMs = performance.now() - t0;
      return outT.map((t) => t.data().slice());
    },
    profile() {
      return runner.getProfilingResults().map((p) => ({ nodeType: p.nodeType, nodeName: p.nodeName, nodeExecMs: p.nodeExecMs }));
    },
    dispose() {
      if (!disposed) {
        disposed = true;
        runner.cleanUp();
      }
    },
  };
  return model;
}

export interface TimeInvokeOptions {
  /** invokes before timing starts (default 5) */
  warmup?: number;
  /** timed invokes (default 20) */
  runs?: number;
  /** fill inputs once before timing (default: keep what the buffers hold, zeros on a fresh model) */
  inputs?: ArrayLike<number>[];
}

/**
 * Times `Invoke()` alone: optional inputs written once, `warmup` untimed
 * invokes, then `runs` timed invokes. Returns each run's wall time in ms
 * (performance.now(), sub-microsecond resolution in Node).
 */
export function timeInvoke(model: TfliteModel, opts: TimeInvokeOptions = {}): number[] {
  const warmup = opts.warmup ?? 5;
  const runs = opts.runs ?? 20;
  if (!Number.isInteger(warmup) || warmup < 0) throw new RangeError(`warmup must be an integer >= 0, got ${warmup}`);
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`runs must be an integer >= 1, got ${runs}`);
  if (opts.inputs) model.setInputs(opts.inputs);
  for (let i = 0; i < warmup; i++) model.invoke();
  const times: number[] = new Array(runs);
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    model.invoke();
    times[i] = performance.now() - t0;
  }
  return times;
}
