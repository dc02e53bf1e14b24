import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InputFileError, importFile, openLake, validateLake, writeEventRows } from '../src/index.js';
import { copyToParquet, runlake } from './helpers/cli.js';
import { listFiles, tempDir } from './helpers/lake-fixtures.js';

function jsonl(rows: readonly Record<string, unknown>[]): string {
  return `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
}

function parquetFiles(dir: string): string[] {
  return listFiles(dir).filter((f) => f.endsWith('.parquet'));
}

async function readBack(dir: string, sql: string): Promise<Record<string, unknown>[]> {
  const lake = await openLake(dir);
  try {
    return await lake.query(sql);
  } finally {
    lake.close();
  }
}

const METRICS_CSV =
  'step,metric_name,value,split,wall_time\n' +
  '0,loss,4.25,train,2024-01-01 00:00:00\n' +
  '10,loss,3.5,train,2024-01-01 00:10:00\n' +
  '10,loss,3.75,val,\n' +
  '10,grad_norm,1.125,,2024-01-01 00:10:00\n';

const EVENTS = [
  {
    run_id: 'r1',
    event_type: 'rank_collapse',
    event_id: 'e1',
    step: 300,
    step_end: 400,
    sample_set: 'fixed_v1',
    sample_id: null,
    layer: 4,
    module: 'resid_post',
    descriptor: 'effective_rank',
    detector: 'rank_collapse/v1',
    magnitude: 0.5,
    confidence: 0.875,
  },
  {
    run_id: 'r1',
    event_type: 'phase_shift',
    event_id: 'e2',
    step: 800,
    step_end: null,
    sample_set: 'fixed_v1',
    sample_id: null,
    layer: null,
    module: null,
    descriptor: 'loss',
    detector: 'phase/v2',
    magnitude: 2.25,
    confidence: 0.5,
  },
  {
    run_id: 'r2',
    event_type: 'phase_shift',
    event_id: 'e3',
    step: 900,
    step_end: null,
    sample_set: 'fixed_v1',
    sample_id: null,
    layer: null,
    module: null,
    descriptor: null,
    detector: 'phase/v2',
    magnitude: -1.5,
    confidence: 1,
  },
];

const SIGNATURE_LAYER = {
  run_id: 'r1',
  signature_id: 'r1/L2/mlp_out',
  sample_set: 'fixed_v1',
  layer: 2,
  module: 'mlp_out',
  sample_id: null,
  descriptor_set: 'effective_rank',
  method: 'paa4-z',
  grid: 'fraction',
  dim: 4,
  vector: [0.5, -1.25, 2, 0],
  event_tokens: ['rank_collapse', 'reexpansion'],
};
const SIGNATURE_AGGREGATE = {
  run_id: 'r1',
  signature_id: 'r1/all',
  sample_set: 'fixed_v1',
  layer: null,
  module: null,
  sample_id: null,
  descriptor_set: 'effective_rank+cka_drift',
  method: 'paa4-z',
  grid: 'log_step',
  dim: 2,
  vector: [1.5, -0.75],
  event_tokens: [] as string[],
};
const SIGNATURES = [SIGNATURE_LAYER, SIGNATURE_AGGREGATE];

describe('importFile into a squiggle lake', () => {
  let dir: string;
  let inputs: string;
  beforeAll(() => {
    const root = tempDir('runlake-sq-import-');
    dir = path.join(root, 'lake');
    inputs = path.join(root, 'inputs');
    mkdirSync(inputs);
  });

  it('creates a squiggle lake in a new directory and loads a CSV, completing run_id from values', async () => {
    const csv = path.join(inputs, 'metrics.csv');
    writeFileSync(csv, METRICS_CSV);
    const result = await importFile(dir, 'metrics_scalar', csv, { values: { run_id: 'r1' } });
    expect(result.rowCount).toBe(4);
    expect(result.files).toHaveLength(1);
    expect(path.relative(dir, result.files[0] as string)).toMatch(
      /^metrics_scalar\/run_id=r1\/[^/]+\.parquet$/,
    );
    expect(JSON.parse(readFileSync(path.join(dir, '.runlake/lake.json'), 'utf8'))).toMatchObject({
      schema: 'squiggle',
    });
    const rows = await readBack(
      dir,
      'SELECT run_id, step, metric_name, value, split, wall_time FROM metrics_scalar ORDER BY metric_name DESC, step, split',
    );
    expect(rows).toEqual([
      {
        run_id: 'r1',
        step: 0,
        metric_name: 'loss',
        value: 4.25,
        split: 'train',
        wall_time: '2024-01-01T00:00:00.000Z',
      },
      {
        run_id: 'r1',
        step: 10,
        metric_name: 'loss',
        value: 3.5,
        split: 'train',
        wall_time: '2024-01-01T00:10:00.000Z',
      },
      { run_id: 'r1', step: 10, metric_name: 'loss', value: 3.75, split: 'val', wall_time: null },
      {
        run_id: 'r1',
        step: 10,
        metric_name: 'grad_norm',
        value: 1.125,
        split: null,
        wall_time: '2024-01-01T00:10:00.000Z',
      },
    ]);
  });

  it('loads events from JSONL, with null layer and module for run-level events', async () => {
    const file = path.join(inputs, 'events.jsonl');
    writeFileSync(file, jsonl(EVENTS));
    const result = await importFile(dir, 'events', file);
    expect(result.rowCount).toBe(3);
    // One file per (run_id, event_type) partition.
    expect(result.files.map((f) => path.relative(dir, path.dirname(f))).sort()).toEqual([
      'events/run_id=r1/event_type=phase_shift',
      'events/run_id=r1/event_type=rank_collapse',
      'events/run_id=r2/event_type=phase_shift',
    ]);
    const rows = await readBack(
      dir,
      `SELECT ${Object.keys(EVENTS[0] as object).join(', ')} FROM events ORDER BY event_id`,
    );
    expect(rows).toEqual(EVENTS);
    const types = await readBack(dir, "SELECT typeof(layer) AS t FROM events WHERE event_id = 'e1'");
    expect(types).toEqual([{ t: 'SMALLINT' }]);
  });

  it('loads signatures with list vectors from JSONL', async () => {
    const file = path.join(inputs, 'signatures.ndjson');
    writeFileSync(file, jsonl(SIGNATURES));
    const result = await importFile(dir, 'signatures', file);
    expect(result.rowCount).toBe(2);
    const rows = await readBack(
      dir,
      `SELECT ${Object.keys(SIGNATURE_LAYER as object).join(', ')} FROM signatures ORDER BY signature_id`,
    );
    expect(rows).toEqual(SIGNATURES);
    const types = await readBack(
      dir,
      'SELECT typeof(vector) AS v, typeof(event_tokens) AS e, typeof(dim) AS d FROM signatures LIMIT 1',
    );
    expect(types).toEqual([{ v: 'FLOAT[]', e: 'VARCHAR[]', d: 'INTEGER' }]);
  });

  it('loads a Parquet file written by DuckDB, casting its types to the schema', async () => {
    const file = path.join(inputs, 'geometry.parquet');
    // DuckDB's own types: INTEGER layer, BIGINT n_samples, DOUBLE[] eigenvalues.
    await copyToParquet(
      "SELECT 'r1' AS run_id, 'fixed_v1' AS sample_set, 'attn_out' AS module, i * 100 AS step, '*' AS sample_id, " +
        'i::INTEGER AS layer, 64 AS n_samples, 32 AS dim, 10.5 + i AS effective_rank, ' +
        '[4.0, 2.0, 1.0] AS top_eigenvalues FROM range(3) t(i) ORDER BY i',
      file,
    );
    const result = await importFile(dir, 'geometry_state', file);
    expect(result.rowCount).toBe(3);
    const rows = await readBack(
      dir,
      'SELECT run_id, sample_set, module, step, sample_id, layer, n_samples, dim, effective_rank, top_eigenvalues, ' +
        'typeof(layer) AS layer_type FROM geometry_state ORDER BY step',
    );
    expect(rows).toEqual(
      [0, 1, 2].map((i) => ({
        run_id: 'r1',
        sample_set: 'fixed_v1',
        module: 'attn_out',
        step: i * 100,
        sample_id: '*',
        layer: i,
        n_samples: 64,
        dim: 32,
        effective_rank: 10.5 + i,
        top_eigenvalues: [4, 2, 1],
        layer_type: 'SMALLINT',
      })),
    );
  });

  it('loads a JSON array file, storing integer values of a DOUBLE column as DOUBLE', async () => {
    const file = path.join(inputs, 'metrics.json');
    writeFileSync(
      file,
      JSON.stringify([
        { run_id: 'r5', step: 1, metric_name: 'tokens', value: 2048 },
        { run_id: 'r5', step: 2, metric_name: 'tokens', value: 4096 },
      ]),
    );
    const result = await importFile(dir, 'metrics_scalar', file);
    expect(result.rowCount).toBe(2);
    const rows = await readBack(
      dir,
      "SELECT step, value, typeof(value) AS t FROM metrics_scalar WHERE run_id = 'r5' ORDER BY step",
    );
    expect(rows).toEqual([
      { step: 1, value: 2048, t: 'DOUBLE' },
      { step: 2, value: 4096, t: 'DOUBLE' },
    ]);
  });

  it('leaves a lake that validates clean', async () => {
    const report = await validateLake(dir);
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
  });
});

interface BadCase {
  readonly name: string;
  readonly dataset: string;
  readonly file: string;
  readonly content: string;
  readonly values?: Record<string, string>;
  /** The error message after `<file>: `. */
  readonly message: string | RegExp;
}

const GOOD_EVENT = {
  run_id: 'r1',
  event_type: 'reexpansion',
  event_id: 'x',
  step: 10,
  sample_set: 'fixed_v1',
  detector: 'd/v1',
  magnitude: 1,
  confidence: 0.5,
};

const BAD_CASES: BadCase[] = [
  {
    name: 'an unknown column',
    dataset: 'metrics_scalar',
    file: 'unknown-column.csv',
    content: 'run_id,step,metric_name,value,colour\nr1,1,loss,1.5,red\n',
    message:
      'row 0, column "colour": column is not in the metrics_scalar schema ' +
      '(run_id, step, metric_name, value, split, wall_time)',
  },
  {
    name: 'a value of the wrong type (a fraction in an INTEGER column)',
    dataset: 'signatures',
    file: 'wrong-type.jsonl',
    content: jsonl([
      { ...SIGNATURE_LAYER, dim: 4 },
      { ...SIGNATURE_AGGREGATE, dim: 2.5 },
    ]),
    message: 'row 1, column "dim": schema says INTEGER: 2.5 is not an integer',
  },
  {
    name: 'an integer too wide for its column',
    dataset: 'events',
    file: 'too-wide.jsonl',
    content: jsonl([
      { ...GOOD_EVENT, layer: 1 },
      { ...GOOD_EVENT, layer: 2 },
      { ...GOOD_EVENT, layer: 40000 },
    ]),
    message: 'row 2, column "layer": schema says SMALLINT: 40000 is outside -32768..32767',
  },
  {
    name: 'a stored value outside a closed enum',
    dataset: 'metrics_scalar',
    file: 'enum.csv',
    content: 'step,metric_name,value,split\n1,loss,2.5,train\n2,loss,2.5,test\n',
    values: { run_id: 'r1' },
    message: 'row 1, column "split": "test" is not a valid split (train, val, probe)',
  },
  {
    name: 'a partition value outside an extensible enum',
    dataset: 'events',
    file: 'event-type.jsonl',
    content: jsonl([GOOD_EVENT, GOOD_EVENT, { ...GOOD_EVENT, event_type: 'explosion' }]),
    message:
      /^row 2, column "event_type": "explosion" is not a valid event_type \(rank_collapse, .*stability_plateau\)/,
  },
  {
    name: 'a null in a non-null key column',
    dataset: 'metrics_scalar',
    file: 'null-key.csv',
    content: 'step,metric_name,value\n1,loss,2.5\n2,loss,2.5\n3,,2.5\n',
    values: { run_id: 'r1' },
    message: 'row 2, column "metric_name": null in a non-null column',
  },
  {
    name: 'a missing partition key',
    dataset: 'metrics_scalar',
    file: 'no-run-id.csv',
    content: 'step,metric_name,value\n1,loss,2.5\n',
    message: /run_id/,
  },
  {
    name: 'a failed row check',
    dataset: 'events',
    file: 'confidence.jsonl',
    content: jsonl([GOOD_EVENT, { ...GOOD_EVENT, confidence: 1.5 }]),
    message:
      'row 1, column "confidence": fails check confidence_range: confidence lies in [0, 1] (confidence BETWEEN 0 AND 1)',
  },
  {
    name: 'a failed row check over two columns',
    dataset: 'signatures',
    file: 'vector-length.jsonl',
    content: jsonl([SIGNATURE_AGGREGATE, { ...SIGNATURE_LAYER, dim: 3 }]),
    message:
      'row 1, column "vector, dim": fails check vector_length: vector has dim entries (len(vector) = dim)',
  },
  {
    name: 'an unreadable file',
    dataset: 'metrics_scalar',
    file: 'garbage.parquet',
    content: 'definitely not parquet\n',
    message: /^cannot read as parquet: .+/,
  },
  {
    name: 'an unknown extension',
    dataset: 'metrics_scalar',
    file: 'metrics.txt',
    content: 'step,metric_name,value\n1,loss,2.5\n',
    message: 'cannot tell the format from the extension; pass one of jsonl, json, csv, parquet',
  },
];

describe('importFile refuses bad input and writes nothing', () => {
  let dir: string;
  let inputs: string;
  let before: string[];
  beforeAll(async () => {
    const root = tempDir('runlake-sq-import-bad-');
    dir = path.join(root, 'lake');
    inputs = path.join(root, 'inputs');
    mkdirSync(inputs);
    const lake = await openLake(dir, { schema: 'squiggle' });
    try {
      await lake.write('metrics_scalar', [{ run_id: 'r0', step: 0, metric_name: 'loss', value: 9 }]);
      await lake.write('events', [{ ...GOOD_EVENT, run_id: 'r0' }]);
      await lake.write('signatures', [{ ...SIGNATURE_AGGREGATE, run_id: 'r0' }]);
    } finally {
      lake.close();
    }
    before = parquetFiles(dir);
    expect(before).toHaveLength(3);
  });

  for (const bad of BAD_CASES) {
    it(`refuses ${bad.name}`, async () => {
      const file = path.join(inputs, bad.file);
      writeFileSync(file, bad.content);
      const error = await importFile(dir, bad.dataset, file, { values: bad.values }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InputFileError);
      const message = (error as Error).message;
      expect(message.startsWith(`${file}: `), message).toBe(true);
      const rest = message.slice(file.length + 2);
      if (typeof bad.message === 'string') expect(rest).toBe(bad.message);
      else expect(rest).toMatch(bad.message);
      expect(parquetFiles(dir)).toEqual(before);
    });
  }

  it('refuses a file that does not exist', async () => {
    const file = path.join(inputs, 'nope.csv');
    await expect(importFile(dir, 'metrics_scalar', file)).rejects.toThrow(`${file}: no such file`);
    expect(parquetFiles(dir)).toEqual(before);
  });

  it('refuses an unknown dataset, naming the known ones', async () => {
    const file = path.join(inputs, 'ok.jsonl');
    writeFileSync(file, jsonl([{ run_id: 'r1', step: 1 }]));
    await expect(importFile(dir, 'metrics', file)).rejects.toThrow(
      /has no dataset "metrics" to write \(its datasets: .*metrics_scalar.*signatures/,
    );
    expect(parquetFiles(dir)).toEqual(before);
  });

  it('leaves the lake as it was: it still validates clean with its original rows', async () => {
    const report = await validateLake(dir);
    expect(report.ok).toBe(true);
    expect(report.datasets.reduce((n, d) => n + d.rows, 0)).toBe(3);
  });

  // A bad cell must not change how the rest of its column is read (as one inferred column type
  // would): the error names the row that holds it.
  it('names the row that holds a wrong-typed value in a JSONL file, not row 0', async () => {
    const file = path.join(inputs, 'mixed-step.jsonl');
    writeFileSync(
      file,
      jsonl([
        { run_id: 'r1', step: 10, metric_name: 'loss', value: 1.5 },
        { run_id: 'r1', step: 'ten', metric_name: 'loss', value: 2.5 },
      ]),
    );
    await expect(importFile(dir, 'metrics_scalar', file)).rejects.toThrow(/row 1, column "step": .*"ten"/);
  });

  // A key absent from a JSONL row is absent, not NULL: the first row that has it is named.
  it('names the first JSONL row that has an unknown key, not row 0', async () => {
    const file = path.join(inputs, 'sparse-unknown.jsonl');
    writeFileSync(
      file,
      jsonl([
        { run_id: 'r1', step: 1, metric_name: 'loss', value: 1 },
        { run_id: 'r1', step: 2, metric_name: 'loss', value: 1, colour: 'red' },
      ]),
    );
    await expect(importFile(dir, 'metrics_scalar', file)).rejects.toThrow(
      /: row 1, column "colour": column is not in the metrics_scalar schema/,
    );
  });

  // CSV cells are text converted by the declared type, so an all-digit run_id stays VARCHAR.
  it('reads an all-digit run_id column of a CSV as the VARCHAR key it is', async () => {
    const file = path.join(inputs, 'numeric-run-id.csv');
    writeFileSync(file, 'run_id,step,metric_name,value\n7,1,loss,2.5\n');
    const fresh = path.join(tempDir(), 'lake');
    await importFile(fresh, 'metrics_scalar', file);
    expect(await readBack(fresh, 'SELECT run_id FROM metrics_scalar')).toEqual([{ run_id: '7' }]);
  });

  it('names the row that holds a non-numeric cell in a CSV file, not row 0', async () => {
    const file = path.join(inputs, 'mixed-value.csv');
    writeFileSync(file, 'step,metric_name,value\n1,loss,2.5\n2,loss,high\n');
    await expect(importFile(dir, 'metrics_scalar', file, { values: { run_id: 'r1' } })).rejects.toThrow(
      /row 1, column "value": .*"high"/,
    );
  });
});

describe('schema sets on import', () => {
  let sweep: string;
  let inputs: string;
  beforeAll(async () => {
    const root = tempDir('runlake-sq-import-sweep-');
    sweep = path.join(root, 'sweep');
    inputs = path.join(root, 'inputs');
    mkdirSync(inputs);
    await writeEventRows([{ seed: 1, event_id: 0, op: 'insert', regret: 0.25 }], sweep, {
      algo: 'sgd',
      lr: 0.1,
    });
    expect(JSON.parse(readFileSync(path.join(sweep, '.runlake/lake.json'), 'utf8'))).toMatchObject({
      schema: 'sweep',
    });
  });

  it('refuses squiggle datasets in a sweep lake', async () => {
    const file = path.join(inputs, 'metrics.csv');
    writeFileSync(file, METRICS_CSV);
    const before = parquetFiles(sweep);
    await expect(importFile(sweep, 'metrics_scalar', file, { values: { run_id: 'r1' } })).rejects.toThrow(
      /is a "sweep" lake and has no dataset "metrics_scalar" to write \(its datasets: events, seeds\)/,
    );
    await expect(
      importFile(sweep, 'metrics_scalar', file, { values: { run_id: 'r1' }, schema: 'squiggle' }),
    ).rejects.toThrow(
      'this is a "sweep" lake, not a "squiggle" one; use another directory for squiggle datasets',
    );
    expect(parquetFiles(sweep)).toEqual(before);
    expect(existsSync(path.join(sweep, 'metrics_scalar'))).toBe(false);
  });

  it('refuses squiggle events in a sweep lake, whose events are another dataset', async () => {
    const file = path.join(inputs, 'events.jsonl');
    writeFileSync(file, jsonl(EVENTS));
    const before = parquetFiles(sweep);
    await expect(importFile(sweep, 'events', file, { schema: 'squiggle' })).rejects.toThrow(
      'this is a "sweep" lake, not a "squiggle" one',
    );
    expect(parquetFiles(sweep)).toEqual(before);
  });

  it('refuses an unknown schema set, naming the known ones', async () => {
    const file = path.join(inputs, 'metrics.csv');
    const fresh = path.join(tempDir(), 'lake');
    await expect(
      importFile(fresh, 'metrics_scalar', file, { values: { run_id: 'r1' }, schema: 'nope' }),
    ).rejects.toThrow(
      /unknown schema set "nope" \(known: .*sweep.*squiggle|unknown schema set "nope" \(known: .*squiggle.*sweep/,
    );
    expect(parquetFiles(fresh)).toEqual([]);
  });
});

describe('runlake import', () => {
  let root: string;
  let dir: string;
  beforeAll(() => {
    root = tempDir('runlake-sq-import-cli-');
    dir = path.join(root, 'lake');
  });

  it('imports a CSV with --value into a new squiggle lake', async () => {
    const csv = path.join(root, 'metrics.csv');
    writeFileSync(csv, METRICS_CSV);
    const result = runlake('import', dir, 'metrics_scalar', csv, '--value', 'run_id=r1');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`imported 4 rows from ${csv} into metrics_scalar (1 file)\n`);
    expect(JSON.parse(readFileSync(path.join(dir, '.runlake/lake.json'), 'utf8'))).toMatchObject({
      schema: 'squiggle',
    });
    const rows = await readBack(dir, 'SELECT run_id, step, value FROM metrics_scalar ORDER BY value');
    expect(rows).toEqual([
      { run_id: 'r1', step: 10, value: 1.125 },
      { run_id: 'r1', step: 10, value: 3.5 },
      { run_id: 'r1', step: 10, value: 3.75 },
      { run_id: 'r1', step: 0, value: 4.25 },
    ]);
  });

  it('imports JSONL and Parquet, and takes --format for a file without a known extension', async () => {
    const events = path.join(root, 'events.jsonl');
    writeFileSync(events, jsonl(EVENTS));
    const a = runlake('import', dir, 'events', events);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe(`imported 3 rows from ${events} into events (3 files)\n`);

    const parquet = path.join(root, 'signatures.parquet');
    await copyToParquet(
      "SELECT 'r3' AS run_id, 'p1' AS signature_id, 'fixed_v1' AS sample_set, 'paa-z' AS descriptor_set, " +
        "'paa2' AS method, 'fraction' AS grid, 2 AS dim, [0.5, 0.25] AS vector, ['bifurcation'] AS event_tokens",
      parquet,
    );
    const b = runlake('import', dir, 'signatures', parquet);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toBe(`imported 1 row from ${parquet} into signatures (1 file)\n`);

    const data = path.join(root, 'signatures.data');
    writeFileSync(data, jsonl([SIGNATURE_LAYER]));
    const c = runlake('import', dir, 'signatures', data, '--format', 'jsonl');
    expect(c.code, c.stderr).toBe(0);
    const rows = await readBack(dir, 'SELECT signature_id, vector, event_tokens FROM signatures ORDER BY 1');
    expect(rows).toEqual([
      { signature_id: 'p1', vector: [0.5, 0.25], event_tokens: ['bifurcation'] },
      {
        signature_id: 'r1/L2/mlp_out',
        vector: [0.5, -1.25, 2, 0],
        event_tokens: ['rank_collapse', 'reexpansion'],
      },
    ]);
    expect(runlake('validate', dir).code).toBe(0);
  });

  it('exits 1 with a one-line message naming file, row and column, and writes nothing', () => {
    const before = parquetFiles(dir);
    expect(before.length).toBeGreaterThan(0);
    for (const bad of BAD_CASES) {
      const file = path.join(root, `cli-${bad.file}`);
      writeFileSync(file, bad.content);
      const args = ['import', dir, bad.dataset, file];
      for (const [k, v] of Object.entries(bad.values ?? {})) args.push('--value', `${k}=${v}`);
      const result = runlake(...args);
      expect(result.code, `${bad.name}: ${result.stderr}`).toBe(1);
      expect(result.stdout).toBe('');
      const lines = result.stderr.split('\n').filter(Boolean);
      expect(lines, bad.name).toHaveLength(1);
      const line = lines[0] as string;
      const prefix = `runlake: ${file}: `;
      expect(line.startsWith(prefix), line).toBe(true);
      if (typeof bad.message === 'string') expect(line.slice(prefix.length)).toBe(bad.message);
      else expect(line.slice(prefix.length)).toMatch(bad.message);
      expect(parquetFiles(dir), bad.name).toEqual(before);
    }
  }, 180_000);

  it('exits 1 for an unknown dataset and for a squiggle dataset in a sweep lake', async () => {
    const csv = path.join(root, 'metrics.csv');
    const unknown = runlake('import', dir, 'nope', csv, '--value', 'run_id=r1');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(
      /^runlake: .*has no dataset "nope" to write \(its datasets: .*metrics_scalar.*\)\n$/,
    );

    const sweep = path.join(root, 'sweep');
    await writeEventRows([{ seed: 1, event_id: 0, op: 'insert', regret: 0.25 }], sweep, { algo: 'sgd' });
    const before = parquetFiles(sweep);
    const refused = runlake(
      'import',
      sweep,
      'metrics_scalar',
      csv,
      '--value',
      'run_id=r1',
      '--schema',
      'squiggle',
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `runlake: ${sweep}: this is a "sweep" lake, not a "squiggle" one; use another directory for squiggle datasets\n`,
    );
    const plain = runlake('import', sweep, 'metrics_scalar', csv, '--value', 'run_id=r1');
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(
      /^runlake: .* is a "sweep" lake and has no dataset "metrics_scalar" to write/,
    );
    expect(parquetFiles(sweep)).toEqual(before);
  });

  // --value text is converted by the column's declared type, so a numeric run id stays text.
  it('takes an all-digit --value for a VARCHAR partition key', async () => {
    const csv = path.join(root, 'numeric-run.csv');
    writeFileSync(csv, 'step,metric_name,value\n1,loss,2.5\n');
    const lake = path.join(root, 'numeric-run-lake');
    const result = runlake('import', lake, 'metrics_scalar', csv, '--value', 'run_id=123');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(await readBack(lake, 'SELECT run_id FROM metrics_scalar')).toEqual([{ run_id: '123' }]);
  });

  it('refuses an unknown --format choice before reading anything', () => {
    const csv = path.join(root, 'metrics.csv');
    const result = runlake('import', dir, 'metrics_scalar', csv, '--format', 'xlsx');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("argument 'xlsx' is invalid");
  });
});
