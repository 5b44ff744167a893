// Device profiles (device-profiles/<id>.json): what a latency table was
// measured on. Validated once when loaded. Looked up in the data directory
// (<data dir>/device-profiles, the user's) and then among the profiles
// shipped with the package; never in the working directory.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataPaths, shippedPaths } from '../config/paths.ts';
import { RUNTIME_IDS, type RuntimeId } from './runtime.ts';

export interface DeviceProfile {
  id: string;
  name: string;
  runtime: RuntimeId;
  /** runtime package/version string as measured */
  runtimeVersion: string;
  threads: number;
  cpu: string;
  /** free text: OS, browser, phone model */
  notes?: string;
}

export class DeviceError extends Error {
  readonly status: number;
  constructor(message: string, status = 400) {
    super(message);
    this.name = 'DeviceError';
    this.status = status;
  }
}

export const DEVICE_ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** The user's device profiles: <data dir>/device-profiles. */
export function defaultProfilesDir(): string {
  return dataPaths().deviceProfiles;
}

/** Folders searched for device profiles, first hit wins: the user's, then the shipped ones. */
export function profileSearchDirs(): string[] {
  return [dataPaths().deviceProfiles, shippedPaths.deviceProfiles];
}

/** Validate an untrusted object as a DeviceProfile. */
export function validateDeviceProfile(input: unknown, where = 'device profile'): DeviceProfile {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new DeviceError(`${where}: must be a JSON object`);
  const o = input as Record<string, unknown>;
  const str = (k: string): string => {
    if (typeof o[k] !== 'string' || (o[k] as string).trim() === '') throw new DeviceError(`${where}: "${k}" must be a non-empty string`);
    return o[k] as string;
  };
  const id = str('id');
  if (!DEVICE_ID_RE.test(id)) throw new DeviceError(`${where}: id "${id}" must match ${DEVICE_ID_RE}`);
  const runtime = str('runtime') as RuntimeId;
  if (!RUNTIME_IDS.includes(runtime)) throw new DeviceError(`${where}: unknown runtime "${runtime}" (known: ${RUNTIME_IDS.join(', ')})`);
  const threads = o.threads;
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new DeviceError(`${where}: "threads" must be an integer in 1..64, got ${String(threads)}`);
  }
  if (o.notes !== undefined && typeof o.notes !== 'string') throw new DeviceError(`${where}: "notes" must be a string`);
  const known = new Set(['id', 'name', 'runtime', 'runtimeVersion', 'threads', 'cpu', 'notes']);
  const extra = Object.keys(o).filter((k) => !known.has(k));
  if (extra.length > 0) throw new DeviceError(`${where}: unknown field(s) ${extra.join(', ')}`);
  return {
    id, name: str('name'), runtime, runtimeVersion: str('runtimeVersion'), threads, cpu: str('cpu'),
    ...(o.notes !== undefined ? { notes: o.notes as string } : {}),
  };
}

/** Every device profile in `dir`, or (no dir) in profileSearchDirs(), a user's profile hiding a shipped one of the same id; sorted by id. */
export function listDevices(dir?: string): DeviceProfile[] {
  const byId = new Map<string, DeviceProfile>();
  for (const d of dir === undefined ? profileSearchDirs() : [dir]) {
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d).filter((n) => n.endsWith('.json'))) {
      const p = loadDeviceFile(join(d, f));
      if (!byId.has(p.id)) byId.set(p.id, p);
    }
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function loadDeviceFile(path: string): DeviceProfile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new DeviceError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return validateDeviceProfile(raw, path);
}

/** Load a device by id; unknown ids get an error listing the known ones. */
export function loadDevice(id: string, dir?: string): DeviceProfile {
  const path = DEVICE_ID_RE.test(id) ? (dir === undefined ? profileSearchDirs() : [dir]).map((d) => join(d, `${id}.json`)).find((p) => existsSync(p)) : undefined;
  if (path === undefined) {
    const known = listDevices(dir).map((d) => d.id);
    throw new DeviceError(`unknown device "${id}" (known: ${known.join(', ') || 'none'})`, 404);
  }
  const d = loadDeviceFile(path);
  if (d.id !== id) throw new DeviceError(`${path}: id "${d.id}" does not match its file name`);
  return d;
}
