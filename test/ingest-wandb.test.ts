import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  InputFileError,
  ingestWandb,
  type Lake,
  openLake,
  parseWandbJson,
  writeEventRows,
} from '../src/index.js';
import { runlake } from './helpers/cli.js';
import { repoRoot, tempDir, visibleFiles } from './helpers/lake-fixtures.js';

const FIXTURES = path.join(repoRoot, 'test', 'fixtures', 'wandb');
const fixture = (name: string) => path.join(FIXTURES, name);

async function withSquiggleLake<T>(dir: string, use: (lake: Lake) => Promise<T>): Promise<T> {
  const lake = await openLake(dir, { schema: 'squiggle' });
  try {
    return await use(lake);
  } finally {
    lake.close();
  }
}

function parquetFiles(dir: string): string[] {
  return existsSync(dir) ? visibleFiles(dir).filter((f) => f.endsWith('.parquet')) : [];
}

function writeInput(dir: string, name: string, text: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function metricValue(lake: Lake, run: string, step: number, metric: string): Promise<unknown> {
  const rows = await lake.query(
    `SELECT value FROM metrics_scalar WHERE run_id = '${run}' AND step = ${step} AND metric_name = '${metric}'`,
  );
  expect(rows).toHaveLength(1);
  return rows[0]?.value;
}

describe('parseWandbJson', () => {
  it('accepts the NaN and Infinity tokens Python writes', () => {
    expect(parseWandbJson('{"a": NaN, "b": -Infinity, "c": [Infinity, 1e-3], "d": "NaN"}')).toEqual({
      a: Number.NaN,
      b: Number.NEGATIVE_INFINITY,
      c: [Number.POSITIVE_INFINITY, 0.001],
      d: 'NaN',
    });
  });

  it('names the line and column of a syntax error', () => {
    expect(() => parseWandbJson('[\n  {"a": 1},\n  {"b": tru}\n]')).toThrow(/line 3, column 9/);
    expect(() => parseWandbJson('{"a": {"b": 1')).toThrow(/line 1, column 14: unexpected end of input/);
  });
});

describe('ingestWandb: run metadata', () => {
  it('unwraps {value, desc}, drops _wandb, flattens config and summary into typed columns', async () => {
    const dir = tempDir('wandb-meta');
    await withSquiggleLake(dir, async (lake) => {
      const summary = await ingestWandb(lake, [
        fixture('runs_metadata.jsonl'),
        fixture('runs_metadata.parquet'),
      ]);
      expect(summary.runs).toBe(3);
      expect(summary.metricRows).toBe(0);
      expect(summary.files.map((f) => f.kind)).toEqual(['metadata', 'metadata']);
      expect(summary.skipped).toContainEqual({ reason: 'internal', key: 'config._wandb', count: 3 });
      // warmup is 1000 in one run, "auto" in another: VARCHAR holding JSON text.
      expect(summary.widened).toContainEqual({
        column: 'config.warmup',
        from: ['BIGINT', 'VARCHAR'],
        to: 'VARCHAR',
      });

      const [run] = await lake.query("SELECT * FROM runs WHERE run_id = '3k9x2a1b'");
      expect(run).toMatchObject({
        run_name: 'pythia-160m-lr3e-4-s1',
        project: 'squiggle-pretrain',
        status: 'finished',
        started_at: '2024-05-01T12:00:00.000Z',
        tags: ['baseline', 'pythia'],
        run_group: 'lr-sweep',
        entity: 'drotherm',
        sweep_id: 'abc123xy',
        seed: 1,
        'config.lr': 0.0003,
        'config.model.n_layers': 12,
        'config.model.name': 'pythia-160m',
        'config.optimizer.betas': '[0.9,0.95]',
        'config.use_flash': true,
        'config.warmup': '1000',
        'summary.train/loss': 2.81,
        'summary.eval.acc': 0.412,
      });
      const config = JSON.parse(String(run?.config_json));
      expect(config).not.toHaveProperty('_wandb');
      expect(config.lr).toBe(0.0003);
      expect(config.model).toEqual({ name: 'pythia-160m', n_layers: 12, d_model: 768 });
      // What did not become a column is kept: media objects, lists, W&B-internal keys.
      const rest = JSON.parse(String(run?.summary_json));
      expect(rest.samples._type).toBe('table-file');
      expect(rest.grad_hist.bins).toEqual([0, 1, 2]);
      expect(rest._wandb).toEqual({ runtime: 3605 });
      expect(JSON.parse(String(run?.env_json)).gpu_count).toBe(4);
      expect(JSON.parse(String(run?.system_json)).system_attrs.historyLineCount).toBe(31);

      const types = Object.fromEntries(
        (await lake.query('DESCRIBE runs')).map((r) => [String(r.column_name), String(r.column_type)]),
      );
      expect(types).toMatchObject({
        'config.lr': 'DOUBLE',
        'config.batch_size': 'BIGINT',
        'config.use_flash': 'BOOLEAN',
        'config.warmup': 'VARCHAR',
        'summary.eval.acc': 'DOUBLE',
        started_at: 'TIMESTAMP WITH TIME ZONE',
        tags: 'VARCHAR[]',
      });

      // NaN in a summary is kept; the Parquet export's JSON-text dicts are read like JSONL's.
      const [crashed] = await lake.query("SELECT * FROM runs WHERE run_id = '7f2m8q4z'");
      expect(crashed?.['summary.train/loss']).toBeNaN();
      expect(crashed?.started_at).toBe('2024-05-02T08:30:00.123Z');
      const [fromParquet] = await lake.query("SELECT * FROM runs WHERE run_id = '9c1d5e7h'");
      expect(fromParquet).toMatchObject({
        started_at: '2024-05-03T09:00:00.000Z',
        seed: 2,
        'config.model.n_layers': 24,
        'summary.eval.ppl': 12.1,
      });
    });
  });

  it('widens a config leaf that is an integer in one run and a float in another to DOUBLE', async () => {
    const dir = tempDir('wandb-widen');
    const file = writeInput(
      path.join(dir, 'in'),
      'runs.jsonl',
      '{"id": "a1", "config": {"dropout": {"value": 0, "desc": null}}}\n{"id": "b2", "config": {"dropout": {"value": 0.1, "desc": null}}}\n',
    );
    await withSquiggleLake(path.join(dir, 'lake'), async (lake) => {
      const summary = await ingestWandb(lake, [file]);
      expect(summary.widened).toEqual([
        { column: 'config.dropout', from: ['BIGINT', 'DOUBLE'], to: 'DOUBLE' },
      ]);
      const rows = await lake.query(
        'SELECT run_id, "config.dropout" AS d, typeof("config.dropout") AS t FROM runs ORDER BY 1',
      );
      expect(rows).toEqual([
        { run_id: 'a1', d: 0, t: 'DOUBLE' },
        { run_id: 'b2', d: 0.1, t: 'DOUBLE' },
      ]);
    });
  });
});

describe('ingestWandb: history', () => {
  it('writes long-form metrics with NaN/Infinity kept, nested dicts dotted, and every skip counted', async () => {
    const dir = tempDir('wandb-history');
    await withSquiggleLake(dir, async (lake) => {
      const summary = await ingestWandb(lake, [
        fixture('runs_history.jsonl'),
        fixture('runs_history.parquet'),
      ]);
      expect(summary.historyRuns).toBe(3);
      expect(summary.runs).toBe(0);
      const [{ n }] = (await lake.query('SELECT count(*)::INTEGER AS n FROM metrics_scalar')) as [
        { n: number },
      ];
      expect(n).toBe(summary.metricRows);
      expect(summary.metricRows).toBe(43);
      expect(summary.skipped).toEqual([
        { reason: 'internal', key: '_wandb', count: 1 },
        { reason: 'list', key: 'layer_norms', count: 1 },
        { reason: 'media', key: 'samples', count: 1 },
        { reason: 'null', key: 'eval', count: 1 },
        { reason: 'null', key: 'val/loss', count: 1 },
        { reason: 'string', key: 'phase', count: 2 },
      ]);

      expect(await metricValue(lake, '7f2m8q4z', 1100, 'train/loss')).toBeNaN(); // bare NaN token
      expect(await metricValue(lake, '7f2m8q4z', 1100, 'grad_norm')).toBeNaN(); // the string "NaN"
      expect(await metricValue(lake, '3k9x2a1b', 3000, 'grad_norm')).toBe(Number.POSITIVE_INFINITY);
      expect(await metricValue(lake, '3k9x2a1b', 1000, 'eval.acc')).toBe(0.301);
      expect(await metricValue(lake, '3k9x2a1b', 1000, '_runtime')).toBe(1205.1);
      expect(await metricValue(lake, '9c1d5e7h', 1000, 'train/loss')).toBeNaN(); // Parquet NaN
      expect(await metricValue(lake, '9c1d5e7h', 2000, 'eval.ppl')).toBe(12.1); // Parquet struct
      // Sparse keys: val/loss was not logged at step 0 or 1000 of 3k9x2a1b, so it has no row there.
      const sparse = await lake.query(
        "SELECT step FROM metrics_scalar WHERE run_id = '3k9x2a1b' AND metric_name = 'val/loss' ORDER BY step",
      );
      expect(sparse.map((r) => r.step)).toEqual([2000, 3000]);

      const [row] = await lake.query(
        "SELECT split, wall_time FROM metrics_scalar WHERE run_id = '3k9x2a1b' AND step = 1000 AND metric_name = 'train/loss'",
      );
      expect(row).toEqual({ split: 'train', wall_time: '2024-05-01T12:20:05.100Z' });
      const splits = await lake.query(
        "SELECT DISTINCT metric_name, split FROM metrics_scalar WHERE metric_name IN ('val/loss', 'lr') ORDER BY 1",
      );
      expect(splits).toEqual([
        { metric_name: 'lr', split: null },
        { metric_name: 'val/loss', split: 'val' },
      ]);
    });
  });

  it('reads the dr_wandb record shape (step, timestamp, runtime, a metrics dict) and --run-id files', async () => {
    const dir = tempDir('wandb-records');
    const records = writeInput(
      path.join(dir, 'in'),
      'history.jsonl',
      [
        '{"run_id": "r9", "step": 5, "timestamp": "2024-05-01T10:00:00", "runtime": 30, "wandb_metadata": {"runtime": 30}, "metrics": {"loss": 1.5, "eval": {"acc": 0.25}}}',
        '{"run_id": "r9", "step": 6, "timestamp": null, "runtime": 36, "wandb_metadata": {}, "metrics": "{\\"loss\\": NaN}"}',
      ].join('\n'),
    );
    const single = writeInput(
      path.join(dir, 'in2'),
      'one-run.jsonl',
      '{"_step": 1, "loss": 2.0}\n{"_step": 2, "loss": 1.0}\n',
    );
    await withSquiggleLake(path.join(dir, 'lake'), async (lake) => {
      await ingestWandb(lake, [records]);
      await ingestWandb(lake, [single], { runId: 'solo' });
      const rows = await lake.query(
        'SELECT run_id, step, metric_name, value, wall_time FROM metrics_scalar ORDER BY run_id, step, metric_name',
      );
      expect(rows).toEqual([
        { run_id: 'r9', step: 5, metric_name: '_runtime', value: 30, wall_time: '2024-05-01T10:00:00.000Z' },
        {
          run_id: 'r9',
          step: 5,
          metric_name: 'eval.acc',
          value: 0.25,
          wall_time: '2024-05-01T10:00:00.000Z',
        },
        { run_id: 'r9', step: 5, metric_name: 'loss', value: 1.5, wall_time: '2024-05-01T10:00:00.000Z' },
        { run_id: 'r9', step: 6, metric_name: '_runtime', value: 36, wall_time: null },
        { run_id: 'r9', step: 6, metric_name: 'loss', value: Number.NaN, wall_time: null },
        { run_id: 'solo', step: 1, metric_name: 'loss', value: 2, wall_time: null },
        { run_id: 'solo', step: 2, metric_name: 'loss', value: 1, wall_time: null },
      ]);
    });
  });

  it('re-ingesting the same export is idempotent', async () => {
    const dir = tempDir('wandb-idempotent');
    await withSquiggleLake(dir, async (lake) => {
      const counts = async () =>
        lake.query(
          'SELECT (SELECT count(*) FROM runs)::INTEGER AS runs, (SELECT count(*) FROM metrics_scalar)::INTEGER AS metrics',
        );
      const first = await ingestWandb(lake, [FIXTURES]);
      expect(first.files).toHaveLength(4);
      const before = await counts();
      const filesBefore = parquetFiles(dir).length;
      const second = await ingestWandb(lake, [FIXTURES]);
      expect(second.replacedFiles).toBe(filesBefore);
      expect(await counts()).toEqual(before);
      expect(before).toEqual([{ runs: 3, metrics: 43 }]);
      expect(parquetFiles(dir)).toHaveLength(filesBefore);
      // Rows written by anything else in the same partitions are kept.
      await lake.write('metrics_scalar', [{ run_id: '3k9x2a1b', step: 9, metric_name: 'manual', value: 1 }]);
      await ingestWandb(lake, [FIXTURES]);
      expect(await counts()).toEqual([{ runs: 3, metrics: 44 }]);
    });
  });
});

describe('ingestWandb: wide view', () => {
  it('pivots the chosen metrics into typed DOUBLE columns, one row per (run_id, step)', async () => {
    const dir = tempDir('wandb-wide');
    await withSquiggleLake(dir, async (lake) => {
      const summary = await ingestWandb(lake, [FIXTURES], {
        wide: ['train/loss', 'eval.acc'],
        wideView: 'loss_wide',
      });
      expect(summary.wideView).toEqual({ name: 'loss_wide', metrics: ['train/loss', 'eval.acc'] });
      const described = await lake.query('DESCRIBE loss_wide');
      expect(described.map((r) => [r.column_name, r.column_type])).toEqual([
        ['run_id', 'VARCHAR'],
        ['step', 'BIGINT'],
        ['wall_time', 'TIMESTAMP WITH TIME ZONE'],
        ['train/loss', 'DOUBLE'],
        ['eval.acc', 'DOUBLE'],
      ]);
      const rows = await lake.query(`SELECT * FROM loss_wide WHERE run_id = '3k9x2a1b' ORDER BY step`);
      expect(rows.map((r) => [r.step, r['train/loss'], r['eval.acc']])).toEqual([
        [0, 10.82, null],
        [1000, 3.41, 0.301],
        [2000, 2.95, null],
        [3000, 2.81, 0.412],
      ]);
    });
    // Saved in the lake: a later open recreates it.
    await withSquiggleLake(dir, async (lake) => {
      expect((await lake.query('SELECT count(*)::INTEGER AS n FROM loss_wide'))[0]?.n).toBe(10);
    });
  });

  it('auto picks the most frequent metrics, leaving out _runtime', async () => {
    const dir = tempDir('wandb-wide-auto');
    await withSquiggleLake(dir, async (lake) => {
      const summary = await ingestWandb(lake, [FIXTURES], { wide: 'auto', wideTop: 2 });
      expect(summary.wideView).toEqual({ name: 'metrics_wide', metrics: ['train/loss', 'lr'] });
    });
  });

  it('refuses a metric that is neither in the export nor in the lake, before writing', async () => {
    const dir = tempDir('wandb-wide-bad');
    await withSquiggleLake(dir, async (lake) => {
      await expect(ingestWandb(lake, [FIXTURES], { wide: ['train/loss', 'nope'] })).rejects.toThrow(
        /--wide: no metric "nope" in this export or the lake/,
      );
    });
    expect(parquetFiles(dir)).toEqual([]);
  });
});

describe('ingestWandb: bad input writes nothing and names the place', () => {
  const cases: Array<{ name: string; file: string; text: string; error: RegExp }> = [
    {
      name: 'truncated JSONL (the last line cut off)',
      file: 'runs_history.jsonl',
      text: '{"run_id": "r1", "_step": 0, "loss": 1.0}\n{"run_id": "r1", "_step": 1, "loss": 0.9}\n{"run_id": "r1", "_step": 2, "lo',
      error: /runs_history\.jsonl: line 3, column 30: invalid JSON: unterminated string \(truncated JSON\?\)/,
    },
    {
      name: 'truncated JSON array',
      file: 'runs_metadata.json',
      text: '[\n  {"id": "r1", "config": {"lr": 0.1}},\n  {"id": "r2", "config": {"lr": 0.2',
      error: /runs_metadata\.json: line 3, column 36: invalid JSON: unexpected end of input inside an object/,
    },
    {
      name: 'a history row without _step',
      file: 'runs_history.jsonl',
      text: '{"run_id": "r1", "_step": 0, "loss": 1.0}\n{"run_id": "r1", "_runtime": 3, "loss": 0.9}\n',
      error: /runs_history\.jsonl: line 2: no "_step": every history row needs its step/,
    },
    {
      name: 'a metric whose type flips midway',
      file: 'runs_history.jsonl',
      text: '{"run_id": "r1", "_step": 0, "acc": 0.5}\n{"run_id": "r1", "_step": 1, "acc": 0.6}\n{"run_id": "r1", "_step": 2, "acc": "high"}\n',
      error: /runs_history\.jsonl: line 3: column "acc" of run r1 holds text, but line 1 held a number/,
    },
    {
      name: 'a metric that is a number, then a dict',
      file: 'runs_history.jsonl',
      text: '{"run_id": "r1", "_step": 0, "eval": 0.5}\n{"run_id": "r1", "_step": 1, "eval": {"acc": 0.6}}\n',
      error: /line 2: column "eval" of run r1 holds a dict, but line 1 held a number/,
    },
    {
      name: 'a metadata identity column whose type flips',
      file: 'runs_metadata.jsonl',
      text: '{"id": "r1", "created_at": "2024-01-01T00:00:00"}\n{"id": "r2", "created_at": {"seconds": 5}}\n',
      error: /runs_metadata\.jsonl: line 2: column "created_at": a dict is not an ISO-8601 time/,
    },
    {
      name: 'a step that is not an integer',
      file: 'runs_history.jsonl',
      text: '{"run_id": "r1", "_step": 0.5, "loss": 1.0}\n',
      error: /line 1: column "_step": 0.5 is not a non-negative integer step/,
    },
    {
      name: 'a config that is not JSON',
      file: 'runs_metadata.jsonl',
      text: '{"id": "r1", "config": "{\\"lr\\": 0.1"}\n',
      error: /line 1: column "config": invalid JSON at column 11/,
    },
    {
      name: 'a run listed twice',
      file: 'runs_metadata.jsonl',
      text: '{"id": "r1", "state": "running"}\n{"id": "r1", "state": "finished"}\n',
      error: /line 2: run r1 appears twice \(first at line 1\)/,
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const dir = tempDir('wandb-bad');
      const inputs = path.join(dir, 'export');
      cpSync(FIXTURES, inputs, { recursive: true }); // good files beside the bad one: none written
      writeInput(inputs, `zz_${c.file}`, c.text);
      const lakeDir = path.join(dir, 'lake');
      await withSquiggleLake(lakeDir, async (lake) => {
        const error = await ingestWandb(lake, [inputs]).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InputFileError);
        expect((error as Error).message).toMatch(c.error);
        expect((error as Error).message).toContain(`zz_${c.file}`);
      });
      expect(parquetFiles(lakeDir)).toEqual([]);
    });
  }

  it('refuses a flattened column the lake already holds with an incompatible type', async () => {
    const dir = tempDir('wandb-lake-type');
    const first = writeInput(path.join(dir, 'a'), 'runs.jsonl', '{"id": "r1", "config": {"opt": 3}}\n');
    const second = writeInput(path.join(dir, 'b'), 'runs.jsonl', '{"id": "r2", "config": {"opt": true}}\n');
    await withSquiggleLake(path.join(dir, 'lake'), async (lake) => {
      await ingestWandb(lake, [first]);
      await expect(ingestWandb(lake, [second])).rejects.toThrow(
        /b\/runs\.jsonl: line 1: column "config\.opt" is BOOLEAN here, but the lake's runs dataset holds it as BIGINT/,
      );
      expect(await lake.query('SELECT run_id FROM runs')).toEqual([{ run_id: 'r1' }]);
    });
  });
});

describe('runlake ingest wandb', () => {
  it('ingests an export directory, prints the summary, and saves the wide view', () => {
    const lake = path.join(tempDir('wandb-cli'), 'lake');
    const result = runlake('ingest', 'wandb', FIXTURES, lake, '--wide', 'train/loss,val/loss');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /ingested 4 files into .*: 3 runs into runs, 43 metric rows of 3 runs into metrics_scalar/,
    );
    expect(result.stdout).toMatch(/media\s+samples × 1/);
    expect(result.stdout).toMatch(/widened config\.warmup: BIGINT \+ VARCHAR → VARCHAR/);
    expect(result.stdout).toContain('saved view metrics_wide: train/loss, val/loss');
    const again = runlake('ingest', 'wandb', FIXTURES, lake, '--json');
    expect(again.code).toBe(0);
    const summary = JSON.parse(again.stdout);
    expect(summary.metricRows).toBe(43);
    expect(summary.replacedFiles).toBeGreaterThan(0);
    const query = runlake(
      'query',
      lake,
      '--sql',
      'SELECT count(*) AS n FROM metrics_wide',
      '--format',
      'json',
    );
    expect(query.code).toBe(0);
    expect(JSON.parse(query.stdout)).toEqual([{ n: 10 }]);
  });

  it('forces the kind with --kind', () => {
    const dir = tempDir('wandb-cli-kind');
    const file = writeInput(dir, 'steps.jsonl', '{"loss": 1.0, "epoch": 1}\n');
    const lake = path.join(dir, 'lake');
    const refused = runlake('ingest', 'wandb', file, lake);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /steps\.jsonl: cannot tell whether this is run metadata or history .*--kind/,
    );
    const forced = runlake('ingest', 'wandb', '--kind', 'history', file, lake);
    expect(forced.code).toBe(1);
    expect(forced.stderr).toContain('steps.jsonl: line 1: no run_id (or id) in this row; pass --run-id');
    const withRun = runlake('ingest', 'wandb', '--kind', 'history', '--run-id', 'r1', file, lake);
    expect(withRun.code).toBe(1);
    expect(withRun.stderr).toContain('steps.jsonl: line 1: no "_step"');
  });

  it('fails with one line naming the file and line, and writes nothing', () => {
    const dir = tempDir('wandb-cli-bad');
    const file = writeInput(
      dir,
      'runs_history.jsonl',
      '{"run_id": "r1", "_step": 0, "loss": 1.0}\n{"run_id": "r1", "_st',
    );
    const lake = path.join(dir, 'lake');
    const result = runlake('ingest', 'wandb', file, lake);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^runlake: .*runs_history\.jsonl: line 2, column 18: invalid JSON: unterminated string/,
    );
    expect(parquetFiles(lake)).toEqual([]);
  });

  it('refuses a sweep lake', async () => {
    const lake = tempDir('wandb-cli-sweep');
    await writeEventRows([{ seed: 1, event_id: 0, op: 'insert', regret: 0.1 }], lake, { algo: 'a' });
    const result = runlake('ingest', 'wandb', FIXTURES, lake);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/sweep/);
  });
});
