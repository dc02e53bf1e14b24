/**
 * The analysis stages that need whole trajectories: events (per key, and bifurcations across the
 * seeds of a grid), signatures and matches. They are recomputed for the runs whose trajectories
 * changed and replace what the previous analysis derived for those runs.
 */
import { type Lake, quoteLiteral, type Row } from '../lake/index.js';
import { GEOMETRY_DESCRIPTORS } from '../schema/index.js';
import { describeKey, type TrajectoryKey, trajectoryKeyOf } from './analysis-task.js';
import {
  type DescriptorTrajectory,
  type DetectedEvent,
  detectBifurcations,
  detectTrajectoryEvents,
} from './events.js';
import { type MatchRow, matchSignatures, prepareSignaturePool } from './match.js';
import { readSignaturePool, type StoredSignature } from './signature-pool.js';
import { buildSignature, DEFAULT_SIGNATURE_OPTIONS, type SignatureOptions } from './signatures.js';

/** The stem of every part file the analysis derives, so a re-analysis replaces only its own. */
export const ANALYSIS_FILE_STEM = 'analysis';

/** Options of the trajectory stages (also accepted by `analyzeLake`). */
export interface TrajectoryStageOptions {
  /** Descriptors that get a signature each (default effective_rank, intrinsic_dim). */
  readonly signatureDescriptors?: readonly string[];
  /** Grid and lengths of the signatures (defaults: fraction, 128 points, PAA 32). */
  readonly signature?: SignatureOptions;
  /** Matches kept per query signature and method (default 10); 0 skips matching. */
  readonly matchTop?: number;
  /** Detector parameters by detector name, e.g. `{ 'rank_collapse/v1': { dropFraction: 0.3 } }`. */
  readonly detectorParams?: Readonly<Record<string, Record<string, unknown>>>;
}

/** What the trajectory stages wrote. */
export interface TrajectoryStageSummary {
  /** Runs whose events and signatures were recomputed. */
  readonly runs: string[];
  readonly events: number;
  readonly eventsByType: Record<string, number>;
  readonly signatures: number;
  /** Match rows written (for every query run, since a new signature can enter any top-k). */
  readonly matches: number;
}

/**
 * Matches every signature of a pool against the others of other runs (top `topK` per method):
 * element q holds the rows of query `pool[q]`. {@link deriveTrajectoryStages} runs
 * {@link matchPoolQueries} over the whole pool on its own thread unless given one of these;
 * `analyzeLake` spreads the queries over its worker threads.
 */
export type PoolMatcher = (pool: readonly StoredSignature[], topK: number) => Promise<MatchRow[][]>;

/**
 * The match rows of the queries `pool[from…to)` against the whole pool, other runs only — the
 * unit of work of a {@link PoolMatcher}. Each call prepares the pool once.
 *
 * @example
 * ```ts
 * const pool = await readSignaturePool(lake, { descriptorSet: 'effective_rank' });
 * const rows = matchPoolQueries(pool, 10, 0, pool.length); // rows[q]: the matches of pool[q]
 * ```
 */
export function matchPoolQueries(
  pool: readonly StoredSignature[],
  topK: number,
  from = 0,
  to = pool.length,
): MatchRow[][] {
  const prepared = prepareSignaturePool(pool);
  const out: MatchRow[][] = [];
  for (let q = from; q < to; q++) {
    const query = pool[q] as StoredSignature;
    out.push(matchSignatures(query, prepared, { topK, excludeRunIds: new Set([query.runId]) }));
  }
  return out;
}

/** Default descriptors that get a signature. */
export const DEFAULT_SIGNATURE_DESCRIPTORS: readonly string[] = ['effective_rank', 'intrinsic_dim'];

interface KeyedTrajectory {
  readonly key: TrajectoryKey;
  readonly gridId: string | null;
  readonly trajectory: DescriptorTrajectory & { readonly steps: number[] };
}

/**
 * Recomputes events, signatures and matches for `runs` and the other seeds of their grids.
 *
 * @example
 * ```ts
 * const summary = await deriveTrajectoryStages(lake, ['run-a'], { matchTop: 5 });
 * summary.eventsByType; // { rank_collapse: 8, reexpansion: 8 }
 * ```
 */
export async function deriveTrajectoryStages(
  lake: Lake,
  runs: readonly string[],
  options: TrajectoryStageOptions = {},
  matcher?: PoolMatcher,
): Promise<TrajectoryStageSummary> {
  const grids = await lake.query('SELECT DISTINCT run_id, grid_id FROM runs WHERE grid_id IS NOT NULL');
  const gridOf = new Map(grids.map((r) => [r.run_id as string, r.grid_id as string]));
  const touchedGrids = new Set(runs.map((r) => gridOf.get(r)).filter((g) => g !== undefined));
  const affected = [
    ...new Set([...runs, ...[...gridOf].filter(([, g]) => touchedGrids.has(g)).map(([r]) => r)]),
  ].sort();
  const trajectories = await readTrajectories(lake, affected, gridOf);
  const analyzed = new Set(trajectories.map((t) => t.key.runId));
  const recomputed = affected.filter((r) => analyzed.has(r));

  const events = new Map<string, Row[]>(recomputed.map((r) => [r, []]));
  const eventsByKey = new Map<string, DetectedEvent[]>();
  const eventsByType: Record<string, number> = {};
  const record = (key: TrajectoryKey, event: DetectedEvent) => {
    const label = describeKey(key);
    eventsByKey.set(label, [...(eventsByKey.get(label) ?? []), event]);
    eventsByType[event.eventType] = (eventsByType[event.eventType] ?? 0) + 1;
    events.get(key.runId)?.push({
      run_id: key.runId,
      event_type: event.eventType,
      event_id: `${label}/${event.detector}@${event.step}`,
      step: event.step,
      step_end: event.stepEnd,
      sample_set: key.sampleSet,
      sample_id: key.sampleId,
      layer: key.layer,
      module: key.module,
      descriptor: event.descriptor,
      detector: event.detector,
      magnitude: event.magnitude,
      confidence: event.confidence,
      reference_run_id: event.referenceRunId ?? null,
      params_json: JSON.stringify(event.params),
    });
  };
  for (const { key, trajectory } of trajectories) {
    for (const event of detectTrajectoryEvents(trajectory, { params: options.detectorParams }))
      record(key, event);
  }
  for (const members of seedGroups(trajectories)) {
    const bifurcations = detectBifurcations(
      members.map((m) => ({ runId: m.key.runId, trajectory: m.trajectory })),
      options.detectorParams?.['bifurcation/v1'],
    );
    for (const event of bifurcations) {
      const member = members.find((m) => m.key.runId === event.runId);
      if (member) record(member.key, event);
    }
  }
  let eventCount = 0;
  for (const [run, rows] of events) {
    await lake.replace('events', rows, { partition: { run_id: run }, stem: ANALYSIS_FILE_STEM });
    eventCount += rows.length;
  }

  const signatureOptions = { ...DEFAULT_SIGNATURE_OPTIONS, ...options.signature };
  const descriptors = options.signatureDescriptors ?? DEFAULT_SIGNATURE_DESCRIPTORS;
  const signatures = new Map<string, Row[]>(recomputed.map((r) => [r, []]));
  for (const { key, trajectory } of trajectories) {
    const label = describeKey(key);
    const keyEvents = eventsByKey.get(label) ?? [];
    for (const descriptor of descriptors) {
      const values = trajectory.descriptors[descriptor];
      if (!values) continue;
      const signature = buildSignature(trajectory.steps, values, keyEvents, signatureOptions);
      if (!signature) continue;
      const common = {
        run_id: key.runId,
        sample_set: key.sampleSet,
        layer: key.layer,
        module: key.module,
        sample_id: key.sampleId,
        descriptor_set: descriptor,
        grid: signature.grid,
        event_tokens: signature.eventTokens,
        step_min: signature.stepMin,
        step_max: signature.stepMax,
        n_points: signature.nPoints,
      };
      signatures.get(key.runId)?.push(
        {
          ...common,
          signature_id: `${label}/${descriptor}#${signature.seriesMethod}`,
          method: signature.seriesMethod,
          dim: signature.series.length,
          vector: Float32Array.from(signature.series),
        },
        {
          ...common,
          signature_id: `${label}/${descriptor}#${signature.paaMethod}`,
          method: signature.paaMethod,
          dim: signature.paa.length,
          vector: Float32Array.from(signature.paa),
        },
      );
    }
  }
  let signatureCount = 0;
  for (const [run, rows] of signatures) {
    await lake.replace('signatures', rows, { partition: { run_id: run }, stem: ANALYSIS_FILE_STEM });
    signatureCount += rows.length;
  }

  const matchTop = options.matchTop ?? 10;
  const matchCount =
    matchTop > 0 ? await rematchAll(lake, descriptors, signatureOptions, matchTop, matcher) : 0;
  return {
    runs: recomputed,
    events: eventCount,
    eventsByType,
    signatures: signatureCount,
    matches: matchCount,
  };
}

/**
 * Matches every stored series signature against the signatures of the same descriptor in other
 * runs, and replaces each query run's derived `matches`.
 */
async function rematchAll(
  lake: Lake,
  descriptors: readonly string[],
  signatureOptions: SignatureOptions,
  topK: number,
  matcher: PoolMatcher | undefined,
): Promise<number> {
  const byRun = new Map<string, Row[]>();
  const params = JSON.stringify({ topK, ...signatureOptions, pool: 'other runs, same descriptor' });
  // A descriptor's pool is matched on the workers while the next one is read (and their shares
  // queue behind each other, so no worker waits between pools); rows are then taken in order.
  const pending: Array<{ pool: StoredSignature[]; matched: Promise<MatchRow[][]> }> = [];
  for (const descriptor of descriptors) {
    const pool = await readSignaturePool(lake, { ...signatureOptions, descriptorSet: descriptor });
    if (pool.length === 0) continue;
    const matched = matcher ? matcher(pool, topK) : Promise.resolve(matchPoolQueries(pool, topK));
    // Awaited below; until then a failure must not count as an unhandled rejection.
    matched.catch(() => undefined);
    pending.push({ pool, matched });
  }
  for (const { pool, matched: matching } of pending) {
    const matched = await matching;
    for (let q = 0; q < pool.length; q++) {
      const query = pool[q] as StoredSignature;
      const rows = byRun.get(query.runId) ?? [];
      byRun.set(query.runId, rows);
      for (const match of matched[q] ?? []) {
        rows.push({
          run_id: query.runId,
          query_signature_id: match.querySignatureId,
          candidate_run_id: match.candidateRunId,
          candidate_signature_id: match.candidateSignatureId,
          method: match.method,
          distance: match.distance,
          score: match.score,
          rank: match.rank,
          alignment: match.alignment,
          params_json: params,
        });
      }
    }
  }
  let count = 0;
  for (const [run, rows] of byRun) {
    await lake.replace('matches', rows, { partition: { run_id: run }, stem: ANALYSIS_FILE_STEM });
    count += rows.length;
  }
  return count;
}

/** Groups trajectories of the same grid and key (bar the run) with at least two seeds. */
function seedGroups(trajectories: readonly KeyedTrajectory[]): KeyedTrajectory[][] {
  const groups = new Map<string, KeyedTrajectory[]>();
  for (const t of trajectories) {
    if (t.gridId === null) continue;
    const id = [t.gridId, t.key.sampleSet, t.key.module, t.key.layer, t.key.sampleId].join('\u0000');
    groups.set(id, [...(groups.get(id) ?? []), t]);
  }
  return [...groups.values()].filter((g) => g.length >= 2);
}

async function readTrajectories(
  lake: Lake,
  runs: readonly string[],
  gridOf: ReadonlyMap<string, string>,
): Promise<KeyedTrajectory[]> {
  if (runs.length === 0) return [];
  const keys = ['run_id', 'sample_set', 'module', 'layer', 'sample_id'];
  const columns = [
    ...new Set([...GEOMETRY_DESCRIPTORS, 'effective_rank', 'intrinsic_dim', 'total_variance']),
  ];
  // One row per (key, step): the first state row, and the drift from the nearest earlier step.
  const rows = await lake.query(`
    WITH s AS (
      SELECT DISTINCT ON (${keys.join(', ')}, step) ${keys.join(', ')}, step, ${columns.join(', ')}
      FROM geometry_state WHERE run_id IN (${runs.map(quoteLiteral).join(', ')})
      ORDER BY ${keys.join(', ')}, step
    ),
    d AS (
      SELECT DISTINCT ON (${keys.join(', ')}, step) ${keys.join(', ')}, step, cka_drift
      FROM geometry_dynamics WHERE run_id IN (${runs.map(quoteLiteral).join(', ')})
      ORDER BY ${keys.join(', ')}, step, step_prev DESC
    )
    SELECT s.*, d.cka_drift FROM s LEFT JOIN d USING (${keys.join(', ')}, step)
    ORDER BY ${keys.join(', ')}, step`);
  const out: KeyedTrajectory[] = [];
  let current: {
    key: TrajectoryKey;
    steps: number[];
    values: Record<string, Array<number | null>>;
    drift: Array<number | null>;
  } | null = null;
  const flush = () => {
    if (!current) return;
    out.push({
      key: current.key,
      gridId: gridOf.get(current.key.runId) ?? null,
      trajectory: { steps: current.steps, descriptors: current.values, drift: current.drift },
    });
  };
  for (const row of rows) {
    const key = trajectoryKeyOf(row);
    if (!current || describeKey(current.key) !== describeKey(key)) {
      flush();
      current = { key, steps: [], values: Object.fromEntries(columns.map((c) => [c, []])), drift: [] };
    }
    current.steps.push(row.step as number);
    for (const c of columns) current.values[c]?.push((row[c] as number | null) ?? null);
    current.drift.push(current.steps.length === 1 ? null : ((row.cka_drift as number | null) ?? null));
  }
  flush();
  return out;
}
