/**
 * The Python package's readers against the TypeScript readers on the same lakes and stores:
 * `runlake.open_lake` must give every view and table `openLake` gives — the same names, DuckDB
 * types and rows — on a Squiggle lake and a sweep lake (the demo's), a lake with a long commit
 * history (a checkpoint, replaces, a compaction, schema evolution, a saved view), lakes
 * exp_engine's own writer made, and a lake pyarrow wrote without any runlake metadata. Also:
 * snapshot pinning across a later write and compaction, one clear error for a torn commit file,
 * and `runlake.shards` against the synthefy reference reader on a store runlake wrote and one the
 * reference writer wrote. The Python side is test/python/read_lake.py.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  lakePaths,
  latestVersion,
  ndarray,
  openLake,
  type PythonJsonValue,
  pyFloat,
  pythonJsonDumps,
  ShardedDatasetWriter,
  type SweepViewColumns,
  sweepViews,
  writeEventRows,
} from '../src/index.js';
import { RUNLAKE_BIN, runlake } from './helpers/cli.js';
import { repoRoot, tempDir } from './helpers/lake-fixtures.js';
import { pythonWith } from './helpers/python.js';

const py = pythonWith(['duckdb', 'numpy', 'pandas', 'polars', 'pyarrow']);
if (py.skip) console.warn(`[python-read.test] skipping: ${py.reason}`);
const SCRIPT = path.join(repoRoot, 'test', 'python', 'read_lake.py');
const SYNTHEFY = process.env.RUNLAKE_SYNTHEFY ?? '/work/shared/peers/synthefy';
const EXP_ENGINE = path.dirname(process.env.RUNLAKE_EXP_ENGINE ?? '/work/shared/peers/exp_engine/A');

interface Compared {
  tables: Array<[string, string]>;
  checked: Array<{ name: string; rows: number }>;
  problems: string[];
  frames: Record<string, [number, number, number]>;
}

/**
 * Every table and view TypeScript's `openLake` shows: its columns (`DESCRIBE`), its rows (a
 * Parquet export), written to `<out>/expected.json` for the Python side.
 */
async function exportViews(
  dir: string,
  out: string,
): Promise<{ tables: Array<[string, string]>; rows: number }> {
  mkdirSync(out, { recursive: true });
  // One thread on both sides: parallel float aggregation (avg, stddev) may differ in the last bit.
  const lake = await openLake(dir, { threads: 1 });
  try {
    const listed = await lake.query(
      'SELECT table_name, table_type FROM information_schema.tables ORDER BY 1',
    );
    const tables = [];
    let total = 0;
    for (const row of listed) {
      const name = String(row.table_name);
      const columns = (await lake.query(`DESCRIBE "${name}"`)).map((r) => [
        String(r.column_name),
        String(r.column_type),
      ]);
      const parquet = path.join(out, `${name}.parquet`);
      await lake.run(`COPY (SELECT * FROM "${name}") TO '${parquet}' (FORMAT parquet)`);
      const [counted] = await lake.query(`SELECT count(*)::INTEGER AS n FROM "${name}"`);
      tables.push({ name, columns, parquet, rows: counted?.n });
      total += Number(counted?.n);
    }
    writeFileSync(path.join(out, 'expected.json'), JSON.stringify({ tables }));
    return {
      tables: listed.map((r) => [String(r.table_name), String(r.table_type)] as [string, string]),
      rows: total,
    };
  } finally {
    lake.close();
  }
}

/** Compares Python's views of `dir` with TypeScript's; returns what Python reported. */
async function compareLake(dir: string): Promise<Compared> {
  const out = `${dir}-expected`;
  const expected = await exportViews(dir, out);
  const result = JSON.parse(
    py.runPython(SCRIPT, ['compare', dir, path.join(out, 'expected.json')]),
  ) as Compared;
  expect(result.problems).toEqual([]);
  expect(result.tables).toEqual(expected.tables);
  expect(result.checked.length).toBe(expected.tables.length);
  for (const [name, counts] of Object.entries(result.frames)) {
    const rows = result.checked.find((c) => c.name === name)?.rows;
    expect(counts, name).toEqual([rows, rows, rows]);
  }
  return result;
}

/** A sweep lake with 100+ commits: a checkpoint, replaces, a compaction, a new column, a saved view. */
async function historyLake(dir: string): Promise<void> {
  const lake = await openLake(dir);
  try {
    for (let i = 0; i < 104; i++) {
      await lake.write('events', [
        {
          grid_id: i % 2 ? 'aaaa0001' : '0bbb0002',
          seed: i % 3,
          event_id: i,
          op: i % 4 ? 'insert' : 'delete',
          regret: i / 7,
          ...(i >= 60 ? { acc: i / 100, note: `n${i}` } : {}),
        },
      ]);
    }
    const rerun = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ grid_id: 'aaaa0001', seed: 9, event_id: 500 + i, regret: -i }));
    await lake.replace('events', rerun(2), { partition: { grid_id: 'aaaa0001' }, stem: 'rerun' });
    await lake.replace('events', rerun(3), { partition: { grid_id: 'aaaa0001' }, stem: 'rerun' });
    await lake.compact('events');
    // After the compaction: files of three more schemas (a new column, then one column fewer).
    for (let i = 0; i < 3; i++) {
      const row = { grid_id: '0bbb0002', seed: 1, event_id: 200 + i, regret: i / 3, lr: 0.1 * (i + 1) };
      await lake.write('events', [i === 2 ? { grid_id: '0bbb0002', seed: 2, lr: 0.5 } : row]);
    }
    await lake.write('seeds', [
      { grid_id: 'aaaa0001', seed: 0, avg_regret_empirical: 0.25, final_acc: 0.5 },
      { grid_id: '0bbb0002', seed: 1, avg_regret_empirical: 0.75, final_acc: 0.25 },
    ]);
    // Grids whose params disagree in type (a JSON-text column), nest, and hold lists and nulls.
    const variants = [
      { algo: 'a', lr: 0.1, optim: { beta: [0.9, 0.99], wd: 0 }, tag: 'x', flag: true, n: 3 },
      { algo: 'b', lr: 1, optim: { beta: [0.8, 0.9], wd: 0.5 }, tag: 7, flag: false, n: 2.5, extra: null },
      { algo: 'c', lr: 1e-5, optim: { eps: 1e-8 }, tag: [1, 2], big: 12345678901234 },
    ];
    for (const params of variants) await writeEventRows([{ seed: 1, event_id: 0, regret: 0.5 }], dir, params);
    await lake.saveView('worst_regret', 'SELECT grid_id, max(regret) AS worst FROM events GROUP BY 1');
  } finally {
    lake.close();
  }
}

describe('the schema sets the Python package ships', () => {
  it.each(['squiggle', 'sweep'])(
    '%s: python/src/runlake/_schema_sets/ holds what `runlake schema --format json` prints',
    (set) => {
      const printed = runlake('schema', '--schema', set, '--format', 'json');
      expect(printed.code, printed.stderr).toBe(0);
      const shipped = path.join(repoRoot, 'python', 'src', 'runlake', '_schema_sets', `${set}.json`);
      // Regenerate: node dist/cli/main.js schema --schema <set> --format json > <file>; npx biome format --write <file>
      expect(JSON.parse(readFileSync(shipped, 'utf8'))).toEqual(JSON.parse(printed.stdout));
    },
  );
});

describe.skipIf(py.skip)('runlake (Python) reads what the TypeScript readers read', () => {
  let root = '';
  beforeAll(() => {
    expect(py.available, py.reason).toBe(true);
    root = tempDir('runlake-pyread-');
    const demo = runlake('demo', '-o', path.join(root, 'demo'), '--seeds', '2', '--events', '30');
    expect(demo.code, demo.stderr).toBe(0);
  }, 120_000);

  it('a Squiggle lake: every dataset and view, types and rows', async () => {
    const result = await compareLake(path.join(root, 'demo-squiggle'));
    const names = result.checked.map((c) => c.name);
    for (const name of [
      'metrics_scalar',
      'embeddings',
      'matches',
      'runs',
      'full_eval',
      'qa_task_summary',
      'grids',
    ])
      expect(names).toContain(name);
    expect(result.checked.find((c) => c.name === 'embeddings')?.rows).toBeGreaterThan(0);
  }, 120_000);

  it("a sweep lake: events, seeds, grids and exp_engine's views", async () => {
    const result = await compareLake(path.join(root, 'demo'));
    expect(result.checked.map((c) => c.name)).toEqual([
      'events',
      'events_summary',
      'events_workload',
      'grids',
      'seeds',
      'seeds_from_events',
      'seeds_summary',
    ]);
  }, 120_000);

  it('a lake with a checkpoint, replaces, a compaction, a new column and a saved view', async () => {
    const dir = path.join(root, 'history');
    await historyLake(dir);
    const log = path.join(dir, '.runlake', 'log', 'events');
    expect(readdirSync(log)).toContain('00000000000000000100.checkpoint.json');
    expect(await latestVersion(lakePaths(dir), 'events')).toBeGreaterThan(104);
    const result = await compareLake(dir);
    expect(result.checked.map((c) => c.name)).toContain('worst_regret');
    expect(result.checked.find((c) => c.name === 'grids')?.rows).toBe(3);
    expect(result.checked.find((c) => c.name === 'events')?.rows).toBe(104 + 3 + 3 + 3);
  }, 120_000);

  it('a lake pyarrow wrote, with no log, manifest or lake.json (read by glob, nothing written)', async () => {
    const dir = path.join(root, 'nolog');
    mkdirSync(dir);
    py.runPython(SCRIPT, ['write-nolog', dir]);
    const result = await compareLake(dir);
    expect(result.checked.find((c) => c.name === 'events')?.rows).toBe(5);
    expect(result.checked.find((c) => c.name === 'scores')?.rows).toBe(2);
  }, 120_000);

  it('a later write is not seen; a compaction makes the old connection fail naming a file', async () => {
    const dir = path.join(root, 'pinned');
    cpSync(path.join(root, 'history'), dir, { recursive: true });
    const rows = path.join(root, 'more-events.jsonl');
    writeFileSync(
      rows,
      [0, 1, 2, 3]
        .map((i) => JSON.stringify({ grid_id: '0bbb0002', seed: i % 3, event_id: 900 + i, regret: 0.5 }))
        .join('\n'),
    );
    const result = JSON.parse(py.runPython(SCRIPT, ['pin', dir, RUNLAKE_BIN, rows])) as Record<
      string,
      unknown
    >;
    expect(result).toMatchObject({ before: 113, after_write: 113, reopened: 117, at_version: 113 });
    expect(result.snapshot_rows).toBe(113);
    expect(result.latest_rows).toBe(117);
    expect(Number(result.latest_version)).toBe(Number(result.version) + 2);
    // The compaction moved files the old connection's views name to the trash.
    expect(String(result.stale_error)).toMatch(/\.parquet/);
    const ts = runlake('query', dir, '--sql', 'SELECT count(*) AS n FROM events', '--format', 'json');
    expect(JSON.parse(ts.stdout)).toEqual([{ n: 117 }]);
  }, 120_000);

  it('a torn commit file: one error line naming the file, from both readers', async () => {
    const dir = path.join(root, 'torn');
    cpSync(path.join(root, 'history'), dir, { recursive: true });
    const next = (await latestVersion(lakePaths(dir), 'seeds')) + 1;
    const file = path.join(dir, '.runlake', 'log', 'seeds', `${String(next).padStart(20, '0')}.json`);
    writeFileSync(file, '{"format": 1, "dataset": "seeds", "vers');
    const result = JSON.parse(py.runPython(SCRIPT, ['torn', dir, 'seeds'])) as Record<
      string,
      { type: string; message: string } | null
    >;
    for (const what of ['read_snapshot', 'open_lake']) {
      expect(result[what]?.type, what).toBe('LakeFormatError');
      expect(result[what]?.message, what).toMatch(
        new RegExp(`^${file.replaceAll('.', '\\.')}: is not valid JSON`),
      );
      expect(result[what]?.message).not.toContain('\n');
    }
    const ts = runlake('query', dir, 'seeds');
    expect(ts.code).not.toBe(0);
    expect(ts.stderr).toContain(file);
  }, 60_000);

  it("lakes exp_engine's own writer made (seeds + events, and event-only)", async () => {
    // A missing peer copy fails the test, as in the other peer tests, rather than skipping it.
    expect(
      existsSync(path.join(EXP_ENGINE, 'cah_versions')),
      `no exp_engine peer copy at ${EXP_ENGINE}`,
    ).toBe(true);
    for (const generation of ['A-sha256-12', 'B']) {
      const dir = path.join(root, `exp-engine-${generation}`);
      const params = (gamma: number, extra: Record<string, unknown> = {}) => ({
        algo: 'memorypair',
        accountant: 'zcdp',
        gamma_bar: pyFloat(gamma),
        gamma_split: 0.5,
        ...extra,
      });
      const calls: unknown[] = [];
      for (const gamma of [0.5, 1]) {
        for (const seed of [1, 2]) {
          const events = Array.from({ length: 5 }, (_, i) => ({
            seed,
            event_id: i,
            op: i % 3 ? 'insert' : 'delete',
            regret: (i + seed) / 8,
            acc: 0.5 + i / 100,
          }));
          calls.push({ kind: 'events', rows: events, params: params(gamma, { seed }) });
          if (generation !== 'B') {
            const summary = { seed, avg_regret_empirical: gamma + seed, N_star_emp: 4, m_emp: 2 };
            calls.push({ kind: 'seeds', rows: [summary], params: params(gamma) });
          }
        }
      }
      py.runPython(
        path.join(repoRoot, 'test', 'python', 'exp_engine_generations.py'),
        [dir, EXP_ENGINE, generation],
        pythonJsonDumps(calls as PythonJsonValue),
      );
      const result = await compareLake(dir);
      const names = result.checked.map((c) => c.name);
      expect(names).toContain('events_summary');
      expect(names).toContain('grids');
      if (generation !== 'B') expect(names).toContain('seeds_summary');
    }
  }, 180_000);

  it("builds exp_engine's view SQL exactly as sweep-views.ts does, for every column it looks at", () => {
    const column = (name: string, type = 'DOUBLE') => ({ name, type });
    const rich = [
      column('grid_id', 'VARCHAR'),
      column('seed', 'BIGINT'),
      column('event', 'BIGINT'),
      column('event_id', 'BIGINT'),
      column('step', 'BIGINT'),
      column('op', 'VARCHAR'),
      column('regret_increment'),
      column('cum_regret'),
      column('N_star', 'BIGINT'),
      column('noise_regret_cum'),
      column('cum_regret_with_noise'),
      column('avg_regret'),
      ...['loss', 'acc', 'noise', 'rho_step', 'rho_spent', 'sigma_step', 'sigma_delete'].map((n) =>
        column(n),
      ),
      column('timestamp', 'TIMESTAMP WITH TIME ZONE'),
      column('sample_id', 'VARCHAR'),
      column('segment_id', 'INTEGER'),
      column('sc_stable', 'VARCHAR'),
    ];
    const cases: SweepViewColumns[] = [
      {
        events: rich,
        seeds: [
          column('grid_id', 'VARCHAR'),
          column('seed', 'BIGINT'),
          column('algo', 'VARCHAR'),
          column('accountant', 'VARCHAR'),
          column('gamma_bar'),
          column('gamma_split'),
          column('avg_regret_empirical'),
          column('N_star_emp'),
          column('m_emp'),
        ],
      },
      {
        events: [
          column('grid_id', 'VARCHAR'),
          column('seed', 'BIGINT'),
          column('regret'),
          column('sc_stable', 'BOOLEAN'),
        ],
        seeds: [column('grid_id', 'VARCHAR'), column('avg_regret_empirical')],
        grids: ['grid_id', 'algo', 'accountant', 'gamma_bar', 'gamma_split'].map((n) => column(n, 'VARCHAR')),
      },
      { events: [column('grid_id', 'VARCHAR'), column('step', 'BIGINT'), column('loss', 'VARCHAR')] },
      { seeds: [column('seed', 'BIGINT')], grids: [] },
      {},
    ];
    for (const columns of cases) {
      const python = JSON.parse(py.runPython(SCRIPT, ['sweep-sql'], JSON.stringify(columns)));
      const typescript = sweepViews(columns).map(({ name, sql }) => ({ name, sql }));
      expect(python).toEqual(typescript);
    }
  });

  it('runlake.shards returns what the reference reader returns, on runlake and reference stores', () => {
    expect(existsSync(path.join(SYNTHEFY, 'synthefy_dataset_utils')), SYNTHEFY).toBe(true);
    const store = path.join(root, 'runlake-store');
    const writer = new ShardedDatasetWriter(store, { samplesPerShard: 3 });
    writer.addFields(['history', 'target']);
    for (let i = 0; i < 7; i++) {
      writer.addSample(
        {
          history: new Float32Array(Array.from({ length: 4 + i }, (_, j) => j * 0.5 - i)),
          ...(i % 2
            ? {
                target: ndarray(new Float64Array([1, 2, 3, 4, 5, 6].map((v) => v * i)), [2, 3], {
                  order: 'F',
                }),
              }
            : {}),
        },
        { metadata: { k: i, name: `s${i}` } },
      );
    }
    writer.addSample(
      { history: ndarray(new Float32Array([0.5, -1, 65504, 0]), [2, 2], { dtype: 'float16' }) },
      { sampleId: `long-${'é'.repeat(80)}`, metadata: { k: 50 } },
    );
    writer.addSample({ history: ndarray(new Float64Array([7]), []) }, { metadata: { k: 51 } });
    writer.updateSample('sample_000000000002', { history: new Float32Array([9, 9, 9]) });
    writer.close();
    const work = path.join(root, 'shards-work');
    mkdirSync(work);
    const result = JSON.parse(py.runPython(SCRIPT, ['shards', store, work, SYNTHEFY])) as Record<
      string,
      {
        ids: number;
        arrays_compared: number;
        problems: string[];
        read_paths: Record<string, number>;
        missing: string;
      }
    >;
    expect(result.runlake?.problems).toEqual([]);
    expect(result.runlake?.ids).toBe(9);
    expect(result.runlake?.arrays_compared).toBeGreaterThan(20);
    // runlake's recorded byte offsets: one positioned read per array, never a lookup by name.
    expect(result.runlake?.read_paths).toEqual({ offset: result.runlake?.arrays_compared, by_name: 0 });
    expect(result.reference?.problems).toEqual([]);
    expect(result.reference?.ids).toBe(9);
    // The reference writer's offsets are running sums: every array is found by name.
    expect(result.reference?.read_paths).toEqual({ offset: 0, by_name: result.reference?.arrays_compared });
    expect(result.runlake?.missing).toContain('no-such-id');
  }, 120_000);
});
