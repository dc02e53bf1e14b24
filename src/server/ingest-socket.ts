import { chmod, mkdir, unlink } from 'node:fs/promises';
import type { Server } from 'node:http';
import path from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import type { IngestService } from '../ingest/tracking/index.js';
import { answerErrorsAsJson } from './errors.js';
import { ingestRoutes } from './ingest-routes.js';
import { INGEST_PREFIX } from './server.js';

/** Options for {@link listenIngestSocket}. */
export interface IngestSocketOptions {
  /** Bytes of one batch frame (default 16 MiB). */
  readonly maxBatchBytes?: number;
  /**
   * Called once no connection has been open for this many ms (the sidecar then stops; counted
   * from the start too, so a sidecar nobody connects to stops as well). Absent: never.
   */
  readonly idleExitMs?: number;
  readonly onIdle?: () => void;
}

/** A listening ingest socket. */
export interface IngestSocket {
  readonly path: string;
  /** Connections open now. */
  connections(): number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/**
 * Serves the tracking routes (docs/tracking.md) on a Unix socket, for the local sidecar: no
 * token (the socket file is the user's alone, mode 0600 in a 0700 directory), no read API. A
 * stale socket file left by a killed sidecar is replaced; the caller holds the lake's ingest lock,
 * so no live server owns it.
 *
 * @example
 * ```ts
 * const socket = await listenIngestSocket(service, '/tmp/runlake-1000/ab12.sock', { idleExitMs: 10_000, onIdle: stop });
 * ```
 */
export async function listenIngestSocket(
  service: IngestService,
  socketPath: string,
  options: IngestSocketOptions = {},
): Promise<IngestSocket> {
  const app = answerErrorsAsJson(new Hono());
  app.route(INGEST_PREFIX, ingestRoutes(service, { maxBatchBytes: options.maxBatchBytes }));
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  // Training loops keep one connection for the whole run; never time it out.
  server.keepAliveTimeout = 0;
  server.requestTimeout = 0;
  server.headersTimeout = 0;

  await mkdir(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  await unlink(socketPath).catch(() => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(socketPath, 0o600);

  let open = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  const armIdle = (): void => {
    if (options.idleExitMs === undefined || !options.onIdle) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      if (open === 0) options.onIdle?.();
    }, options.idleExitMs);
  };
  server.on('connection', (socket) => {
    open += 1;
    clearTimeout(idleTimer);
    socket.once('close', () => {
      open -= 1;
      if (open === 0) armIdle();
    });
  });
  armIdle();

  return {
    path: socketPath,
    connections: () => open,
    close: () =>
      new Promise<void>((resolve) => {
        clearTimeout(idleTimer);
        server.close(() => {
          unlink(socketPath)
            .catch(() => {})
            .finally(resolve);
        });
        server.closeAllConnections();
      }),
  };
}
