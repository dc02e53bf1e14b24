import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DATADECIDE_PERPLEXITY_SETS, ingestDataDecide, type Lake, openLake } from '../src/index.js';
import { copyToParquet, runlake } from './helpers/cli.js';
import { listFiles, repoRoot, tempDir, visibleFiles } from './helpers/lake-fixtures.js';
import { pythonWith } from './helpers/python.js';

// Written by drothermel/datadec 6207b06's own stage functions: test/python/datadec_golden.py.
const FOLDER = path.join(repoRoot, 'test', 'fixtures', 'datadec');
const file = (name: string) => path.join(FOLDER, name);
// The golden grid: 2 sizes × 2 recipes × 3 seeds × 4 steps (3 downstream, 1 perplexity-only).
const WIDE_ROWS = 48;
// 5 tasks (4 + mmlu_average) × 28 datadec metrics + 11 perplexities.
const METRIC_COLUMNS = 5 * 28 + 11;

const py = pythonWith(['pandas', 'pyarrow']);
if (py.skip) console.warn(`[ingest-datadec-outputs.test] skipping the pandas comparison: ${py.reason}`);

async function withLake<T>(dir: string, use: (lake: Lake) => Promise<T>): Promise<T> {
  const lake = await openLake(dir, { schema: 'squiggle' });
  try {
    return await use(lake);
  } finally {
    lake.close();
  }
}

/** Every full_eval row, sorted, as text: equal dumps mean identical rows. */
async function dump(dir: string, where = 'true'): Promise<string> {
  return withLake(dir, async (lake) => {
    const rows = await lake.query(
      `SELECT * FROM full_eval WHERE ${where} ORDER BY params, data, task, step, seed, metric_name, source_file`,
    );
    return JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
  });
}

const parquetCount = (dir: string) => listFiles(dir).filter((f) => f.endsWith('.parquet')).length;

/** Every file of the lake directory with a hash of its bytes: equal means byte-identical. */
const bytes = (dir: string) =>
  Object.fromEntries(
    listFiles(dir).map((f) => [
      f,
      createHash('sha256')
        .update(readFileSync(path.join(dir, f)))
        .digest('hex'),
    ]),
  );

// The golden download: 2 sizes × 2 recipes × 3 seeds × 3 steps × 4 tasks, less the 2 missing
// hellaswag results per size, each with datadec's 28 metrics and the 6 it drops.
const RAW_ROWS = 2 * (2 * 3 * 3 * 4 - 2);
const DROPPED = [
  'logits_per_byte_corr',
  'predicted_index_per_byte',
  'predicted_index_per_char',
  'predicted_index_per_token',
  'predicted_index_raw',
  'predicted_index_uncond',
];

/** Keys held by more than one full_eval row (must be none). */
async function repeatedKeys(dir: string): Promise<number> {
  return withLake(dir, async (lake) => {
    const [row] = await lake.query(
      'SELECT count(*) AS n FROM (SELECT 1 FROM full_eval GROUP BY params, data, task, step, seed, metric_name HAVING count(*) > 1)',
    );
    return Number(row?.n);
  });
}

describe('ingest datadecide: datadec outputs and DataDecide perplexities', () => {
  it('ingests a datadec output folder from its full_eval.parquet, checking mean_eval / std_eval', async () => {
    const dir = tempDir();
    await withLake(dir, async (lake) => {
      const summary = await ingestDataDecide(lake, [FOLDER]);
      expect(summary.inputs).toEqual([{ file: file('full_eval.parquet'), format: 'datadec' }]);
      expect(summary.sourceRows).toBe(WIDE_ROWS);
      // Every metric cell is a row or counted as missing (NaN: no result); nothing else. The
      // download adds the rows of the metrics datadec drops.
      expect(summary.rows - RAW_ROWS * DROPPED.length + summary.missingCells).toBe(
        WIDE_ROWS * METRIC_COLUMNS,
      );
      expect(summary.missingCells).toBeGreaterThan(0);
      expect(summary.partitions).toEqual(['20M', '4M']);
      expect(summary.notIngested.map((s) => path.basename(s.file)).sort()).toEqual([
        'downstream_eval_parsed.parquet',
        'dwn_metrics_expanded.parquet',
        'full_eval_melted.parquet',
        'full_eval_raw.parquet',
        'mean_eval_melted.parquet',
        'ppl_eval_parsed.parquet',
      ]);
      // What only the downloads hold reaches the lake: the dropped metrics, and chinchilla on
      // every full_eval row whose checkpoint the download has (all but the perplexity-only step).
      expect(summary.supplements).toEqual([
        {
          file: file('downstream_eval.parquet'),
          of: file('full_eval.parquet'),
          sourceRows: RAW_ROWS,
          rows: RAW_ROWS * DROPPED.length,
          shadowed: RAW_ROWS * 28,
          metrics: DROPPED,
          chinchillaFilled: WIDE_ROWS * METRIC_COLUMNS - summary.missingCells - 2 * 2 * 3 * 11,
        },
        {
          file: file('ppl_eval.parquet'),
          of: file('full_eval.parquet'),
          sourceRows: WIDE_ROWS,
          rows: 0,
          shadowed: WIDE_ROWS * 11,
          metrics: [],
          chinchillaFilled: 0,
        },
      ]);
      const [dropped] = await lake.query(
        "SELECT count(*) AS n, count(DISTINCT source_file) AS files, any_value(source_file) AS source_file, count(chinchilla) AS chinchilla FROM full_eval WHERE metric_name LIKE 'predicted_index%' OR metric_name = 'logits_per_byte_corr'",
      );
      expect(dropped).toEqual({
        n: RAW_ROWS * DROPPED.length,
        files: 1,
        source_file: 'downstream_eval.parquet',
        chinchilla: RAW_ROWS * DROPPED.length,
      });
      const [counted] = await lake.query(
        "SELECT n_seeds FROM mean_eval WHERE params = '4M' AND data = 'Dolma1.7' AND task = 'arc_easy' AND step = 1000 AND metric_name = 'predicted_index_raw'",
      );
      expect(counted?.n_seeds).toBe(3);
      const [chinchilla] = await lake.query(
        "SELECT list(DISTINCT chinchilla) AS c, list(DISTINCT source_file) AS files FROM full_eval WHERE params = '20M' AND step = 2000 AND data = 'Dolma1.7' AND seed = 1",
      );
      expect(chinchilla?.files).toEqual(
        expect.arrayContaining(['full_eval.parquet', 'downstream_eval.parquet']),
      );
      const [raw] = await lake.query(
        `SELECT chinchilla FROM read_parquet('${file('downstream_eval.parquet')}') WHERE params = '20M' AND step = 2000 AND data = 'Dolma1.7' AND seed = 'small aux 2' LIMIT 1`,
      );
      expect(chinchilla?.c).toEqual([raw?.chinchilla]);
      const [pplOnly] = await lake.query(
        "SELECT count(chinchilla) AS n FROM full_eval WHERE params = '4M' AND step = 4000",
      );
      expect(pplOnly?.n).toBe(0);
      expect(summary.checks.map((c) => [c.file, c.view, c.mismatches])).toEqual([
        ['mean_eval.parquet', 'mean_eval', 0],
        ['std_eval.parquet', 'std_eval', 0],
      ]);
      for (const c of summary.checks) {
        expect(c.cells).toBe(16 * METRIC_COLUMNS);
        expect(c.maxAbsDiff).toBeLessThanOrEqual(1e-12);
      }

      // Perplexities, LR columns, seeds and features of one source row.
      const [ppl] = await lake.query(
        "SELECT seed, seed_name, tokens, lr_at_step, cumulative_lr, value, features->>'lr_max' AS lr_max, " +
          "(features->>'pct_code')::DOUBLE AS pct_code, features->>'length_str' AS length_str " +
          "FROM full_eval WHERE params = '20M' AND data = 'Dolma1.7' AND task = 'c4_en' AND metric_name = 'perplexity' " +
          'AND step = 2000 AND seed = 1',
      );
      expect(ppl).toMatchObject({
        seed: 1,
        seed_name: 'small aux 2',
        tokens: 2000 * 64 * 2048,
        length_str: '5xC',
      });
      expect(ppl?.lr_at_step).toBeGreaterThan(0);
      expect(ppl?.cumulative_lr).toBeGreaterThan(0);
      expect(Number(ppl?.lr_max)).toBeCloseTo(0.0047 * (19_101_888 / 108_000_000) ** (-1 / 3), 15);
      expect(ppl?.pct_code).toBe(11.4);
      const tasks = await lake.query('SELECT DISTINCT task FROM full_eval ORDER BY 1');
      expect(tasks.map((t) => t.task)).toEqual([
        'arc_easy',
        'c4_en',
        'dolma_books',
        'dolma_common-crawl',
        'dolma_pes2o',
        'dolma_reddit',
        'dolma_stack',
        'dolma_wiki',
        'hellaswag',
        'ice',
        'm2d2_s2orc',
        'mmlu_anatomy',
        'mmlu_astronomy',
        'mmlu_average',
        'pile',
        'wikitext_103',
      ]);
      // The perplexity-only step has tokens (datadec derives them) but no downstream rows.
      const [only] = await lake.query(
        "SELECT count(*) FILTER (WHERE metric_name = 'perplexity') AS ppl, count(*) FILTER (WHERE metric_name <> 'perplexity') AS dwn, " +
          "min(tokens) AS tokens FROM full_eval WHERE params = '4M' AND step = 4000",
      );
      expect(only).toMatchObject({ ppl: 2 * 3 * 11, dwn: 0 });
      // full_eval_wide has a perplexity column for the perplexity rows.
      const [wide] = await lake.query(
        "SELECT count(*) AS n, count(perplexity) AS ppl, count(acc_raw) AS acc FROM full_eval_wide WHERE task = 'c4_en'",
      );
      expect(wide).toEqual({ n: WIDE_ROWS, ppl: WIDE_ROWS, acc: 0 });
      expect(Number(only?.tokens)).toBeGreaterThan(0);
      expect(lake.viewProblems).toEqual([]);
    });
  });

  it('re-ingesting the folder gives identical rows and files', async () => {
    const dir = tempDir();
    await withLake(dir, (lake) => ingestDataDecide(lake, [FOLDER]));
    const before = await dump(dir);
    const files = visibleFiles(dir).filter((f) => f.endsWith('.parquet')).length;
    const again = await withLake(dir, (lake) => ingestDataDecide(lake, [FOLDER]));
    expect(again.replacedFiles).toBe(4); // full_eval.parquet's and downstream_eval.parquet's, per size
    expect(await dump(dir)).toBe(before);
    expect(await repeatedKeys(dir)).toBe(0);
    expect(visibleFiles(dir).filter((f) => f.endsWith('.parquet')).length).toBe(files);
  });

  it.skipIf(py.skip)(
    'mean_eval / std_eval equal an independent pandas groupby and datadec’s own files to 1e-12',
    async () => {
      const dir = tempDir();
      const views = await withLake(dir, async (lake) => {
        await ingestDataDecide(lake, [FOLDER]);
        const read = (view: string) =>
          lake.query(`SELECT params, data, task, step::DOUBLE AS step, metric_name, value FROM ${view}`);
        return { mean_eval: await read('mean_eval'), std_eval: await read('std_eval') };
      });
      const result = JSON.parse(py.runPython('datadec_reference.py', [dir, FOLDER], JSON.stringify(views)));
      expect(result.tokens_compute_single_valued).toBe(true);
      for (const view of ['mean_eval', 'std_eval']) {
        expect(result[view].mismatches, view).toBe(0);
        expect(result[view].view_rows, view).toBe(result[view].reference_groups);
        expect(result[view].max_abs_diff, view).toBeLessThanOrEqual(1e-12);
        const datadec = result[`datadec_${view}`];
        expect(datadec.cells, view).toBe(16 * METRIC_COLUMNS);
        expect(datadec.mismatches, view).toBe(0);
        expect(datadec.max_abs_diff, view).toBeLessThanOrEqual(1e-12);
      }
      // One seed lacks hellaswag at one step: a NaN in datadec's file, a missing group in pandas.
      expect(result.datadec_mean_eval.missing_both).toBeGreaterThan(0);
    },
  );

  it('reports a datadec mean_eval that disagrees with the view, naming row and column, without failing', async () => {
    const folder = path.join(tempDir(), 'datadecide');
    mkdirSync(folder);
    copyFileSync(file('full_eval.parquet'), path.join(folder, 'full_eval.parquet'));
    await copyToParquet(
      `SELECT * REPLACE (CASE WHEN row_number() OVER () = 3 THEN arc_easy_acc_raw + 0.001 ELSE arc_easy_acc_raw END AS arc_easy_acc_raw) ` +
        `FROM read_parquet('${file('mean_eval.parquet')}')`,
      path.join(folder, 'mean_eval.parquet'),
    );
    const summary = await withLake(tempDir(), (lake) => ingestDataDecide(lake, [folder]));
    expect(summary.rows).toBeGreaterThan(0);
    expect(summary.checks).toHaveLength(1);
    expect(summary.checks[0]).toMatchObject({
      file: 'mean_eval.parquet',
      cells: 16 * METRIC_COLUMNS,
      mismatches: 1,
    });
    expect(summary.checks[0]?.maxAbsDiff).toBeCloseTo(0.001, 9);
    expect(summary.checks[0]?.example).toMatch(
      /^row 2, column "arc_easy_acc_raw": the file has [\d.]+, mean_eval has [\d.]+$/,
    );
  });

  it('lands a checkpoint identically from DataDecide’s raw files and from datadec’s full_eval', async () => {
    const raw = tempDir();
    const summary = await withLake(raw, (lake) =>
      ingestDataDecide(lake, [file('ppl_eval.parquet'), file('downstream_eval.parquet')]),
    );
    expect(summary.inputs.map((i) => i.format)).toEqual(['perplexity', 'results']);
    const wide = tempDir();
    await withLake(wide, (lake) => ingestDataDecide(lake, [file('full_eval.parquet')]));
    const same = async (dir: string, where: string) =>
      withLake(dir, (lake) =>
        lake.query(
          `SELECT params, data, task, step, seed, seed_name, metric_name, value FROM full_eval WHERE ${where} ` +
            'ORDER BY ALL',
        ),
      );
    const ppl = "metric_name = 'perplexity'";
    expect(await same(raw, ppl)).toEqual(await same(wide, ppl));
    expect((await same(raw, ppl)).length).toBe(WIDE_ROWS * 11);

    // danielle-rothermel/datadec's processed perplexity table (src/datadec/config/ppl.py and
    // config/catalog.py at 00daa4b): seed names, tokens/compute/model details/LR columns, and
    // `<set>_valppl` with `-` written `_`; built here from the golden full_eval.
    const processedFile = path.join(tempDir(), 'ppl_processed.parquet');
    const sets = DATADECIDE_PERPLEXITY_SETS.map(
      (set) => `"${set}-valppl" AS "${set.replaceAll('-', '_')}_valppl"`,
    );
    await copyToParquet(
      "SELECT params, data, CASE seed WHEN 0 THEN 'default' WHEN 1 THEN 'small aux 2' WHEN 3 THEN 'large aux 2' END AS seed, " +
        `step, tokens::BIGINT AS tokens, compute, d_model, lr_max, lr_at_step, cumulative_lr, ${sets.join(', ')} ` +
        `FROM read_parquet('${file('full_eval.parquet')}') WHERE "c4_en-valppl" IS NOT NULL`,
      processedFile,
    );
    const processed = tempDir();
    await withLake(processed, (lake) => ingestDataDecide(lake, [processedFile]));
    expect(await same(processed, ppl)).toEqual(await same(wide, ppl));
    // Downstream metrics datadec keeps are the same values; datadec adds mmlu_average.
    const downstream =
      "metric_name <> 'perplexity' AND task <> 'mmlu_average' AND metric_name NOT LIKE 'predicted_index%' AND metric_name <> 'logits_per_byte_corr'";
    expect(await same(raw, downstream)).toEqual(await same(wide, downstream));
  });

  it('ingests a folder holding only the downloads, and retires them once datadec wrote full_eval', async () => {
    const folder = path.join(tempDir(), 'datadecide');
    mkdirSync(path.join(folder, 'datasets'), { recursive: true });
    for (const name of ['ppl_eval.parquet', 'downstream_eval.parquet']) {
      copyFileSync(file(name), path.join(folder, name));
    }
    writeFileSync(path.join(folder, 'notes.txt'), 'not parquet\n');
    const dir = tempDir();
    const first = await withLake(dir, (lake) => ingestDataDecide(lake, [folder]));
    expect(first.inputs.map((i) => [path.basename(i.file), i.format])).toEqual([
      ['downstream_eval.parquet', 'results'],
      ['ppl_eval.parquet', 'perplexity'],
    ]);
    expect(first.notIngested).toEqual([
      { file: path.join(folder, 'notes.txt'), reason: 'not a Parquet file' },
    ]);

    for (const name of ['full_eval.parquet', 'mean_eval.parquet', 'std_eval.parquet']) {
      copyFileSync(file(name), path.join(folder, name));
    }
    const second = await withLake(dir, (lake) => ingestDataDecide(lake, [folder]));
    expect(second.inputs.map((i) => path.basename(i.file))).toEqual(['full_eval.parquet']);
    // The two downloads' part files in two partitions: downstream_eval.parquet's replaced by the
    // rows full_eval.parquet lacks, ppl_eval.parquet's removed (full_eval.parquet has them all).
    expect(second.replacedFiles).toBe(4);
    expect(second.checks.every((c) => c.mismatches === 0)).toBe(true);
    const only = tempDir();
    await withLake(only, (lake) => ingestDataDecide(lake, [FOLDER]));
    expect(await dump(dir)).toBe(await dump(only));
  });

  it('refuses a key that another source file holds in the lake, either way round, leaving the lake byte-identical', async () => {
    const FULL = file('full_eval.parquet');
    // A raw DataDecide shard (the download under its Hugging Face name), then datadec's full_eval.
    const shard = path.join(tempDir(), 'train-00000-of-00001.parquet');
    copyFileSync(file('downstream_eval.parquet'), shard);
    const dir = tempDir();
    await withLake(dir, (lake) => ingestDataDecide(lake, [shard]));
    const before = bytes(dir);
    for (const input of [FULL, FOLDER]) {
      await expect(withLake(dir, (lake) => ingestDataDecide(lake, [input]))).rejects.toThrow(
        /^.*full_eval\.parquet: row 0, column "arc_easy_correct_choice": the lake already holds the key \(params 20M, data DCLM-Baseline \(QC 10%\), task arc_easy, step 0, seed 0, metric_name correct_choice\) from train-00000-of-00001\.parquet; .*--remove-source train-00000-of-00001\.parquet.*nothing was written$/,
      );
      expect(bytes(dir)).toEqual(before);
    }
    // Replacing the shard's rows is allowed, and gives what the folder alone gives.
    const switched = await withLake(dir, (lake) =>
      ingestDataDecide(lake, [FOLDER], { removeSources: ['train-00000-of-00001.parquet'] }),
    );
    expect(switched.removedSourceFiles).toBe(2);
    const only = tempDir();
    await withLake(only, (lake) => ingestDataDecide(lake, [FOLDER]));
    expect(await dump(dir)).toBe(await dump(only));

    // datadec's full_eval first, then the raw download on its own.
    const other = tempDir();
    await withLake(other, (lake) => ingestDataDecide(lake, [FULL]));
    const first = bytes(other);
    await expect(
      withLake(other, (lake) => ingestDataDecide(lake, [file('downstream_eval.parquet')])),
    ).rejects.toThrow(
      /downstream_eval\.parquet: row 0, column "metrics": the lake already holds the key \(params 4M, data Dolma1\.7, task arc_easy, step 0, seed 0, metric_name correct_choice\) from full_eval\.parquet; full_eval holds one row per \(params, data, task, step, seed, metric_name\), so the seed views \(mean_eval, std_eval\) would count it twice\. Ingest the datadec output folder/,
    );
    expect(bytes(other)).toEqual(first);
    // The folder replaces full_eval.parquet's own rows and adds what only the download has.
    await withLake(other, (lake) => ingestDataDecide(lake, [FOLDER]));
    expect(await dump(other)).toBe(await dump(only));

    // The raw download, then its folder: the folder replaces the download's rows (same source).
    const raw = tempDir();
    await withLake(raw, (lake) =>
      ingestDataDecide(lake, [file('downstream_eval.parquet'), file('ppl_eval.parquet')]),
    );
    await withLake(raw, (lake) => ingestDataDecide(lake, [FOLDER]));
    expect(await dump(raw)).toBe(await dump(only));
    expect(await repeatedKeys(raw)).toBe(0);

    // Re-ingesting the same file stays allowed (it replaces its own rows).
    await withLake(other, (lake) => ingestDataDecide(lake, [FULL]));
    expect(await repeatedKeys(other)).toBe(0);
  });

  it('refuses a key two inputs of one call give, writing nothing', async () => {
    const dir = tempDir();
    await expect(
      withLake(dir, (lake) => ingestDataDecide(lake, [file('full_eval.parquet'), file('ppl_eval.parquet')])),
    ).rejects.toThrow(
      /ppl_eval\.parquet: row 36, column "eval\/wikitext_103-validation\/Perplexity": gives the key \(params 20M, data DCLM-Baseline \(QC 10%\), task wikitext_103, step 0, seed 0, metric_name perplexity\), as .*full_eval\.parquet row 0, column "wikitext_103-valppl" does; .*give its output folder/,
    );
    expect(parquetCount(dir)).toBe(0);
    // Two spellings of one perplexity in one wide file.
    const twice = path.join(tempDir(), 'twice.parquet');
    await copyToParquet(
      `SELECT *, "c4_en-valppl" AS c4_en_valppl FROM read_parquet('${file('full_eval.parquet')}')`,
      twice,
    );
    await expect(withLake(dir, (lake) => ingestDataDecide(lake, [twice]))).rejects.toThrow(
      /twice\.parquet: row 0, column "c4_en_valppl": gives the key \(.*task c4_en, .*metric_name perplexity\), as row 0, column "c4_en-valppl" does/,
    );
    expect(parquetCount(dir)).toBe(0);
  });

  it('refuses what it cannot ingest with one line naming file, row and column, writing nothing', async () => {
    const dir = tempDir();
    const scratch = tempDir();
    const refuse = async (inputs: string[], message: RegExp) => {
      await expect(withLake(dir, (lake) => ingestDataDecide(lake, inputs))).rejects.toThrow(message);
      expect(parquetCount(dir)).toBe(0);
    };
    const FULL = file('full_eval.parquet');

    const badSeed = path.join(scratch, 'full_eval.parquet');
    await copyToParquet(
      `SELECT * REPLACE (CASE WHEN row_number() OVER () = 6 THEN 7 ELSE seed END AS seed) FROM read_parquet('${FULL}')`,
      badSeed,
    );
    await refuse(
      [file('ppl_eval.parquet'), badSeed],
      /full_eval\.parquet: row 5, column "seed": 7 is not a datadec seed index \(0–4\)/,
    );

    const fractional = path.join(scratch, 'fractional.parquet');
    await copyToParquet(
      `SELECT * REPLACE (CASE WHEN row_number() OVER () = 3 THEN tokens + 0.5 ELSE tokens END AS tokens) FROM read_parquet('${FULL}')`,
      fractional,
    );
    await refuse([fractional], /fractional\.parquet: row 2, column "tokens": [\d.e+]+ is not a whole number/);

    const unknownMmlu = path.join(scratch, 'mmlu.parquet');
    await copyToParquet(`SELECT *, 0.5 AS mmlu_anatomy_new_score FROM read_parquet('${FULL}')`, unknownMmlu);
    await refuse(
      [unknownMmlu],
      /mmlu\.parquet: column "mmlu_anatomy_new_score" looks like an MMLU metric but does not end with a known metric name/,
    );

    const pplExtra = path.join(scratch, 'ppl.parquet');
    await copyToParquet(`SELECT *, 1 AS surprise FROM read_parquet('${file('ppl_eval.parquet')}')`, pplExtra);
    await refuse([pplExtra], /ppl\.parquet: column "surprise" is not a DataDecide perplexity results column/);
    const pplTokens = path.join(scratch, 'ppl-tokens.parquet');
    await copyToParquet(
      `SELECT *, 0::BIGINT AS tokens FROM read_parquet('${file('ppl_eval.parquet')}')`,
      pplTokens,
    );
    await refuse(
      [pplTokens],
      /ppl-tokens\.parquet: column "tokens" is not a DataDecide perplexity results column/,
    );

    const pplSeed = path.join(scratch, 'ppl-seed.parquet');
    await copyToParquet(
      `SELECT * REPLACE (CASE WHEN row_number() OVER () = 2 THEN 'seed-99' ELSE seed END AS seed) FROM read_parquet('${file('ppl_eval.parquet')}')`,
      pplSeed,
    );
    await refuse([pplSeed], /ppl-seed\.parquet: row 1, column "seed": "seed-99" is not a DataDecide seed/);

    await refuse(
      [file('full_eval_melted.parquet')],
      /full_eval_melted\.parquet: is datadec's melted plotting table/,
    );
    const aggregate = path.join(scratch, 'seed_means.parquet');
    copyFileSync(file('mean_eval.parquet'), aggregate);
    await refuse(
      [aggregate],
      /seed_means\.parquet: is a seed aggregate \(no seed column\) but its name does not say which/,
    );

    const folder = path.join(scratch, 'datadecide');
    mkdirSync(folder);
    copyFileSync(FULL, path.join(folder, 'full_eval.parquet'));
    copyFileSync(FULL, path.join(folder, 'full_eval_v2.parquet'));
    await refuse([folder], /full_eval_v2\.parquet: is not a file datadec writes/);
  });

  it('runs from the CLI on a folder, reporting what it skipped and checked', () => {
    const dir = tempDir();
    const first = runlake('ingest', 'datadecide', FOLDER, dir);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/ingested 48 rows from 1 file as [\d,]+ full_eval rows \(params: 20M, 4M\)/);
    expect(first.stdout).toMatch(/metric cells of wide files were empty/);
    expect(first.stdout).toMatch(
      /not ingested: .*ppl_eval_parsed\.parquet: an earlier stage of full_eval\.parquet/,
    );
    expect(first.stdout).toMatch(
      /from .*downstream_eval\.parquet: 840 full_eval rows full_eval\.parquet lacks \(logits_per_byte_corr, predicted_index_per_byte, .*\); 3,920 values full_eval\.parquet also gives came from full_eval\.parquet; its chinchilla filled 5,324 rows of full_eval\.parquet/,
    );
    expect(first.stdout).toMatch(
      /checked mean_eval\.parquet against mean_eval: 2,416 cells, .*no mismatches/,
    );
    expect(first.stdout).toMatch(/checked std_eval\.parquet against std_eval: 2,416 cells, .*no mismatches/);
    const before = visibleFiles(dir).length;
    const again = runlake('ingest', 'datadecide', FOLDER, dir, '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ sourceRows: 48, replacedFiles: 4 });
    expect(visibleFiles(dir).length).toBe(before);
  });
});
