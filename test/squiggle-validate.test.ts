import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openLake, type Violation, validateLake } from '../src/index.js';
import { copyToParquet, runlake } from './helpers/cli.js';
import { tempDir } from './helpers/lake-fixtures.js';

/** Writes `select` as a plain (uncompressed-by-runlake) Parquet file at `<lake>/<relative>`. */
async function plant(lake: string, relative: string, select: string): Promise<void> {
  const target = path.join(lake, relative);
  mkdirSync(path.dirname(target), { recursive: true });
  await copyToParquet(select, target);
}

/** Good rows in every dataset the bad files sit beside. */
async function writeGoodRows(dir: string): Promise<void> {
  const lake = await openLake(dir, { schema: 'squiggle' });
  try {
    await lake.write('checkpoints', [
      { run_id: 'r1', step: 0, train_loss: 4.1 },
      { run_id: 'r1', step: 100, train_loss: 3.2 },
    ]);
    await lake.write('metrics_scalar', [
      { run_id: 'r1', step: 10, metric_name: 'loss', value: 3.5, split: 'train' },
      { run_id: 'r1', step: 10, metric_name: 'loss', value: 3.9, split: 'val' },
    ]);
    await lake.write('geometry_state', [
      {
        run_id: 'r1',
        sample_set: 'fixed_v1',
        module: 'resid_post',
        step: 100,
        sample_id: '*',
        layer: 3,
        n_samples: 64,
        dim: 32,
        effective_rank: 12.5,
      },
    ]);
    await lake.write('events', [
      {
        run_id: 'r1',
        event_type: 'rank_collapse',
        event_id: 'e1',
        step: 300,
        sample_set: 'fixed_v1',
        layer: 4,
        module: 'resid_post',
        detector: 'rank_collapse/v1',
        magnitude: 0.4,
        confidence: 0.9,
      },
      {
        run_id: 'r1',
        event_type: 'phase_shift',
        event_id: 'e2',
        step: 500,
        sample_set: 'fixed_v1',
        layer: null,
        module: null,
        detector: 'phase/v1',
        magnitude: 1.2,
        confidence: 0.5,
      },
    ]);
    await lake.write('signatures', [
      {
        run_id: 'r1',
        signature_id: 's1',
        sample_set: 'fixed_v1',
        layer: 2,
        module: 'mlp_out',
        descriptor_set: 'effective_rank',
        method: 'paa4-z',
        grid: 'fraction',
        dim: 3,
        vector: [0.5, -1, 0.25],
        event_tokens: ['rank_collapse'],
      },
    ]);
  } finally {
    lake.close();
  }
}

// Columns every planted file shares, so each carries exactly one problem.
const SIGNATURE_COLUMNS =
  "'fixed_v1' AS sample_set, CAST(2 AS SMALLINT) AS layer, 'mlp_out' AS module, NULL::VARCHAR AS sample_id, " +
  "'effective_rank' AS descriptor_set, 'paa4-z' AS method, 'fraction' AS grid";
const EVENT_COLUMNS =
  "'e' || i AS event_id, CAST(100 * i AS BIGINT) AS step, 'fixed_v1' AS sample_set, CAST(1 AS SMALLINT) AS layer, " +
  "'attn_out' AS module, 'det/v1' AS detector, 0.5::DOUBLE AS magnitude";

const FILES = {
  type: 'geometry_state/run_id=r1/sample_set=fixed_v1/module=resid_post/bad-type.parquet',
  enumColumn: 'metrics_scalar/run_id=r1/bad-split.parquet',
  enumPartition: 'events/run_id=r1/event_type=explosion/bad-event-type.parquet',
  nullKey: 'checkpoints/run_id=r1/null-step.parquet',
  storedKey: 'signatures/run_id=r2/stored-run-id.parquet',
  unknownColumn: 'checkpoints/run_id=r1/extra-column.parquet',
  missingColumn: 'checkpoints/run_id=r1/missing-step.parquet',
  outsideLayout: 'signatures/oops/x.parquet',
  garbage: 'signatures/run_id=r1/garbage.parquet',
  vectorCheck: 'signatures/run_id=r1/bad-vector.parquet',
  confidenceCheck: 'events/run_id=r1/event_type=rank_collapse/bad-confidence.parquet',
} as const;

async function plantBadFiles(dir: string): Promise<void> {
  // layer as BIGINT where the schema says SMALLINT.
  await plant(
    dir,
    FILES.type,
    "SELECT CAST(200 AS BIGINT) AS step, '*' AS sample_id, CAST(5 AS BIGINT) AS layer, " +
      'CAST(8 AS INTEGER) AS n_samples, CAST(16 AS INTEGER) AS dim',
  );
  // split = 'test' in rows 2, 4, 5, 6, 7, 8, 9 (7 of 10 rows).
  await plant(
    dir,
    FILES.enumColumn,
    "SELECT CAST(i AS BIGINT) AS step, 'loss' AS metric_name, i::DOUBLE AS value, " +
      "CASE WHEN i IN (0, 1, 3) THEN 'train' ELSE 'test' END AS split FROM range(10) t(i) ORDER BY i",
  );
  // A healthy row in an event_type directory outside the domain.
  await plant(
    dir,
    FILES.enumPartition,
    `SELECT ${EVENT_COLUMNS}, 0.7::DOUBLE AS confidence FROM range(1, 3) t(i) ORDER BY i`,
  );
  // step NULL in row 2 of 4.
  await plant(
    dir,
    FILES.nullKey,
    'SELECT CASE WHEN i = 2 THEN NULL ELSE CAST(i AS BIGINT) END AS step, 1.0::DOUBLE AS train_loss ' +
      'FROM range(4) t(i) ORDER BY i',
  );
  // A run_id column stored in the file, r9 in row 1 under run_id=r2/.
  await plant(
    dir,
    FILES.storedKey,
    `SELECT CASE WHEN i = 1 THEN 'r9' ELSE 'r2' END AS run_id, 'sig' || i AS signature_id, ${SIGNATURE_COLUMNS}, ` +
      'CAST(2 AS INTEGER) AS dim, [0.1, 0.2]::FLOAT[] AS vector, []::VARCHAR[] AS event_tokens ' +
      'FROM range(3) t(i) ORDER BY i',
  );
  await plant(dir, FILES.unknownColumn, "SELECT CAST(5 AS BIGINT) AS step, 'surprise' AS bogus_column");
  await plant(dir, FILES.missingColumn, 'SELECT 2.5::DOUBLE AS train_loss');
  await plant(
    dir,
    FILES.outsideLayout,
    `SELECT 'sx' AS signature_id, ${SIGNATURE_COLUMNS}, CAST(1 AS INTEGER) AS dim, [1.0]::FLOAT[] AS vector, ` +
      '[]::VARCHAR[] AS event_tokens',
  );
  mkdirSync(path.dirname(path.join(dir, FILES.garbage)), { recursive: true });
  writeFileSync(path.join(dir, FILES.garbage), Buffer.from('this is not parquet at all, just some bytes\n'));
  // len(vector) <> dim in rows 1 and 3.
  await plant(
    dir,
    FILES.vectorCheck,
    `SELECT 'v' || i AS signature_id, ${SIGNATURE_COLUMNS}, CAST(3 AS INTEGER) AS dim, ` +
      'CASE WHEN i IN (1, 3) THEN [1.0, 2.0]::FLOAT[] ELSE [1.0, 2.0, 3.0]::FLOAT[] END AS vector, ' +
      "['phase_shift']::VARCHAR[] AS event_tokens FROM range(4) t(i) ORDER BY i",
  );
  // confidence 1.5 in row 0 only.
  await plant(
    dir,
    FILES.confidenceCheck,
    `SELECT ${EVENT_COLUMNS}, CASE WHEN i = 1 THEN 1.5 ELSE 0.25 END::DOUBLE AS confidence ` +
      'FROM range(1, 4) t(i) ORDER BY i',
  );
}

function only(violations: readonly Violation[], file: string): Violation[] {
  return violations.filter((v) => v.file === file);
}

describe('validateLake over a squiggle lake', () => {
  let clean: string;
  let bad: string;
  beforeAll(async () => {
    const root = tempDir('runlake-sq-validate-');
    clean = path.join(root, 'clean');
    bad = path.join(root, 'bad');
    await writeGoodRows(clean);
    await writeGoodRows(bad);
    await plantBadFiles(bad);
  });

  it('reports ok for a lake written with lake.write', async () => {
    const report = await validateLake(clean);
    expect(report.schemaSet).toBe('squiggle');
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.datasets.map((d) => d.dataset)).toEqual(
      expect.arrayContaining(['checkpoints', 'metrics_scalar', 'geometry_state', 'events', 'signatures']),
    );
    const counts = Object.fromEntries(report.datasets.map((d) => [d.dataset, d]));
    expect(counts.checkpoints).toMatchObject({ typed: true, files: 1, rows: 2, violations: 0 });
    expect(counts.events).toMatchObject({ files: 2, rows: 2, violations: 0 });
    expect(counts.signatures).toMatchObject({ files: 1, rows: 1, violations: 0 });
  });

  describe('a lake with planted bad files', () => {
    let violations: readonly Violation[];
    let ok: boolean;
    beforeAll(async () => {
      const report = await validateLake(bad);
      violations = report.violations;
      ok = report.ok;
    });

    it('is not ok, and every violation names a planted file (never a file lake.write wrote)', () => {
      expect(ok).toBe(false);
      const planted = new Set<string>(Object.values(FILES));
      for (const v of violations) expect(planted, JSON.stringify(v)).toContain(v.file);
      // Every planted file is reported.
      expect(new Set(violations.map((v) => v.file))).toEqual(planted);
    });

    it('reports a column whose type drifted from the schema, at no row', () => {
      expect(only(violations, FILES.type)).toEqual([
        {
          dataset: 'geometry_state',
          file: FILES.type,
          row: null,
          column: 'layer',
          kind: 'type',
          message: 'the file holds BIGINT, the schema says SMALLINT',
          rowsAffected: 1,
        },
      ]);
    });

    it('reports a stored value outside a closed enum, at its first row, counting the rest', () => {
      const found = only(violations, FILES.enumColumn);
      expect(found.map((v) => v.row)).toEqual([2, 4, 5, 6, 7]); // rowsPerRule defaults to 5
      expect(found.map((v) => v.rowsAffected)).toEqual([7, 0, 0, 0, 0]);
      for (const v of found) {
        expect(v).toMatchObject({ dataset: 'metrics_scalar', column: 'split', kind: 'enum' });
        expect(v.message).toBe('"test" is not a valid split (train, val, probe)');
      }
    });

    it('reports a partition directory value outside its enum', () => {
      const found = only(violations, FILES.enumPartition);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        dataset: 'events',
        row: null,
        column: 'event_type',
        kind: 'partition_value',
        rowsAffected: 1,
      });
      expect(found[0]?.message).toMatch(/^"explosion" is not a valid event_type \(rank_collapse, /);
      expect(found[0]?.message).toContain('stability_plateau');
    });

    it('reports a null in a non-null key column at its row', () => {
      expect(only(violations, FILES.nullKey)).toEqual([
        {
          dataset: 'checkpoints',
          file: FILES.nullKey,
          row: 2,
          column: 'step',
          kind: 'null',
          message: 'null in a non-null column',
          rowsAffected: 1,
        },
      ]);
    });

    it('reports a stored partition column that disagrees with its directory', () => {
      expect(only(violations, FILES.storedKey)).toEqual([
        {
          dataset: 'signatures',
          file: FILES.storedKey,
          row: 1,
          column: 'run_id',
          kind: 'partition_value',
          message: 'the row has run_id = r9 but its directory says r2',
          rowsAffected: 1,
        },
      ]);
    });

    it('reports a column the schema does not know', () => {
      expect(only(violations, FILES.unknownColumn)).toEqual([
        {
          dataset: 'checkpoints',
          file: FILES.unknownColumn,
          row: null,
          column: 'bogus_column',
          kind: 'unknown_column',
          message: 'column is not in the checkpoints schema',
          rowsAffected: 1,
        },
      ]);
    });

    it('reports a non-null column the file lacks', () => {
      expect(only(violations, FILES.missingColumn)).toEqual([
        {
          dataset: 'checkpoints',
          file: FILES.missingColumn,
          row: null,
          column: 'step',
          kind: 'missing_column',
          message: 'the file lacks this non-null column',
          rowsAffected: 1,
        },
      ]);
    });

    it('reports a file outside the partition layout', () => {
      const found = only(violations, FILES.outsideLayout);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        dataset: 'signatures',
        row: null,
        column: 'run_id',
        kind: 'partition_path',
        message: 'the file sits under oops, but signatures is partitioned as run_id=…',
      });
    });

    it('reports a .parquet file that cannot be read', () => {
      const found = only(violations, FILES.garbage);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        dataset: 'signatures',
        row: null,
        kind: 'unreadable',
        rowsAffected: 1,
      });
      expect(found[0]?.message).toMatch(/^cannot read the file: .+/);
    });

    it('reports failed row checks at their rows', () => {
      const vector = only(violations, FILES.vectorCheck);
      expect(vector.map((v) => [v.row, v.rowsAffected])).toEqual([
        [1, 2],
        [3, 0],
      ]);
      for (const v of vector) {
        expect(v).toMatchObject({ dataset: 'signatures', column: 'vector, dim', kind: 'check' });
        expect(v.message).toBe('fails check vector_length: vector has dim entries (len(vector) = dim)');
      }
      expect(only(violations, FILES.confidenceCheck)).toEqual([
        {
          dataset: 'events',
          file: FILES.confidenceCheck,
          row: 0,
          column: 'confidence',
          kind: 'check',
          message: 'fails check confidence_range: confidence lies in [0, 1] (confidence BETWEEN 0 AND 1)',
          rowsAffected: 1,
        },
      ]);
    });

    it('counts every affected row per dataset', async () => {
      const report = await validateLake(bad);
      const counts = Object.fromEntries(report.datasets.map((d) => [d.dataset, d.violations]));
      expect(counts).toMatchObject({
        geometry_state: 1,
        metrics_scalar: 7,
        // explosion directory + confidence check
        events: 2,
        // null step + unknown column + missing step
        checkpoints: 3,
        // stored run_id + outside layout + garbage + 2 short vectors
        signatures: 5,
      });
      const files = Object.fromEntries(report.datasets.map((d) => [d.dataset, d.files]));
      expect(files).toMatchObject({ checkpoints: 4, signatures: 5, events: 4, metrics_scalar: 2 });
    });
  });

  it('lists at most rowsPerRule rows per rule and file, and still counts them all', async () => {
    const report = await validateLake(bad, { rowsPerRule: 2, datasets: ['metrics_scalar'] });
    expect(report.datasets.map((d) => d.dataset)).toEqual(['metrics_scalar']);
    expect(report.violations.map((v) => [v.row, v.rowsAffected])).toEqual([
      [2, 7],
      [4, 0],
    ]);
    expect(report.datasets[0]?.violations).toBe(7);
    const one = await validateLake(bad, { rowsPerRule: 1, datasets: ['signatures'] });
    expect(only(one.violations, FILES.vectorCheck).map((v) => [v.row, v.rowsAffected])).toEqual([[1, 2]]);
  });

  it('checks only the datasets asked for', async () => {
    const report = await validateLake(bad, { datasets: ['geometry_state', 'runs'] });
    expect(report.datasets.map((d) => d.dataset).sort()).toEqual(['geometry_state', 'runs']);
    expect(report.violations.map((v) => v.file)).toEqual([FILES.type]);
    const clean = await validateLake(bad, { datasets: ['runs'] });
    expect(clean.ok).toBe(true);
  });
});

describe('runlake validate', () => {
  let clean: string;
  let bad: string;
  beforeAll(async () => {
    const root = tempDir('runlake-sq-validate-cli-');
    clean = path.join(root, 'clean');
    bad = path.join(root, 'bad');
    await writeGoodRows(clean);
    await writeGoodRows(bad);
    await plantBadFiles(bad);
  });

  it('prints an ok summary and exits 0 for a clean lake', () => {
    const result = runlake('validate', clean);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ok: 13 datasets \(squiggle schema\), 6 files, 8 rows, no violations$/);
    expect(result.stderr).toBe('');
  });

  it('lists violations on stdout and exits 1 with a one-line summary on stderr', () => {
    const result = runlake('validate', bad);
    expect(result.code).toBe(1);
    const lines = result.stdout.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^checked 13 datasets \(squiggle schema\), \d+ files, [\d,]+ rows$/);
    expect(lines).toContain(`${FILES.nullKey}: row 2, column "step": null in a non-null column [null]`);
    expect(lines).toContain(
      `${FILES.enumColumn}: row 2, column "split": "test" is not a valid split (train, val, probe) [enum] (7 rows in this file)`,
    );
    expect(lines).toContain(
      `${FILES.type}, column "layer": the file holds BIGINT, the schema says SMALLINT [type]`,
    );
    expect(lines).toContain(
      `${FILES.storedKey}: row 1, column "run_id": the row has run_id = r9 but its directory says r2 [partition_value]`,
    );
    expect(lines.some((l) => l.startsWith(`${FILES.garbage}, column "": cannot read the file:`))).toBe(true);
    // 1 + 7 + 2 + 3 + 5 violations in the 11 planted files.
    expect(result.stderr).toBe('runlake: 18 violations in 11 files\n');
  });

  it('honours --datasets and --rows-per-rule', () => {
    const result = runlake('validate', bad, '--datasets', 'metrics_scalar', '--rows-per-rule', '1');
    expect(result.code).toBe(1);
    const lines = result.stdout.trim().split('\n');
    expect(lines.filter((l) => l.includes('[enum]'))).toEqual([
      `${FILES.enumColumn}: row 2, column "split": "test" is not a valid split (train, val, probe) [enum] (7 rows in this file)`,
    ]);
    expect(lines.at(-1)).toMatch(/^checked 1 dataset \(squiggle schema\), 2 files, 12 rows$/);
    expect(result.stderr).toBe('runlake: 7 violations in 1 file\n');
  });

  it('prints a parseable report with --json', () => {
    const result = runlake('validate', bad, '--json');
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as {
      ok: boolean;
      schemaSet: string;
      violations: Violation[];
    };
    expect(report.ok).toBe(false);
    expect(report.schemaSet).toBe('squiggle');
    expect(report.violations).toContainEqual({
      dataset: 'events',
      file: FILES.confidenceCheck,
      row: 0,
      column: 'confidence',
      kind: 'check',
      message: 'fails check confidence_range: confidence lies in [0, 1] (confidence BETWEEN 0 AND 1)',
      rowsAffected: 1,
    });
    expect(new Set(report.violations.map((v) => v.kind))).toEqual(
      new Set([
        'type',
        'enum',
        'partition_value',
        'null',
        'unknown_column',
        'missing_column',
        'partition_path',
        'unreadable',
        'check',
      ]),
    );
    const okJson = runlake('validate', clean, '--json');
    expect(okJson.code).toBe(0);
    expect(JSON.parse(okJson.stdout)).toMatchObject({ ok: true, violations: [] });
  });

  it('refuses a lake directory that does not exist', () => {
    const missing = path.join(tempDir(), 'nope');
    const result = runlake('validate', missing);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`runlake: lake directory "${missing}" does not exist\n`);
  });
});

describe('values of an extensible domain recorded in the lake', () => {
  let dir: string;
  beforeAll(async () => {
    dir = path.join(tempDir('runlake-sq-enum-'), 'lake');
    await writeGoodRows(dir);
    const lake = await openLake(dir, { schema: 'squiggle' });
    try {
      await lake.registerEnumValue('event_type', 'grokking', 'validation accuracy jumps late in training');
      await lake.registerEnumValue('module', 'embed', 'token embeddings');
      // Through lake.write, which accepts the recorded value…
      await lake.write('events', [
        {
          run_id: 'r1',
          event_type: 'grokking',
          event_id: 'g1',
          step: 900,
          sample_set: 'fixed_v1',
          layer: 0,
          module: 'embed',
          detector: 'grok/v1',
          magnitude: 0.3,
          confidence: 0.8,
        },
      ]);
    } finally {
      lake.close();
    }
    // …and a file another tool wrote under the same directory value.
    await plant(
      dir,
      'events/run_id=r2/event_type=grokking/other-tool.parquet',
      `SELECT ${EVENT_COLUMNS.replace("'attn_out'", "'embed'")}, 0.6::DOUBLE AS confidence FROM range(2) t(i)`,
    );
  });

  it('are accepted by validateLake', async () => {
    const report = await validateLake(dir);
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.datasets.find((d) => d.dataset === 'events')).toMatchObject({ files: 4, rows: 5 });
  });

  it('are accepted by runlake validate in another process', () => {
    const result = runlake('validate', dir, '--datasets', 'events');
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ok: 1 dataset \(squiggle schema\), 4 files, 5 rows, no violations\n$/);
  });

  it('are still refused when not recorded in the lake', async () => {
    const other = path.join(tempDir('runlake-sq-enum-'), 'lake');
    await writeGoodRows(other);
    await plant(
      other,
      'events/run_id=r2/event_type=grokking/other-tool.parquet',
      `SELECT ${EVENT_COLUMNS}, 0.6::DOUBLE AS confidence FROM range(2) t(i)`,
    );
    const report = await validateLake(other);
    expect(report.violations).toHaveLength(1);
    expect(report.violations[0]).toMatchObject({
      file: 'events/run_id=r2/event_type=grokking/other-tool.parquet',
      column: 'event_type',
      kind: 'partition_value',
    });
    expect(report.violations[0]?.message).toMatch(/^"grokking" is not a valid event_type/);
  });
});

describe('partition layout edge cases', () => {
  let dir: string;
  let violations: readonly Violation[];
  const METRIC = "CAST(2 AS BIGINT) AS step, 'loss' AS metric_name, 1.5::DOUBLE AS value";
  beforeAll(async () => {
    dir = path.join(tempDir('runlake-sq-layout-'), 'lake');
    const lake = await openLake(dir, { schema: 'squiggle' });
    try {
      // Directory values runlake percent-encodes: a space, and the string "NULL".
      await lake.write('metrics_scalar', [
        { run_id: 'r 1', step: 1, metric_name: 'loss', value: 1 },
        { run_id: 'NULL', step: 1, metric_name: 'loss', value: 1 },
      ]);
    } finally {
      lake.close();
    }
    // Files that also store the (encoded) key, agreeing with their directories.
    await plant(dir, 'metrics_scalar/run_id=r%201/stored.parquet', `SELECT 'r 1' AS run_id, ${METRIC}`);
    await plant(dir, 'metrics_scalar/run_id=%4EULL/stored.parquet', `SELECT 'NULL' AS run_id, ${METRIC}`);
    await plant(dir, 'metrics_scalar/run_id=__HIVE_DEFAULT_PARTITION__/null-key.parquet', `SELECT ${METRIC}`);
    await plant(dir, 'metrics_scalar/at-root.parquet', `SELECT ${METRIC}`);
    await plant(
      dir,
      'events/run_id=r3/event_type=phase_shift/stored-type.parquet',
      `SELECT 'rank_collapse' AS event_type, ${EVENT_COLUMNS}, 0.5::DOUBLE AS confidence FROM range(1) t(i)`,
    );
    violations = (await validateLake(dir)).violations;
  });

  it('accepts stored keys that agree with percent-encoded directories', () => {
    expect(violations.filter((v) => v.file.endsWith('/stored.parquet'))).toEqual([]);
  });

  it('reports a null partition directory and a file at the dataset root', () => {
    expect(only(violations, 'metrics_scalar/run_id=__HIVE_DEFAULT_PARTITION__/null-key.parquet')).toEqual([
      {
        dataset: 'metrics_scalar',
        file: 'metrics_scalar/run_id=__HIVE_DEFAULT_PARTITION__/null-key.parquet',
        row: null,
        column: 'run_id',
        kind: 'partition_value',
        message: 'partition value is null (__HIVE_DEFAULT_PARTITION__); keys are never null',
        rowsAffected: 1,
      },
    ]);
    expect(only(violations, 'metrics_scalar/at-root.parquet')).toEqual([
      {
        dataset: 'metrics_scalar',
        file: 'metrics_scalar/at-root.parquet',
        row: null,
        column: 'run_id',
        kind: 'partition_path',
        message: 'the file sits under the dataset root, but metrics_scalar is partitioned as run_id=…',
        rowsAffected: 1,
      },
    ]);
  });

  it('reports a stored second-level key that disagrees with its directory', () => {
    expect(only(violations, 'events/run_id=r3/event_type=phase_shift/stored-type.parquet')).toEqual([
      {
        dataset: 'events',
        file: 'events/run_id=r3/event_type=phase_shift/stored-type.parquet',
        row: 0,
        column: 'event_type',
        kind: 'partition_value',
        message: 'the row has event_type = rank_collapse but its directory says phase_shift',
        rowsAffected: 1,
      },
    ]);
    expect(violations).toHaveLength(3);
  });
});

describe('validate: types other writers use', () => {
  it('reads DECIMAL as a floating column (a DuckDB literal like 1.0), but not VARCHAR', async () => {
    const dir = tempDir('runlake-sq-validate-decimal-');
    const event = (magnitude: string) =>
      `SELECT 'e9' AS event_id, 5::BIGINT AS step, 'fixed_v1' AS sample_set, 'd/v1' AS detector, ` +
      `${magnitude} AS magnitude, 0.5::DOUBLE AS confidence`;
    await plant(dir, 'events/run_id=r1/event_type=phase_shift/decimal.parquet', event('1.25'));
    const clean = await validateLake(dir, { schema: 'squiggle' });
    expect(clean.violations).toEqual([]);
    await plant(dir, 'events/run_id=r1/event_type=phase_shift/text.parquet', event("'1.25'"));
    const report = await validateLake(dir, { schema: 'squiggle' });
    expect(report.violations.map((v) => [v.file, v.column, v.kind, v.message])).toEqual([
      [
        'events/run_id=r1/event_type=phase_shift/text.parquet',
        'magnitude',
        'type',
        'the file holds VARCHAR, the schema says DOUBLE',
      ],
    ]);
  });
});
