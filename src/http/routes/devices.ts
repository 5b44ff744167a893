// Devices, their latency tables and their profiling:
//   POST /v1/devices (admin)                     GET /v1/devices
//   GET  /v1/devices/{id}                        (API key or the device's upload token: the profiling page shows it)
//   POST /v1/devices/{id}/upload-token (admin)   GET /v1/devices/{id}/latency-table[?version=N]
//   POST /v1/devices/{id}/latency-table/restore (admin)
//   GET  /v1/devices/{id}/benchmark-suite[/models/{file}][?mode=full|quick]  (API key or the device's upload token)
//   POST /v1/devices/{id}/measurements           (the device's upload token or an admin key; full or quick suite, told by its bundleId)

import type { Request, RequestHandler, Router } from 'express';
import { benchmarkSuite, describeDevice, getLatencyTable, isDeviceToken, listDeviceViews, quickBundleDir, registerDevice, requireDevice, restoreLatencyTable, rotateUploadToken, storeMeasurements, suiteOf, type DeviceStore } from '../../app/devices.ts';
import type { BundleMode } from '../../latency/bundle.ts';
import { findKeyByToken } from '../../store/keys.ts';
import { authOf, bearerToken, requireAdmin, requireKey } from '../auth.ts';
import { jsonBody } from '../body.ts';
import { deviceStoreOf, type AppContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { uploadLimiter } from '../ratelimit.ts';
import { validateAgainst, validateBody } from '../validate.ts';

const MODEL_FILE_RE = /^[0-9]{5}\.tflite$/;

/** The device's upload token, or an API key (`admin`: an admin key). */
function deviceOrKey(ctx: AppContext, store: DeviceStore, adminOnly: boolean): RequestHandler {
  return (req, _res, next) => {
    const id = req.params.id as string;
    const token = bearerToken(req);
    if (token === null) throw new ApiError(401, 'unauthorized', "missing credentials: send \"Authorization: Bearer <the device's upload token or an API key>\"");
    if (isDeviceToken(store, id, token)) {
      req.principal = `device:${id}`;
      return next();
    }
    const key = findKeyByToken(ctx.db, token);
    if (!key) throw new ApiError(401, 'unauthorized', `neither device "${id}"'s upload token nor a valid API key`);
    requireDevice(ctx.db, id);
    if (adminOnly && key.role !== 'admin') throw new ApiError(403, 'forbidden', `uploads for device "${id}" need its upload token or an admin key`);
    req.auth = { id: key.id, name: key.name, role: key.role };
    req.principal = `key:${key.id}`;
    next();
  };
}

function modeQuery(req: Request): BundleMode {
  const q = validateAgainst<{ mode?: BundleMode }>('SuiteModeQuery', { ...req.query }, 'query');
  return q.mode ?? 'full';
}

function versionQuery(req: Request): number | undefined {
  const q = validateAgainst<{ version?: string }>('TableVersionQuery', { ...req.query }, 'query');
  return q.version === undefined ? undefined : Number(q.version);
}

export function register(router: Router, ctx: AppContext): void {
  const store: DeviceStore = deviceStoreOf(ctx);
  const key = requireKey(ctx.db);
  const admin = requireAdmin(ctx.db);
  const suites = suiteOf(store, ctx.bundleDir, ctx.bundleOptions);

  router.post('/v1/devices', admin, ...jsonBody(ctx.limits.jsonBytes), validateBody('DeviceProfile'), (req, res) => {
    const r = registerDevice(store, req.body, authOf(req).id);
    res.status(201).location(`/v1/devices/${r.device.id}`).json({ ...r.device, uploadToken: r.uploadToken, profileUrl: r.profileUrl });
  });
  router.get('/v1/devices', key, (_req, res) => {
    res.json({ items: listDeviceViews(store) });
  });
  router.get('/v1/devices/:id', deviceOrKey(ctx, store, false), (req, res) => {
    res.json(describeDevice(store, req.params.id as string));
  });
  router.post('/v1/devices/:id/upload-token', admin, (req, res) => {
    res.json(rotateUploadToken(store, req.params.id as string));
  });
  router.get('/v1/devices/:id/latency-table', key, (req, res) => {
    res.json(getLatencyTable(store, req.params.id as string, versionQuery(req)));
  });
  router.post('/v1/devices/:id/latency-table/restore', admin, ...jsonBody(ctx.limits.jsonBytes), validateBody('RestoreRequest'), (req, res) => {
    res.json(restoreLatencyTable(store, req.params.id as string, (req.body as { version: number }).version));
  });
  router.get('/v1/devices/:id/benchmark-suite', deviceOrKey(ctx, store, false), (req, res) => {
    res.set('Cache-Control', 'no-store').json(benchmarkSuite(suites, modeQuery(req)));
  });
  router.get('/v1/devices/:id/benchmark-suite/models/:file', deviceOrKey(ctx, store, false), (req, res) => {
    const file = req.params.file as string;
    const mode = modeQuery(req);
    // a name no suite can hold is refused before a suite is generated (the quick suite is built on first use)
    if (!MODEL_FILE_RE.test(file)) throw new ApiError(404, 'not_found', `the ${mode} benchmark suite has no model "${file}"`);
    const m = benchmarkSuite(suites, mode);
    const known = [m.reference, m.baseline, ...m.kernels, ...m.networks].some((x) => x.file === `models/${file}`);
    if (!MODEL_FILE_RE.test(file) || !known) throw new ApiError(404, 'not_found', `the ${mode} benchmark suite has no model "${file}"`);
    res.type('application/octet-stream').sendFile(`models/${file}`, { root: mode === 'quick' ? quickBundleDir(ctx.bundleDir) : ctx.bundleDir, dotfiles: 'deny' });
  });
  router.post('/v1/devices/:id/measurements', deviceOrKey(ctx, store, true), uploadLimiter(ctx, 'measurement'), ...jsonBody(ctx.limits.measurementBytes), validateBody('ProfileResults'), (req, res) => {
    const id = req.params.id as string;
    const stored = storeMeasurements(store, id, suites, req.body);
    ctx.logger.info({ device: id, version: stored.version, entries: stored.entries, kind: stored.kind }, 'stored a new latency-table version');
    res.status(201).location(`/v1/devices/${id}/latency-table?version=${stored.version}`).json(stored);
  });
}
