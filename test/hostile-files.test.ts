/**
 * Hostile input files (issue 13, section 5): a ragged CSV, JSON nested tens of thousands of
 * levels deep, invalid UTF-8, a 20 MB string, a CSV cut mid-line. Every CLI case must end in a
 * non-zero exit (never a signal), exactly one stderr line naming the file, the line where there is
 * one, and the cause, and a lake (or output directory) byte-identical before and after
 * (`expectRefused`). The viewer's CSV parser is tested directly, as in web-viewer.test.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkJsonFile, MAX_JSON_ROW_BYTES } from '../src/ingest/json-file-check.js';
import { InvalidJsonError, MAX_JSON_DEPTH } from '../src/lake/index.js';
import { parseCsv } from '../web/src/viewer/parse-csv.js';
import { runlake } from './helpers/cli.js';
import { expectRefused, treeFingerprint } from './helpers/hostile.js';
import { tempDir } from './helpers/lake-fixtures.js';

// DuckDB's JSON reader segfaulted at 30,000 levels; recursive walkers overflowed from ~5,000.
const DEEP = 30_000;
const deepArray = (depth = DEEP) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const deepObject = (depth = DEEP) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const BAD_BYTE = Buffer.from([0xff]);

/** Writes `parts` (text or raw bytes) as one file, creating its directory. */
function write(file: string, ...parts: Array<string | Buffer>): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))));
  return file;
}

const sweepParams = { algo: 'memorypair', gamma_bar: 1 };
const GOOD_EVENTS = 'event_id,op,regret\n0,insert,0.5\n1,delete,0.25\n';

describe('runlake convert (CSV sweeps)', () => {
  let lake: string;
  beforeAll(() => {
    // A lake that already holds a converted sweep, so "unchanged" covers its ledger too.
    const sweep = tempDir();
    write(path.join(sweep, 'a', 'params.json'), JSON.stringify(sweepParams));
    write(path.join(sweep, 'a', 'seed_1.csv'), GOOD_EVENTS);
    lake = path.join(tempDir(), 'lake');
    const first = runlake('convert', sweep, lake);
    expect(first.code, first.stderr).toBe(0);
  });

  function sweepWith(
    files: Record<string, string | Buffer>,
    params: string | Buffer = JSON.stringify(sweepParams),
  ) {
    const sweep = tempDir();
    write(path.join(sweep, 'g', 'params.json'), params);
    for (const [name, content] of Object.entries(files)) write(path.join(sweep, 'g', name), content);
    return sweep;
  }

  it('refuses a ragged row (fewer fields) with the file and line, then converts it once fixed', () => {
    const sweep = sweepWith({ 'seed_2.csv': 'event_id,op,regret\n0,insert,0.5\n3,insert\n' });
    expectRefused(['convert', sweep, lake], {
      mentions: [path.join(sweep, 'g', 'seed_2.csv'), 'line 3', 'expected 3 fields like the header, found 2'],
      unchanged: [lake],
    });
    // The ledger did not mark the input done: the fixed file converts on the next run.
    write(path.join(sweep, 'g', 'seed_2.csv'), 'event_id,op,regret\n0,insert,0.5\n3,insert,0.1\n');
    const fixed = runlake('convert', sweep, lake);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.stdout).toContain('converted 1 input (2 rows, 1 file)');
    expect(fixed.stdout).toContain('skipped 0 already converted');
  });

  it('refuses a row with more fields than the header', () => {
    const sweep = sweepWith({ 'seed_2.csv': 'event_id,op,regret\n0,insert,0.5,extra\n' });
    expectRefused(['convert', sweep, lake], {
      mentions: ['seed_2.csv', 'line 2', 'expected 3 fields like the header, found 4'],
      unchanged: [lake],
    });
  });

  it('writes nothing when one ragged input sits among good ones (all inputs are checked first)', () => {
    const files: Record<string, string> = {};
    for (let seed = 1; seed <= 6; seed++) files[`seed_${seed}.csv`] = GOOD_EVENTS;
    files['seed_7.csv'] = 'event_id,op,regret\n0,insert,0.5\n3,insert\n';
    const sweep = sweepWith(files);
    const fresh = path.join(tempDir(), 'lake');
    expectRefused(['convert', sweep, fresh, '--jobs', '4'], {
      mentions: ['seed_7.csv', 'line 3'],
      unchanged: [fresh],
    });
    expect(treeFingerprint(fresh)).toEqual([]);
    expectRefused(['convert', sweep, lake, '--jobs', '4'], { mentions: ['seed_7.csv'], unchanged: [lake] });
  });

  it('refuses invalid UTF-8 in a CSV with the line', () => {
    const sweep = sweepWith({
      'seed_2.csv': Buffer.concat([
        Buffer.from('event_id,op,regret\n0,insert,0.5\n1,ins'),
        BAD_BYTE,
        Buffer.from('rt,0.1\n'),
      ]),
    });
    expectRefused(['convert', sweep, lake], {
      mentions: ['seed_2.csv', 'line 3', 'invalid UTF-8'],
      unchanged: [lake],
    });
  });

  it('refuses a params.json nested 30,000 levels deep, naming it', () => {
    const sweep = sweepWith({ 'seed_2.csv': GOOD_EVENTS }, `{"algo": "x", "net": ${deepArray()}}`);
    expectRefused(['convert', sweep, lake], {
      mentions: [path.join(sweep, 'g', 'params.json'), `at most ${MAX_JSON_DEPTH} levels`],
      unchanged: [lake],
    });
  });

  it('refuses invalid UTF-8 in a params.json with the line', () => {
    const params = Buffer.concat([Buffer.from('{\n"algo": "r'), BAD_BYTE, Buffer.from('1"\n}\n')]);
    const sweep = sweepWith({ 'seed_2.csv': GOOD_EVENTS }, params);
    expectRefused(['convert', sweep, lake], {
      mentions: ['params.json', 'line 2', 'invalid UTF-8'],
      unchanged: [lake],
    });
  });

  it('--dry-run refuses the same files', () => {
    const sweep = sweepWith({ 'seed_2.csv': 'event_id,op,regret\n3,insert\n' });
    expectRefused(['convert', sweep, lake, '--dry-run'], {
      mentions: ['seed_2.csv', 'line 2'],
      unchanged: [lake],
    });
  });
});

describe('runlake convert-file', () => {
  let dir: string;
  let out: string;
  beforeAll(() => {
    dir = tempDir();
    out = path.join(dir, 'out');
    // An earlier conversion sits in the output directory and must survive every refusal.
    write(path.join(dir, 'ok.csv'), 'a,b\n1,x\n');
    expect(runlake('convert-file', path.join(dir, 'ok.csv'), path.join(out, 'result.parquet')).code).toBe(0);
  });
  const target = () => path.join(out, 'result.parquet');

  it('refuses a ragged CSV with the line', () => {
    const input = write(path.join(dir, 'ragged.csv'), 'event_id,op,regret\n0,insert,0.5\n3,insert\n');
    expectRefused(['convert-file', input, target()], {
      mentions: ['ragged.csv', 'line 3'],
      unchanged: [out],
    });
  });

  it('refuses a JSON array nested 30,000 levels deep (was a segmentation fault), with the line', () => {
    const input = write(path.join(dir, 'deep.json'), `[\n{"a": 1},\n{"a": ${deepArray()}}\n]\n`);
    const line = expectRefused(['convert-file', input, target()], {
      mentions: ['deep.json', 'line 3', `JSON nested more than ${MAX_JSON_DEPTH} levels deep`],
      unchanged: [out],
    });
    expect(line.length).toBeLessThan(200); // was several KB at depths of 5k–20k
  });

  it('refuses deep objects in JSONL, and a million levels', () => {
    const jsonl = write(path.join(dir, 'deep.jsonl'), `{"a": 1}\n{"a": ${deepObject()}}\n`);
    expectRefused(['convert-file', jsonl, target()], {
      mentions: ['deep.jsonl', 'line 2'],
      unchanged: [out],
    });
    const million = write(path.join(dir, 'million.json'), `[{"a": ${deepArray(1_000_000)}}]`);
    expectRefused(['convert-file', million, target()], {
      mentions: ['million.json', 'line 1'],
      unchanged: [out],
    });
  });

  it('refuses invalid UTF-8 in JSONL and CSV with the line', () => {
    const jsonl = write(path.join(dir, 'bad.jsonl'), '{"run_id": "r0"}\n{"run_id": "r', BAD_BYTE, '1"}\n');
    expectRefused(['convert-file', jsonl, target()], {
      mentions: ['bad.jsonl', 'line 2', 'invalid UTF-8'],
      unchanged: [out],
    });
    const csv = write(path.join(dir, 'bad.csv'), 'run_id,v\nr0,1\nr', BAD_BYTE, '1,2\n');
    expectRefused(['convert-file', csv, target()], {
      mentions: ['bad.csv', 'line 3', 'invalid UTF-8'],
      unchanged: [out],
    });
  });

  it('converts nesting up to the limit', async () => {
    const input = write(path.join(dir, 'nested.jsonl'), `{"a": 1, "b": ${deepArray(100)}}\n`);
    const output = path.join(dir, 'nested.parquet');
    const result = runlake('convert-file', input, output);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('rows        1');
  });

  it('accepts rows above DuckDB’s 16 MB maximum_object_size (a 24 MiB string in an array, 17 MiB in JSONL)', async () => {
    const big = 'x'.repeat(24 * 1024 * 1024);
    const array = path.join(dir, 'big.json');
    await writeFile(array, `[{"id": 1, "s": "small"},\n{"id": 2, "s": "${big}"}]\n`);
    const jsonl = path.join(dir, 'big.jsonl');
    await writeFile(jsonl, `{"id": 1, "s": "${big.slice(0, 17 * 1024 * 1024)}"}\n{"id": 2, "s": "small"}\n`);
    for (const [input, length] of [
      [array, 24 * 1024 * 1024],
      [jsonl, 17 * 1024 * 1024],
    ] as const) {
      const output = `${input}.parquet`;
      const result = runlake('convert-file', input, output);
      expect(result.code, result.stderr).toBe(0);
      expect(await maxStringLength(output)).toBe(length);
    }
  }, 60_000);
});

async function maxStringLength(parquet: string): Promise<number> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(
      `SELECT max(length(s))::INTEGER FROM read_parquet('${parquet}')`,
    );
    return Number(reader.getRows()[0]?.[0]);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

describe('checkJsonFile (the pre-DuckDB scan)', () => {
  it('keeps a UTF-8 character split across its 1 MiB read boundary, and counts lines across chunks', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'edge.jsonl');
    // "é" (2 bytes) straddles byte 1,048,576; a bad byte then sits on line 4, past the boundary.
    const line1 = `{"s": "${'a'.repeat((1 << 20) - 8)}é"}\n`;
    await writeFile(file, `${line1}{"s": "ok"}\n`);
    expect(Buffer.byteLength(line1)).toBeGreaterThan(1 << 20);
    const shape = await checkJsonFile(file, 'edge.jsonl', 'lines');
    expect(shape.largestRowBytes).toBe(Buffer.byteLength(line1) - 1);
    expect(shape.deepest).toBe(1);
    await writeFile(file, Buffer.concat([Buffer.from(`${line1}{}\n{"s": "`), BAD_BYTE, Buffer.from('"}\n')]));
    await expect(checkJsonFile(file, 'edge.jsonl', 'lines')).rejects.toThrow(
      'edge.jsonl: line 3: invalid UTF-8',
    );
  });

  it('ignores brackets inside strings and reports the line where nesting passes the limit', async () => {
    const file = path.join(tempDir(), 'a.json');
    await writeFile(file, `[{"s": "[[[[[[\\"]]"},\n{"d": ${deepArray(MAX_JSON_DEPTH)}}]`);
    await expect(checkJsonFile(file, 'a.json', 'array')).rejects.toThrow(
      new InvalidJsonError(
        'a.json',
        `line 2: JSON nested more than ${MAX_JSON_DEPTH} levels deep; runlake reads at most ${MAX_JSON_DEPTH} levels`,
      ),
    );
    await writeFile(file, `[{"s": "[[[[[[\\"]]"},\n{"d": ${deepArray(MAX_JSON_DEPTH - 2)}}]`);
    expect((await checkJsonFile(file, 'a.json', 'array')).deepest).toBe(MAX_JSON_DEPTH);
  });

  it('refuses a row larger than the row limit, naming its line and row', async () => {
    const file = path.join(tempDir(), 'huge.jsonl');
    await writeFile(file, `{"s": "small"}\n\n{"s": "${'x'.repeat(3 << 20)}"}\n`);
    await expect(checkJsonFile(file, 'huge.jsonl', 'lines', { maxRowBytes: 2 << 20 })).rejects.toThrow(
      'huge.jsonl: line 3, row 1: the row is 3.0 MiB; runlake reads JSON rows of at most 2.0 MiB',
    );
    expect((await checkJsonFile(file, 'huge.jsonl', 'lines')).largestRowBytes).toBe((3 << 20) + 9);
    expect(MAX_JSON_ROW_BYTES).toBe(512 * 1024 * 1024);
  });
});

describe('runlake import, ingest wandb, ingest qa', () => {
  let lake: string;
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
    lake = path.join(tempDir(), 'lake');
    const seed = write(
      path.join(dir, 'seed.jsonl'),
      '{"run_id": "r0", "step": 0, "metric_name": "loss", "value": 1.5}\n',
    );
    const result = runlake('import', lake, 'metrics_scalar', seed);
    expect(result.code, result.stderr).toBe(0);
  });
  const metric = (run: string, step: number) =>
    `{"run_id": "${run}", "step": ${step}, "metric_name": "loss", "value": 0.5}`;

  it('import: a deep extra column in JSONL', () => {
    const file = write(
      path.join(dir, 'deep.jsonl'),
      `${metric('r1', 0)}\n{"run_id": "r1", "step": 1, "extra": ${deepArray()}}\n`,
    );
    expectRefused(['import', lake, 'metrics_scalar', file], {
      mentions: ['deep.jsonl', 'line 2', `at most ${MAX_JSON_DEPTH} levels`],
      unchanged: [lake],
    });
  });

  it('import: a deep JSON array file', () => {
    const file = write(path.join(dir, 'deep.json'), `[${metric('r1', 0)}, {"x": ${deepObject()}}]`);
    expectRefused(['import', lake, 'metrics_scalar', file], {
      mentions: ['deep.json', 'nested'],
      unchanged: [lake],
    });
  });

  it('import: invalid UTF-8 in JSONL (was silently run_id=r%EF%BF%BD1)', () => {
    const file = write(
      path.join(dir, 'bad.jsonl'),
      `${metric('r1', 0)}\n{"run_id": "r`,
      BAD_BYTE,
      '1", "step": 1, "metric_name": "loss", "value": 1}\n',
    );
    expectRefused(['import', lake, 'metrics_scalar', file], {
      mentions: ['bad.jsonl', 'line 2', 'invalid UTF-8'],
      unchanged: [lake],
    });
  });

  it('import: a ragged CSV and invalid UTF-8 in a CSV name the line', () => {
    const ragged = write(
      path.join(dir, 'ragged.csv'),
      'run_id,step,metric_name,value\nr1,0,loss,0.5\nr1,1,loss\n',
    );
    expectRefused(['import', lake, 'metrics_scalar', ragged], {
      mentions: ['ragged.csv', 'line 3', 'expected 4 fields like the header, found 3'],
      unchanged: [lake],
    });
    const bad = write(
      path.join(dir, 'bad.csv'),
      'run_id,step,metric_name,value\nr',
      BAD_BYTE,
      '1,0,loss,0.5\n',
    );
    expectRefused(['import', lake, 'metrics_scalar', bad], {
      mentions: ['bad.csv', 'line 2', 'invalid UTF-8'],
      unchanged: [lake],
    });
  });

  it('ingest wandb: deep history, with and without Python NaN tokens', () => {
    const history = (extra: string) =>
      `{"run_id": "r1", "_step": 0, "loss": 1.0}\n{"run_id": "r1", "_step": 1, "loss": ${extra}}\n`;
    const deep = write(path.join(dir, 'w1', 'runs_history.jsonl'), history(deepArray()));
    expectRefused(['ingest', 'wandb', deep, lake], {
      mentions: ['runs_history.jsonl', 'line 2', `JSON nested more than ${MAX_JSON_DEPTH} levels deep`],
      unchanged: [lake],
    });
    const nan = write(path.join(dir, 'w2', 'runs_history.jsonl'), history(`NaN, "x": ${deepObject()}`));
    expectRefused(['ingest', 'wandb', nan, lake], {
      mentions: ['runs_history.jsonl', 'line 2', 'column'],
      unchanged: [lake],
    });
  });

  it('ingest wandb: a deep config in a metadata .json', () => {
    const file = write(
      path.join(dir, 'w3', 'runs_metadata.json'),
      `[\n{"run_id": "r1", "config": ${deepObject()}}\n]`,
    );
    expectRefused(['ingest', 'wandb', file, lake], {
      mentions: ['runs_metadata.json', 'line 2', 'nested'],
      unchanged: [lake],
    });
  });

  it('ingest wandb: invalid UTF-8 in a run id (was partition run_id=r%EF%BF%BD1)', () => {
    const file = write(
      path.join(dir, 'w4', 'runs_history.jsonl'),
      '{"run_id": "r0", "_step": 0, "loss": 1}\n{"run_id": "r',
      BAD_BYTE,
      '1", "_step": 0, "loss": 1}\n',
    );
    expectRefused(['ingest', 'wandb', file, lake], {
      mentions: ['runs_history.jsonl', 'line 2', 'invalid UTF-8'],
      unchanged: [lake],
    });
  });

  it('ingest qa: a deep field and invalid UTF-8', () => {
    const record = (id: string) => `{"run_id": "r1", "instance_id": "${id}", "prediction": "a"`;
    const deep = write(
      path.join(dir, 'qa1', 'arc_easy-predictions.jsonl'),
      `${record('q1')}}\n${record('q2')}, "scores": ${deepObject()}}\n`,
    );
    expectRefused(['ingest', 'qa', deep, lake], {
      mentions: ['arc_easy-predictions.jsonl', 'line 2', `at most ${MAX_JSON_DEPTH} levels`],
      unchanged: [lake],
    });
    const bad = write(
      path.join(dir, 'qa2', 'arc_easy-predictions.jsonl'),
      `${record('q1')}}\n{"run_id": "r`,
      BAD_BYTE,
      '1", "instance_id": "q2"}\n',
    );
    expectRefused(['ingest', 'qa', bad, lake], {
      mentions: ['arc_easy-predictions.jsonl', 'line 2', 'invalid UTF-8'],
      unchanged: [lake],
    });
  });

  it('a fresh lake path stays absent when the first import is refused', () => {
    const fresh = path.join(tempDir(), 'never');
    const file = write(path.join(dir, 'bad2.jsonl'), '{"run_id": "r', BAD_BYTE, '1"}\n');
    expectRefused(['import', fresh, 'metrics_scalar', file], {
      mentions: ['bad2.jsonl', 'line 1'],
      unchanged: [fresh],
    });
    expect(treeFingerprint(fresh)).toEqual([]);
  });
});

describe('viewer CSV parser: a file cut mid-line', () => {
  it('refuses a last line that ends inside a number, with no line break (a trailing "3." was read as 3)', () => {
    expect(() => parseCsv('step,loss\n1,0.25\n2,3.', 'cut.csv')).toThrow(
      'cut.csv: line 3: the file is truncated: it ends mid-line, in the number "3." of column "loss", with no line break after it',
    );
    for (const cut of ['1e', '1e-', '-', '.', '+2.']) {
      expect(() => parseCsv(`step,loss\n1,0.25\n2,${cut}`, 'cut.csv'), cut).toThrow('the file is truncated');
    }
  });

  it('refuses a last line with fewer fields than the header and no line break', () => {
    expect(() => parseCsv('a,b,c\n1,2,3\n4,5', 'short.csv')).toThrow(
      "short.csv: line 3: the file is truncated: it ends mid-line, after 2 of the header's 3 fields",
    );
  });

  it('says the same whatever the chunking', async () => {
    const { CsvParser } = await import('../web/src/viewer/parse-csv.js');
    const csv = 'step,loss\n1,0.25\n2,3.';
    for (let size = 1; size <= csv.length; size++) {
      const parser = new CsvParser('cut.csv');
      for (let i = 0; i < csv.length; i += size) parser.push(csv.slice(i, i + size));
      expect(() => parser.finish(), `chunk size ${size}`).toThrow('line 3: the file is truncated');
    }
  });

  it('still reads a complete last line without a line break, and the same text where it is text', () => {
    expect(parseCsv('step,loss\n1,0.25\n2,3.5', 'ok.csv').numRows).toBe(2);
    expect(parseCsv('step,tag\n1,x\n2,-', 'text.csv').numRows).toBe(2); // "-" in a text column
    expect(parseCsv('step,loss\n1,0.25\n2,"3."', 'quoted.csv').numRows).toBe(2); // quoted: complete
    expect(parseCsv('step,loss\n1,0.25\n2,3.\n', 'newline.csv').numRows).toBe(2); // the line ended
  });
});
