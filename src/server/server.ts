import { existsSync, realpathSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { IngestService } from '../ingest/tracking/index.js';
import { lakePaths, latestVersion } from '../lake/index.js';
import { checkToken } from './auth.js';
import { checkSite } from './cross-site.js';
import { numberParam } from './dashboard-queries.js';
import { answerErrorsAsJson, BadRequestError, NotFoundError, PayloadTooLargeError } from './errors.js';
import { ingestRoutes } from './ingest-routes.js';
import { lakeFileRoutes } from './lake-files.js';
import { type MetricRequest, X_AXES, type XAxis } from './metric-queries.js';
import { QueryProcess } from './query-process.js';
import type { QueryLimits } from './query-runner.js';
import { SMOOTHING_KINDS, type SmoothingKind } from './series-reduce.js';
import { defaultWebRoot, staticFile } from './static-files.js';
import type { SweepCurveRequest } from './sweep-queries.js';
import { ARROW_STREAM_TYPE, type WorkerAnswer, type WorkerOp } from './worker-protocol.js';

export { ARROW_STREAM_TYPE } from './worker-protocol.js';

/** The server's resource limits with their defaults (the `runlake serve` flags' defaults). */
export const SERVER_LIMIT_DEFAULTS = {
  /** Rows a query answer holds at most; longer results are flagged `truncated`. */
  maxRows: 100_000,
  /** Milliseconds a request may take, query and encoding together. */
  timeoutMs: 30_000,
  /** Bytes of memory the query process may map: 2 GiB, sane on a laptop. */
  memoryBudgetBytes: 2 * 1024 ** 3,
  /** Bytes of a request body (413 past it). */
  maxBodyBytes: 1024 ** 2,
  /** Bytes of SQL text in one query (413 past it). */
  maxSqlBytes: 64 * 1024,
  /** Run ids in one metrics request (413 past it). */
  maxRuns: 10_000,
  /** Bytes of one answer (507 past it). */
  maxAnswerBytes: 64 * 1024 ** 2,
} as const;

/** The datasets whose versions `GET /api/changes` reports: what the dashboard draws. */
const LIVE_DATASETS = [
  'runs',
  'metrics_scalar',
  'checkpoints',
  'geometry_state',
  'events',
  'matches',
] as const;

/** Where the tracking ingest routes are mounted. */
export const INGEST_PREFIX = '/api/ingest/v1';

/** Options for {@link createServer} and {@link startServer}. */
export interface ServerOptions {
  /** Required on every request (`Authorization: Bearer <token>` or `?token=`) when set; never empty. */
  readonly token?: string;
  /** Rows a query returns at most (default 100000); longer results are flagged as truncated. */
  readonly maxRows?: number;
  /** Milliseconds a request may run, encoding included (default 30000). */
  readonly timeoutMs?: number;
  /** Bytes of memory the query process may use (default 2 GiB); no request can take more. */
  readonly memoryBudgetBytes?: number;
  /** Bytes of a request body (default 1 MiB). */
  readonly maxBodyBytes?: number;
  /** Bytes of SQL in one query (default 64 KiB). */
  readonly maxSqlBytes?: number;
  /** Run ids in one metrics request (default 10000). */
  readonly maxRuns?: number;
  /** Bytes of one answer (default 64 MiB). */
  readonly maxAnswerBytes?: number;
  /** `Host` names to answer to besides IP addresses and localhost (for a deployment behind a name). */
  readonly allowHosts?: readonly string[];
  /** Origins whose pages may call the API (CORS); by default only the server's own pages may. */
  readonly allowOrigins?: readonly string[];
  /** Directory of the built web app (default: the package's `web/dist`, when it exists). */
  readonly webRoot?: string;
  /** Schema set to open the lake with (default: the one it records). */
  readonly schema?: string;
  /** DuckDB threads (default: all cores). */
  readonly threads?: number;
  /**
   * Draw long runs from the lake's downsampling pyramid when it has one (default true); false
   * bins every point on each request, as a server before the pyramid did.
   */
  readonly pyramid?: boolean;
  /**
   * Accept tracking writes at `/api/ingest/v1` (docs/tracking.md) into `service`, from requests
   * carrying `writeToken` (distinct from `token`: neither grants the other's access).
   */
  readonly ingest?: {
    readonly service: IngestService;
    readonly writeToken: string;
    /** Bytes of one batch frame (default 16 MiB). */
    readonly maxBatchBytes?: number;
  };
}

/** Options for {@link startServer}. */
export interface ListenOptions extends ServerOptions {
  /** Port to listen on (default 8787; 0 picks a free one). */
  readonly port?: number;
  /** Interface to bind (default 127.0.0.1, this machine only). */
  readonly host?: string;
}

/** A server over one lake, not yet listening. */
export interface RunlakeServer {
  /** The Hono app: `app.fetch(request)` answers a `Request`. */
  readonly app: Hono;
  /** The process every query runs in (the lake is opened sandboxed there). */
  readonly queries: QueryProcess;
  readonly limits: QueryLimits;
  /** Stops the query process. */
  close(): Promise<void>;
}

/** A listening server. */
export interface StartedServer {
  /** The base URL, e.g. `http://127.0.0.1:8787/`. */
  readonly url: string;
  readonly server: RunlakeServer;
  /** Stops listening, waits for open requests, and closes the lake. */
  close(): Promise<void>;
}

/** The endpoints `GET /` and `GET /api` list. */
export const API_ENDPOINTS: readonly { readonly path: string; readonly description: string }[] = [
  {
    path: 'GET|POST /api/query?sql=…&format=json|arrow',
    description: 'one read-only SQL statement over the lake views',
  },
  { path: 'GET /api/lake', description: 'schema set, datasets with row counts and columns, named views' },
  {
    path: 'GET /api/files[?dataset=&offset=&limit=] | /api/files/<dataset>/<path>',
    description: "a page of the data files of each dataset's current snapshot, or one of them (read-only)",
  },
  {
    path: 'GET /api/changes',
    description: 'the commit-log version of each dataset the dashboard shows (for live refresh)',
  },
  { path: 'GET /api/runs', description: 'runs with their sweep parameters' },
  { path: 'GET /api/metric-names', description: 'scalar metrics with run and point counts' },
  {
    path: 'GET|POST /api/metrics?run=…&metric=…&width=N[&x=step|wall_time|relative_time|tokens&from=&to=&smoothing=0.6&smoothingKind=ema|gaussian|running_average&aligned=1&format=arrow]',
    description: 'per-run series, smoothed (EMA) then min/max per pixel column',
  },
  {
    path: 'GET|POST /api/metric-groups?run=…&metric=…&by=lr[,model]&width=N[&x=&from=&to=&smoothing=&smoothingKind=]',
    description: 'mean ± std bands over the runs of each parameter group',
  },
  {
    path: 'GET /api/geometry?run=…[&layer=&module=]',
    description: 'descriptor trajectories and events of a run',
  },
  { path: 'GET /api/matches?signature=…', description: 'a signature and its ranked matches' },
  {
    path: 'GET /api/sweep',
    description: 'a sweep lake: events/seeds columns, grid parameters, x and metric columns',
  },
  {
    path: 'GET|POST /api/sweep/curves?metric=…&x=…&width=N[&groupBy=algo|grid&grids=…&from=&to=&smoothing=&seeds=1]',
    description:
      'per-seed curves of an events column (min/max per pixel column), or mean ± std bands per group',
  },
  {
    path: 'GET /api/sweep/grids?metric=…&best=min|max[&x=…]',
    description: 'one row per grid: params, seeds, final and best value of the metric, seed summaries',
  },
];

const MAX_WIDTH = 10_000;

/**
 * Starts the query process over `lakeDir` (see {@link QueryProcess}: the lake opened sandboxed,
 * under the memory budget) and builds the HTTP app in front of it: the read-only query API, the
 * dashboard endpoints and the built web app. Every request passes the cross-site check
 * ({@link checkSite}), the token and the body limit first; every error becomes a status code and
 * `{error, kind}` body in one place ({@link errorResponse}).
 *
 * @example
 * ```ts
 * const server = await createServer('results', { token: 's3cret' });
 * const response = await server.app.fetch(new Request('http://localhost/api/lake?token=s3cret'));
 * server.close();
 * ```
 */
export async function createServer(lakeDir: string, options: ServerOptions = {}): Promise<RunlakeServer> {
  const limit = (name: keyof typeof SERVER_LIMIT_DEFAULTS) =>
    positiveInteger(name, options[name] ?? SERVER_LIMIT_DEFAULTS[name]);
  const limits: QueryLimits = {
    maxRows: limit('maxRows'),
    timeoutMs: limit('timeoutMs'),
    maxAnswerBytes: limit('maxAnswerBytes'),
  };
  const memoryBudgetBytes = limit('memoryBudgetBytes');
  const maxBodyBytes = limit('maxBodyBytes');
  const maxSqlBytes = limit('maxSqlBytes');
  const maxRuns = limit('maxRuns');
  if (options.token !== undefined && !/^\S+$/.test(options.token)) {
    throw new BadRequestError('the token must be a non-empty string without spaces');
  }
  if (options.ingest && !/^\S+$/.test(options.ingest.writeToken)) {
    throw new BadRequestError('the write token must be a non-empty string without spaces');
  }
  if (options.ingest && options.ingest.writeToken === options.token) {
    throw new BadRequestError('the write token must differ from the read token');
  }
  const webRoot = options.webRoot ?? defaultWebRoot();
  let root: string;
  try {
    root = realpathSync(lakeDir);
  } catch {
    throw new BadRequestError(`lake directory "${lakeDir}" does not exist`);
  }
  const queries = await QueryProcess.start({
    lakeDir: root,
    schema: options.schema,
    threads: options.threads,
    pyramid: options.pyramid,
    limits,
    memoryBudgetBytes,
    // DuckDB's own limit sits below the process's, so operators that track their memory fail
    // with DuckDB's error (and spill nowhere) before the operating system refuses an allocation.
    memoryLimitBytes: Math.floor(memoryBudgetBytes / 2),
  });
  const app = answerErrorsAsJson(new Hono());
  const answer = async (c: Context, op: WorkerOp, args: Record<string, unknown> = {}) =>
    send(c, await queries.call(op, args));

  app.use('*', async (c, next) => {
    c.header('X-Content-Type-Options', 'nosniff');
    const allowedOrigin = checkSite(c.req.raw, options);
    if (allowedOrigin !== undefined) {
      c.header('Access-Control-Allow-Origin', allowedOrigin);
      c.header('Vary', 'Origin');
      if (c.req.method === 'OPTIONS') {
        c.header('Access-Control-Allow-Methods', 'GET, POST');
        c.header('Access-Control-Allow-Headers', 'Authorization, Content-Type');
        return c.body(null, 204);
      }
    }
    const ingestPath = c.req.path.startsWith(INGEST_PREFIX);
    checkToken(ingestPath ? (options.ingest?.writeToken ?? options.token) : options.token, c.req.raw);
    return next();
  });
  if (options.ingest) {
    app.route(
      INGEST_PREFIX,
      ingestRoutes(options.ingest.service, { maxBatchBytes: options.ingest.maxBatchBytes }),
    );
  }
  app.use(
    '*',
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: () => {
        throw new PayloadTooLargeError(
          `the request body is larger than the ${maxBodyBytes}-byte limit (--max-body-bytes)`,
        );
      },
    }),
  );

  const index = (c: Context) => c.json({ name: 'runlake', lake: root, endpoints: API_ENDPOINTS });
  app.get('/api', index);

  const query = async (c: Context, sql: string | undefined, format: string | undefined) => {
    if (!sql?.trim()) throw new BadRequestError('send the SQL as ?sql=… or a JSON body {"sql": "…"}');
    const bytes = Buffer.byteLength(sql);
    if (bytes > maxSqlBytes) {
      throw new PayloadTooLargeError(
        `the SQL is ${bytes} bytes, more than the ${maxSqlBytes}-byte limit (--max-sql-bytes)`,
      );
    }
    return answer(c, 'query', { sql, arrow: wantsArrow(c, format) });
  };
  app.get('/api/query', (c) => query(c, c.req.query('sql'), c.req.query('format')));
  app.post('/api/query', async (c) => {
    const type = c.req.header('content-type') ?? '';
    if (type.includes('application/json')) {
      const { sql, format } = await jsonObjectBody(c, '{"sql": "SELECT …", "format": "arrow"}');
      if (typeof sql !== 'string') throw new BadRequestError('the JSON body needs a "sql" string');
      return query(c, sql, typeof format === 'string' ? format : c.req.query('format'));
    }
    return query(c, await c.req.text(), c.req.query('format'));
  });

  app.get('/api/lake', (c) => answer(c, 'lake'));
  // The live dashboard's poll: log versions only (a few stat calls, no query), so it can run
  // every second per open page.
  const paths = lakePaths(root);
  app.get('/api/changes', async (c) => {
    const versions: Record<string, number> = {};
    for (const dataset of LIVE_DATASETS) versions[dataset] = await latestVersion(paths, dataset);
    c.header('Cache-Control', 'no-store');
    return c.json({ versions });
  });
  app.get('/api/runs', (c) => answer(c, 'runs'));
  app.get('/api/metric-names', (c) => answer(c, 'metric-names'));
  // GET for links and scripts; POST with a JSON body for long run lists, which overflow a URL.
  const metrics = async (c: Context) => {
    const params = await paramsOf(c);
    const request = metricRequest(params, maxRuns);
    return answer(c, 'metrics', { request, arrow: wantsArrow(c, params.one('format')) });
  };
  const groups = async (c: Context) => {
    const params = await paramsOf(c);
    return answer(c, 'metric-groups', {
      request: { ...metricRequest(params, maxRuns), by: params.list('by') },
    });
  };
  app.get('/api/metrics', metrics);
  app.post('/api/metrics', metrics);
  app.get('/api/metric-groups', groups);
  app.post('/api/metric-groups', groups);
  app.get('/api/geometry', async (c) => {
    const run = c.req.query('run');
    if (!run) throw new BadRequestError('name the run: ?run=…');
    const layer = numberParam('layer', c.req.query('layer'));
    if (layer !== undefined && !Number.isInteger(layer))
      throw new BadRequestError(`layer must be an integer, got ${layer}`);
    return answer(c, 'geometry', { run, layer, module: c.req.query('module') || undefined });
  });
  app.get('/api/matches', async (c) => {
    const signature = c.req.query('signature');
    if (!signature) throw new BadRequestError('name the signature: ?signature=…');
    return answer(c, 'matches', { signature });
  });
  app.get('/api/sweep', (c) => answer(c, 'sweep'));
  // POST too: a sweep of a thousand grids overflows a URL, like a long run list.
  const sweepCurves = async (c: Context) => {
    const params = await paramsOf(c);
    return answer(c, 'sweep-curves', { request: sweepCurveRequest(params, maxRuns) });
  };
  app.get('/api/sweep/curves', sweepCurves);
  app.post('/api/sweep/curves', sweepCurves);
  app.get('/api/sweep/grids', (c) => {
    const metric = c.req.query('metric');
    if (!metric) throw new BadRequestError('name the metric: ?metric=…');
    const best = c.req.query('best') ?? 'min';
    if (best !== 'min' && best !== 'max')
      throw new BadRequestError(`best must be "min" or "max", got "${best}"`);
    return answer(c, 'sweep-grids', { request: { metric, x: c.req.query('x') || undefined, best } });
  });
  // The lake's data files, read-only, for the file viewer (lake-files.ts).
  app.route('/api/files', lakeFileRoutes(root));
  app.all('/api/*', (c) => {
    throw new NotFoundError(`no route ${c.req.method} ${c.req.path}`);
  });

  app.get('*', async (c) => {
    const hasApp = existsSync(webRoot);
    if (hasApp) {
      const file =
        (await staticFile(webRoot, c.req.path)) ??
        // A client-side route (no file extension) gets the app's index.html.
        (/\.[A-Za-z0-9]+$/.test(c.req.path) ? undefined : await staticFile(webRoot, '/index.html'));
      if (file)
        return c.body(file.body as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': file.contentType });
    }
    if (c.req.path === '/') return index(c);
    throw new NotFoundError(`no file ${c.req.path}${hasApp ? '' : ' (the web app is not built)'}`);
  });

  return { app, queries, limits, close: () => queries.close() };
}

/** Sends an answer the query process encoded. */
function send(c: Context, answer: WorkerAnswer): Response {
  const body = typeof answer.body === 'string' ? answer.body : (answer.body as Uint8Array<ArrayBuffer>);
  return c.body(body, 200, { 'Content-Type': answer.contentType, ...answer.headers });
}

/**
 * Creates a server over `lakeDir` (see {@link createServer}) and listens, by default on
 * 127.0.0.1:8787 only. Resolves once it is listening, with the URL to open.
 *
 * @example
 * ```ts
 * const started = await startServer('results', { port: 0 });
 * console.log(started.url); // http://127.0.0.1:53127/
 * await started.close();
 * ```
 */
export async function startServer(lakeDir: string, options: ListenOptions = {}): Promise<StartedServer> {
  const port = options.port ?? 8787;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new BadRequestError(`port must be an integer from 0 to 65535, got ${port}`);
  }
  const host = options.host ?? '127.0.0.1';
  const server = await createServer(lakeDir, options);
  let listener: ReturnType<typeof serve>;
  let address: AddressInfo;
  try {
    address = await new Promise<AddressInfo>((resolve, reject) => {
      listener = serve({ fetch: server.app.fetch, port, hostname: host }, resolve);
      listener.once('error', (error: NodeJS.ErrnoException) =>
        reject(new BadRequestError(listenProblem(host, port, error))),
      );
    });
  } catch (error) {
    await server.close();
    throw error;
  }
  const shownHost = address.address.includes(':') ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        listener.close(() => {
          server.close().then(resolve, resolve);
        });
        if ('closeAllConnections' in listener) listener.closeAllConnections();
      }),
  };
}

/** Why listening failed, in words (the common errno codes), for the one line the CLI prints. */
function listenProblem(host: string, port: number, error: NodeJS.ErrnoException): string {
  const where = `${host}:${port}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is already in use; pick another with --port (--port 0 takes any free one)`;
    case 'EACCES':
      return `no permission to listen on ${where} (ports below 1024 need privileges); pick another with --port`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return `cannot listen on ${where}: ${host} is not an address of this machine (--host)`;
    default:
      return `cannot listen on ${where}: ${error.code ?? error.message}`;
  }
}

/** Whether to answer with Arrow IPC: `format=arrow`, or no format and an Arrow `Accept` header. */
function wantsArrow(c: Context, format: string | undefined): boolean {
  if (format !== undefined && format !== 'arrow' && format !== 'json') {
    throw new BadRequestError(`format must be "json" or "arrow", got "${format}"`);
  }
  return (
    format === 'arrow' || (format === undefined && (c.req.header('accept') ?? '').includes(ARROW_STREAM_TYPE))
  );
}

/** Request parameters read the same way from a query string or a JSON body. */
interface RequestParams {
  one(name: string): string | undefined;
  /** Comma-separated or repeated values (`?run=a,b&run=c`, or `{"run": ["a", "b,c"]}`). */
  list(name: string): string[];
  /** Whether the parameter is there at all (an empty list is there). */
  has(name: string): boolean;
}

async function paramsOf(c: Context): Promise<RequestParams> {
  if (c.req.method !== 'POST') {
    return {
      one: (name) => c.req.query(name),
      list: (name) => splitList(c.req.queries(name) ?? []),
      has: (name) => c.req.query(name) !== undefined,
    };
  }
  const fields = await jsonObjectBody(c, '{"run": ["a", "b"], "metric": "loss"}');
  const text = (name: string, value: unknown): string => {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      return String(value);
    throw new BadRequestError(
      `"${name}" must be a string or a number (or true/false), got ${JSON.stringify(value)}`,
    );
  };
  return {
    one: (name) =>
      fields[name] === undefined || fields[name] === null ? undefined : text(name, fields[name]),
    list: (name) => {
      const value = fields[name];
      if (value === undefined || value === null) return [];
      return splitList(Array.isArray(value) ? value.map((v) => text(name, v)) : [text(name, value)]);
    },
    has: (name) => fields[name] !== undefined && fields[name] !== null,
  };
}

/** The request's JSON body, which must be an object (`example` shows one in the error). */
async function jsonObjectBody(c: Context, example: string): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch (error) {
    throw new BadRequestError(`the request body is not JSON: ${(error as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError(`the request body must be a JSON object such as ${example}`);
  }
  return body as Record<string, unknown>;
}

function splitList(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(',')).filter((v) => v !== '');
}

/** The shared parameters of `/api/metrics` and `/api/metric-groups`, checked. */
function metricRequest(params: RequestParams, maxRuns: number): MetricRequest {
  const runs = params.list('run');
  if (runs.length === 0) throw new BadRequestError('name at least one run: ?run=a&run=b or ?run=a,b');
  if (runs.length > maxRuns) {
    throw new PayloadTooLargeError(
      `${runs.length} runs requested, more than the limit of ${maxRuns} (--max-runs)`,
    );
  }
  const metric = params.one('metric');
  if (!metric) throw new BadRequestError('name the metric: ?metric=…');
  const x = params.one('x') ?? 'step';
  if (!(X_AXES as readonly string[]).includes(x)) {
    throw new BadRequestError(`x must be one of ${X_AXES.join(', ')}, got "${x}"`);
  }
  const smoothingKind = params.one('smoothingKind') ?? 'ema';
  if (!(SMOOTHING_KINDS as readonly string[]).includes(smoothingKind)) {
    throw new BadRequestError(
      `smoothingKind must be one of ${SMOOTHING_KINDS.join(', ')}, got "${smoothingKind}"`,
    );
  }
  const aligned = params.one('aligned');
  if (aligned !== undefined && !['1', 'true', '0', 'false'].includes(aligned)) {
    throw new BadRequestError(`aligned must be true or false, got "${aligned}"`);
  }
  return {
    runs,
    metric,
    ...seriesWindow(params),
    x: x as XAxis,
    smoothingKind: smoothingKind as SmoothingKind,
    aligned: aligned === '1' || aligned === 'true',
  };
}

/**
 * The parameters of `/api/sweep/curves`, checked as far as the HTTP side can: the column names are
 * checked against the lake's columns in the query process.
 */
function sweepCurveRequest(params: RequestParams, maxRuns: number): SweepCurveRequest {
  const metric = params.one('metric');
  if (!metric) throw new BadRequestError('name the metric: ?metric=…');
  const grids = params.list('grids');
  if (grids.length > maxRuns) {
    throw new PayloadTooLargeError(
      `${grids.length} grids requested, more than the limit of ${maxRuns} (--max-runs)`,
    );
  }
  const seeds = params.one('seeds');
  return {
    metric,
    x: params.one('x') || undefined,
    groupBy: params.list('groupBy'),
    // No grids parameter plots every grid; an empty list (all unticked) plots none.
    grids: params.has('grids') ? grids : undefined,
    seeds: seeds === '1' || seeds === 'true',
    ...seriesWindow(params),
  };
}

/** Width, range and smoothing of a series request, checked. */
function seriesWindow(params: RequestParams): Pick<MetricRequest, 'width' | 'from' | 'to' | 'smoothing'> {
  const widthText = params.one('width') ?? '1000';
  const width = Number(widthText);
  if (!Number.isInteger(width) || width < 1 || width > MAX_WIDTH) {
    throw new BadRequestError(`width must be an integer from 1 to ${MAX_WIDTH}, got "${widthText}"`);
  }
  const from = numberParam('from', params.one('from'));
  const to = numberParam('to', params.one('to'));
  if (from !== undefined && to !== undefined && from > to) {
    throw new BadRequestError(`from (${from}) must not be after to (${to})`);
  }
  const smoothing = numberParam('smoothing', params.one('smoothing')) ?? 0;
  if (smoothing < 0 || smoothing >= 1) {
    throw new BadRequestError(`smoothing must be at least 0 and below 1, got ${smoothing}`);
  }
  return { width, from, to, smoothing };
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new BadRequestError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}
