import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import {
  EnumValueError,
  EVAL_DATASETS,
  EVENT_TYPE,
  type Lake,
  LakeSchemaError,
  lakePaths,
  MODULE,
  openLake,
  quoteLiteral,
  type Row,
  RowValidationError,
  readLakeEnumValues,
  registerEventType,
  SPLIT,
  SQUIGGLE_DATASETS,
  SQUIGGLE_SCHEMA_SET,
  schemaSetJson,
  schemaSetMarkdown,
  validateLake,
  writeEventRows,
} from '../src/index.js';
import { listFiles, repoRoot, tempDir, visibleFiles } from './helpers/lake-fixtures.js';
import { pythonWith, runPython } from './helpers/python.js';
import { expectedReadBack, SQUIGGLE_SAMPLE_ROWS } from './helpers/squiggle-rows.js';

const GOLDEN = path.join(repoRoot, 'test', 'fixtures', 'squiggle-schema.json');
const SCHEMAS_DOC = path.join(repoRoot, 'docs', 'schemas.md');

async function withSquiggleLake<T>(dir: string, use: (lake: Lake) => Promise<T>): Promise<T> {
  const lake = await openLake(dir, { schema: 'squiggle' });
  try {
    return await use(lake);
  } finally {
    lake.close();
  }
}

const json = schemaSetJson(SQUIGGLE_SCHEMA_SET);
const columnsOf = (dataset: string) => json.datasets.find((d) => d.name === dataset)?.columns ?? [];
const column = (dataset: string, name: string) => columnsOf(dataset).find((c) => c.name === name);

describe('Squiggle schemas: one source of truth', () => {
  it('matches the golden schema snapshot (regenerate with UPDATE_GOLDEN=1)', () => {
    const text = `${JSON.stringify(json, null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, text);
    expect(text).toBe(readFileSync(GOLDEN, 'utf8'));
  });

  it('docs/schemas.md is generated from the definitions (regenerate with npm run docs:schemas)', () => {
    expect(existsSync(SCHEMAS_DOC)).toBe(true);
    expect(readFileSync(SCHEMAS_DOC, 'utf8')).toBe(schemaSetMarkdown(SQUIGGLE_SCHEMA_SET));
  });

  it('defines the eleven datasets of the seed plus the ingested ones, each column with a type, nullability and description', () => {
    expect(SQUIGGLE_DATASETS.map((d) => d.name)).toEqual([
      'runs',
      'checkpoints',
      'samples',
      'metrics_scalar',
      'geometry_state',
      'geometry_dynamics',
      'events',
      'signatures',
      'matches',
      'embeddings',
      'attention_summary',
    ]);
    // Ingested evaluation datasets (runlake ingest datadecide / qa) share the lake.
    expect(json.datasets.map((d) => d.name)).toEqual([
      ...SQUIGGLE_DATASETS.map((d) => d.name),
      ...EVAL_DATASETS.map((d) => d.name),
    ]);
    expect(EVAL_DATASETS.map((d) => d.name)).toEqual(['full_eval', 'qa_outputs']);
    for (const dataset of json.datasets) {
      expect(dataset.description, dataset.name).not.toBe('');
      expect(dataset.partition_reason, dataset.name).not.toBe('');
      for (const c of dataset.columns) {
        expect(c.description, `${dataset.name}.${c.name}`).not.toBe('');
        expect(c.type, `${dataset.name}.${c.name}`).toMatch(/^[A-Z]/);
      }
    }
  });

  it('keeps the spine keys at the seed types wherever they appear', () => {
    const spine: Record<string, string> = {
      run_id: 'VARCHAR',
      step: 'BIGINT',
      sample_id: 'VARCHAR',
      sample_set: 'VARCHAR',
      split: 'VARCHAR',
      layer: 'SMALLINT',
      module: 'VARCHAR',
    };
    let seen = 0;
    for (const dataset of json.datasets) {
      for (const c of dataset.columns) {
        if (spine[c.name]) {
          seen++;
          expect(c.type, `${dataset.name}.${c.name}`).toBe(spine[c.name]);
        }
      }
    }
    expect(seen).toBeGreaterThan(25);
    expect(column('samples', 'split')?.enum).toBe('split');
    expect(column('geometry_state', 'module')?.enum).toBe('module');
    expect(column('events', 'event_type')?.enum).toBe('event_type');
  });

  it('makes keys non-null except the global objects the seed names and optional checkpoint fields', () => {
    const nullableKeys = new Set([
      // A QA output's checkpoint step comes from an OLMES path; generic QA JSONL has none.
      'qa_outputs.step',
      'events.sample_id',
      'events.layer',
      'events.module',
      'signatures.layer',
      'signatures.module',
      'signatures.sample_id',
    ]);
    const keyNames = new Set(['run_id', 'step', 'sample_id', 'sample_set', 'layer', 'module', 'event_type']);
    for (const dataset of json.datasets) {
      for (const c of dataset.columns) {
        if (!keyNames.has(c.name)) continue;
        const qualified = `${dataset.name}.${c.name}`;
        expect(c.nullable, qualified).toBe(nullableKeys.has(qualified));
      }
    }
    for (const qualified of nullableKeys) {
      const [dataset, name] = qualified.split('.') as [string, string];
      expect(column(dataset, name)?.nullable, qualified).toBe(true);
    }
  });

  it('partitions by run_id (samples: by sample_set), by the seed’s low-cardinality keys, never by step', () => {
    const layout = Object.fromEntries(json.datasets.map((d) => [d.name, d.partition_by.join('/')]));
    expect(layout).toEqual({
      runs: 'run_id',
      checkpoints: 'run_id',
      samples: 'sample_set',
      metrics_scalar: 'run_id',
      geometry_state: 'run_id/sample_set/module',
      geometry_dynamics: 'run_id/sample_set/module',
      events: 'run_id/event_type',
      signatures: 'run_id',
      matches: 'run_id',
      embeddings: 'run_id/sample_set/module',
      attention_summary: 'run_id',
      full_eval: 'params', // DataDecide results: by model size
      qa_outputs: 'task', // per-question outputs: by task
    });
    for (const dataset of json.datasets) expect(dataset.partition_by).not.toContain('step');
  });

  it('keeps enums in registries: event_type and module extend, split is closed', () => {
    expect(SPLIT.list()).toEqual(['train', 'val', 'probe']);
    expect(MODULE.list()).toEqual(['resid_pre', 'attn_out', 'mlp_out', 'resid_post', 'logits']);
    expect(EVENT_TYPE.list().slice(0, 5)).toEqual([
      'rank_collapse',
      'reexpansion',
      'bifurcation',
      'phase_shift',
      'stability_plateau',
    ]);
    expect(() => SPLIT.register('test', 'a test split')).toThrow(EnumValueError);
    expect(() => EVENT_TYPE.register('Bad Name', 'x')).toThrow(/lower-case identifiers/);
  });
});

describe('Squiggle lakes: write, read, refuse', () => {
  it('an empty lake is queryable: every view exists, typed, with no rows', async () => {
    const dir = tempDir();
    await withSquiggleLake(dir, async (lake) => {
      expect([...lake.datasets.keys()].sort()).toEqual(
        [...SQUIGGLE_DATASETS, ...EVAL_DATASETS].map((d) => d.name).sort(),
      );
      for (const dataset of json.datasets) {
        const [count] = await lake.query(`SELECT count(*) AS n FROM ${dataset.name}`);
        expect(count?.n).toBe(0);
        const described = await lake.query(`DESCRIBE ${dataset.name}`);
        // DuckDB prints struct field names unquoted unless they are keywords; compare unquoted.
        const unquoted = (type: unknown) => String(type).replaceAll('"', '');
        expect(described.map((r) => [r.column_name, unquoted(r.column_type)])).toEqual(
          dataset.columns.map((c) => [c.name, unquoted(c.type)]),
        );
      }
    });
    expect(listFiles(dir)).toEqual([]); // opening writes nothing
  });

  it('round-trips every dataset through its view', async () => {
    const dir = tempDir();
    await withSquiggleLake(dir, async (lake) => {
      for (const definition of SQUIGGLE_DATASETS) {
        const rows = SQUIGGLE_SAMPLE_ROWS[definition.name] as Row[];
        expect(rows, definition.name).toBeDefined();
        const result = await lake.write(definition.name, rows);
        expect(result.rowCount).toBe(rows.length);
        const keys = [
          ...definition.partitionBy.map((k) => k.name),
          ...(definition.columns ?? []).map((c) => c.name),
        ];
        const readBack = await lake.query(`SELECT * FROM ${definition.name}`);
        const sortKey = (r: Record<string, unknown>) => JSON.stringify(keys.map((k) => r[k] ?? null));
        // Extra columns (runs accepts them) are read back as null in rows that lack them.
        const expected = rows.map((row) => expectedReadBack(definition, row));
        const extras = new Set(expected.flatMap((r) => Object.keys(r)));
        for (const r of expected) for (const name of extras) r[name] ??= null;
        expect(
          readBack.sort((a, b) => sortKey(a).localeCompare(sortKey(b))),
          definition.name,
        ).toEqual(expected.sort((a, b) => sortKey(a).localeCompare(sortKey(b))));
      }
      const report = await validateLake(dir);
      expect(report.violations).toEqual([]);
      expect(report.ok).toBe(true);
    });
  });

  it('lays files out as the partitioning says, zstd-compressed, sorted as declared', async () => {
    const dir = tempDir();
    await withSquiggleLake(dir, async (lake) => {
      for (const definition of SQUIGGLE_DATASETS) {
        await lake.write(definition.name, SQUIGGLE_SAMPLE_ROWS[definition.name] as Row[]);
      }
      await lake.write('metrics_scalar', [
        { run_id: 'run-a', step: 3, metric_name: 'loss', value: 1 },
        { run_id: 'run-a', step: 1, metric_name: 'acc', value: 1 },
        { run_id: 'run-a', step: 2, metric_name: 'loss', value: 1 },
      ]);
    });
    const dirs = [...new Set(visibleFiles(dir).map((f) => path.dirname(f)))].sort();
    expect(dirs).toEqual([
      'attention_summary/run_id=run-a',
      'checkpoints/run_id=run-a',
      'embeddings/run_id=run-a/sample_set=fixed_v1/module=resid_post',
      'events/run_id=run-a/event_type=phase_shift',
      'events/run_id=run-a/event_type=rank_collapse',
      'geometry_dynamics/run_id=run-a/sample_set=fixed_v1/module=attn_out',
      'geometry_dynamics/run_id=run-a/sample_set=fixed_v1/module=resid_post',
      'geometry_state/run_id=run-a/sample_set=fixed_v1/module=mlp_out',
      'geometry_state/run_id=run-a/sample_set=fixed_v1/module=resid_post',
      'matches/run_id=run-a',
      'metrics_scalar/run_id=run-a',
      'runs/run_id=run-a',
      'runs/run_id=run-b',
      'samples/sample_set=fixed_v1',
      'signatures/run_id=run-a',
    ]);
    expect(visibleFiles(dir).every((f) => !f.includes('step='))).toBe(true);

    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const glob = path.join(dir, '*', '**', '*.parquet');
      const codecs = (
        await connection.runAndReadAll(
          `SELECT DISTINCT compression FROM parquet_metadata(${quoteLiteral(glob)})`,
        )
      ).getRowsJS();
      expect(codecs).toEqual([['ZSTD']]);
      // The second metrics write lands in its own file, sorted by (metric_name, step).
      const files = visibleFiles(dir).filter((f) => f.startsWith('metrics_scalar/'));
      const orders = await Promise.all(
        files.map(async (f) =>
          (
            await connection.runAndReadAll(
              `SELECT metric_name, step FROM read_parquet(${quoteLiteral(path.join(dir, f))}, hive_partitioning = false)`,
            )
          ).getRowsJS(),
        ),
      );
      expect(orders).toContainEqual([
        ['acc', 1n],
        ['loss', 2n],
        ['loss', 3n],
      ]);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });

  it('refuses bad rows naming the row and column, and writes nothing', async () => {
    const dir = tempDir();
    const state = SQUIGGLE_SAMPLE_ROWS.geometry_state?.[0] as Row;
    const signature = SQUIGGLE_SAMPLE_ROWS.signatures?.[0] as Row;
    const cases: Array<[string, Row[], number, string, string]> = [
      [
        'metrics_scalar',
        [{ run_id: 'r', step: 1, metric_name: 'loss', value: 1, extra: 2 }],
        0,
        'extra',
        'is not in the metrics_scalar schema',
      ],
      [
        'geometry_state',
        [state, { ...state, layer: 40_000 }],
        1,
        'layer',
        'schema says SMALLINT: 40000 is outside -32768..32767',
      ],
      ['geometry_state', [{ ...state, step: '10' }], 0, 'step', 'schema says BIGINT: "10" is not an integer'],
      [
        'geometry_state',
        [{ ...state, effective_rank: 'high' }],
        0,
        'effective_rank',
        'schema says DOUBLE: "high" is not a number',
      ],
      [
        'metrics_scalar',
        [{ run_id: 'r', step: 1, metric_name: 'loss', value: 1, split: 'test' }],
        0,
        'split',
        '"test" is not a valid split (train, val, probe)',
      ],
      [
        'events',
        [{ ...(SQUIGGLE_SAMPLE_ROWS.events?.[0] as Row), module: 'mlp' }],
        0,
        'module',
        '"mlp" is not a valid module',
      ],
      [
        'events',
        [{ ...(SQUIGGLE_SAMPLE_ROWS.events?.[1] as Row), event_type: 'explosion' }],
        0,
        'event_type',
        '"explosion" is not a valid event_type',
      ],
      ['geometry_state', [{ ...state, module: 'mlp' }], 0, 'module', '"mlp" is not a valid module'],
      ['metrics_scalar', [{ run_id: 'r', step: 1, value: 1 }], 0, 'metric_name', 'null in a non-null column'],
      ['geometry_state', [{ ...state, run_id: null }], 0, 'run_id', 'partition key is missing'],
      ['signatures', [signature, { ...signature, dim: 5 }], 1, 'vector, dim', 'fails check vector_length'],
      [
        'embeddings',
        [
          {
            ...(SQUIGGLE_SAMPLE_ROWS.embeddings?.[0] as Row),
            shard_ref: { store: 's', sample_id: 'x', field: 'f', row: 0 },
          },
        ],
        0,
        'vector, shard_ref',
        'exactly one of vector and shard_ref is set',
      ],
      [
        'matches',
        [{ ...(SQUIGGLE_SAMPLE_ROWS.matches?.[0] as Row), alignment: { path_length: 3, lag: 1 } }],
        0,
        'alignment',
        'field "lag" is not one of path_length, band, max_deviation, query_offset',
      ],
      [
        'embeddings',
        [{ ...(SQUIGGLE_SAMPLE_ROWS.embeddings?.[0] as Row), vector: new Int32Array(3) }],
        0,
        'vector',
        'a Int32Array cannot hold FLOAT items',
      ],
      [
        'samples',
        [{ sample_set: 'fixed_v1', sample_id: '*', split: 'probe' }],
        0,
        'sample_id',
        'fails check sample_id_not_reserved',
      ],
    ];
    await withSquiggleLake(dir, async (lake) => {
      for (const [dataset, rows, rowIndex, columnName, reason] of cases) {
        const error = await lake.write(dataset, rows).catch((e: unknown) => e);
        expect(error, `${dataset} ${columnName}`).toBeInstanceOf(RowValidationError);
        const { rowIndex: actualRow, column: actualColumn, message } = error as RowValidationError;
        expect([actualRow, actualColumn], message).toEqual([rowIndex, columnName]);
        expect(message).toContain(reason);
        expect(message).toContain(`${dataset}: row ${rowIndex}, column "${columnName}"`);
      }
      const unknown = await lake.write('nope', [{ a: 1 }]).catch((e: unknown) => e);
      expect(String(unknown)).toContain('has no dataset "nope" to write');
    });
    expect(listFiles(dir)).toEqual([]);
  });

  it('extends event_type through the registry, and the lake remembers registered values', async () => {
    const dir = tempDir();
    const row = { ...(SQUIGGLE_SAMPLE_ROWS.events?.[1] as Row), event_type: 'grokking_test' };
    await withSquiggleLake(dir, async (lake) => {
      await expect(lake.write('events', [row])).rejects.toThrow(/"grokking_test" is not a valid event_type/);
      registerEventType('grokking_test', 'validation accuracy jumps long after training accuracy');
      await lake.write('events', [row]);
      // A value recorded in the lake only (never registered in this process) is accepted too.
      await lake.registerEnumValue('event_type', 'loss_spike', 'loss jumps by more than 3σ');
      await lake.write('events', [{ ...row, event_type: 'loss_spike', event_id: 'e3' }]);
      await expect(lake.registerEnumValue('split', 'test', 'x')).rejects.toThrow(EnumValueError);
      expect(await lake.query("SELECT count(*) AS n FROM events WHERE event_type = 'grokking_test'")).toEqual(
        [{ n: 1 }],
      );
    });
    const recorded = await readLakeEnumValues(lakePaths(dir), 'event_type');
    expect([...recorded.keys()].sort()).toEqual(['grokking_test', 'loss_spike']);
    expect(recorded.get('grokking_test')).toBe('validation accuracy jumps long after training accuracy');
    expect((await validateLake(dir)).ok).toBe(true);
  });

  it('keeps sweep and Squiggle datasets in separate lakes (both seeds name a dataset "events")', async () => {
    const squiggle = tempDir();
    await withSquiggleLake(squiggle, (lake) => lake.write('runs', [{ run_id: 'r1' }]));
    expect(JSON.parse(readFileSync(path.join(squiggle, '.runlake', 'lake.json'), 'utf8'))).toEqual({
      format: 1,
      schema: 'squiggle',
    });
    const params = { algo: 'sgd', grid_id: undefined };
    delete params.grid_id;
    const refused = await writeEventRows([{ seed: 1, step: 1 }], squiggle, params).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LakeSchemaError);
    expect(String(refused)).toContain('this is a "squiggle" lake');
    expect(visibleFiles(squiggle).some((f) => f.startsWith('events/'))).toBe(false);

    const sweep = tempDir();
    await writeEventRows([{ seed: 1, step: 1 }], sweep, { algo: 'sgd' });
    await expect(openLake(sweep, { schema: 'squiggle' })).rejects.toThrow(
      /is a "sweep" lake, not a "squiggle" one/,
    );
    const lake = await openLake(sweep);
    try {
      expect(lake.schemaSet.name).toBe('sweep');
      await expect(lake.write('runs', [{ run_id: 'r1' }])).rejects.toThrow(/has no dataset "runs"/);
    } finally {
      lake.close();
    }
  });
});

const py = pythonWith(['pyarrow']);

describe.skipIf(py.skip)('Squiggle datasets read back in Python (pyarrow)', () => {
  it('gives pyarrow the declared Arrow types and the same values', async () => {
    if (!py.available) throw new Error(py.reason);
    const dir = tempDir();
    await withSquiggleLake(dir, async (lake) => {
      for (const name of ['geometry_state', 'signatures', 'embeddings', 'events']) {
        await lake.write(name, SQUIGGLE_SAMPLE_ROWS[name] as Row[]);
      }
    });
    const read = (dataset: string) =>
      JSON.parse(runPython('read_squiggle.py', [path.join(dir, dataset)])) as {
        schema: Record<string, string>;
        rows: Record<string, unknown>[];
      };
    const state = read('geometry_state');
    expect(state.schema).toMatchObject({
      step: 'int64',
      layer: 'int16',
      n_samples: 'int32',
      effective_rank: 'double',
      top_eigenvalues: 'list<element: double>',
      run_id: 'string',
      module: 'string',
    });
    expect(state.rows.find((r) => r.module === 'resid_post')).toMatchObject({
      run_id: 'run-a',
      sample_set: 'fixed_v1',
      layer: 6,
      effective_rank: 41.5,
      top_eigenvalues: [40.5, 20.25, 10.125],
    });
    const signatures = read('signatures');
    expect(signatures.schema).toMatchObject({
      vector: 'list<element: float>',
      event_tokens: 'list<element: string>',
    });
    const aggregate = signatures.rows.find((r) => r.signature_id === 'run-a/all');
    expect(aggregate).toMatchObject({
      layer: null,
      module: null,
      sample_id: null,
      vector: [1.5, -1.5],
      event_tokens: [],
    });
    const embeddings = read('embeddings');
    expect(embeddings.schema.shard_ref).toBe(
      'struct<store: string, sample_id: string, field: string, row: int64>',
    );
    expect(embeddings.rows.find((r) => r.sample_id === 's0001')?.vector).toEqual(
      [0.1, 0.2, 0.3].map((v) => Math.fround(v)),
    );
    const events = read('events');
    expect(events.rows.find((r) => r.event_id === 'e2')).toMatchObject({
      event_type: 'phase_shift',
      layer: null,
      module: null,
      sample_id: null,
    });
  });
});

describe('partition values from the write options', () => {
  it('checks and records enum values given as partition defaults, as for values in the rows', async () => {
    const dir = tempDir();
    const row = {
      run_id: 'r1',
      event_id: 'e1',
      step: 1,
      sample_set: 'fixed_v1',
      detector: 'd/v1',
      magnitude: 1,
      confidence: 1,
    };
    await withSquiggleLake(dir, async (lake) => {
      const refused = await lake
        .write('events', [row], { partitionDefaults: { event_type: 'explosion' } })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RowValidationError);
      expect(String(refused)).toContain('row 0, column "event_type": "explosion" is not a valid event_type');
      registerEventType('defaulted_type', 'an event type given as a partition default');
      await lake.write('events', [row], { partitionDefaults: { event_type: 'defaulted_type' } });
      expect(await lake.query('SELECT event_type, event_id FROM events')).toEqual([
        { event_type: 'defaulted_type', event_id: 'e1' },
      ]);
    });
    expect([...(await readLakeEnumValues(lakePaths(dir), 'event_type')).keys()]).toEqual(['defaulted_type']);
  });
});
