// Issue 13, section 6: every refusal names the thing at fault (a file, a row, a path, a missing
// argument) on one line, exits non-zero without crashing, and leaves the lake as it was.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../src/lake/atomic-file.js';
import { FileSystemError, openLake, validateLake, writeEventRows, writeSeedRows } from '../src/lake/index.js';
import '../src/schema/index.js';
import { runlake } from './helpers/cli.js';
import { expectRefused, treeFingerprint } from './helpers/hostile.js';
import { repoRoot, tempDir } from './helpers/lake-fixtures.js';

const QA_FILE = path.join(repoRoot, 'test', 'fixtures', 'qa', 'generic-outputs.jsonl');
const WANDB_FILE = path.join(repoRoot, 'test', 'fixtures', 'wandb', 'runs_history.parquet');
const DATADECIDE_FILE = path.join(repoRoot, 'test', 'fixtures', 'datadecide', 'eval-results-00000.parquet');
const PARAMS = { algo: 'memorypair', gamma_bar: 1, accountant: 'zcdp' };

let root: string;
let sweepTemplate: string;
let squiggleTemplate: string;
let inputs: string;
let gridId: string;

/** A fresh copy of a template lake, to corrupt. */
function copyOf(template: string): string {
  const dir = path.join(tempDir('runlake-hostile-'), 'lake');
  cpSync(template, dir, { recursive: true });
  return dir;
}

beforeAll(async () => {
  root = tempDir('runlake-hostile-fixtures-');
  sweepTemplate = path.join(root, 'sweep');
  const events = Array.from({ length: 20 }, (_, i) => ({ event_id: i, op: 'insert', regret: i / 10 }));
  const written = await writeEventRows(events, sweepTemplate, { ...PARAMS, seed: 1 });
  gridId = written.gridId;
  await writeSeedRows([{ final_regret: 0.5 }], sweepTemplate, { ...PARAMS, seed: 1 });

  squiggleTemplate = path.join(root, 'squiggle');
  const lake = await openLake(squiggleTemplate, { schema: 'squiggle' });
  try {
    await lake.write('runs', [{ run_id: 'r1' }]);
    await lake.write('metrics_scalar', [{ run_id: 'r1', step: 1, metric_name: 'loss', value: 2.5 }]);
  } finally {
    lake.close();
  }

  inputs = path.join(root, 'inputs');
  mkdirSync(path.join(inputs, 'sweep', 'g1'), { recursive: true });
  writeFileSync(path.join(inputs, 'sweep', 'g1', 'params.json'), JSON.stringify({ ...PARAMS, lr: 0.5 }));
  writeFileSync(path.join(inputs, 'sweep', 'g1', 'seed_1.csv'), 'event_id,op,regret\n1,insert,0.5\n');
  writeFileSync(
    path.join(inputs, 'metrics.jsonl'),
    `${JSON.stringify({ run_id: 'r2', step: 1, metric_name: 'loss', value: 1 })}\n`,
  );
  writeFileSync(path.join(inputs, 'events.jsonl'), `${JSON.stringify({ event_id: 9, regret: 0.1 })}\n`);
});

// --- 1. corrupt metadata, across every command that opens a lake -------------------------------

type Corruption = {
  readonly name: string;
  readonly kind: 'sweep' | 'squiggle';
  readonly template: () => string;
  /** Corrupts the copy; returns the file to be named (relative to the lake). */
  readonly apply: (lake: string) => string;
};

const GARBAGE = 'garbage{\n';
const CORRUPTIONS: readonly Corruption[] = [
  {
    name: 'lake.json that is not JSON',
    kind: 'sweep',
    template: () => sweepTemplate,
    apply: (lake) => {
      writeFileSync(path.join(lake, '.runlake', 'lake.json'), GARBAGE);
      return path.join('.runlake', 'lake.json');
    },
  },
  {
    name: 'lake.json that is JSON but not a lake configuration',
    kind: 'squiggle',
    template: () => squiggleTemplate,
    apply: (lake) => {
      writeFileSync(path.join(lake, '.runlake', 'lake.json'), '[1, 2]\n');
      return path.join('.runlake', 'lake.json');
    },
  },
  {
    name: 'a dataset manifest that is not JSON',
    kind: 'squiggle',
    template: () => squiggleTemplate,
    apply: (lake) => {
      writeFileSync(path.join(lake, '.runlake', 'datasets', 'metrics_scalar.json'), GARBAGE);
      return path.join('.runlake', 'datasets', 'metrics_scalar.json');
    },
  },
  {
    name: 'a sweep manifest that is JSON of another shape',
    kind: 'sweep',
    template: () => sweepTemplate,
    apply: (lake) => {
      writeFileSync(
        path.join(lake, '.runlake', 'datasets', 'events.json'),
        '{"format": 1, "dataset": "events"}',
      );
      return path.join('.runlake', 'datasets', 'events.json');
    },
  },
  {
    name: 'a params.json that is not JSON',
    kind: 'sweep',
    template: () => sweepTemplate,
    apply: (lake) => {
      writeFileSync(path.join(lake, 'grids', `grid_id=${gridId}`, 'params.json'), GARBAGE);
      return path.join('grids', `grid_id=${gridId}`, 'params.json');
    },
  },
  {
    // exp_engine writes the raw params there: readers take them as the params of the grid the
    // directory names (commits-interop.test.ts). In a lake of runlake's scheme validate names the
    // file; in one of exp_engine's it checks that the params hash to the id (exp-engine-lakes.test.ts).
    name: 'a params.json holding raw params (exp_engine style)',
    kind: 'sweep',
    template: () => sweepTemplate,
    apply: (lake) => {
      writeFileSync(path.join(lake, 'grids', `grid_id=${gridId}`, 'params.json'), JSON.stringify(PARAMS));
      return path.join('grids', `grid_id=${gridId}`, 'params.json');
    },
  },
];

// Every command that opens a lake, as argv with the lake in it.
const COMMANDS: ReadonlyArray<readonly [string, (lake: string) => string[]]> = [
  ['info', (lake) => ['info', lake]],
  ['query', (lake) => ['query', lake, '--sql', 'SELECT 1 AS one']],
  ['query grids', (lake) => ['query', lake, 'grids']],
  ['validate', (lake) => ['validate', lake]],
  ['import', (lake) => ['import', lake, 'events', path.join(inputs, 'events.jsonl')]],
  ['convert', (lake) => ['convert', path.join(inputs, 'sweep'), lake, '--no-progress']],
  ['ingest qa', (lake) => ['ingest', 'qa', QA_FILE, lake]],
  ['ingest wandb', (lake) => ['ingest', 'wandb', WANDB_FILE, lake, '--run-id', 'r9']],
  ['ingest datadecide', (lake) => ['ingest', 'datadecide', DATADECIDE_FILE, lake]],
  ['analyze', (lake) => ['analyze', lake, '--no-progress']],
  ['match', (lake) => ['match', lake, '--run', 'r1']],
  ['enum', (lake) => ['enum', lake]],
];

// Which commands reach the broken file. Every command reads lake.json first. Past it, a command
// that refuses the lake for another reason first is left out: `ingest wandb` into a sweep lake
// and `convert` into a Squiggle lake (wrong schema set), and `convert` for params.json (it reads
// only the params of the grids it writes).
function reads(corruption: Corruption, command: string): boolean {
  if (corruption.name.startsWith('lake.json')) return true;
  if (corruption.name.includes('raw params')) return command === 'validate';
  if (command === 'ingest wandb' && corruption.kind === 'sweep') return false;
  if (command === 'convert') return corruption.kind === 'sweep' && !corruption.name.includes('params.json');
  return true;
}

describe('corrupt metadata is named by every command, and nothing is written', () => {
  for (const corruption of CORRUPTIONS) {
    for (const [command, argv] of COMMANDS) {
      if (!reads(corruption, command)) continue;
      it(`${command}: ${corruption.name}`, () => {
        const lake = copyOf(corruption.template());
        const file = corruption.apply(lake);
        if (command === 'validate') {
          // validate reports files relative to the lake; the causes are listed on stdout.
          expectRefused(argv(lake), { mentions: [`broken metadata: ${file}`], unchanged: [lake] });
          expect(runlake(...argv(lake)).stdout).toMatch(/: (not valid JSON \(|not a runlake ).*\[metadata\]/);
          return;
        }
        const line = expectRefused(argv(lake), { mentions: [path.join(lake, file)], unchanged: [lake] });
        expect(line).toMatch(/: (not valid JSON \(|not a runlake )/);
        expect(line).not.toMatch(/Cannot convert undefined/);
      });
    }
  }

  it('validate lists each broken metadata file with its cause and exits 1', () => {
    const lake = copyOf(sweepTemplate);
    writeFileSync(path.join(lake, 'grids', `grid_id=${gridId}`, 'params.json'), GARBAGE);
    writeFileSync(path.join(lake, '.runlake', 'datasets', 'seeds.json'), '{"format": 2}');
    const result = runlake('validate', lake);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`grids/grid_id=${gridId}/params.json: not valid JSON`);
    expect(result.stdout).toContain('.runlake/datasets/seeds.json: not a runlake dataset manifest');
    expect(result.stderr).toMatch(/^runlake: 2 violations in 2 files; broken metadata: /);
  });

  it('validate catches a params.json edited after it was written (hash mismatch)', async () => {
    const lake = copyOf(sweepTemplate);
    const file = path.join(lake, 'grids', `grid_id=${gridId}`, 'params.json');
    const record = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(file, 'utf8')));
    record.params.gamma_bar = 2;
    writeFileSync(file, JSON.stringify(record));
    const report = await validateLake(lake);
    expect(report.ok).toBe(false);
    expect(report.violations).toEqual([
      expect.objectContaining({ kind: 'metadata', file: `grids/grid_id=${gridId}/params.json` }),
    ]);
    expect(report.violations[0]?.message).toMatch(/hash to .*not to the recorded params_hash/);
  });

  it('validate says a clean lake is clean (metadata included)', async () => {
    const report = await validateLake(sweepTemplate);
    expect(report.ok).toBe(true);
    expect(report.metadataFiles).toBeGreaterThanOrEqual(4); // lake.json, 2 manifests, 1 params.json
  });
});

// --- 2. broken part files, file-system errors ----------------------------------------------------

describe('broken part files and file-system errors are named', () => {
  function firstPart(lake: string, dataset: string): string {
    const files = readdirSync(path.join(lake, dataset), { recursive: true, encoding: 'utf8' });
    const part = files.find((f) => f.endsWith('.parquet'));
    if (!part) throw new Error('no part file');
    return path.join(lake, dataset, part);
  }

  for (const [name, damage] of [
    ['truncated', (file: string) => truncateSync(file, 100)],
    ['empty', (file: string) => truncateSync(file, 0)],
    ['not Parquet', (file: string) => writeFileSync(file, 'plain text, not parquet\n')],
  ] as const) {
    for (const args of [['info'], ['query'], ['query', '--sql', 'SELECT count(*) FROM events']]) {
      it(`${args.join(' ')}: a ${name} part file is named, rc 1`, () => {
        const lake = copyOf(sweepTemplate);
        const part = firstPart(lake, 'events');
        damage(part);
        const [command, ...rest] = args;
        expectRefused([command as string, lake, ...rest], {
          mentions: [path.basename(part), 'truncated or not a Parquet file'],
          unchanged: [lake],
        });
        expect(runlake(command as string, lake, ...rest).code).toBe(1);
      });
    }
  }

  it('validate reports a truncated part file as unreadable, naming the cause', () => {
    const lake = copyOf(sweepTemplate);
    const part = firstPart(lake, 'events');
    truncateSync(part, 100);
    const result = runlake('validate', lake);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/cannot read the file: truncated or not a Parquet file .*\[unreadable\]/);
  });

  it('a lake path that is a file: read and write commands name it', () => {
    const file = path.join(tempDir(), 'not-a-lake');
    writeFileSync(file, 'x');
    expectRefused(['info', file], { mentions: [file, 'is not a directory'] });
    expectRefused(['ingest', 'qa', QA_FILE, file], { mentions: [file, 'is a file, not a lake directory'] });
    expectRefused(['import', file, 'metrics_scalar', path.join(inputs, 'metrics.jsonl')], {
      mentions: [file, 'ENOTDIR'],
    });
  });

  // Real full and read-only disks need a mount (root); skipped with the reason otherwise.
  const canMount = process.getuid?.() === 0 && tryMount();
  function tryMount(): boolean {
    const probe = tempDir('runlake-mount-probe-');
    const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe]).status === 0;
    if (ok) spawnSync('umount', [probe]);
    return ok;
  }
  const mounts: string[] = [];
  afterAll(() => {
    for (const mount of mounts) spawnSync('umount', ['-l', mount]);
  });
  function smallDisk(sizeKb: number): string {
    const mount = tempDir('runlake-tmpfs-');
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', mount]).status).toBe(0);
    mounts.push(mount);
    return mount;
  }
  function fill(mount: string): void {
    // Fill every free block; dd stops at ENOSPC.
    spawnSync('dd', ['if=/dev/zero', `of=${path.join(mount, 'fill')}`, 'bs=4k']);
  }

  it.skipIf(!canMount)('ingest qa on a full disk: ENOSPC named, no temp file left, lake unchanged', () => {
    const mount = smallDisk(4096);
    const lake = path.join(mount, 'lake');
    cpSync(squiggleTemplate, lake, { recursive: true });
    fill(mount);
    expectRefused(['ingest', 'qa', QA_FILE, lake], {
      mentions: ['the disk is full (ENOSPC)', lake],
      unchanged: [lake],
    });
    const leftovers = readdirSync(lake, { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.includes('.tmp'),
    );
    expect(leftovers).toEqual([]);
  });

  it.skipIf(!canMount)(
    'writeFileAtomic on a full disk removes its temp file and names the file',
    async () => {
      const mount = smallDisk(64);
      fill(mount);
      const target = path.join(mount, 'datasets', 'qa_outputs.json');
      rmSync(path.join(mount, 'fill'), { force: true });
      mkdirSync(path.dirname(target));
      writeFileSync(path.join(mount, 'fill'), Buffer.alloc(60 * 1024 - 8192)); // leave less than the write
      const error = await writeFileAtomic(target, 'x'.repeat(64 * 1024)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FileSystemError);
      expect((error as FileSystemError).code).toBe('ENOSPC');
      expect((error as Error).message).toContain(`${path.dirname(target)}${path.sep}.qa_outputs.json.`);
      expect(readdirSync(path.dirname(target))).toEqual([]);
    },
  );

  it.skipIf(!canMount)('a read-only file system: EROFS named, lake unchanged', () => {
    const mount = smallDisk(4096);
    const lake = path.join(mount, 'lake');
    cpSync(squiggleTemplate, lake, { recursive: true });
    expect(spawnSync('mount', ['-o', 'remount,ro', mount]).status).toBe(0);
    const before = treeFingerprint(lake);
    expectRefused(['ingest', 'qa', QA_FILE, lake], { mentions: ['the file system is read-only (EROFS)'] });
    expectRefused(['import', lake, 'metrics_scalar', path.join(inputs, 'metrics.jsonl')], {
      mentions: ['the file system is read-only (EROFS)'],
    });
    expect(treeFingerprint(lake)).toEqual(before);
    // Reading still works on a read-only lake.
    expect(runlake('info', lake).code).toBe(0);
  });
});

// --- 3. usage errors for ingest without a lake ----------------------------------------------------

describe('ingest without the lake argument prints a usage error', () => {
  for (const [source, input] of [
    ['wandb', WANDB_FILE],
    ['qa', QA_FILE],
    ['datadecide', DATADECIDE_FILE],
  ] as const) {
    it(`ingest ${source} <file>`, () => {
      const result = runlake('ingest', source, input);
      expect(result.code).toBe(1);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^error: missing required argument 'lake'/);
      expect(existsSync(input)).toBe(true);
    });
  }

  it('a CommanderError thrown by any action is printed, never swallowed', () => {
    const result = runlake('ingest', 'wandb');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/error: missing required argument/);
  });
});

// --- 4. SQL errors: DuckDB's hints kept, read-only refusals, errors in the user's text ------------

describe('SQL errors keep what the user needs', () => {
  it('an unknown column names DuckDB candidate bindings and where', () => {
    const line = expectRefused(['query', sweepTemplate, 'events', '--where', 'regrett < 1'], {
      mentions: ['Candidate bindings', 'regret', /at line 1, column \d+ near "regrett/],
      unchanged: [sweepTemplate],
    });
    expect(line).toMatch(/^runlake: SQL error: Binder Error/);
  });

  for (const [sql, type] of [
    ['DROP TABLE runs', 'DROP'],
    ['DROP VIEW events', 'DROP'],
    ["COPY events TO '/tmp/runlake-hostile-copy.csv'", 'COPY'],
    ['CREATE TABLE t AS SELECT 1', 'CREATE'],
    ['INSERT INTO events VALUES (1)', 'INSERT'],
    ['EXPLAIN ANALYZE SELECT 1', 'EXPLAIN'],
    ['PRAGMA version', 'PRAGMA'],
    ['SET threads = 1', 'SET'],
  ] as const) {
    it(`--sql "${sql}" is refused as read-only (${type})`, () => {
      expectRefused(['query', sweepTemplate, '--sql', sql], {
        mentions: [`read-only: runlake query runs SELECT statements only; got ${type}`],
        unchanged: [sweepTemplate],
      });
    });
  }

  it('two statements are refused', () => {
    expectRefused(['query', sweepTemplate, '--sql', 'SELECT 1; SELECT 2'], {
      mentions: ['one statement at a time; got 2'],
    });
  });

  it('a syntax error in --sql points into the SQL, not into a wrapper', () => {
    const line = expectRefused(['query', sweepTemplate, '--sql', 'SELECT * FROM events WHERE'], {
      mentions: ['syntax error at end of input', 'at line 1, column 27'],
    });
    expect(line).not.toContain('LIMIT');
  });

  it('a bad --where reports the error in the user text, not near LIMIT', () => {
    const line = expectRefused(['query', sweepTemplate, 'events', '--where', 'regret <'], {
      mentions: ['--where', 'syntax error at end of input', 'column 9'],
    });
    expect(line).not.toContain('LIMIT');
  });

  it('--where cannot carry a second statement', () => {
    expectRefused(['query', sweepTemplate, 'events', '--where', '1=1; DROP VIEW events'], {
      mentions: ['--where'],
      unchanged: [sweepTemplate],
    });
  });

  it('a bad --order-by is reported in the user text', () => {
    expectRefused(['query', sweepTemplate, 'events', '--order-by', 'regret,'], {
      mentions: ['--order-by', 'syntax error'],
    });
  });

  it('--limit applies without wrapping the SQL, and says when rows were left', () => {
    const limited = runlake(
      'query',
      sweepTemplate,
      '--sql',
      'SELECT * FROM range(10)',
      '--limit',
      '3',
      '-f',
      'csv',
    );
    expect(limited.code, limited.stderr).toBe(0);
    expect(limited.stdout.trim().split('\n')).toHaveLength(4);
    const table = runlake('query', sweepTemplate, '--sql', 'SELECT * FROM range(150)');
    expect(table.stdout).toContain('(100 rows; first 100 shown, use --limit to see more)');
    const exact = runlake('query', sweepTemplate, '--sql', 'SELECT * FROM range(100)');
    expect(exact.stdout).toContain('(100 rows)\n');
  });
});

// --- 5. partition errors name the file and the row -------------------------------------------------

describe('partition errors name the file and the row', () => {
  it('import: a run id too long for a directory name', () => {
    const lake = copyOf(squiggleTemplate);
    const file = path.join(tempDir(), 'long-run.jsonl');
    const rows = [
      { run_id: 'r1', step: 1, metric_name: 'loss', value: 1 },
      { run_id: 'r'.repeat(300), step: 1, metric_name: 'loss', value: 1 },
    ];
    writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n'));
    expectRefused(['import', lake, 'metrics_scalar', file], {
      mentions: [file, 'row 1', '"run_id"', '255 bytes'],
      unchanged: [lake],
    });
  });

  it('import: a NUL character in a partition value of a CSV', () => {
    const lake = copyOf(squiggleTemplate);
    const file = path.join(tempDir(), 'nul.csv');
    writeFileSync(file, 'run_id,step,metric_name,value\nr1,1,loss,1\nr\u00002,1,loss,1\n');
    expectRefused(['import', lake, 'metrics_scalar', file], {
      mentions: [file, 'row 1', '"run_id"'],
      unchanged: [lake],
    });
  });

  it('convert: a null seed names the CSV and the row', () => {
    const lake = copyOf(sweepTemplate);
    const dir = path.join(tempDir(), 'sweep');
    mkdirSync(path.join(dir, 'g1'), { recursive: true });
    writeFileSync(path.join(dir, 'g1', 'params.json'), JSON.stringify(PARAMS));
    writeFileSync(path.join(dir, 'g1', 'runs.csv'), 'seed,event_id,regret\n1,1,0.5\n1,2,0.4\n,3,0.3\n');
    expectRefused(['convert', dir, lake, '--no-progress'], {
      mentions: ['runs.csv', '"seed"', 'first row 2'],
      unchanged: [lake],
    });
  });
});

// --- 6. paths that are not lakes ------------------------------------------------------------------

describe('read commands refuse a path that is not a lake', () => {
  for (const command of ['info', 'query', 'validate', 'analyze', 'enum']) {
    it(`${command} <lake>/metrics_scalar suggests the lake`, () => {
      const lake = copyOf(squiggleTemplate);
      const sub = path.join(lake, 'metrics_scalar');
      expectRefused([command, sub], {
        mentions: [`${sub} is not a runlake lake`, `did you mean ${lake}?`],
        unchanged: [lake],
      });
    });
  }

  it('a partition folder deep inside a lake suggests the lake', () => {
    const lake = copyOf(sweepTemplate);
    const partition = path.join(lake, 'events', `grid_id=${gridId}`);
    expectRefused(['info', partition], { mentions: [`did you mean ${lake}?`] });
  });

  it('an empty directory is refused by read commands but a write command creates a lake there', () => {
    const empty = tempDir('runlake-empty-');
    for (const command of ['info', 'query', 'validate']) {
      expectRefused([command, empty], {
        mentions: [`${empty} is not a runlake lake`, 'the directory is empty'],
        unchanged: [empty],
      });
    }
    const imported = runlake('import', empty, 'metrics_scalar', path.join(inputs, 'metrics.jsonl'));
    expect(imported.code, imported.stderr).toBe(0);
    expect(runlake('info', empty).code).toBe(0);
  });

  it('an exp_engine lake without .runlake/ still opens (events/ and grids/ folders)', () => {
    const lake = copyOf(sweepTemplate);
    rmSync(path.join(lake, '.runlake'), { recursive: true });
    const result = runlake('info', lake);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('events/');
  });

  it('a lake another tool wrote (dataset folders of Parquet only) opens', () => {
    const lake = copyOf(squiggleTemplate);
    rmSync(path.join(lake, '.runlake'), { recursive: true });
    const result = runlake('query', lake, '--sql', 'SELECT count(*) AS n FROM metrics_scalar', '-f', 'csv');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('n\n1\n');
  });
});
