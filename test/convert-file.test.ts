/**
 * `runlake convert-file` / `convertFile`: golden conversions of the fixtures in
 * test/fixtures/convert-file (JSON array, JSONL, CSV), the size and precision contract of
 * `--float32 auto --round 4`, a pyarrow read-back of the values, and every bad input (truncated
 * JSON, malformed CSV row, type flips in JSON, JSONL and CSV), each refused with the file and line
 * and leaving nothing at the output path.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSV_TYPE_SAMPLE_ROWS, convertFile } from '../src/ingest/index.js';
import { readParquetToArrow } from '../src/ingest/parquet-arrow.js';
import { runlake } from './helpers/cli.js';
import { pythonWith } from './helpers/python.js';

const FIXTURES = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'convert-file');
const fixture = (name: string) => path.join(FIXTURES, name);
const py = pythonWith(['pyarrow']);
if (py.skip) console.warn(`[convert-file.test] skipping the pyarrow read-back: ${py.reason}`);

type Row = Record<string, unknown>;

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runlake-convert-file-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh empty output directory. */
function outDir(name: string): string {
  const target = path.join(dir, name);
  fs.mkdirSync(target, { recursive: true });
  return target;
}

/** Rows like the seed's mask_impact output: 36 layers x 2 variants x `tokens` tokens per step. */
function maskImpactRows(rows: number, tokens = 1000): Row[] {
  let state = 12345;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  const influence = Array.from({ length: 2 * tokens }, () => 0.002 * Math.exp(2 * (random() * 2 - 1) * 1.7));
  const out: Row[] = [];
  for (let row = 0; row < rows; row++) {
    const k = row % (72 * tokens);
    const layer = k % 36;
    const token = Math.floor(k / 36) % tokens;
    const v = Math.floor(k / (36 * tokens));
    const step = Math.floor(row / (72 * tokens));
    const l2 =
      (influence[v * tokens + token] ?? 0) * (1 + layer / 4) * (1 + 0.1 * Math.sin((step + token) / 7));
    out.push({
      generation_step: step,
      layer,
      variant: v === 0 ? 'mask_image' : 'mask_text',
      token_masked: `vision_token_${token}`,
      l2_distance: l2,
      cosine_distance: (l2 * l2) / (2 * (1 + layer / 4) ** 2),
    });
  }
  return out;
}

function readBack(file: string): {
  schema: Record<string, string>;
  rows: Row[];
  encodings: Record<string, string[]>;
} {
  return JSON.parse(py.runPython('convert_file_read.py', [file])) as never;
}

describe('golden conversions', () => {
  for (const [input, format] of [
    ['mask-small.json', 'json'],
    ['mask-small.jsonl', 'jsonl'],
    ['mask-small.csv', 'csv'],
  ] as const) {
    it(`${input} → the expected summary`, async () => {
      const expected = JSON.parse(fs.readFileSync(fixture('mask-small.expected.json'), 'utf8'));
      const out = path.join(outDir(`golden-${format}`), 'mask.parquet');
      const summary = await convertFile(fixture(input), out, { float32: 'auto', round: 4 });
      expect(summary.format).toBe(format);
      expect({
        rows: summary.rows,
        round: summary.round,
        compression: summary.compression,
        columns: summary.columns,
        float32Columns: summary.float32Columns,
        dictionaryColumns: summary.dictionaryColumns,
        categoricalColumns: summary.categoricalColumns,
      }).toEqual(expected);
      expect(summary.inputBytes).toBe(fs.statSync(fixture(input)).size);
      expect(summary.outputBytes).toBe(fs.statSync(out).size);
      expect(summary.sizeRatio).toBeCloseTo(summary.outputBytes / summary.inputBytes, 12);
      expect(fs.readdirSync(path.dirname(out))).toEqual(['mask.parquet']);
    });
  }

  it('the CLI prints rows, sizes, reduction and time, and --json the summary', () => {
    const out = path.join(outDir('cli'), 'mask.parquet');
    const text = runlake(
      'convert-file',
      fixture('mask-small.json'),
      out,
      '--float32',
      'auto',
      '--round',
      '4',
      '--csv',
    );
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/rows\s+24/);
    expect(text.stdout).toMatch(/input\s+4\.\d+ KiB \(json\)/);
    expect(text.stdout).toMatch(/% of the input, \d+\.\d+% smaller/);
    expect(text.stdout).toMatch(/\d+\.\d+ s, [\d,]+ rows\/s/);
    expect(text.stdout).toMatch(/float32\s+l2_distance, cosine_distance \(rounded to 4 decimals\)/);
    expect(text.stdout).toMatch(/dictionary\s+.*variant, token_masked/);
    const csv = fs
      .readFileSync(path.join(path.dirname(out), 'mask.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(csv[0]).toBe('generation_step,layer,variant,token_masked,l2_distance,cosine_distance');
    expect(csv).toHaveLength(25);
    expect(csv[1]).toBe('0,0,mask_image,vision_token_0,0.1235,0.0022');
    const json = runlake(
      'convert-file',
      fixture('mask-small.csv'),
      path.join(path.dirname(out), 'b.parquet'),
      '--json',
    );
    expect(json.code).toBe(0);
    const summary = JSON.parse(json.stdout);
    expect(summary).toMatchObject({ rows: 24, format: 'csv', compression: 'zstd', float32Columns: [] });
  });
});

describe('--float32 --round 4: size and precision', () => {
  const rows = maskImpactRows(144_000);
  let input: string;
  beforeAll(() => {
    input = path.join(outDir('contract'), 'mask.json');
    fs.writeFileSync(input, `${JSON.stringify(rows, null, 2)}\n`);
  });

  it('is at most 1% of the JSON, half the float64 conversion, and every float is the float32 of a 4-decimal value', async () => {
    const out = path.join(path.dirname(input), 'f32.parquet');
    const summary = await convertFile(input, out, { float32: 'auto', round: 4 });
    expect(summary.rows).toBe(rows.length);
    expect(summary.sizeRatio).toBeLessThanOrEqual(0.01);
    const lossless = await convertFile(input, path.join(path.dirname(input), 'f64.parquet'));
    expect(summary.outputBytes).toBeLessThan(lossless.outputBytes * 0.6);

    const table = await readParquetToArrow(out);
    expect(table.numRows).toBe(rows.length);
    for (const name of ['l2_distance', 'cosine_distance']) {
      const column = table.getChild(name);
      expect(String(column?.type)).toBe('Float32');
      const values = column?.toArray() as Float32Array;
      const bad: string[] = [];
      for (let i = 0; i < rows.length; i++) {
        const x = rows[i]?.[name] as number;
        const v = values[i] as number;
        // the nearest float32 to a number with at most 4 decimals, which is x rounded to 4
        // decimals (half a unit in the 4th decimal, plus float32 rounding)
        const onGrid = Math.fround(Number(v.toFixed(4))) === v;
        const close = Math.abs(v - x) <= 0.5e-4 + Math.abs(x) * 2 ** -23 + 1e-12;
        if (!onGrid || !close) bad.push(`row ${i}: ${x} → ${v}`);
      }
      expect(bad.slice(0, 5)).toEqual([]);
    }
    const layers = table.getChild('layer')?.toArray() as BigInt64Array;
    expect(Number(layers[37])).toBe(rows[37]?.layer);
    expect(String(table.getChild('token_masked')?.type)).toBe('Dictionary<Int32, Utf8>');
    expect(String(table.getChild('token_masked')?.get(1000))).toBe(rows[1000]?.token_masked);
  });

  it('--float32 with a list converts only those columns; --round alone keeps DOUBLE', async () => {
    const one = await convertFile(input, path.join(path.dirname(input), 'one.parquet'), {
      float32: ['l2_distance'],
      round: 4,
    });
    expect(one.columns.map((c) => c.outputType)).toEqual([
      'BIGINT',
      'BIGINT',
      'VARCHAR',
      'VARCHAR',
      'FLOAT',
      'DOUBLE',
    ]);
    const rounded = await convertFile(input, path.join(path.dirname(input), 'rounded.parquet'), { round: 2 });
    expect(rounded.float32Columns).toEqual([]);
    const table = await readParquetToArrow(path.join(path.dirname(input), 'rounded.parquet'));
    const v = table.getChild('l2_distance')?.get(5) as number;
    expect(v).toBe(Number(((rows[5] as Row).l2_distance as number).toFixed(2)));
  });

  it('--dictionary with a list: those text columns are dictionary-encoded; unknown or numeric columns are refused', async () => {
    const out = path.join(path.dirname(input), 'dict.parquet');
    const summary = await convertFile(input, out, { dictionary: ['token_masked', 'variant'] });
    expect(summary.dictionaryColumns).toEqual(expect.arrayContaining(['variant', 'token_masked']));
    await expect(
      convertFile(input, path.join(path.dirname(input), 'x.parquet'), { dictionary: ['tokens'] }),
    ).rejects.toThrow(/--dictionary: no column "tokens"/);
    await expect(
      convertFile(input, path.join(path.dirname(input), 'x.parquet'), { dictionary: ['layer'] }),
    ).rejects.toThrow(/--dictionary: column "layer" is BIGINT/);
    await expect(
      convertFile(input, path.join(path.dirname(input), 'x.parquet'), { float32: ['variant'] }),
    ).rejects.toThrow(/--float32: column "variant" is VARCHAR/);
    expect(fs.existsSync(path.join(path.dirname(input), 'x.parquet'))).toBe(false);
  });
});

describe.skipIf(py.skip)('pyarrow reads the output back', () => {
  it('with the same values, float32 columns and dictionary-encoded strings', async () => {
    expect(py.available, py.reason).toBe(true);
    const source = JSON.parse(fs.readFileSync(fixture('mask-small.json'), 'utf8')) as Row[];
    const out = path.join(outDir('pyarrow'), 'mask.parquet');
    await convertFile(fixture('mask-small.json'), out, { float32: 'auto', round: 4 });
    const read = readBack(out);
    // repeated strings are categorical, as the seed's pandas `category` columns
    expect(read.schema).toEqual({
      generation_step: 'int64',
      layer: 'int64',
      variant: 'dictionary<values=string, indices=int32, ordered=0>',
      token_masked: 'dictionary<values=string, indices=int32, ordered=0>',
      l2_distance: 'float',
      cosine_distance: 'float',
    });
    expect(read.rows).toHaveLength(source.length);
    for (const [i, row] of source.entries()) {
      const back = read.rows[i] as Row;
      for (const key of ['generation_step', 'layer', 'variant', 'token_masked'])
        expect(back[key]).toBe(row[key]);
      for (const key of ['l2_distance', 'cosine_distance']) {
        expect(back[key]).toBe(Math.fround(Number((row[key] as number).toFixed(4))));
      }
    }
    for (const key of ['variant', 'token_masked']) {
      expect(read.encodings[key]?.some((e) => e.includes('DICTIONARY'))).toBe(true);
    }
  });

  it('lossless without options: every double and string exactly', async () => {
    const source = JSON.parse(fs.readFileSync(fixture('mask-small.json'), 'utf8')) as Row[];
    const out = path.join(outDir('pyarrow-lossless'), 'mask.parquet');
    await convertFile(fixture('mask-small.json'), out);
    expect(readBack(out).rows).toEqual(source);
  });
});

describe('bad input: a clear error with the file and line, and nothing written', () => {
  const cases: Array<[string, RegExp]> = [
    [
      'truncated.json',
      /truncated\.json: line 39: the file ends inside row 4 \(which starts on line 34\): truncated JSON/,
    ],
    [
      'malformed.csv',
      /malformed\.csv: line 5: malformed CSV row: expected 6 fields like the header, found 7 \("0,1,mask_image,.*,extra"\)/,
    ],
    [
      'type-flip.json',
      /type-flip\.json: line 63, row 7: column "l2_distance" holds a string where earlier rows hold numbers \(first at row 0, line 7\)/,
    ],
    ['broken-line.jsonl', /broken-line\.jsonl: line 4, row 3: invalid JSON: row 3 does not end on its line/],
  ];
  for (const [name, message] of cases) {
    it(name, () => {
      const target = outDir(`bad-${name}`);
      const result = runlake(
        'convert-file',
        fixture(name),
        path.join(target, 'out.parquet'),
        '--csv',
        '--float32',
        'auto',
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(fs.readdirSync(target)).toEqual([]);
    });
  }

  it('an existing output is left as it was when a conversion fails', () => {
    const target = outDir('keep-old');
    const out = path.join(target, 'out.parquet');
    fs.writeFileSync(out, 'old');
    expect(runlake('convert-file', fixture('truncated.json'), out).code).toBe(1);
    expect(fs.readFileSync(out, 'utf8')).toBe('old');
    expect(fs.readdirSync(target)).toEqual(['out.parquet']);
  });

  it('a JSONL row that is not an object, and a stray character in a JSON array', async () => {
    const target = outDir('bad-misc');
    fs.writeFileSync(path.join(target, 'a.jsonl'), '{"a": 1}\n[1, 2]\n');
    await expect(convertFile(path.join(target, 'a.jsonl'), path.join(target, 'a.parquet'))).rejects.toThrow(
      /a\.jsonl: line 2, row 1: a row must be a JSON object, found an array/,
    );
    fs.writeFileSync(path.join(target, 'b.json'), '[\n {"a": 1},\n {"a": 2}}\n]\n');
    await expect(convertFile(path.join(target, 'b.json'), path.join(target, 'b.parquet'))).rejects.toThrow(
      /b\.json: line 3, row 1: invalid JSON: expected "," or "]", found "}"/,
    );
    expect(fs.readdirSync(target).filter((f) => f.endsWith('.parquet') || f.endsWith('.tmp'))).toEqual([]);
  });

  it('a type flip in a CSV after the type sample names the line and column', () => {
    const target = outDir('bad-csv-flip');
    const lines = ['step,value,label'];
    for (let i = 0; i < CSV_TYPE_SAMPLE_ROWS + 100; i++) lines.push(`${i},${i / 8},x${i % 5}`);
    lines.push('7,oops,x');
    fs.writeFileSync(path.join(target, 'in.csv'), `${lines.join('\n')}\n`);
    const flipValue = runlake('convert-file', path.join(target, 'in.csv'), path.join(target, 'out.parquet'));
    expect(flipValue.code).toBe(1);
    expect(flipValue.stderr).toMatch(
      new RegExp(`in\\.csv: line ${CSV_TYPE_SAMPLE_ROWS + 102}: column "value" holds "oops", not a DOUBLE`),
    );
    lines[lines.length - 1] = 'seven,1.5,x';
    fs.writeFileSync(path.join(target, 'in.csv'), `${lines.join('\n')}\n`);
    const flipInt = runlake('convert-file', path.join(target, 'in.csv'), path.join(target, 'out.parquet'));
    expect(flipInt.stderr).toMatch(
      new RegExp(`in\\.csv: line ${CSV_TYPE_SAMPLE_ROWS + 102}: column "step" holds "seven", not a BIGINT`),
    );
    expect(fs.readdirSync(target)).toEqual(['in.csv']);
  });

  it('an empty JSON array or JSONL file', async () => {
    const target = outDir('bad-empty');
    fs.writeFileSync(path.join(target, 'e.json'), '[]\n');
    fs.writeFileSync(path.join(target, 'e.jsonl'), '');
    for (const name of ['e.json', 'e.jsonl']) {
      await expect(convertFile(path.join(target, name), path.join(target, 'o.parquet'))).rejects.toThrow(
        `${name}: no rows (an empty array or file)`,
      );
    }
    expect(fs.readdirSync(target).sort()).toEqual(['e.json', 'e.jsonl']);
  });

  it('unknown columns in --float32 / --dictionary are named', () => {
    const target = outDir('bad-columns');
    const result = runlake(
      'convert-file',
      fixture('mask-small.json'),
      path.join(target, 'o.parquet'),
      '--float32',
      'l2,cosine_distance',
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /mask-small\.json: --float32: no column "l2" \(columns: generation_step, layer,/,
    );
    expect(fs.readdirSync(target)).toEqual([]);
  });
});

describe('widening (documented): integer → float', () => {
  it('a JSON integer column meeting a float becomes DOUBLE, every value kept', async () => {
    const out = path.join(outDir('widen-json'), 'w.parquet');
    const summary = await convertFile(fixture('widen.json'), out);
    expect(summary.columns.find((c) => c.name === 'layer')).toMatchObject({
      inputType: 'DOUBLE',
      outputType: 'DOUBLE',
    });
    const layers = (await readParquetToArrow(out)).getChild('layer')?.toArray() as Float64Array;
    expect([...layers.slice(8, 11)]).toEqual([0, 1.5, 0]);
  });

  it('a CSV integer column meeting a float after the sample becomes DOUBLE (not rounded)', async () => {
    const target = outDir('widen-csv');
    const lines = ['step,label'];
    for (let i = 0; i < CSV_TYPE_SAMPLE_ROWS + 10; i++) lines.push(`${i},x`);
    lines.push('3.5,y');
    fs.writeFileSync(path.join(target, 'in.csv'), `${lines.join('\n')}\n`);
    const summary = await convertFile(path.join(target, 'in.csv'), path.join(target, 'out.parquet'));
    expect(summary.columns[0]).toMatchObject({ name: 'step', inputType: 'DOUBLE', outputType: 'DOUBLE' });
    const steps = (await readParquetToArrow(path.join(target, 'out.parquet')))
      .getChild('step')
      ?.toArray() as Float64Array;
    expect(steps[steps.length - 1]).toBe(3.5);
    expect(steps[100]).toBe(100);
  });
});
