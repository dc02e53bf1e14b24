import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { gridHash } from '../src/index.js';
import { RUNLAKE_BIN, runlake } from './helpers/cli.js';
import { tempDir, visibleFiles } from './helpers/lake-fixtures.js';

describe('runlake CLI', () => {
  let lake: string;
  beforeAll(() => {
    lake = path.join(tempDir(), 'demo');
    const demo = runlake('demo', '--out', lake, '--seeds', '2', '--events', '500');
    expect(demo.code, demo.stderr).toBe(0);
    expect(demo.stdout).toContain('wrote 8 grids × 2 seeds × 500 events = 8,000 event rows');
    expect(demo.stdout).toContain('Try next:');
  });

  it('has --help for every command', () => {
    for (const command of [[], ['query'], ['info'], ['convert'], ['rollup'], ['demo']]) {
      const result = runlake(...command, '--help');
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: runlake/);
    }
    expect(runlake('rollup', '--help').stdout).toMatch(/^Usage: runlake rollup/);
  });

  it('info reports grids, seeds, rows, files, bytes, columns and partition columns', () => {
    const text = runlake('info', lake);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('grids: 8 parameter sets');
    expect(text.stdout).toContain('rows: 8,000   files: 16');
    expect(text.stdout).toContain('partition columns: grid_id VARCHAR, seed BIGINT');
    expect(text.stdout).toMatch(/regret\s+DOUBLE/);
    // A lake runlake wrote: its own scheme, recorded by its first write; exp_engine's views.
    expect(text.stdout).toContain('grid ids: runlake (recorded: ');
    expect(text.stdout).toContain('views: events_summary, seeds_summary, seeds_from_events, events_workload');
    const json = JSON.parse(runlake('info', lake, '--json').stdout);
    const events = json.datasets.find((d: { name: string }) => d.name === 'events');
    expect(events).toMatchObject({
      rows: 8000,
      files: 16,
      partitions: 16,
      distinct: { grid_id: 8, seed: 2 },
    });
    expect(events.bytes).toBeGreaterThan(0);
    expect(json.grids).toBe(8);
    expect(json.gridIdScheme).toMatchObject({ scheme: 'runlake', source: 'recorded' });
  });

  it('query filters a dataset in every format', () => {
    const table = runlake('query', lake, 'events', '--where', "op = 'delete'", '--limit', '3');
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('(3 rows)');
    const csv = runlake(
      'query',
      lake,
      'seeds',
      '--where',
      'seed = 1',
      '--format',
      'csv',
      '--columns',
      'grid_id,seed',
    );
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).toBe('grid_id,seed');
    expect(lines).toHaveLength(9);
    const json = JSON.parse(runlake('query', lake, 'grids', '--format', 'json').stdout);
    expect(json).toHaveLength(8);
    expect(json[0]).toHaveProperty('params_json');
    const jsonl = runlake('query', lake, '--sql', 'SELECT 1 AS a UNION ALL SELECT 2', '--format', 'jsonl');
    expect(jsonl.stdout).toBe('{"a":1}\n{"a":2}\n');
    const out = path.join(tempDir(), 'seeds.parquet');
    const parquet = runlake('query', lake, 'seeds', '--format', 'parquet', '--out', out);
    expect(parquet.code, parquet.stderr).toBe(0);
    expect(parquet.stderr).toContain('wrote 16 rows');
    expect(readFileSync(out).subarray(0, 4).toString()).toBe('PAR1');
  });

  it('query --sql runs arbitrary SQL over the views', () => {
    const result = runlake(
      'query',
      lake,
      '--sql',
      'SELECT g.algo, count(*) AS n FROM events e JOIN grids g USING (grid_id) GROUP BY 1 ORDER BY 1',
      '--format',
      'csv',
    );
    expect(result.stdout).toBe('algo,n\nmemorypair,4000\nsgd_baseline,4000\n');
  });

  it('errors exit non-zero with one line naming the cause, and a stack only with --verbose', () => {
    const cases: Array<[string[], RegExp]> = [
      [['query', path.join(lake, 'nope')], /lake directory ".*nope" does not exist/],
      [['query', lake, 'nope'], /no dataset "nope"/],
      [['query', lake, '--where', 'nonexistent > 1'], /SQL error: Binder Error: .*nonexistent/],
      [['query', lake, 'seeds', '--format', 'parquet'], /--format parquet needs --out/],
      [['query', lake, '--sql', 'SELECT 1', '--where', 'x'], /cannot be combined/],
      [['convert', path.join(lake, 'nope'), lake], /does not exist/],
    ];
    for (const [args, message] of cases) {
      const result = runlake(...args);
      expect(result.code, args.join(' ')).not.toBe(0);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^runlake: /);
      expect(lines[0]).toMatch(message);
    }
    const verbose = runlake('--verbose', 'query', lake, 'nope');
    expect(verbose.code).not.toBe(0);
    expect(verbose.stderr).toMatch(/\n\s+at /);
    const usage = runlake('query', lake, '--limit', '-1');
    expect(usage.code).not.toBe(0);
    expect(usage.stderr).toContain("argument '-1' is invalid");
    expect(runlake('bogus').code).not.toBe(0);
  });

  it('demo refuses to overwrite a directory that is not a demo lake', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'precious.txt'), 'keep me');
    const result = runlake('demo', '--out', dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is not a demo lake');
    expect(readFileSync(path.join(dir, 'precious.txt'), 'utf8')).toBe('keep me');
  });
});

describe('runlake convert', () => {
  function makeSweep(): string {
    const dir = tempDir();
    const grid = (name: string, params: object, files: Record<string, string>) => {
      mkdirSync(path.join(dir, name), { recursive: true });
      writeFileSync(path.join(dir, name, 'params.json'), JSON.stringify(params));
      for (const [file, text] of Object.entries(files)) writeFileSync(path.join(dir, name, file), text);
    };
    grid(
      'a',
      { algo: 'memorypair', gamma_bar: 1.0 },
      {
        'seed_1.csv': 'event_id,op,regret\n0,insert,0.5\n1,delete,0.25\n',
        'seed_2.csv': 'event_id,op,regret\n0,insert,0.4\n1,delete,0.2\n',
      },
    );
    grid('b', { algo: 'sgd', gamma_bar: 0.5, seed: 7 }, { 'run.csv': 'event_id,op,regret\n0,insert,0.9\n' });
    return dir;
  }

  it('plans with --dry-run and writes nothing', () => {
    const sweep = makeSweep();
    const lake = path.join(tempDir(), 'lake');
    const result = runlake('convert', sweep, lake, '--dry-run');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('would convert 3 inputs (5 rows)');
    expect(result.stdout).toContain(gridHash({ algo: 'memorypair', gamma_bar: 1 }));
    expect(visibleFiles(lake)).toEqual([]);
  });

  it('converts incrementally: a second run skips what was converted; rollup adds the seed summaries', () => {
    const sweep = makeSweep();
    const lake = path.join(tempDir(), 'lake');
    const first = runlake('convert', sweep, lake, '--granularity', 'event', '--jobs', '3');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('converted 3 inputs (5 rows, 3 files)');
    const again = runlake('rollup', sweep, lake);
    // The events are in the ledger; the seed summaries are new (their own ledger identity).
    expect(again.stdout).toContain('converted 3 inputs (3 rows, 3 files) into');
    expect(again.stdout).toMatch(
      /converted 0 inputs \(0 rows, 0 files\) into .* events\/; skipped 3 already converted/,
    );
    // A new input is picked up; the old ones stay skipped.
    writeFileSync(path.join(sweep, 'a', 'seed_3.csv'), 'event_id,op,regret\n0,insert,0.3\n');
    const third = runlake('convert', sweep, lake);
    expect(third.stdout).toContain('converted 1 input (1 row, 1 file)');
    expect(third.stdout).toContain('skipped 3');
    const rows = runlake(
      'query',
      lake,
      '--sql',
      'SELECT seed, count(*) AS n FROM events GROUP BY 1 ORDER BY 1',
      '--format',
      'csv',
    );
    expect(rows.stdout).toBe('seed,n\n1,2\n2,2\n3,1\n7,1\n');
  });

  it('takes params from columns, one grid per distinct combination, into seeds/', () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, 'summary.csv'),
      'algo,gamma_bar,seed,avg_regret\nx,1,1,0.1\nx,1,2,0.2\ny,0.5,1,0.3\n',
    );
    const lake = path.join(tempDir(), 'lake');
    const result = runlake(
      'convert',
      dir,
      lake,
      '--granularity',
      'seed',
      '--param-columns',
      'algo,gamma_bar',
    );
    expect(result.code, result.stderr).toBe(0);
    const rows = runlake(
      'query',
      lake,
      '--sql',
      'SELECT g.algo, s.seed, s.avg_regret FROM seeds s JOIN grids g USING (grid_id) ORDER BY 1, 2',
      '--format',
      'csv',
    );
    expect(rows.stdout).toBe('algo,seed,avg_regret\nx,1,0.1\nx,2,0.2\ny,1,0.3\n');
  });

  it('names the file and the cause when an input cannot be converted', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'orphan.csv'), 'a,b\n1,2\n');
    const lake = path.join(tempDir(), 'lake');
    // No params anywhere: exp_engine's defaults apply, but a seed is still needed.
    const noParams = runlake('convert', dir, lake);
    expect(noParams.code).toBe(1);
    expect(noParams.stderr).toMatch(/orphan\.csv: no seed column, no seed in params\.json/);
    writeFileSync(path.join(dir, 'params.json'), '{"algo": "x"}');
    const noSeed = runlake('convert', dir, lake);
    expect(noSeed.code).toBe(1);
    expect(noSeed.stderr).toMatch(/orphan\.csv: no seed column, no seed in params\.json/);
    // A seed column with a gap and no default to fill it.
    writeFileSync(path.join(dir, 'orphan.csv'), 'seed,b\n1,2\n,3\n');
    const nullSeed = runlake('convert', dir, lake);
    expect(nullSeed.code).toBe(1);
    expect(nullSeed.stderr).toMatch(/orphan\.csv: events: column "seed": partition key is null in 1 row,/);
    writeFileSync(path.join(dir, 'orphan.csv'), 'seed,b\nfirst,2\n');
    const textSeed = runlake('convert', dir, lake);
    expect(textSeed.stderr).toMatch(
      /orphan\.csv: events: column "seed": holds VARCHAR, but partition key "seed" needs BIGINT/,
    );
    writeFileSync(path.join(dir, 'orphan.csv'), 'seed,grid_id\n1,ffffffff\n');
    const wrongGrid = runlake('convert', dir, lake);
    expect(wrongGrid.stderr).toMatch(/column "grid_id": 1 row disagrees with grid_id=/);
    writeFileSync(path.join(dir, 'params.json'), '{"algo": ');
    const badJson = runlake('convert', dir, lake);
    expect(badJson.stderr).toMatch(/params\.json: is not valid JSON/);
    expect(visibleFiles(lake)).toEqual([]);
  });
});

describe('runlake convert progress', () => {
  it('draws a progress bar on a terminal and none when piped', () => {
    const sweep = tempDir();
    for (const seed of [1, 2, 3]) {
      writeFileSync(path.join(sweep, `seed_${seed}.csv`), `step,loss\n0,${seed}\n`);
    }
    writeFileSync(path.join(sweep, 'params.json'), '{"lr": 0.1}');
    const lake = path.join(tempDir(), 'lake');
    // `script` runs the command on a pseudo-terminal, as a user's shell would.
    const tty = spawnSync(
      'script',
      ['-qec', `"${process.execPath}" "${RUNLAKE_BIN}" convert "${sweep}" "${lake}"`, '/dev/null'],
      {
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(tty.status, tty.stderr).toBe(0);
    expect(tty.stdout).toContain('converting [');
    expect(tty.stdout).toContain('3/3 inputs');
    const piped = runlake('convert', sweep, path.join(tempDir(), 'lake2'));
    expect(piped.stderr).not.toContain('converting [');
    expect(piped.stdout).toContain('converted 3 inputs');
  });
});

describe('runlake CLI output into a closed pipe', () => {
  it('exits quietly when the reader stops early (… | head), without a stack trace', () => {
    const lake = path.join(tempDir(), 'lake');
    cpSync(path.join('test', 'fixtures', 'qa', 'lake-v1'), lake, { recursive: true });
    // `head -c 100` closes the pipe long before 300,000 CSV rows are written: the next write
    // gets EPIPE, which a CLI treats as the reader's choice to stop.
    const result = spawnSync(
      'bash',
      [
        '-c',
        `node ${JSON.stringify(RUNLAKE_BIN)} query ${JSON.stringify(lake)} --sql "SELECT * FROM range(300000)" --format csv | head -c 100 >/dev/null; echo "exit=\${PIPESTATUS[0]}" >&2`,
      ],
      { encoding: 'utf8' },
    );
    expect(result.stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(result.stderr).toMatch(/exit=0/);
  });
});
