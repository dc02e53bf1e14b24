// A typed client for the `runlake serve` endpoints (docs/server.md). Every call carries the page's
// `?token=` as a bearer token, and every non-2xx answer becomes an ApiError with the server's
// `{error, kind}` message, so panels can show what went wrong instead of a generic failure.

import { tableFromIPC } from 'apache-arrow';
import type { SmoothingKind, XAxis } from './panel-state.js';

/** A failed API call: the HTTP status and the server's `{error, kind}` body. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly kind: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A parameter value of a run's grid (`params` of `/api/runs`). */
export type ParamValue = string | number | boolean | null;

/** One row of `GET /api/runs`. Run fields vary by lake, so they stay an open record. */
export interface RunRow extends Record<string, unknown> {
  readonly run_id: string;
  readonly params: Record<string, ParamValue> | null;
}

export interface RunsResponse {
  readonly runs: RunRow[];
  readonly truncated: boolean;
}

export interface LakeDataset {
  readonly name: string;
  readonly rows: number;
  readonly files: number;
  readonly bytes: number;
  readonly columns: readonly { readonly name: string; readonly type: string }[];
}

export interface LakeResponse {
  /** The lake directory's base name (absent on a server from before it was added). */
  readonly name?: string;
  /** A stable id of the lake (a hash of its absolute path): what the saved workspace is keyed by. */
  readonly id?: string;
  readonly schemaSet: string;
  readonly grids: number;
  readonly datasets: readonly LakeDataset[];
  readonly views: readonly { readonly name: string; readonly description: string }[];
  readonly viewProblems: readonly { readonly view: string; readonly reason: string }[];
}

export interface MetricName {
  readonly metric_name: string;
  readonly runs: number;
  readonly points: number;
}

export interface MetricSeries {
  readonly run_id: string;
  readonly total: number;
  readonly downsampled: boolean;
  /** Views into the Arrow answer's columns; `step` holds the x values in the answer's `x` units. */
  readonly step: Float64Array;
  readonly value: Float64Array;
  /** Why the run has no points on this x axis (e.g. `x: 'tokens'` and no token count). */
  readonly reason?: string;
}

export interface MetricsResponse {
  readonly metric: string;
  /** The x axis of `step` (absent on a server from before x axes: steps). */
  readonly x?: XAxis;
  readonly width: number;
  /** Absent on a server from before smoothing was added. */
  readonly smoothing?: number;
  readonly smoothingKind?: SmoothingKind;
  /**
   * Every series shares one `step` array (the same object), with NaN where a run has no point:
   * the server put the runs' pixel-column extremes on shared x slots (docs/server.md).
   */
  readonly aligned?: boolean;
  readonly series: MetricSeries[];
}

export interface MetricGroup {
  readonly key: Record<string, ParamValue>;
  readonly runs: string[];
  /** Mean x of each column, in the answer's `x` units. */
  readonly step: number[];
  readonly mean: number[];
  readonly std: (number | null)[];
  /** `std / √n`, null where `std` is (one run). */
  readonly stderr: (number | null)[];
  /** The smallest and the largest run value of each column. */
  readonly min: number[];
  readonly max: number[];
  readonly count: number[];
}

export interface MetricGroupsResponse {
  readonly metric: string;
  readonly x?: XAxis;
  readonly by: string[];
  readonly width: number;
  readonly smoothing?: number;
  readonly smoothingKind?: SmoothingKind;
  /** Why a run has no points on this x axis, by run id. */
  readonly reasons?: Record<string, string>;
  readonly groups: MetricGroup[];
}

/** The shared query of `/api/metrics` and `/api/metric-groups`. */
export interface MetricQuery {
  readonly runs: readonly string[];
  readonly metric: string;
  readonly width: number;
  readonly from?: number;
  readonly to?: number;
  /** Smoothing strength in [0, 1); 0 or absent sends no smoothing. */
  readonly smoothing?: number;
  /** How to smooth (default `ema`). */
  readonly smoothingKind?: SmoothingKind;
  /** The x axis (default `step`); `from`/`to` are in its units. */
  readonly x?: XAxis;
}

export interface GeometryTrajectory {
  readonly sample_set: string;
  readonly module: string;
  readonly layer: number | null;
  readonly sample_id: string | null;
  readonly step: number[];
  readonly descriptors: Record<string, (number | null)[]>;
}

export interface GeometryEvent {
  readonly event_id: string;
  readonly event_type: string;
  readonly step: number;
  readonly step_end: number | null;
  readonly sample_set?: string | null;
  readonly layer: number | null;
  readonly module: string | null;
  readonly descriptor: string | null;
  readonly detector: string;
  readonly magnitude: number;
  readonly confidence: number;
}

export interface GeometryResponse {
  readonly trajectories: GeometryTrajectory[];
  readonly events: GeometryEvent[];
  readonly truncated: boolean;
}

export interface MatchAlignment {
  readonly path_length: number;
  readonly band: number;
  readonly max_deviation: number;
  readonly query_offset: number;
}

export interface MatchRow extends Record<string, unknown> {
  readonly query_signature_id: string;
  readonly candidate_run_id: string;
  readonly candidate_signature_id: string;
  readonly method: string;
  readonly distance: number;
  readonly score: number | null;
  readonly rank: number;
  readonly alignment: MatchAlignment | null;
  readonly candidate_layer: number | null;
  readonly candidate_module: string | null;
  readonly candidate_step_min: number | null;
  readonly candidate_step_max: number | null;
  readonly candidate_vector: number[] | null;
  /** The candidate warped onto the query's points along their DTW path (null when not comparable). */
  readonly aligned_vector: number[] | null;
  /** The Sakoe–Chiba band (±points) of that warp (absent on a server from before it was added). */
  readonly aligned_band?: number | null;
  /** The candidate's envelope over the band: the highest/lowest value DTW may pair with each query point. */
  readonly band_upper?: number[] | null;
  readonly band_lower?: number[] | null;
  /** The candidate's event tokens, in step order. */
  readonly candidate_event_tokens?: string[] | null;
}

export interface MatchesResponse {
  readonly signature: Record<string, unknown>;
  readonly matches: MatchRow[];
  readonly truncated: boolean;
}

export interface QueryResponse<Row = Record<string, unknown>> {
  readonly columns: { name: string; type: string }[];
  readonly rows: Row[];
  readonly rowCount: number;
  readonly truncated: boolean;
}

/** A column's name and DuckDB type. */
export interface ColumnInfo {
  readonly name: string;
  readonly type: string;
}

/** A sweep parameter (a typed column of `grids`) and how many values the grids take. */
export interface SweepParam extends ColumnInfo {
  readonly numeric: boolean;
  readonly distinct: number;
}

/** `GET /api/sweep`. */
export interface SweepResponse {
  readonly schemaSet: string;
  readonly isSweep: boolean;
  readonly grids: number;
  readonly events: { readonly rows: number; readonly columns: readonly ColumnInfo[] } | null;
  readonly seeds: { readonly rows: number; readonly columns: readonly ColumnInfo[] } | null;
  readonly params: readonly SweepParam[];
  readonly xColumns: readonly string[];
  readonly metrics: readonly string[];
  readonly seedMetrics: readonly string[];
}

/** One seed's curve of `GET /api/sweep/curves`; `run_id` is `<grid_id>/<seed>`. */
export interface SweepSeries {
  readonly run_id: string;
  readonly grid_id: string;
  readonly seed: string;
  readonly total: number;
  readonly downsampled: boolean;
  readonly step: number[];
  readonly value: number[];
}

export interface SweepGroup extends MetricGroup {
  readonly grids: string[];
}

export interface SweepCurvesResponse {
  readonly metric: string;
  readonly x: string;
  readonly groupBy: string[];
  readonly width: number;
  readonly smoothing: number;
  readonly series: SweepSeries[];
  readonly groups: SweepGroup[];
}

/** What a sweep curve request adds to a metric query: the x column; `runs` are grid ids. */
export interface SweepCurveQuery extends Omit<MetricQuery, 'x'> {
  readonly x: string;
}

/** One grid of `GET /api/sweep/grids`. */
export interface SweepGridRow {
  readonly grid_id: string;
  readonly params: Record<string, ParamValue>;
  readonly seeds: number;
  readonly points: number;
  readonly final: number | null;
  readonly final_std: number | null;
  readonly best: number | null;
  readonly best_std: number | null;
  readonly per_seed: { readonly seed: string; readonly final: number; readonly best: number }[];
  readonly seed_means: Record<string, number | null>;
}

export interface SweepGridsResponse {
  readonly metric: string;
  readonly x: string;
  readonly best: 'min' | 'max';
  readonly params: string[];
  readonly seedMetrics: string[];
  readonly grids: SweepGridRow[];
  readonly truncated: boolean;
}

/** The page's `?token=`, if any. */
export function pageToken(search: string = window.location.search): string | undefined {
  return new URLSearchParams(search).get('token') ?? undefined;
}

/** Headers for an API call: the bearer token when the page has one. */
export function authHeaders(token: string | undefined = pageToken()): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/**
 * Fetches `path` from the server and parses the JSON answer; throws ApiError on a non-2xx status
 * (with the body's `error` message) or a network failure.
 */
export async function apiFetch<T>(path: string, init: RequestInit = {}): Promise<T> {
  return (await (await apiResponse(path, init)).json()) as T;
}

/** Fetches `path` from the server; throws ApiError on a non-2xx status or a network failure. */
async function apiResponse(path: string, init: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers ?? {}) } });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(`cannot reach the runlake server: ${(error as Error).message}`, 0, 'network');
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

/**
 * A `/api/metrics` answer from its Arrow form: `step` and `value` columns with the runs one after
 * another, and each run's place in them in the schema metadata (docs/server.md); an aligned
 * answer sends its one x array as `shared_x` in the metadata instead of a `step` column. The
 * series are views into the columns, so 2.6M points arrive without parsing a number.
 */
export function decodeMetricSeries(bytes: Uint8Array): MetricsResponse {
  const table = tableFromIPC(bytes);
  const meta = JSON.parse(table.schema.metadata.get('runlake:metric-series') ?? 'null') as {
    metric: string;
    x?: XAxis;
    width: number;
    smoothing: number;
    smoothingKind?: SmoothingKind;
    aligned?: boolean;
    /** An aligned answer's one x array (it then has no `step` column). */
    shared_x?: number[];
    series: {
      run_id: string;
      total: number;
      downsampled: boolean;
      offset: number;
      length: number;
      reason?: string;
    }[];
  } | null;
  if (!meta) throw new ApiError('the metrics answer has no runlake:metric-series metadata', 200, 'format');
  const step = (table.getChild('step')?.toArray() as Float64Array | undefined) ?? new Float64Array();
  const value = (table.getChild('value')?.toArray() as Float64Array | undefined) ?? new Float64Array();
  // Aligned runs share one x array, sent once: every series gets the same array, so a merge sees one.
  const first = meta.series[0];
  const shared = meta.shared_x
    ? Float64Array.from(meta.shared_x)
    : meta.aligned && first
      ? step.subarray(first.offset, first.offset + first.length)
      : undefined;
  return {
    metric: meta.metric,
    x: meta.x ?? 'step',
    width: meta.width,
    smoothing: meta.smoothing,
    smoothingKind: meta.smoothingKind ?? 'ema',
    aligned: meta.aligned === true,
    series: meta.series.map((s) => ({
      run_id: s.run_id,
      total: s.total,
      downsampled: s.downsampled,
      step: shared ?? step.subarray(s.offset, s.offset + s.length),
      value: value.subarray(s.offset, s.offset + s.length),
      ...(s.reason ? { reason: s.reason } : {}),
    })),
  };
}

async function errorOf(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`;
  let kind = 'http';
  try {
    const body = (await response.json()) as { error?: unknown; kind?: unknown };
    if (typeof body.error === 'string') message = body.error;
    if (typeof body.kind === 'string') kind = body.kind;
  } catch {
    // Not a JSON error body (a proxy, an old server): the status line is all there is.
  }
  return new ApiError(message, response.status, kind);
}

// The JSON body of POST /api/metrics and /api/metric-groups: a thousand run ids overflow a URL.
function metricBody(q: MetricQuery, extra: Record<string, unknown> = {}): RequestInit {
  const body: Record<string, unknown> = { run: q.runs, metric: q.metric, width: q.width, ...extra };
  // Steps are integers, so a zoom range widens to whole steps; time and token axes keep their fractions.
  const whole = q.x === undefined || q.x === 'step';
  if (q.from !== undefined) body.from = whole ? Math.floor(q.from) : q.from;
  if (q.to !== undefined) body.to = whole ? Math.ceil(q.to) : q.to;
  if (q.smoothing !== undefined && q.smoothing > 0) body.smoothing = q.smoothing;
  if (q.smoothing !== undefined && q.smoothing > 0 && q.smoothingKind && q.smoothingKind !== 'ema')
    body.smoothingKind = q.smoothingKind;
  if (q.x && q.x !== 'step') body.x = q.x;
  return { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
}

export const api = {
  lake: (signal?: AbortSignal) => apiFetch<LakeResponse>('api/lake', { signal }),
  runs: (signal?: AbortSignal) => apiFetch<RunsResponse>('api/runs', { signal }),
  changes: (signal?: AbortSignal) =>
    apiFetch<{ versions: Record<string, number> }>('api/changes', { signal, cache: 'no-store' }),
  metricNames: (signal?: AbortSignal) =>
    apiFetch<{ metrics: MetricName[]; truncated: boolean }>('api/metric-names', { signal }),
  metrics: async (q: MetricQuery, signal?: AbortSignal) => {
    // Aligned: when runs are downsampled they share one x array, so the chart merges nothing.
    const response = await apiResponse('api/metrics', {
      ...metricBody(q, { format: 'arrow', aligned: true }),
      signal,
    });
    return decodeMetricSeries(new Uint8Array(await response.arrayBuffer()));
  },
  metricGroups: (q: MetricQuery, by: readonly string[], signal?: AbortSignal) =>
    apiFetch<MetricGroupsResponse>('api/metric-groups', { ...metricBody(q, { by }), signal }),
  geometry: (run: string, filter: { layer?: number; module?: string } = {}, signal?: AbortSignal) => {
    const params = new URLSearchParams({ run });
    if (filter.layer !== undefined) params.set('layer', String(filter.layer));
    if (filter.module) params.set('module', filter.module);
    return apiFetch<GeometryResponse>(`api/geometry?${params}`, { signal });
  },
  matches: (signature: string, signal?: AbortSignal) =>
    apiFetch<MatchesResponse>(`api/matches?${new URLSearchParams({ signature })}`, { signal }),
  sweep: (signal?: AbortSignal) => apiFetch<SweepResponse>('api/sweep', { signal }),
  /** Curves of the grids `q.runs` (POST: a thousand grid ids overflow a URL). */
  sweepCurves: (q: SweepCurveQuery, groupBy: readonly string[], signal?: AbortSignal) =>
    apiFetch<SweepCurvesResponse>('api/sweep/curves', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        metric: q.metric,
        x: q.x,
        grids: q.runs,
        groupBy,
        width: q.width,
        ...(q.from !== undefined ? { from: Math.floor(q.from) } : {}),
        ...(q.to !== undefined ? { to: Math.ceil(q.to) } : {}),
        ...(q.smoothing !== undefined && q.smoothing > 0 ? { smoothing: q.smoothing } : {}),
      }),
      signal,
    }),
  sweepGrids: (metric: string, x: string, best: 'min' | 'max', signal?: AbortSignal) =>
    apiFetch<SweepGridsResponse>(`api/sweep/grids?${new URLSearchParams({ metric, x, best })}`, { signal }),
  /** One read-only SQL statement, answered as JSON rows. */
  query: <Row = Record<string, unknown>>(sql: string, signal?: AbortSignal) =>
    apiFetch<QueryResponse<Row>>('api/query', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sql, format: 'json' }),
      signal,
    }),
};

/** A SQL string literal: the dashboard builds only read-only queries, but names may hold quotes. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
