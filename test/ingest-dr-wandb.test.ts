// The exports dr_wandb really writes, one golden folder per generation under
// test/fixtures/dr-wandb/, written by dr_wandb's own code (test/python/dr_wandb_golden.py: the
// commit of each generation, the stub wandb module, the command). The expected rows below are
// derived from that script's fake project (fake_runs / history_rows), not from runlake's output.
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { epochSecondsTime, ingestWandb, type Lake, openLake, parseIsoTime, WandbTime } from '../src/index.js';
import { runlake } from './helpers/cli.js';
import { listFiles, repoRoot, tempDir } from './helpers/lake-fixtures.js';

const GOLDEN = path.join(repoRoot, 'test', 'fixtures', 'dr-wandb');

interface Generation {
  readonly name: string;
  /** The folder as the tool wrote it (v3 writes into <data_root>/<export name>/). */
  readonly dir: string;
  readonly commit: string;
  /** PostgreSQL's JSONB refuses NaN/Infinity: the 2025-09 runs log none. */
  readonly nonfinite: boolean;
  /** bb9da1c's RunRecord has no tags or group (system_attrs there is config/summary/metadata). */
  readonly tags: boolean;
  /** The files the summary lists, and the ones left out of the directory. */
  readonly files: number;
  readonly ignored: number;
  /** W&B's per-row `_wandb` bookkeeping, and what the export calls it. */
  readonly internal: { readonly key: string; readonly count: number } | undefined;
  /** The history `timestamp` is naive local time (America/New_York when the golden was written). */
  readonly localTime: boolean;
}

const GENERATIONS: readonly Generation[] = [
  {
    name: '2025-09-folder',
    dir: '2025-09-folder',
    commit: 'c7afc95',
    nonfinite: false,
    tags: true,
    files: 8,
    ignored: 0,
    internal: undefined,
    localTime: true,
  },
  {
    name: '2026-02-parquet',
    dir: '2026-02-parquet',
    commit: 'bb9da1c',
    nonfinite: true,
    tags: false,
    files: 2,
    ignored: 0,
    internal: { key: 'wandb_metadata', count: 60 },
    localTime: false,
  },
  {
    name: '2026-03-sync',
    dir: '2026-03-sync',
    commit: '70a92a0',
    nonfinite: true,
    tags: true,
    files: 2,
    ignored: 1,
    internal: { key: '_wandb', count: 60 },
    localTime: false,
  },
  {
    name: '2026-03-sync-jsonl',
    dir: '2026-03-sync-jsonl',
    commit: '70a92a0',
    nonfinite: true,
    tags: true,
    files: 2,
    ignored: 1,
    internal: { key: '_wandb', count: 60 },
    localTime: false,
  },
  {
    name: '2026-04-v3',
    dir: path.join('2026-04-v3', 'golden'),
    commit: '4a39661',
    nonfinite: true,
    tags: true,
    files: 2,
    ignored: 2,
    internal: { key: 'wandb_metadata', count: 60 },
    localTime: false,
  },
];

// --- what the golden script logged (dr_wandb_golden.py: fake_runs, history_rows) ----------------

const RUNS = ['k3x9a1b2', 'm7q2c4d8', 'p5w8e6f0'] as const;
const STEPS = 20;
const T0 = 1757941200.123456;

interface Expected {
  readonly run: string;
  readonly step: number;
  readonly metric: string;
  readonly value: number;
  /** Epoch microseconds of the row's time. */
  readonly micros: bigint;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

// Python's datetime.fromtimestamp: the fraction rounded to the microsecond.
function micros(seconds: number): bigint {
  const whole = Math.floor(seconds);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((seconds - whole) * 1e6));
}

function expectedRows(nonfinite: boolean): Expected[] {
  const rows: Expected[] = [];
  RUNS.forEach((run, i) => {
    for (let step = 0; step < STEPS; step++) {
      const at = micros(T0 + 86400 * i + step * 10.00025);
      const add = (metric: string, value: number) => rows.push({ run, step, metric, value, micros: at });
      add('_runtime', 10 * step);
      let loss = round(3.0 - 0.1 * step + 0.01 * i, 6);
      if (nonfinite && i === 1 && step >= 7 && step <= 9) {
        loss = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY][step - 7] ?? loss;
      }
      add('train/loss', loss);
      add('train/lr', (0.0003 * (step + 1)) / STEPS);
      add('tokens', 5_000_000_000 + step * 1_000_000);
      if (step % 5 === 4) {
        add('eval/acc', round(0.5 + 0.01 * step, 4));
        add('is_best', step % 10 === 4 ? 1 : 0);
      }
      if (step % 10 === 9) {
        add('val.ppl', round(20.0 - step / 2, 3));
        add('val.bpb.c4', 1.25);
        add('val.bpb.wiki', 1.5);
      }
    }
  });
  return rows;
}

// Per run: 20 × (_runtime, train/loss, train/lr, tokens) + 4 eval/acc + 4 is_best + 2 × 3 val.*.
const ROWS_PER_RUN = 20 * 4 + 4 + 4 + 2 * 3;

async function withLake<T>(dir: string, use: (lake: Lake) => Promise<T>): Promise<T> {
  const lake = await openLake(dir, { schema: 'squiggle' });
  try {
    return await use(lake);
  } finally {
    lake.close();
  }
}

interface LakeRow {
  readonly run: string;
  readonly step: number;
  readonly metric: string;
  readonly value: number;
  readonly micros: bigint;
  readonly split: string | null;
}

async function metricRows(lake: Lake): Promise<LakeRow[]> {
  const rows = await lake.query(
    `SELECT run_id, step, metric_name, value, split, epoch_us(wall_time)::VARCHAR AS us
     FROM metrics_scalar ORDER BY run_id, step, metric_name`,
  );
  return rows.map((r) => ({
    run: String(r.run_id),
    step: Number(r.step),
    metric: String(r.metric_name),
    value: Number(r.value),
    micros: BigInt(String(r.us)),
    split: r.split === null ? null : String(r.split),
  }));
}

function sameNumber(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  return Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b));
}

function checkRows(actual: readonly LakeRow[], expected: readonly Expected[], shiftMicros = 0n): void {
  const key = (r: { run: string; step: number; metric: string }) => `${r.run}|${r.step}|${r.metric}`;
  const want = new Map(expected.map((e) => [key(e), e]));
  expect(actual.length).toBe(expected.length);
  for (const row of actual) {
    const e = want.get(key(row));
    expect(e, `unexpected row ${key(row)}`).toBeDefined();
    if (!e) continue;
    expect(sameNumber(row.value, e.value), `${key(row)}: ${row.value} ≠ ${e.value}`).toBe(true);
    expect(row.micros, `${key(row)} wall_time`).toBe(e.micros + shiftMicros);
  }
}

function countsBy(rows: readonly { run: string; metric: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) out[`${r.run} ${r.metric}`] = (out[`${r.run} ${r.metric}`] ?? 0) + 1;
  return out;
}

describe.each(GENERATIONS)('dr_wandb $name ($commit), the folder as the tool wrote it', (gen) => {
  const folder = path.join(GOLDEN, gen.dir);
  const options = gen.localTime ? { timeZone: 'America/New_York' } : {};

  it('ingests every run and every (run, metric) row, values and microsecond times exact', async () => {
    await withLake(tempDir(`drw-${gen.name}`), async (lake) => {
      const summary = await ingestWandb(lake, [folder], options);
      expect(summary.files).toHaveLength(gen.files);
      expect(summary.ignoredFiles).toHaveLength(gen.ignored);
      expect(summary.runs).toBe(3);
      expect(summary.historyRuns).toBe(3);
      expect(summary.metricRows).toBe(3 * ROWS_PER_RUN);

      const rows = await metricRows(lake);
      const expected = expectedRows(gen.nonfinite);
      checkRows(rows, expected);
      expect(countsBy(rows)).toEqual(countsBy(expected));
      // Sparse metrics: only the steps that logged them.
      expect(rows.filter((r) => r.run === 'k3x9a1b2' && r.metric === 'eval/acc').map((r) => r.step)).toEqual([
        4, 9, 14, 19,
      ]);
      // Booleans are 1/0 (the 2025-09 folder writes "True"/"False" beside "nan" placeholders).
      expect(rows.filter((r) => r.run === 'p5w8e6f0' && r.metric === 'is_best').map((r) => r.value)).toEqual([
        1, 0, 1, 0,
      ]);
      expect(rows.find((r) => r.metric === 'train/loss')?.split).toBe('train');

      // What did not become a row is counted: the media table once per run, the text metric at
      // its two steps, W&B's per-row bookkeeping; a "nan" placeholder or a null of a step that did
      // not log a metric is neither a row nor a skip.
      const skipped = [
        { reason: 'media', key: 'samples', count: 3 },
        { reason: 'string', key: 'phase', count: 6 },
        ...(gen.internal ? [{ reason: 'internal', ...gen.internal }] : []),
      ];
      expect([...summary.skipped].sort((a, b) => a.key.localeCompare(b.key))).toEqual(
        skipped.sort((a, b) => a.key.localeCompare(b.key)),
      );
      expect(summary.naiveTimes.map((t) => [path.basename(t.file), t.column, t.count, t.readAs])).toEqual(
        gen.localTime ? [['runs_history.parquet', 'timestamp', 60, 'America/New_York']] : [],
      );
    });
  });

  it('types config and summary: ints written as floats come back BIGINT, _target_ kept, NaN/Inf kept', async () => {
    await withLake(tempDir(`drw-meta-${gen.name}`), async (lake) => {
      const summary = await ingestWandb(lake, [folder], options);
      expect(summary.skipped.filter((s) => s.key.startsWith('config.'))).toEqual([]);
      const types = Object.fromEntries(
        (await lake.query('DESCRIBE runs')).map((r) => [String(r.column_name), String(r.column_type)]),
      );
      expect(types).toMatchObject({
        'config._target_': 'VARCHAR',
        'config.model._target_': 'VARCHAR',
        'config.model.d_model': 'BIGINT',
        'config.max_tokens': 'BIGINT',
        'config.batch_size': 'BIGINT',
        'config.lr': 'DOUBLE',
        'config.compile': 'BOOLEAN',
        'config.optimizer.betas': 'VARCHAR',
        'summary.tokens': 'BIGINT',
        'summary.train/loss': 'DOUBLE',
        'summary.eval.acc': 'DOUBLE',
        'summary.eval.n': 'BIGINT',
        'summary.is_best': 'BOOLEAN',
        'summary.phase': 'VARCHAR',
        started_at: 'TIMESTAMP WITH TIME ZONE',
      });
      const runs = await lake.query(
        `SELECT *, "config._target_" AS target, "config.model._target_" AS model_target,
                "config.max_tokens"::VARCHAR AS max_tokens, "config.optimizer.betas" AS betas,
                "config.compile" AS compile, "summary.tokens"::VARCHAR AS tokens,
                "summary.train/loss" AS loss
         FROM runs ORDER BY run_id`,
      );
      expect(runs.map((r) => [r.run_id, r.run_name, r.status, r.project, r.seed, r.started_at])).toEqual([
        ['k3x9a1b2', 'olmo-20m-lr3e-4', 'finished', 'golden', 7, '2025-09-15T13:00:00.000Z'],
        ['m7q2c4d8', 'olmo-20m-lr1e-3', 'crashed', 'golden', 8, '2025-09-16T13:00:00.000Z'],
        ['p5w8e6f0', 'olmo-60m-base', 'running', 'golden', 9, '2025-09-17T13:00:00.000Z'],
      ]);
      for (const r of runs) {
        expect(r.target).toBe('olmo_core.train.TrainerConfig');
        expect(r.model_target).toBe('olmo_core.nn.TransformerConfig');
        expect(r.max_tokens).toBe('5000000000');
        expect(r.tokens).toBe('5019000000');
        expect(r.betas).toBe('[0.9,0.95]');
        expect(JSON.parse(String(r.config_json))._target_).toBe('olmo_core.train.TrainerConfig');
        const rest = JSON.parse(String(r.summary_json));
        expect(rest.samples._type).toBe('table-file');
        expect(rest._step).toBe(19);
      }
      expect(runs.map((r) => r.compile)).toEqual([true, false, true]);
      const crashed = runs[1];
      if (gen.nonfinite) {
        expect(crashed?.loss).toBeNaN();
        const [{ g }] = (await lake.query(
          `SELECT "summary.grad/max" AS g FROM runs WHERE run_id = 'm7q2c4d8'`,
        )) as [{ g: number }];
        expect(g).toBe(Number.POSITIVE_INFINITY);
      } else {
        expect(crashed?.loss).toBeCloseTo(1.11, 12);
      }
      // A lake column exists once some run has a value: bb9da1c's export has no group at all.
      expect(runs.map((r) => [r.tags, r.run_group ?? null])).toEqual(
        gen.tags
          ? [
              [['golden', 'lr-sweep'], 'sweep-a'],
              [['golden'], 'sweep-a'],
              [[], null],
            ]
          : [
              [null, null],
              [null, null],
              [null, null],
            ],
      );
    });
  });

  it('runs in one CLI command, and a second ingest leaves identical rows', async () => {
    const lakeDir = tempDir(`drw-cli-${gen.name}`);
    const args = [
      'ingest',
      'wandb',
      folder,
      lakeDir,
      ...(gen.localTime ? ['--timezone', 'America/New_York'] : []),
    ];
    const first = runlake(...args);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(
      `3 runs into runs, ${3 * ROWS_PER_RUN} metric rows of 3 runs into metrics_scalar`,
    );
    const snapshot = async () =>
      withLake(lakeDir, async (lake) => ({
        metrics: await lake.query('SELECT * FROM metrics_scalar ORDER BY run_id, step, metric_name'),
        runs: await lake.query('SELECT * FROM runs ORDER BY run_id'),
      }));
    const before = await snapshot();
    const second = runlake(...args);
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('replaced');
    const after = await snapshot();
    expect(after.runs).toEqual(before.runs);
    expect(after.metrics).toEqual(before.metrics);
    expect(after.metrics).toHaveLength(3 * ROWS_PER_RUN);
  });
});

describe('dr_wandb 2025-09 folder export specifics', () => {
  const folder = path.join(GOLDEN, '2025-09-folder');

  it('reads zoneless history times as UTC by default, and says so', async () => {
    const lakeDir = tempDir('drw-utc');
    const result = runlake('ingest', 'wandb', folder, lakeDir);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /note: .*runs_history\.parquet: 60 "timestamp" times have no time zone; read as UTC .*--timezone/,
    );
    await withLake(lakeDir, async (lake) => {
      // The exporting machine was in America/New_York (EDT, UTC−4): its 09:00 read as 09:00Z.
      checkRows(await metricRows(lake), expectedRows(false), -4n * 3_600_000_000n);
    });
  });

  it('refuses an unknown --timezone before writing anything', () => {
    const lakeDir = tempDir('drw-badtz');
    const result = runlake('ingest', 'wandb', folder, lakeDir, '--timezone', 'Mars/Olympus');
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/--timezone: "Mars\/Olympus" is not an IANA time zone/);
    expect(listFiles(lakeDir).filter((f) => f.endsWith('.parquet'))).toEqual([]);
  });

  it('merges the component files: without runs_metadata.parquet they still give every field', async () => {
    const dir = tempDir('drw-components');
    const partial = path.join(dir, 'export');
    cpSync(folder, partial, { recursive: true });
    rmSync(path.join(partial, 'runs_metadata.parquet'));
    const select = 'SELECT * EXCLUDE (run_id) FROM runs ORDER BY run_id';
    const full = await withLake(path.join(dir, 'full'), async (lake) => {
      await ingestWandb(lake, [folder]);
      return lake.query(select);
    });
    const merged = await withLake(path.join(dir, 'merged'), async (lake) => {
      const summary = await ingestWandb(lake, [partial]);
      expect(summary.runs).toBe(3);
      return lake.query(select);
    });
    // The same fields and values; system_json's keys come in the order the files gave them.
    const parsed = (rows: typeof full) =>
      rows.map((r) => ({ ...r, system_json: JSON.parse(String(r.system_json)) }));
    expect(parsed(merged)).toEqual(parsed(full));
    const system = JSON.parse(String(full[0]?.system_json));
    expect(Object.keys(system).sort()).toEqual(['sweep_info', 'system_attrs', 'system_metrics']);
    expect(full[0]?.entity).toBe('drw');
  });

  it('takes a component file that spells the same config differently (key order, 5000000000 for 5000000000.0)', async () => {
    const dir = tempDir('drw-respelled');
    const copy = path.join(dir, 'export');
    cpSync(folder, copy, { recursive: true });
    const respelled =
      '{"max_tokens": 5000000000, "batch_size": 64, "optimizer": {"weight_decay": 0.1, "name": "adamw", "betas": [0.9, 0.95]}, ' +
      '"_target_": "olmo_core.train.TrainerConfig", "compile": true, ' +
      '"model": {"d_model": 256, "_target_": "olmo_core.nn.TransformerConfig"}, "seed": 7, "lr": 0.0003}';
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    await connection.run(
      `COPY (SELECT * REPLACE (CASE WHEN run_id = 'k3x9a1b2' THEN '${respelled}' ELSE config END AS config)
             FROM read_parquet('${path.join(folder, 'runs_metadata_config.parquet')}'))
       TO '${path.join(copy, 'runs_metadata_config.parquet')}' (FORMAT parquet)`,
    );
    connection.closeSync();
    await withLake(path.join(dir, 'lake'), async (lake) => {
      expect((await ingestWandb(lake, [copy], { timeZone: 'America/New_York' })).runs).toBe(3);
      const [row] = await lake.query(
        `SELECT "config.max_tokens"::VARCHAR AS t FROM runs WHERE run_id = 'k3x9a1b2'`,
      );
      expect(row?.t).toBe('5000000000');
    });
  });

  it('refuses component files that disagree with the main file, naming both, and writes nothing', async () => {
    const dir = tempDir('drw-conflict');
    const copy = path.join(dir, 'export');
    cpSync(folder, copy, { recursive: true });
    const config = path.join(copy, 'runs_metadata_config.parquet');
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    await connection.run(
      `COPY (SELECT * REPLACE (CASE WHEN run_id = 'm7q2c4d8' THEN '{"lr": 1}' ELSE config END AS config)
             FROM read_parquet('${path.join(folder, 'runs_metadata_config.parquet')}'))
       TO '${config}' (FORMAT parquet)`,
    );
    connection.closeSync();
    const lakeDir = path.join(dir, 'lake');
    const result = runlake('ingest', 'wandb', copy, lakeDir);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      /runs_metadata_config\.parquet: row 1: column "config" of run m7q2c4d8 differs from row 1 of .*runs_metadata\.parquet/,
    );
    expect(listFiles(lakeDir).filter((f) => f.endsWith('.parquet'))).toEqual([]);
  });
});

describe('W&B times to the microsecond', () => {
  it('reads ISO text with offsets, epoch seconds, and naive wall clocks in a zone (DST included)', () => {
    expect(parseIsoTime('2025-09-15T13:00:00.123456Z')?.micros).toBe(1757941200123456n);
    expect(parseIsoTime('2025-09-15T09:00:00.123456-04:00')?.toIso()).toBe('2025-09-15T13:00:00.123456Z');
    expect(parseIsoTime('2025-09-15 13:00:00.1')?.naive).toBe(true);
    expect(parseIsoTime('not a time')).toBeUndefined();
    expect(epochSecondsTime(1757941200.123456)?.toIso()).toBe('2025-09-15T13:00:00.123456Z');
    expect(epochSecondsTime(-0.5)?.toIso()).toBe('1969-12-31T23:59:59.500000Z');
    // New York is UTC−4 in September (EDT) and UTC−5 in January (EST).
    const summer = parseIsoTime('2025-09-15 09:00:00.000001');
    const winter = parseIsoTime('2025-01-15 08:00:00');
    expect(summer?.inZone('America/New_York').toIso()).toBe('2025-09-15T13:00:00.000001Z');
    expect(winter?.inZone('America/New_York').toIso()).toBe('2025-01-15T13:00:00.000000Z');
    expect(new WandbTime(10n ** 20n, false).representable).toBe(false);
  });
});

describe('the 2025-09 folder layout, cell by cell', () => {
  it('decodes what pandas wrote: nan placeholders, True/False, numbers as text, JSON dicts, lists, media', async () => {
    const dir = tempDir('drw-cells');
    const file = path.join(dir, 'runs_history.parquet');
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    // One text column per case, as safe_convert_for_parquet leaves object columns (c7afc95).
    await connection.run(
      `COPY (SELECT * FROM (VALUES
          (1, 'r1', 0, TIMESTAMP '2025-09-15 09:00:00.000001', 0, 'True',  '5',   '{"a": 1, "b": {"c": 2}}', '[1, 2]', '{"_type": "image-file"}', 1.5::DOUBLE, 'inf'),
          (2, 'r1', 1, TIMESTAMP '2025-09-15 09:00:10.000002', 10, 'nan',  'nan', 'nan',                     'nan',    'nan',                     NULL,        '-inf'),
          (3, 'r1', 2, NULL,                                   NULL, 'False', '2.5', '{}',                    'nan',    'nan',                     'NaN'::DOUBLE, 'nan'))
        t(id, run_id, step, timestamp, runtime, flag, mixed, d, l, media, f, words)) TO '${file}' (FORMAT parquet)`,
    );
    connection.closeSync();
    await withLake(path.join(dir, 'lake'), async (lake) => {
      const summary = await ingestWandb(lake, [file], { timeZone: 'UTC' });
      expect(summary.skipped).toEqual([
        { reason: 'empty', key: 'd', count: 1 },
        { reason: 'list', key: 'l', count: 1 },
        { reason: 'media', key: 'media', count: 1 },
      ]);
      const rows = await lake.query(
        `SELECT step, metric_name AS m, value::VARCHAR AS v, epoch_us(wall_time)::VARCHAR AS us
         FROM metrics_scalar ORDER BY step, m`,
      );
      expect(rows.map((r) => [r.step, r.m, r.v])).toEqual([
        [0, '_runtime', '0.0'],
        [0, 'd.a', '1.0'],
        [0, 'd.b.c', '2.0'],
        [0, 'f', '1.5'],
        [0, 'flag', '1.0'],
        [0, 'mixed', '5.0'],
        [0, 'words', 'inf'],
        [1, '_runtime', '10.0'],
        [1, 'words', '-inf'],
        [2, 'f', 'nan'],
        [2, 'flag', '0.0'],
        [2, 'mixed', '2.5'],
      ]);
      // A null is a step that did not log (pandas wrote NaN as null, so dr_wandb's own NaNs are
      // lost); a NaN double that is really in the file is kept.
      expect(rows.find((r) => r.step === 1)?.us).toBe('1757926810000002');
      expect(rows.find((r) => r.step === 2)?.us).toBeNull();
    });
  });
});

describe('bad dr_wandb exports: one error line, nothing written', () => {
  async function parquet(file: string, sql: string): Promise<void> {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    await connection.run(`COPY (${sql}) TO '${file}' (FORMAT parquet)`);
    connection.closeSync();
  }

  function refused(input: string, pattern: RegExp): void {
    const lakeDir = tempDir('drw-bad-lake');
    const result = runlake('ingest', 'wandb', input, lakeDir);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(pattern);
    expect(listFiles(lakeDir).filter((f) => f.endsWith('.parquet'))).toEqual([]);
  }

  it('a sync-engine metrics column that is not JSON', async () => {
    const dir = tempDir('drw-bad-metrics');
    const file = path.join(dir, 'drw_golden_history.parquet');
    await parquet(
      file,
      `SELECT * REPLACE (CASE WHEN _step = 3 AND run_id = 'p5w8e6f0' THEN '{"loss": 1.5,' ELSE metrics END AS metrics)
       FROM read_parquet('${path.join(GOLDEN, '2026-03-sync', 'drw_golden_history.parquet')}')`,
    );
    refused(file, /drw_golden_history\.parquet: row \d+: column "metrics": invalid JSON at column 14/);
  });

  it('a history time out of any calendar', async () => {
    const dir = tempDir('drw-bad-time');
    const file = writeInput(
      dir,
      'h.jsonl',
      '{"run_id": "r1", "_step": 0, "_timestamp": 1e15, "metrics": {"a": 1}}\n',
    );
    refused(file, /h\.jsonl: line 1: column "_timestamp": 1000000000000000 is outside the years/);
  });

  it('a folder-export metric that is a number at one step and text at another', async () => {
    const dir = tempDir('drw-bad-flip');
    const file = path.join(dir, 'runs_history.parquet');
    await parquet(
      file,
      `SELECT * FROM (VALUES (1, 'r1', 0, TIMESTAMP '2025-09-15 09:00:00', 0, '0.5'),
                             (2, 'r1', 1, TIMESTAMP '2025-09-15 09:00:10', 10, 'nan'),
                             (3, 'r1', 2, TIMESTAMP '2025-09-15 09:00:20', 20, 'high'))
         t(id, run_id, step, timestamp, runtime, acc)`,
    );
    refused(file, /runs_history\.parquet: row 2: column "acc" of run r1 holds text, but row 0 held a number/);
  });

  it('a v3 runs.jsonl whose run is not a dict', () => {
    const dir = tempDir('drw-bad-v3');
    const file = writeInput(
      dir,
      'runs.jsonl',
      '{"run": "k3x9a1b2", "exported_at": "2026-04-14T00:00:00+00:00"}\n',
    );
    refused(file, /runs\.jsonl: line 1: column "run": expected the run as a dict/);
  });
});

function writeInput(dir: string, name: string, text: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}
