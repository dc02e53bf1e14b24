/**
 * `runlake convert` / `runlake rollup` against exp_engine's real converter (issue 15, part 5): the
 * same CSV trees, every layout exp_engine reads, converted by both tools; the rows must carry the
 * same params and seeds, the seed summaries the same values, the events the same rows. Grid ids
 * are not compared (each tool has its own scheme). Also the intent of exp_engine's
 * tests/test_converter.py, runlake's precedence over it, and the CLI's exp_engine flag names.
 * Needs a Python with pandas and pyarrow (test/helpers/python.ts); without one the comparison is
 * skipped locally and fails on CI.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  convertCsvSweep,
  expEngineGridDir,
  findGridConfig,
  openLake,
  parseCsvFileName,
  parseFlatYaml,
  parseGridDirName,
  pythonFloat,
  pythonInt,
  rollupCsvSweep,
} from '../src/index.js';
import { runlake } from './helpers/cli.js';
import { repoRoot, tempDir, visibleFiles } from './helpers/lake-fixtures.js';
import { pythonWith } from './helpers/python.js';

const py = pythonWith(['pandas', 'pyarrow']);
if (py.skip) console.warn(`[convert-exp-engine.test] skipping the comparison with exp_engine: ${py.reason}`);

/** exp_engine's sources (see its PROVENANCE.md): `A/` holds converter.py and its engine. */
const EXP_ENGINE = process.env.RUNLAKE_EXP_ENGINE ?? '/work/shared/peers/exp_engine/A';
const CONVERTER = path.join(EXP_ENGINE, 'exp_engine', 'converter.py');
const READ_LAKE = path.join(repoRoot, 'test', 'python', 'exp_engine_read_lake.py');

type Row = Record<string, unknown>;

function write(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

/**
 * A CSV tree with every layout exp_engine's converter reads (one grid directory each), and the
 * CSV shapes its seed summary and event rows treat differently.
 */
function expEngineTree(): string {
  const root = tempDir('runlake-exp-tree-');
  const events = 'op,regret,acc\ninsert,0.1,0.8\ninsert,0.15,0.85\ndelete,0.05,0.87\n';
  // A directory name with "split_<a>-<b>", q, k and an accountant.
  write(path.join(root, 'split_0.7-0.3_q0.95_k10_default', 'seed_001_memorypair_x.csv'), events);
  // "split<a>-<b>" in one part, an integral q (still a float), the file name's algo over the default.
  write(
    path.join(root, 'grid_split0.5-0.25_q1_k3_rdp', 'seed_002_baseline_run.csv'),
    'op,regret,acc,eps_spent,capacity_remaining,rho_spent\ninsert,1,0.5,0.1,10,0.01\ndelete,3,0.75,0.2,9,0.02\n',
  );
  // A params.json in the grid directory, CSVs nested below it, the config's algo kept.
  write(
    path.join(root, 'gamma_sweep', 'params.json'),
    JSON.stringify({ gamma_bar: 2.5, lr: 0.01, algo: 'sgd' }),
  );
  write(
    path.join(root, 'gamma_sweep', 'nested', 'deeper', 'seed_3.csv'),
    'op,regret,acc\ninsert,,0.1\ninsert,nan,0.2\ndelete,0.5,\n',
  );
  // A *.json of another name; the seed from the config (the file name has none).
  write(
    path.join(root, 'ratio_runs', 'config_a.json'),
    JSON.stringify({ delete_ratio: 5, accountant: 'rdp', seed: 9 }),
  );
  write(
    path.join(root, 'ratio_runs', 'run_memorypair.csv'),
    'op,cum_regret,acc\ninsert,0.5,0.9\ninsert,1.5,0.8\n',
  );
  // An empty config: the directory's name is read instead.
  write(path.join(root, 'grid_q0.5_zcdp', 'params.json'), '{}');
  write(
    path.join(root, 'grid_q0.5_zcdp', 'seed_4_memorypair.csv'),
    'op,regret,regret_increment\ninsert,,0.25\ninsert,0.75,0.5\ndelete,,\n',
  );
  // The marker test ignores case; the name's own parts do not ("Split" is not "split").
  write(path.join(root, 'Split_k7', 'seed_7_memorypair.csv'), 'regret,acc\n0.3,0.6\n');
  // CSVs whose grid directory is the root (no marker on the way up): the defaults only.
  write(path.join(root, 'seed_5_memorypair_top.csv'), 'op,regret\ninsert,0.2\ndelete,0.4\n');
  write(path.join(root, 'misc', 'sub', 'seed_6_baseline.csv'), 'op,acc\ninsert,0.1\n');
  // A seed column: events take it, the seed summary takes the file name's.
  write(
    path.join(root, 'grid_cols', 'seed_8_memorypair.csv'),
    'seed,op,regret\n80,insert,0.1\n81,delete,0.2\n',
  );
  // No rows: no seed summary and no events in either tool.
  write(path.join(root, 'grid_cols', 'seed_10_memorypair.csv'), 'op,regret,acc\n');
  return root;
}

/** Runs exp_engine's converter at both granularities (as its Snakemake rollup) and reads the result. */
function expEngineConvert(csvDir: string): { seeds: Row[]; events: Row[]; types: Record<string, Row> } {
  const out = path.join(tempDir(), 'exp-engine-out');
  for (const granularity of ['seed', 'event']) {
    py.runPython(CONVERTER, [csvDir, out, '--granularity', granularity]);
  }
  return JSON.parse(py.runPython(READ_LAKE, [out]));
}

async function readRunlake(
  lake: string,
): Promise<{ seeds: Row[]; events: Row[]; types: Record<string, Row> }> {
  const opened = await openLake(lake);
  try {
    const types: Record<string, Row> = {};
    for (const dataset of ['seeds', 'events']) {
      const described = await opened.query(`DESCRIBE SELECT * FROM ${dataset}`);
      types[dataset] = Object.fromEntries(described.map((r) => [String(r.column_name), r.column_type]));
    }
    return {
      seeds: await opened.query('SELECT * FROM seeds'),
      events: await opened.query('SELECT * FROM events'),
      types,
    };
  } finally {
    opened.close();
  }
}

/** A row without its grid id, with every column of `columns` (null where missing) and plain numbers. */
function normalise(row: Row, columns: readonly string[]): Row {
  const out: Row = {};
  for (const column of columns) {
    if (column === 'grid_id') continue;
    const value = row[column];
    out[column] = typeof value === 'bigint' ? Number(value) : (value ?? null);
  }
  return out;
}

const SUMMARY = new Set([
  'avg_regret_empirical',
  'N_star_emp',
  'm_emp',
  'final_acc',
  'total_events',
  'eps_spent',
  'capacity_remaining',
  'rho_spent',
]);

/** The identity of a seed row: its params and seed (every column but the summary's). */
function identity(row: Row): string {
  return JSON.stringify(Object.entries(row).filter(([k]) => !SUMMARY.has(k)));
}

function closeTo(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number')
    return Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a));
  return a === b;
}

function sortedRows(rows: Row[]): Row[] {
  return [...rows].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe.skipIf(py.skip)('runlake rollup and exp_engine converter.py on the same CSV trees', () => {
  let theirs: { seeds: Row[]; events: Row[]; types: Record<string, Row> };
  let ours: { seeds: Row[]; events: Row[]; types: Record<string, Row> };
  let columns: { seeds: string[]; events: string[] };

  beforeAll(async () => {
    expect(py.available, py.reason).toBe(true);
    const tree = expEngineTree();
    theirs = expEngineConvert(tree);
    const lake = path.join(tempDir(), 'lake');
    const rollup = runlake('rollup', '--csv-dir', tree, '--base-out', lake, '--cores', '3', '--no-progress');
    expect(rollup.code, rollup.stderr).toBe(0);
    ours = await readRunlake(lake);
    const union = (a: Row[], b: Row[]) => [...new Set([...a, ...b].flatMap((r) => Object.keys(r)))].sort();
    columns = { seeds: union(theirs.seeds, ours.seeds), events: union(theirs.events, ours.events) };
  }, 180_000);

  it("with --grid-id-scheme exp_engine-sha256-12, gives exp_engine's grid ids", async () => {
    const tree = expEngineTree();
    const lake = path.join(tempDir(), 'lake');
    const rollup = runlake('rollup', tree, lake, '--grid-id-scheme', 'exp_engine-sha256-12', '--no-progress');
    expect(rollup.code, rollup.stderr).toBe(0);
    const same = await readRunlake(lake);
    const idOf = (rows: Row[]) =>
      new Map(rows.map((r) => [identity(normalise(r, columns.seeds)), String(r.grid_id)]));
    const expected = idOf(theirs.seeds);
    const actual = idOf(same.seeds);
    const differ = [...expected].filter(([key, id]) => actual.get(key) !== id).map(([key]) => key);
    // exp_engine hashes the grid directory's params only; runlake adds the algorithm a file name
    // names (the two seed_…_baseline_….csv files in grids whose default is memorypair), so their
    // grids are their own. The other seven inputs get exp_engine's ids, bit for bit.
    expect(differ).toHaveLength(2);
    for (const key of differ) expect(key).toContain('["algo","baseline"]');
    expect(expected.size).toBe(9);
  });

  it('writes one seed row per non-empty CSV with the same params and seed', () => {
    const ids = (rows: Row[]) => rows.map((r) => identity(normalise(r, columns.seeds))).sort();
    expect(theirs.seeds).toHaveLength(9);
    expect(ids(ours.seeds)).toEqual(ids(theirs.seeds));
  });

  it('gives the same seed-summary values (within 1e-12; null where exp_engine has None/NaN)', () => {
    const byId = new Map(
      ours.seeds.map((r) => [identity(normalise(r, columns.seeds)), normalise(r, columns.seeds)]),
    );
    for (const raw of theirs.seeds) {
      const expected = normalise(raw, columns.seeds);
      const actual = byId.get(identity(expected));
      expect(actual, identity(expected)).toBeDefined();
      for (const column of SUMMARY) {
        expect(
          closeTo(actual?.[column], expected[column]),
          `${column} of ${identity(expected)}: ${actual?.[column]}`,
        ).toBe(true);
      }
    }
    // Spot checks against values worked out by hand, so that both tools cannot be wrong together.
    const seed = (n: number) => ours.seeds.find((r) => Number(r.seed) === n) as Row;
    expect(seed(3).avg_regret_empirical).toBe(0.5); // the empty and the nan regret are skipped
    expect(seed(3).final_acc).toBeNull();
    expect(Number(seed(2).m_emp)).toBe(1);
    expect(seed(2).rho_spent).toBe(0.02);
    expect(seed(9).avg_regret_empirical).toBeNull(); // no regret column (cum_regret only)
    expect(seed(7).N_star_emp).toBeNull(); // no op column
    expect(seed(8).avg_regret_empirical).toBeCloseTo(0.15, 15);
  });

  it('keeps the int/float types of params parsed from directory names', () => {
    for (const dataset of ['seeds', 'events'] as const) {
      expect(theirs.types[dataset]?.quantile).toEqual(['double']);
      expect(ours.types[dataset]?.quantile).toBe('DOUBLE');
      expect(theirs.types[dataset]?.delete_ratio).toEqual(['int64']);
      expect(ours.types[dataset]?.delete_ratio).toBe('BIGINT');
      expect(ours.types[dataset]?.gamma_bar).toBe('DOUBLE');
    }
    const row = ours.seeds.find((r) => Number(r.seed) === 2) as Row;
    expect(row).toMatchObject({
      algo: 'baseline',
      accountant: 'rdp',
      gamma_bar: 0.5,
      gamma_split: 0.25,
      quantile: 1,
    });
    expect(ours.seeds.find((r) => Number(r.seed) === 7)).toMatchObject({
      delete_ratio: 7,
      algo: 'memorypair',
    });
    expect(ours.seeds.find((r) => Number(r.seed) === 6)).toMatchObject({
      algo: 'baseline',
      accountant: 'zcdp',
    });
  });

  it('writes the same event rows (params merged in, seed column first, regret/cum_regret normalised)', () => {
    expect(theirs.events).toHaveLength(19);
    const rows = (list: Row[]) => sortedRows(list.map((r) => normalise(r, columns.events)));
    expect(rows(ours.events)).toEqual(rows(theirs.events));
    expect(ours.events.filter((r) => r.seed === 80 || r.seed === 81)).toHaveLength(2);
  });
});

describe("the intent of exp_engine's tests/test_converter.py", () => {
  it('parses the seed and the algorithm out of a CSV file name', () => {
    expect(parseCsvFileName('seed_001_memorypair_gamma1.0-split0.5_zcdp.csv')).toEqual({
      seed: 1,
      algo: 'memorypair',
    });
    expect(parseCsvFileName('run_seed_12_baseline.csv')).toEqual({ seed: 12, algo: 'baseline' });
    // Only a part that is exactly "seed", followed by an int; only the first such part counts.
    expect(parseCsvFileName('seed1_memorypair.csv')).toEqual({ algo: 'memorypair' });
    expect(parseCsvFileName('seed_x_seed_2.csv')).toEqual({});
    expect(parseCsvFileName('Seed_3.csv')).toEqual({});
  });

  it('parses grid params out of a grid directory name, with int and float kept apart', () => {
    const parsed = parseGridDirName('split_0.7-0.3_q0.95_k10_default');
    expect(parsed.params).toEqual({
      gamma_bar: 0.7,
      gamma_split: 0.3,
      quantile: 0.95,
      delete_ratio: 10,
      accountant: 'default',
    });
    expect([...parsed.floatKeys].sort()).toEqual(['gamma_bar', 'gamma_split', 'quantile']);
    expect(parseGridDirName('grid_split0.5-0.5_q1_k3_rdp').params).toEqual({
      gamma_bar: 0.5,
      gamma_split: 0.5,
      quantile: 1,
      delete_ratio: 3,
      accountant: 'rdp',
    });
    // Parts that do not parse are skipped; gamma_bar is set even when gamma_split fails (as Python).
    expect(parseGridDirName('quick_kernel_split_0.7-x').params).toEqual({ gamma_bar: 0.7 });
    expect(parseGridDirName('split_1-2-3_q_k1.5').params).toEqual({});
    expect(() => parseGridDirName('grid_qnan')).toThrow(/quantile would be NaN/);
  });

  it("converts a CSV to a seed row with exp_engine's summary", async () => {
    const csvDir = tempDir();
    write(
      path.join(csvDir, 'seed_001_memorypair_test.csv'),
      'op,regret,acc\ninsert,0.1,0.8\ninsert,0.15,0.85\ndelete,0.05,0.87\n',
    );
    const lake = path.join(tempDir(), 'lake');
    const summary = await convertCsvSweep(csvDir, lake, { granularity: 'seed' });
    expect(summary).toMatchObject({ converted: 1, rows: 1 });
    expect(visibleFiles(path.join(lake, 'seeds')).some((f) => f.endsWith('.parquet'))).toBe(true);
    const opened = await openLake(lake);
    try {
      const [row] = await opened.query('SELECT * EXCLUDE (grid_id) FROM seeds');
      expect(row).toEqual({
        algo: 'memorypair',
        accountant: 'zcdp',
        seed: 1,
        avg_regret_empirical: (0.1 + 0.15 + 0.05) / 3,
        N_star_emp: 2,
        m_emp: 1,
        final_acc: 0.87,
        total_events: 3,
      });
    } finally {
      opened.close();
    }
  });
});

describe('Python number parsing', () => {
  it("reads what Python's float() and int() read, and refuses what they refuse", () => {
    expect(pythonFloat(' 0.95 ')).toBe(0.95);
    expect(pythonFloat('1.')).toBe(1);
    expect(pythonFloat('.5')).toBe(0.5);
    expect(pythonFloat('1e3')).toBe(1000);
    expect(pythonFloat('-Infinity')).toBe(Number.NEGATIVE_INFINITY);
    for (const bad of ['', 'uantile', '0x10', '1e', '.', '1.2.3'])
      expect(pythonFloat(bad), bad).toBeUndefined();
    expect(pythonInt('001')).toBe(1n);
    expect(pythonInt('+7')).toBe(7n);
    for (const bad of ['', '1.0', '0x1', 'ten']) expect(pythonInt(bad), bad).toBeUndefined();
  });
});

describe('layouts and precedence', () => {
  it('finds the grid directory as exp_engine walks up to it', () => {
    expect(expEngineGridDir('/r/grid_a/x/seed_1.csv', '/r')).toBe('/r/grid_a');
    expect(expEngineGridDir('/r/a/RATIO_b/c/seed_1.csv', '/r')).toBe('/r/a/RATIO_b');
    expect(expEngineGridDir('/r/misc/seed_1.csv', '/r')).toBe('/r');
    expect(expEngineGridDir('/r/seed_1.csv', '/r')).toBe('/r');
  });

  it('prefers params.json among several *.json and skips hidden files', async () => {
    const dir = tempDir();
    write(path.join(dir, 'a.json'), '{}');
    write(path.join(dir, '.hidden.json'), '{}');
    expect(await findGridConfig(dir)).toEqual({ file: path.join(dir, 'a.json'), kind: 'json' });
    write(path.join(dir, 'params.json'), '{}');
    expect((await findGridConfig(dir))?.file).toBe(path.join(dir, 'params.json'));
    const yaml = tempDir();
    write(path.join(yaml, 'params.yaml'), 'x: 1\n');
    write(path.join(yaml, 'config.yaml'), 'x: 2\n');
    expect((await findGridConfig(yaml))?.file).toBe(path.join(yaml, 'config.yaml'));
  });

  it('reads a flat config.yaml with YAML 1.1 scalars, and refuses nesting', () => {
    expect(
      parseFlatYaml(
        '# sweep\nalgo: memorypair\ngamma_bar: 1.0\nk: 10\non_gpu: yes\nnote: "a # b"\nx: 1e5\nnone: ~\n',
        'c.yaml',
      ),
    ).toEqual({ algo: 'memorypair', gamma_bar: 1, k: 10, on_gpu: true, note: 'a # b', x: '1e5', none: null });
    expect(() => parseFlatYaml('model:\n  depth: 3\n', 'c.yaml')).toThrow(/c\.yaml: line 2: only a flat/);
    expect(() => parseFlatYaml('sizes: [1, 2]\n', 'c.yaml')).toThrow(/not a plain scalar/);
  });

  it('takes a params.json below the grid directory as runlake did (no defaults), else exp_engine rules', async () => {
    const csvDir = tempDir();
    write(path.join(csvDir, 'a', 'params.json'), JSON.stringify({ lr: 0.1 }));
    write(path.join(csvDir, 'a', 'seed_1.csv'), 'op,regret\ninsert,1\n');
    write(path.join(csvDir, 'grid_b', 'params.yaml'), 'lr: 0.2\naccountant: rdp\n');
    write(path.join(csvDir, 'grid_b', 'seed_2_baseline.csv'), 'op,regret\ninsert,2\n');
    const lake = path.join(tempDir(), 'lake');
    const { seeds, events } = await rollupCsvSweep(csvDir, lake, {});
    expect(seeds.inputs.map((i) => i.paramsSource)).toEqual(['params.json', 'exp_engine']);
    expect(events.converted).toBe(2);
    const opened = await openLake(lake);
    try {
      const grids = await opened.query('SELECT * EXCLUDE (grid_id) FROM grids ORDER BY lr');
      expect(
        grids.map((g) => ({ lr: g.lr, algo: g.algo ?? null, accountant: g.accountant ?? null })),
      ).toEqual([
        { lr: 0.1, algo: null, accountant: null },
        { lr: 0.2, algo: 'baseline', accountant: 'rdp' },
      ]);
      const [seed1] = await opened.query('SELECT lr, seed, avg_regret_empirical FROM seeds WHERE seed = 1');
      expect(seed1).toEqual({ lr: 0.1, seed: 1, avg_regret_empirical: 1 });
    } finally {
      opened.close();
    }
  });

  it('refuses, naming the file, a config that is not JSON and a text regret column, writing nothing', () => {
    const csvDir = tempDir();
    write(path.join(csvDir, 'grid_a', 'config_a.json'), '{"lr": ');
    write(path.join(csvDir, 'grid_a', 'seed_1.csv'), 'op,regret\ninsert,1\n');
    const lake = path.join(tempDir(), 'lake');
    const bad = runlake('rollup', csvDir, lake, '--no-progress');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${path.join(csvDir, 'grid_a', 'config_a.json')}: is not valid JSON`);
    write(path.join(csvDir, 'grid_a', 'config_a.json'), '{"lr": 1}');
    write(path.join(csvDir, 'grid_a', 'seed_2.csv'), 'op,regret\ninsert,high\n');
    const text = runlake('rollup', csvDir, lake, '--no-progress');
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(/seed_2\.csv: column "regret" holds text \("high"\)/);
    expect(visibleFiles(lake)).toEqual([]);
    // A CSV without a seed anywhere has no seed summary to write.
    write(path.join(csvDir, 'grid_a', 'seed_2.csv'), 'op,regret\ninsert,1\n');
    write(path.join(csvDir, 'grid_a', 'noseed.csv'), 'op,regret\ninsert,1\n');
    const noSeed = runlake('convert', csvDir, lake, '--granularity', 'seed', '--no-progress');
    expect(noSeed.stderr).toMatch(
      /noseed\.csv: no seed in the file name \(seed_<n>_….csv\) or in the params/,
    );
  });
});

describe('runlake rollup and convert with exp_engine flag names', () => {
  function sweep(): string {
    const dir = tempDir();
    write(path.join(dir, 'grid_a', 'seed_001_memorypair.csv'), 'op,regret\ninsert,0.5\ndelete,0.25\n');
    write(path.join(dir, 'grid_a', 'seed_002_memorypair.csv'), 'op,regret\ninsert,0.4\n');
    return dir;
  }

  it('rollup writes both granularities, then skips both; --dry-run writes nothing', () => {
    const dir = sweep();
    const lake = path.join(tempDir(), 'lake');
    const plan = runlake('rollup', '--csv-dir', dir, '--base-out', lake, '--dry-run');
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('would convert 2 inputs (2 rows) into');
    expect(plan.stdout).toContain('would convert 2 inputs (3 rows) into');
    expect(visibleFiles(lake)).toEqual([]);
    const first = runlake('rollup', '--csv-dir', dir, lake, '--cores', '2', '--no-progress');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/converted 2 inputs \(2 rows, 2 files\) into .* seeds\//);
    expect(first.stdout).toMatch(/converted 2 inputs \(3 rows, 2 files\) into .* events\//);
    const ledger = readFileSync(path.join(lake, '.runlake', 'convert-ledger.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(ledger.map((l) => JSON.parse(l).dataset).sort()).toEqual(['events', 'events', 'seeds', 'seeds']);
    const again = runlake('rollup', dir, lake, '--no-progress');
    expect(again.stdout.match(/skipped 2 already converted/g)).toHaveLength(2);
    // convert at one granularity shares the ledger: nothing new either.
    expect(runlake('convert', dir, lake, '--granularity', 'seed').stdout).toContain('converted 0 inputs');
  });

  it('refuses a missing or doubly given path with one line', () => {
    const missing = runlake('rollup', '--csv-dir', sweep());
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/missing the lake \(<lake> or --base-out\)/);
    const twice = runlake('convert', 'a', 'b', '--base-out', 'c');
    expect(twice.stderr).toMatch(/lake given twice: "b" and --base-out "c"/);
  });
});
