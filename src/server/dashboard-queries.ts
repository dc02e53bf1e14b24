import { createHash } from 'node:crypto';
import path from 'node:path';
import type { DuckDBValue } from '@duckdb/node-api';
import { dtwWarp, keoghEnvelope } from '../geometry/index.js';
import { lakeInfo, plainValue } from '../lake/index.js';
import { AnswerTooLargeError, BadRequestError, NotFoundError } from './errors.js';
import { type QueryLimits, type QueryResult, runReadOnlyQuery } from './query-runner.js';
import { resultToJson } from './result-encoding.js';
import { type CachedRun, cachedRuns } from './runs-cache.js';
import { configParams } from './runs-params.js';
import type { SandboxedLake } from './sandbox.js';

export { configParams } from './runs-params.js';

/** Geometry descriptors `GET /api/geometry` returns per checkpoint. */
export const SERVED_GEOMETRY_DESCRIPTORS = [
  'effective_rank',
  'participation_ratio',
  'stable_rank',
  'spectral_entropy',
  'alpha_req',
  'numerical_rank',
  'anisotropy',
  'norm_mean',
  'intrinsic_dim',
  'total_variance',
] as const;

/** What `GET /api/lake` answers: the lake's name and id, the schema set, the datasets and the named views. */
export interface LakeSummary {
  /** The lake directory's base name, for a page title. */
  readonly name: string;
  /**
   * A stable id of the lake: the first 16 hex digits of the SHA-256 of its absolute path. The
   * dashboard keys what it saves (the workspace) by it, so two lakes never share a layout.
   */
  readonly id: string;
  readonly schemaSet: string;
  readonly grids: number;
  readonly datasets: readonly {
    readonly name: string;
    readonly rows: number;
    readonly files: number;
    readonly bytes: number;
    readonly partitionBy: readonly { readonly name: string; readonly type: string }[];
    readonly columns: readonly { readonly name: string; readonly type: string }[];
  }[];
  readonly views: readonly { readonly name: string; readonly description: string }[];
  readonly viewProblems: readonly { readonly view: string; readonly reason: string }[];
}

/**
 * The lake's schema set, datasets (row counts from Parquet footers, columns from the views) and
 * named views, for a dashboard's first screen.
 *
 * @example
 * ```ts
 * (await lakeSummary(lake)).datasets.map((d) => `${d.name}: ${d.rows}`);
 * ```
 */
export async function lakeSummary(served: SandboxedLake): Promise<LakeSummary> {
  const info = await infoOf(served);
  const root = path.resolve(served.lake.baseOut);
  return {
    name: path.basename(root),
    id: createHash('sha256').update(root).digest('hex').slice(0, 16),
    schemaSet: served.lake.schemaSet.name,
    grids: info.grids,
    datasets: info.datasets.map((d) => ({
      name: d.name,
      rows: d.rows,
      files: d.files,
      bytes: d.bytes,
      partitionBy: d.partitionBy,
      columns: d.columns,
    })),
    views: (await served.lake.views()).map((v) => ({ name: v.name, description: v.description })),
    viewProblems: served.lake.viewProblems,
  };
}

// A sandbox reads one snapshot of every dataset, so its datasets' summary is worked out once:
// describing a view over 10,000 files costs about half a second a time.
const infoBySandbox = new WeakMap<SandboxedLake, ReturnType<typeof lakeInfo>>();

function infoOf(served: SandboxedLake): ReturnType<typeof lakeInfo> {
  let info = infoBySandbox.get(served);
  if (!info) {
    info = lakeInfo(served.lake);
    // A failed read is not kept: the next request tries again.
    info.catch(() => infoBySandbox.delete(served));
    infoBySandbox.set(served, info);
  }
  return info;
}

/**
 * The lake's runs (or only those named in `only`) in `run_id` order, each with its sweep
 * parameters (`params`, parsed from the `grids` table) when its `grid_id` names a grid, else its
 * `config_json` flattened ({@link configParams}). Capped at `limits.maxRows`. The rows come from
 * the query process's cache of the snapshot ({@link cachedRuns}: read once, then only the part
 * files a later snapshot adds), or from a query when the dataset has no commit log or a
 * thousand of its files hold more than an answer may. The runs returned are frozen: they are
 * the cache's.
 *
 * @example
 * ```ts
 * const { runs } = await listRuns(lake, limits);
 * runs[0]?.params; // { lr: 0.0003, model: 'tiny' }
 * ```
 */
export async function listRuns(
  served: SandboxedLake,
  limits: QueryLimits,
  only?: readonly string[],
): Promise<{ runs: Record<string, unknown>[]; truncated: boolean }> {
  requireDataset(served, 'runs');
  let cached: readonly CachedRun[] | undefined;
  try {
    cached = await cachedRuns(served, limits);
  } catch (error) {
    if (!(error instanceof AnswerTooLargeError)) throw error;
  }
  if (!cached) return queryRuns(served, limits, only);
  const wanted = only ? new Set(only) : undefined;
  const picked = wanted ? cached.filter((run) => wanted.has(run.run_id as string)) : cached;
  return { runs: picked.slice(0, limits.maxRows), truncated: picked.length > limits.maxRows };
}

/** {@link listRuns} by a query over the `runs` view (and `grids`). */
async function queryRuns(
  served: SandboxedLake,
  limits: QueryLimits,
  only?: readonly string[],
): Promise<{ runs: Record<string, unknown>[]; truncated: boolean }> {
  const hasGrid =
    served.lake.datasets.get('runs')?.manifest.columns.some((c) => c.name === 'grid_id') ?? false;
  const params: DuckDBValue[] = [...(only ?? [])];
  const where = only ? `WHERE r.run_id IN (${only.map((_, i) => `$${i + 1}`).join(', ')})` : '';
  const sql = hasGrid
    ? `SELECT r.*, g.params_json AS _params_json FROM runs r LEFT JOIN grids g ON g.grid_id = r.grid_id ${where} ORDER BY r.run_id`
    : `SELECT r.*, NULL AS _params_json FROM runs r ${where} ORDER BY r.run_id`;
  const json = resultToJson(await runReadOnlyQuery(served, sql, limits, params));
  const runs = json.rows.map(({ _params_json, ...run }) => ({
    ...run,
    params: typeof _params_json === 'string' ? JSON.parse(_params_json) : configParams(run.config_json),
  }));
  return { runs, truncated: json.truncated };
}

/** One descriptor trajectory in a `GET /api/geometry` answer. */
export interface GeometryTrajectory {
  readonly sample_set: string;
  readonly module: string;
  readonly layer: number | null;
  readonly sample_id: string | null;
  readonly step: number[];
  /** One array per descriptor, aligned with `step`. */
  readonly descriptors: Record<string, (number | null)[]>;
}

/** The request of {@link geometryOfRun}. */
export interface GeometryRequest {
  readonly run: string;
  readonly layer?: number;
  readonly module?: string;
}

/**
 * A run's geometry descriptor trajectories (one per sample set × module × layer, in step order)
 * and the events detected on it (events tied to another layer or module are left out when one is
 * asked for).
 *
 * @example
 * ```ts
 * const { trajectories, events } = await geometryOfRun(lake, { run: 'r1', layer: 0, module: 'resid_post' }, limits);
 * ```
 */
export async function geometryOfRun(
  served: SandboxedLake,
  request: GeometryRequest,
  limits: QueryLimits,
): Promise<{
  trajectories: GeometryTrajectory[];
  events: Record<string, unknown>[];
  truncated: boolean;
}> {
  requireDataset(served, 'geometry_state');
  requireDataset(served, 'events');
  const stateFilters = ['run_id = $1'];
  const eventFilters = ['run_id = $1'];
  const params: DuckDBValue[] = [request.run];
  if (request.layer !== undefined) {
    params.push(request.layer);
    stateFilters.push(`layer = $${params.length}`);
    eventFilters.push(`(layer IS NULL OR layer = $${params.length})`);
  }
  if (request.module !== undefined) {
    params.push(request.module);
    stateFilters.push(`module = $${params.length}`);
    eventFilters.push(`(module IS NULL OR module = $${params.length})`);
  }
  const state = await runReadOnlyQuery(
    served,
    `SELECT sample_set, module, layer, sample_id, step, ${SERVED_GEOMETRY_DESCRIPTORS.join(', ')}
     FROM geometry_state WHERE ${stateFilters.join(' AND ')}
     ORDER BY sample_set, module, layer NULLS FIRST, sample_id NULLS FIRST, step`,
    limits,
    params,
  );
  const trajectories = new Map<string, GeometryTrajectory>();
  forEachRow(state, (row) => {
    const key = JSON.stringify([row.sample_set, row.module, row.layer, row.sample_id]);
    let trajectory = trajectories.get(key);
    if (!trajectory) {
      trajectory = {
        sample_set: String(row.sample_set),
        module: String(row.module),
        layer: row.layer === null ? null : Number(row.layer),
        sample_id: row.sample_id === null ? null : String(row.sample_id),
        step: [],
        descriptors: Object.fromEntries(SERVED_GEOMETRY_DESCRIPTORS.map((d) => [d, []])),
      };
      trajectories.set(key, trajectory);
    }
    trajectory.step.push(Number(row.step));
    for (const d of SERVED_GEOMETRY_DESCRIPTORS) {
      const value = row[d];
      trajectory.descriptors[d]?.push(value === null || value === undefined ? null : Number(value));
    }
  });
  const events = resultToJson(
    await runReadOnlyQuery(
      served,
      `SELECT event_id, event_type, step, step_end, sample_set, layer, module, descriptor, detector, magnitude, confidence
       FROM events WHERE ${eventFilters.join(' AND ')} ORDER BY step, event_type`,
      limits,
      params,
    ),
  );
  return {
    trajectories: [...trajectories.values()],
    events: events.rows as Record<string, unknown>[],
    truncated: state.truncated || events.truncated,
  };
}

/**
 * A signature (with its vector) and its nearest matches in rank order, each with the candidate
 * signature's layer, module, step range, vector and event tokens (`candidate_event_tokens`), and
 * `aligned_vector`: the candidate warped onto the query's points along their optimal DTW path
 * ({@link dtwWarp} within the Sakoe–Chiba band `aligned_band`: the match's band, else 10% of the
 * length), so an overlay shows each feature where the matcher paired it. `band_upper`/`band_lower`
 * are the candidate's envelope over that band ({@link keoghEnvelope}): at query point i, the
 * largest and smallest candidate value DTW may pair with it, so the warped candidate stays inside.
 * The four are null when the two vectors differ in length or hold non-finite values.
 *
 * @example
 * ```ts
 * const { signature, matches } = await matchesOf(lake, 'sig-r1-l0', limits);
 * matches[0]?.aligned_vector; // number[] as long as signature.vector
 * ```
 */
export async function matchesOf(
  served: SandboxedLake,
  signatureId: string,
  limits: QueryLimits,
): Promise<{ signature: Record<string, unknown>; matches: Record<string, unknown>[]; truncated: boolean }> {
  requireDataset(served, 'signatures');
  requireDataset(served, 'matches');
  const signature = resultToJson(
    await runReadOnlyQuery(served, 'SELECT * FROM signatures WHERE signature_id = $1', limits, [signatureId]),
  );
  const found = signature.rows[0];
  if (!found) throw new NotFoundError(`no signature "${signatureId}" in the signatures dataset`);
  const matches = resultToJson(
    await runReadOnlyQuery(
      served,
      `SELECT m.*, s.layer AS candidate_layer, s.module AS candidate_module,
              s.step_min AS candidate_step_min, s.step_max AS candidate_step_max, s.vector AS candidate_vector,
              s.event_tokens AS candidate_event_tokens
       FROM matches m LEFT JOIN signatures s ON s.signature_id = m.candidate_signature_id
       WHERE m.query_signature_id = $1 ORDER BY m.rank, m.candidate_signature_id`,
      limits,
      [signatureId],
    ),
  );
  const query = finiteVector(found.vector);
  return {
    signature: found,
    matches: (matches.rows as Record<string, unknown>[]).map((m) => {
      const candidate = finiteVector(m.candidate_vector);
      if (!query || !candidate || candidate.length !== query.length)
        return { ...m, aligned_vector: null, aligned_band: null, band_upper: null, band_lower: null };
      const band = (m.alignment as { band?: number } | null)?.band ?? Math.round(query.length / 10);
      const envelope = keoghEnvelope(candidate, band);
      return {
        ...m,
        aligned_vector: Array.from(dtwWarp(query, candidate, band)),
        aligned_band: band,
        band_upper: Array.from(envelope.upper),
        band_lower: Array.from(envelope.lower),
      };
    }),
    truncated: matches.truncated,
  };
}

function finiteVector(value: unknown): Float64Array | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const vector = Float64Array.from(value, Number);
  return vector.every(Number.isFinite) ? vector : undefined;
}

/** Throws a 404 that names the datasets the lake has when it lacks `name`. */
export function requireDataset(served: SandboxedLake, name: string): void {
  if (!served.lake.datasets.has(name)) {
    throw new NotFoundError(
      `this ${served.lake.schemaSet.name} lake has no "${name}" dataset (it has: ${[...served.lake.datasets.keys()].join(', ') || 'none'})`,
    );
  }
}

function forEachRow(result: QueryResult, use: (row: Record<string, unknown>) => void): void {
  for (let r = 0; r < result.rowCount; r++) {
    const row: Record<string, unknown> = {};
    result.columnNames.forEach((name, c) => {
      row[name] = plainValue(result.columns[c]?.[r] ?? null);
    });
    use(row);
  }
}

/**
 * Parses an optional numeric query parameter, naming it when it is not a finite number.
 *
 * @example
 * ```ts
 * numberParam('from', '1500'); // 1500
 * numberParam('from', undefined); // undefined
 * ```
 */
export function numberParam(name: string, text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isFinite(value)) throw new BadRequestError(`${name} must be a number, got "${text}"`);
  return value;
}
