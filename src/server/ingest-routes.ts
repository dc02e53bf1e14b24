import { Hono } from 'hono';
import type { IngestService } from '../ingest/tracking/index.js';
import { BadRequestError, PayloadTooLargeError } from './errors.js';

/** The largest batch frame the ingest routes take by default (16 MiB). */
export const DEFAULT_MAX_BATCH_BYTES = 16 * 1024 * 1024;

/** The media type of a batch frame (docs/tracking.md, "Frames"). */
export const BATCH_CONTENT_TYPE = 'application/x-runlake-batch';

/**
 * The tracking wire protocol's routes (docs/tracking.md), to mount at `/api/ingest/v1`: batches
 * in, acknowledged sequence numbers, fold-now, status. Authentication and cross-site checks are
 * the mounting server's (the TCP server checks the write token; the Unix socket is the user's).
 *
 * @example
 * ```ts
 * app.route('/api/ingest/v1', ingestRoutes(service, { maxBatchBytes: 16 << 20 }));
 * ```
 */
export function ingestRoutes(
  service: IngestService,
  options: { readonly maxBatchBytes?: number } = {},
): Hono {
  const maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
  const app = new Hono();
  app.post('/batches', async (c) => {
    const type = c.req.header('content-type') ?? '';
    if (!type.startsWith(BATCH_CONTENT_TYPE)) {
      throw new BadRequestError(`a batch is sent as Content-Type: ${BATCH_CONTENT_TYPE}, got "${type}"`);
    }
    const declared = Number(c.req.header('content-length') ?? Number.NaN);
    if (declared > maxBatchBytes) throw tooLarge(declared, maxBatchBytes);
    const body = new Uint8Array(await c.req.arrayBuffer());
    if (body.byteLength > maxBatchBytes) throw tooLarge(body.byteLength, maxBatchBytes);
    return c.json(await service.accept(body));
  });
  app.get('/clients/:client', (c) => {
    const client = c.req.param('client');
    return c.json({ client, acknowledged: service.acknowledged(client) });
  });
  app.get('/runs/:run', async (c) => {
    const runId = c.req.param('run');
    return c.json({ run_id: runId, ...(await service.runState(runId)) });
  });
  app.post('/fold', async (c) => c.json({ folded: await service.fold() }));
  app.get('/status', (c) => c.json(service.status()));
  return app;
}

function tooLarge(bytes: number, limit: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `the batch is ${bytes} bytes, more than the ${limit}-byte limit (--max-batch-bytes)`,
  );
}
