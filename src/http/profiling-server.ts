// `nas profile --serve`: the service app on one data directory, used for
// browser profiling of one device. The device is registered when new, gets a
// fresh upload token, and the page URL (token included) is returned; uploads
// become new table versions in the store (GET /v1/devices/{id}/latency-table).

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { prepareBrowserProfiling } from '../app/devices.ts';
import { createApp } from './app.ts';
import { createContext, deviceStoreOf, type AppContext } from './context.ts';
import { listenApp } from './server.ts';
import type { Logger } from './logger.ts';

export interface ProfilingServerOptions {
  dataDir: string;
  deviceId: string;
  /** bundle folder (default: the service's own, written on first use) */
  bundleDir?: string;
  host: string;
  port: number;
  logger?: Logger;
  adminToken?: string;
}

export interface ProfilingServer {
  ctx: AppContext;
  server: Server;
  /** base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  /** the page to open on the device (token included) */
  pageUrl: string;
  newAdminToken?: string;
  close(): Promise<void>;
}

export async function startProfilingServer(o: ProfilingServerOptions): Promise<ProfilingServer> {
  const { ctx, newAdminToken } = createContext({ dataDir: o.dataDir, bundleDir: o.bundleDir, logger: o.logger, adminToken: o.adminToken });
  try {
    const prepared = prepareBrowserProfiling(deviceStoreOf(ctx), o.deviceId);
    const server = listenApp(createApp(ctx), o.port, o.host);
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE'
        ? Object.assign(new Error(`port ${o.port} on ${o.host} is already in use; choose another with --port`), { status: 400 })
        : e));
    });
    const addr = server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const url = `http://${host}:${addr.port}`;
    return {
      ctx, server, url, pageUrl: url + prepared.profileUrl, newAdminToken,
      close: async () => {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        ctx.db.close();
      },
    };
  } catch (e) {
    ctx.db.close();
    throw e;
  }
}
