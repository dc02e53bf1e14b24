import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingestDataDecide, type Lake, openLake } from '../src/index.js';
import { copyToParquet, runlake } from './helpers/cli.js';
import { listFiles, repoRoot, tempDir, visibleFiles } from './helpers/lake-fixtures.js';

// allenai/DataDecide-eval-results layout, written by test/python/datadecide_fixtures.py.
const FIXTURES = path.join(repoRoot, 'test', 'fixtures', 'datadecide');
const MAIN = path.join(FIXTURES, 'eval-results-00000.parquet');
const WITH_LR = path.join(FIXTURES, 'eval-results-lr-00001.parquet');
const METRICS_PER_ROW = 12;

async function withLake<T>(dir: string, use: (lake: Lake) => Promise<T>): Promise<T> {
  const lake = await openLake(dir, { schema: 'squiggle' });
  try {
    return await use(lake);
  } finally {
    lake.close();
  }
}

async function counts(dir: string): Promise<Record<string, unknown>> {
  return withLake(dir, async (lake) => {
    const [row] = await lake.query(
      'SELECT count(*) AS n, count(DISTINCT (source_file, source_row)) AS sources, round(sum(value) FILTER (WHERE isfinite(value)), 6) AS total FROM full_eval',
    );
    return row ?? {};
  });
}

describe('ingest datadecide', () => {
  it('parses the metrics dicts into long form with typed keys, seeds and LR columns', async () => {
    const dir = tempDir();
    await withLake(dir, async (lake) => {
      const summary = await ingestDataDecide(lake, [MAIN, WITH_LR]);
      expect(summary).toMatchObject({
        files: 2,
        sourceRows: 48 + 6,
        rows: (48 + 6) * METRICS_PER_ROW,
        emptyMetricRows: 0,
        skippedRows: 0,
        partitions: ['150M', '4M'],
        replacedFiles: 0,
      });
      const [first] = await lake.query(
        "SELECT * EXCLUDE (source_file) FROM full_eval WHERE params = '150M' AND data = 'DCLM-Baseline (QC 10%)' " +
          "AND task = 'arc_easy' AND step = 37500 AND seed_name = 'small aux 2' AND metric_name = 'no_answer'",
      );
      expect(first).toMatchObject({
        params: '150M',
        step: 37500,
        seed: 1,
        tokens: 37500 * 192 * 2048,
        compute: 6 * 150_000_000 * 37500 * 192 * 2048,
        chinchilla: '4.92xC',
        chinchilla_multiple: 4.92,
        lr_at_step: null,
        value: 0,
        value_text: null,
      });
      const types = await lake.query('SELECT column_name, column_type FROM (DESCRIBE full_eval)');
      expect(Object.fromEntries(types.map((t) => [t.column_name, t.column_type]))).toMatchObject({
        step: 'BIGINT',
        seed: 'INTEGER',
        tokens: 'BIGINT',
        value: 'DOUBLE',
      });
      // NaN and -inf survive; LR columns are kept where the file has them.
      const [special] = await lake.query(
        "SELECT count(*) FILTER (WHERE isnan(value)) AS nans, count(*) FILTER (WHERE value = '-inf'::DOUBLE) AS neg_inf FROM full_eval",
      );
      expect(Number(special?.nans)).toBeGreaterThan(0);
      expect(Number(special?.neg_inf)).toBeGreaterThan(0);
      const [lr] = await lake.query(
        "SELECT lr_at_step, cumulative_lr FROM full_eval WHERE data = 'C4' AND step = 12500 LIMIT 1",
      );
      expect(lr?.lr_at_step).toBeCloseTo(0.004 * (1 - 12500 / 40000));
      expect(lr?.cumulative_lr).toBeCloseTo(0.004 * 12500 * (1 - 12500 / 80000));
    });
    expect(readdirSync(path.join(dir, 'full_eval')).sort()).toEqual(['params=150M', 'params=4M']);
  });

  it('aggregates over seeds in mean_eval and std_eval, and widens in full_eval_wide', async () => {
    const dir = tempDir();
    await withLake(dir, async (lake) => {
      await ingestDataDecide(lake, [MAIN]);
      const [check] = await lake.query(`
        WITH raw AS (SELECT avg(value) AS m, stddev_samp(value) AS s, count(*) AS n FROM full_eval
                     WHERE params = '4M' AND data = 'Dolma1.7' AND task = 'arc_easy' AND step = 2500 AND metric_name = 'acc_raw')
        SELECT raw.m, raw.s, raw.n, mean_eval.value AS mean, mean_eval.n_seeds, std_eval.value AS std
        FROM raw, mean_eval, std_eval
        WHERE mean_eval.params = '4M' AND mean_eval.data = 'Dolma1.7' AND mean_eval.task = 'arc_easy' AND mean_eval.step = 2500 AND mean_eval.metric_name = 'acc_raw'
          AND std_eval.params = '4M' AND std_eval.data = 'Dolma1.7' AND std_eval.task = 'arc_easy' AND std_eval.step = 2500 AND std_eval.metric_name = 'acc_raw'`);
      expect(check?.n).toBe(3);
      expect(check?.n_seeds).toBe(3);
      expect(check?.mean).toBeCloseTo(check?.m as number, 12);
      expect(check?.std).toBeCloseTo(check?.s as number, 12);
      // A group holding -inf: the mean is -inf and the spread NaN, as pandas' mean and std give;
      // the whole view reads (DuckDB's stddev_samp alone raises "out of range" on it).
      const [inf] = await lake.query(`
        SELECT m.value AS mean, s.value AS std, m.n_seeds
        FROM mean_eval m JOIN std_eval s USING (params, data, task, step, metric_name)
        WHERE m.value = '-inf'::DOUBLE LIMIT 1`);
      expect(inf?.mean).toBe(Number.NEGATIVE_INFINITY);
      expect(inf?.std).toBeNaN();
      const [all] = await lake.query('SELECT count(*) AS n, count(value) AS v FROM std_eval');
      expect(Number(all?.n)).toBeGreaterThan(0);
      const [wide] = await lake.query('SELECT count(*) AS n, count(acc_raw) AS acc FROM full_eval_wide');
      expect(wide).toEqual({ n: 48, acc: 48 });
      expect(lake.viewProblems).toEqual([]);
    });
  });

  it('re-ingesting the same files is idempotent, and replaces only that file’s rows', async () => {
    const dir = tempDir();
    await withLake(dir, (lake) => ingestDataDecide(lake, [MAIN, WITH_LR]));
    const before = await counts(dir);
    const filesBefore = visibleFiles(dir).filter((f) => f.endsWith('.parquet')).length;
    const again = await withLake(dir, (lake) => ingestDataDecide(lake, [MAIN]));
    expect(again.replacedFiles).toBe(2); // one part file per params partition of MAIN
    expect(await counts(dir)).toEqual(before);
    expect(visibleFiles(dir).filter((f) => f.endsWith('.parquet')).length).toBe(filesBefore);

    // A new version of a file that no longer has 4M rows: its old 4M rows go too.
    const shrunk = path.join(tempDir(), 'eval-results-00000.parquet');
    await copyToParquet(`SELECT * FROM read_parquet('${MAIN}') WHERE params = '150M'`, shrunk);
    const replaced = await withLake(dir, (lake) => ingestDataDecide(lake, [shrunk]));
    expect(replaced.partitions).toEqual(['150M']);
    await withLake(dir, async (lake) => {
      const rows = await lake.query('SELECT params, count(*) AS n FROM full_eval GROUP BY 1 ORDER BY 1');
      expect(rows).toEqual([{ params: '150M', n: (24 + 6) * METRICS_PER_ROW }]);
    });
  });

  it('refuses an unparseable metrics string, naming file, row and position, and writes nothing', async () => {
    const dir = tempDir();
    const bad = path.join(FIXTURES, 'bad-metrics.parquet');
    await expect(withLake(dir, (lake) => ingestDataDecide(lake, [MAIN, bad]))).rejects.toThrow(
      /bad-metrics\.parquet: row 1, column "metrics": not a Python dict: unexpected end, the dict opened at character 0 is not closed at character 57/,
    );
    expect(listFiles(dir).filter((f) => f.endsWith('.parquet'))).toEqual([]);
  });

  it('skips unparseable metrics with skipBadMetrics, counting them', async () => {
    const dir = tempDir();
    const bad = path.join(FIXTURES, 'bad-metrics.parquet');
    const summary = await withLake(dir, (lake) => ingestDataDecide(lake, [bad], { skipBadMetrics: true }));
    expect(summary).toMatchObject({ sourceRows: 3, skippedRows: 1, rows: 2 * METRICS_PER_ROW });
    expect(summary.skipped[0]).toMatchObject({ row: 1 });
    expect(summary.skipped[0]?.reason).toMatch(/character 57/);
  });

  it('refuses a column whose type flips between files, naming both', async () => {
    const dir = tempDir();
    const flipped = path.join(FIXTURES, 'step-as-text.parquet');
    await expect(withLake(dir, (lake) => ingestDataDecide(lake, [MAIN, flipped]))).rejects.toThrow(
      /step-as-text\.parquet: column "step" is VARCHAR, expected an integer type or a floating type \(it was BIGINT in .*eval-results-00000\.parquet\)/,
    );
    expect(listFiles(dir).filter((f) => f.endsWith('.parquet'))).toEqual([]);
  });

  it('accepts a whole-valued DOUBLE step (documented widening) but refuses a fractional one', async () => {
    const dir = tempDir();
    const whole = path.join(tempDir(), 'whole.parquet');
    await copyToParquet(`SELECT * REPLACE (step::DOUBLE AS step) FROM read_parquet('${WITH_LR}')`, whole);
    const summary = await withLake(dir, (lake) => ingestDataDecide(lake, [whole]));
    expect(summary.rows).toBe(6 * METRICS_PER_ROW);
    const fractional = path.join(tempDir(), 'fractional.parquet');
    await copyToParquet(
      `SELECT * REPLACE (CASE WHEN seed = 'small aux 3' THEN step + 0.5 ELSE step END::DOUBLE AS step) FROM read_parquet('${WITH_LR}')`,
      fractional,
    );
    await expect(withLake(dir, (lake) => ingestDataDecide(lake, [fractional]))).rejects.toThrow(
      /fractional\.parquet: row 2, column "step": 12500\.5 is not a whole number/,
    );
  });

  it('refuses a metric whose value kind flips midway, naming both rows', async () => {
    const flip = path.join(tempDir(), 'flip.parquet');
    await copyToParquet(
      `SELECT * REPLACE (CASE WHEN seed = 'small aux 3' AND step = 25000 THEN replace(metrics, '''no_answer'': 0', '''no_answer'': ''n/a''') ELSE metrics END AS metrics) FROM read_parquet('${WITH_LR}')`,
      flip,
    );
    const dir = tempDir();
    await expect(withLake(dir, (lake) => ingestDataDecide(lake, [flip]))).rejects.toThrow(
      /flip\.parquet: row 5, column "metrics": metric "no_answer" is text here but was a number in row 0/,
    );
    expect(listFiles(dir).filter((f) => f.endsWith('.parquet'))).toEqual([]);
  });

  it('refuses unknown columns, missing columns and unknown seed names', async () => {
    const dir = tempDir();
    const extra = path.join(tempDir(), 'extra.parquet');
    await copyToParquet(`SELECT *, 1 AS surprise FROM read_parquet('${WITH_LR}')`, extra);
    await expect(withLake(dir, (lake) => ingestDataDecide(lake, [extra]))).rejects.toThrow(
      /extra\.parquet: column "surprise" is not a DataDecide results column/,
    );
    const missing = path.join(tempDir(), 'missing.parquet');
    await copyToParquet(`SELECT * EXCLUDE (task) FROM read_parquet('${WITH_LR}')`, missing);
    await expect(withLake(dir, (lake) => ingestDataDecide(lake, [missing]))).rejects.toThrow(
      /missing\.parquet: missing column\(s\) "task"/,
    );
    const seed = path.join(tempDir(), 'seed.parquet');
    await copyToParquet(
      `SELECT * REPLACE (CASE WHEN step = 25000 THEN 'huge aux 9' ELSE seed END AS seed) FROM read_parquet('${WITH_LR}')`,
      seed,
    );
    await expect(withLake(dir, (lake) => ingestDataDecide(lake, [seed]))).rejects.toThrow(
      /seed\.parquet: row 3, column "seed": "huge aux 9" is not a DataDecide seed/,
    );
    expect(listFiles(dir).filter((f) => f.endsWith('.parquet'))).toEqual([]);
  });

  it('refuses a file that gives one key twice, naming both rows; the same key from another file too', async () => {
    const dir = tempDir();
    const twice = path.join(tempDir(), 'twice.parquet');
    // Row 6 repeats row 0's checkpoint and task (the metrics are row 0's).
    await copyToParquet(
      `SELECT * EXCLUDE (o) FROM (SELECT *, 0 AS o FROM read_parquet('${WITH_LR}') UNION ALL ` +
        `(SELECT *, 1 AS o FROM read_parquet('${WITH_LR}') LIMIT 1)) ORDER BY o`,
      twice,
    );
    await expect(withLake(dir, (lake) => ingestDataDecide(lake, [twice]))).rejects.toThrow(
      /twice\.parquet: row 6, column "metrics": gives the key \(params 150M, .*metric_name primary_metric\), as row 0, column "metrics" does; full_eval holds one row per \(params, data, task, step, seed, metric_name\)/,
    );
    // A dict whose flattened names repeat: one source row, one key twice.
    const nested = path.join(tempDir(), 'nested.parquet');
    await copyToParquet(
      `SELECT * REPLACE ('{''x.y'': 1, ''x'': {''y'': 2}}' AS metrics) FROM read_parquet('${WITH_LR}') LIMIT 1`,
      nested,
    );
    await expect(withLake(dir, (lake) => ingestDataDecide(lake, [nested]))).rejects.toThrow(
      /nested\.parquet: row 0, column "metrics": gives the key \(.*metric_name x\.y\), as row 0, column "metrics" does/,
    );
    expect(listFiles(dir).filter((f) => f.endsWith('.parquet'))).toEqual([]);
    // The same rows under another name: a second source of keys the lake holds.
    await withLake(dir, (lake) => ingestDataDecide(lake, [WITH_LR]));
    const copy = path.join(tempDir(), 'eval-results-copy.parquet');
    await copyToParquet(`SELECT * FROM read_parquet('${WITH_LR}')`, copy);
    await expect(withLake(dir, (lake) => ingestDataDecide(lake, [copy]))).rejects.toThrow(
      /eval-results-copy\.parquet: row 0, column "metrics": the lake already holds the key \(.*\) from eval-results-lr-00001\.parquet; .*\(--remove-source eval-results-lr-00001\.parquet, removeSources in the API\); nothing was written/,
    );
    const replaced = await withLake(dir, (lake) =>
      ingestDataDecide(lake, [copy], { removeSources: ['eval-results-lr-00001.parquet'] }),
    );
    expect(replaced.removedSourceFiles).toBe(1);
    expect(await counts(dir)).toMatchObject({ n: 6 * METRICS_PER_ROW });
  });

  it('resolves seeds through the one seed table: names, training seeds as text, datadec indexes', async () => {
    const dir = tempDir();
    const spelled = path.join(tempDir(), 'spelled.parquet');
    // Rows 0–5 of WITH_LR: seeds default, small aux 2, small aux 3 at two steps.
    await copyToParquet(
      `SELECT * REPLACE (CASE seed WHEN 'small aux 2' THEN (CASE WHEN step = 12500 THEN 'seed-14' ELSE '14' END) ` +
        `WHEN 'small aux 3' THEN 'Small Aux 3' ELSE seed END AS seed) FROM read_parquet('${WITH_LR}')`,
      spelled,
    );
    await withLake(dir, async (lake) => {
      await ingestDataDecide(lake, [spelled]);
      const seeds = await lake.query('SELECT DISTINCT seed, seed_name FROM full_eval ORDER BY seed');
      expect(seeds).toEqual([
        { seed: 0, seed_name: 'default' },
        { seed: 1, seed_name: 'small aux 2' },
        { seed: 2, seed_name: 'small aux 3' },
      ]);
    });
    const indexed = path.join(tempDir(), 'indexed.parquet');
    await copyToParquet(
      `SELECT * REPLACE (CASE seed WHEN 'default' THEN 0 WHEN 'small aux 2' THEN 1 ELSE 7 END AS seed) FROM read_parquet('${WITH_LR}')`,
      indexed,
    );
    await expect(withLake(tempDir(), (lake) => ingestDataDecide(lake, [indexed]))).rejects.toThrow(
      /indexed\.parquet: row 2, column "seed": 7 is not a datadec seed index \(0–4\); a training seed must be text/,
    );
    const unknown = path.join(tempDir(), 'unknown.parquet');
    await copyToParquet(
      `SELECT * REPLACE (CASE WHEN step = 25000 THEN 'seed-99' ELSE seed END AS seed) FROM read_parquet('${WITH_LR}')`,
      unknown,
    );
    await expect(withLake(tempDir(), (lake) => ingestDataDecide(lake, [unknown]))).rejects.toThrow(
      /unknown\.parquet: row 3, column "seed": "seed-99" is not a DataDecide seed/,
    );
  });

  it('runs from the CLI: runlake ingest datadecide <parquet…> <lake>', () => {
    const dir = tempDir();
    const first = runlake('ingest', 'datadecide', MAIN, WITH_LR, dir);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/ingested 54 rows from 2 files as 648 full_eval rows \(params: 150M, 4M\)/);
    const again = runlake('ingest', 'datadecide', MAIN, WITH_LR, dir, '--json');
    expect(JSON.parse(again.stdout)).toMatchObject({ rows: 648, replacedFiles: 3 });
    const bad = runlake('ingest', 'datadecide', path.join(FIXTURES, 'bad-metrics.parquet'), dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^runlake: .*bad-metrics\.parquet: row 1, column "metrics"/);
    const skipped = runlake(
      'ingest',
      'datadecide',
      path.join(FIXTURES, 'bad-metrics.parquet'),
      dir,
      '--skip-bad-metrics',
    );
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toMatch(/skipped 1 row with unparseable metrics/);
  });
});
