import type { ColumnType } from '../../lake/column-types.js';
import { quoteLiteral } from '../../lake/column-types.js';
import { RunlakeError } from '../../lake/errors.js';
import type { Lake } from '../../lake/lake.js';
import { toJsonText } from '../wandb-json.js';
import { buildWandbRuns, reconcileWithLake } from '../wandb-metadata.js';
import { WandbSkipCounter } from '../wandb-skips.js';
import type { TrackingRecord } from './frame.js';

/** The stem of the `runs` files the tracking server writes (a `lake.replace` stem). */
export const TRACKING_STEM = 'track';

/**
 * What the server knows about a run: W&B's record shape, so that `ingest wandb`'s rules
 * (`buildWandbRuns`) turn it into the `runs` row.
 */
export interface TrackedRun {
  readonly runId: string;
  project: string | null;
  name: string | null;
  group: string | null;
  tags: string[] | null;
  status: string;
  notes: string | null;
  /** Seconds since the Unix epoch, or ISO text read back from the lake. */
  startedAt: number | string | null;
  finishedAt: number | string | null;
  config: Record<string, unknown>;
  summary: Record<string, unknown>;
}

/**
 * Applies one record to a run's state (`run` sets the fields it gives, `config`/`summary` merge
 * key by key, `finish` sets the status). Metrics and checkpoints leave it unchanged. Applying the
 * same records twice gives the same state, which makes folding a segment again harmless.
 *
 * @example
 * ```ts
 * const run = newTrackedRun('r1');
 * applyRunRecord(run, { kind: 'summary', runId: 'r1', values: { best: 0.9 } });
 * run.summary; // { best: 0.9 }
 * ```
 */
export function applyRunRecord(run: TrackedRun, record: TrackingRecord): boolean {
  switch (record.kind) {
    case 'run': {
      const f = record.fields;
      if (f.project !== undefined) run.project = f.project as string | null;
      if (f.name !== undefined) run.name = f.name as string | null;
      if (f.group !== undefined) run.group = f.group as string | null;
      if (f.tags !== undefined) run.tags = f.tags as string[] | null;
      if (f.notes !== undefined) run.notes = f.notes as string | null;
      if (typeof f.status === 'string') run.status = f.status;
      if (f.started_at !== undefined && f.started_at !== null && run.startedAt === null) {
        run.startedAt = f.started_at as number;
      }
      if (f.config !== undefined && f.config !== null) Object.assign(run.config, f.config);
      return true;
    }
    case 'config':
      Object.assign(run.config, record.values);
      return true;
    case 'summary':
      Object.assign(run.summary, record.values);
      return true;
    case 'finish':
      run.status = record.status;
      run.finishedAt = record.finishedAt;
      return true;
    default:
      return false;
  }
}

/**
 * A run the server has not seen: `status = 'running'`, nothing else.
 *
 * @example
 * ```ts
 * newTrackedRun('r1').status; // 'running'
 * ```
 */
export function newTrackedRun(runId: string): TrackedRun {
  return {
    runId,
    project: null,
    name: null,
    group: null,
    tags: null,
    status: 'running',
    notes: null,
    startedAt: null,
    finishedAt: null,
    config: {},
    summary: {},
  };
}

/**
 * Reads a run's state back from the lake's `runs` row (written by an earlier fold, or by any
 * other writer), or undefined when the lake has no row for it.
 *
 * @example
 * ```ts
 * const run = (await readTrackedRun(lake, 'r1')) ?? newTrackedRun('r1');
 * ```
 */
export async function readTrackedRun(lake: Lake, runId: string): Promise<TrackedRun | undefined> {
  if (!lake.datasets.has('runs')) return undefined;
  const rows = await lake.query(`SELECT * FROM runs WHERE run_id = ${quoteLiteral(runId)} LIMIT 1`);
  const row = rows[0];
  if (!row) return undefined;
  const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const time = (v: unknown): string | null =>
    v instanceof Date ? v.toISOString() : v === null || v === undefined ? null : String(v);
  const summary: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    if (column.startsWith('summary.') && value !== null && value !== undefined) {
      summary[column.slice('summary.'.length)] = typeof value === 'bigint' ? Number(value) : value;
    }
  }
  const blob = text(row.summary_json);
  if (blob) Object.assign(summary, JSON.parse(blob) as Record<string, unknown>);
  const config = text(row.config_json);
  return {
    runId,
    project: text(row.project),
    name: text(row.run_name),
    group: text(row.run_group),
    tags: Array.isArray(row.tags) ? (row.tags as unknown[]).map(String) : null,
    status: text(row.status) ?? 'running',
    notes: text(row.notes),
    startedAt: time(row.started_at),
    finishedAt: time(row.finished_at),
    config: config ? (JSON.parse(config) as Record<string, unknown>) : {},
    summary,
  };
}

/**
 * The `runs` row of a tracked run, by `ingest wandb`'s rules (config flattened to `config.*`
 * columns and `config_json`, summary to `summary.*` and `summary_json`), with its columns typed
 * to agree with the lake's existing ones.
 *
 * @example
 * ```ts
 * const row = trackedRunRow(lake, run);
 * await lake.replace('runs', [row], { partition: { run_id: run.runId }, stem: TRACKING_STEM });
 * ```
 */
export function trackedRunRow(lake: Lake, run: TrackedRun): Record<string, unknown> {
  const values: Record<string, unknown> = {
    run_id: run.runId,
    name: run.name,
    project: run.project,
    group: run.group,
    tags: run.tags,
    state: run.status,
    created_at: run.startedAt,
    config: run.config,
    summary: run.summary,
  };
  if (run.notes !== null) values.notes = run.notes;
  if (run.finishedAt !== null) {
    values.finished_at =
      typeof run.finishedAt === 'number' ? new Date(run.finishedAt * 1000) : new Date(run.finishedAt);
  }
  const runs = buildWandbRuns(
    [
      {
        file: `run ${run.runId}`,
        format: 'json',
        kind: 'metadata',
        records: [{ values, where: 'tracked state' }],
      },
    ],
    new WandbSkipCounter(),
  );
  const lakeTypes = new Map<string, ColumnType>(
    (lake.datasets.get('runs')?.manifest.columns ?? []).map((c) => [c.name, c.type]),
  );
  const row = runs.rows[0]?.row;
  if (!row) throw new RunlakeError(`run ${run.runId}: no runs row could be built`);
  // A flattened leaf whose type the lake's column cannot take (`config.lr` text here, BIGINT in
  // the lake) is left out of the typed columns instead of failing an acknowledged batch: the
  // whole config stays in config_json, and a summary leaf moves to summary_json.
  const moved: Record<string, unknown> = {};
  for (const [column, type] of runs.columnTypes) {
    const existing = lakeTypes.get(column);
    if (!existing || joinable(existing, type)) continue;
    if (column.startsWith('summary.')) moved[column.slice('summary.'.length)] = row[column];
    delete row[column];
    runs.columnTypes.delete(column);
  }
  if (Object.keys(moved).length > 0) {
    const blob =
      typeof row.summary_json === 'string' ? (JSON.parse(row.summary_json) as Record<string, unknown>) : {};
    row.summary_json = toJsonText({ ...blob, ...moved });
  }
  reconcileWithLake(runs, lakeTypes);
  return row;
}

const NUMERIC = new Set(['int16', 'int32', 'int64', 'float32', 'float64']);

/** Whether values of `type` can go into a lake column of type `existing` (ingest wandb's rules). */
function joinable(existing: ColumnType, type: ColumnType): boolean {
  return (
    existing.kind === 'null' ||
    existing.kind === type.kind ||
    (NUMERIC.has(existing.kind) && NUMERIC.has(type.kind)) ||
    (existing.kind === 'string' && type.kind !== 'timestamp')
  );
}
