/**
 * The standalone file viewer (web/viewer.html, built into one self-contained web/dist/viewer.html):
 * unit tests of its pure parsers, filters and aggregation (CSV quoting, chunk boundaries anywhere
 * in a JSON array, JSON Lines), then headless Chromium opening the page from file:// with no
 * server — a mask_impact-shaped Parquet (dictionary strings, from convertFile), the same rows as
 * JSON, a DuckDB Parquet with plain strings, a quoted CSV — checking row counts, filtered counts,
 * the plot's series, and the errors for a garbage or truncated .parquet and a ragged CSV; finally
 * the page served by `runlake serve`, loading a file by `?url=`.
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertFile } from '../src/ingest/index.js';
import { distinctValues, filterChoices, selectRows } from '../web/src/viewer/filters.js';
import {
  type CategoryColumn,
  cellText,
  type Frame,
  type NumericColumn,
  parseNumber,
} from '../web/src/viewer/frame.js';
import { parseCsv } from '../web/src/viewer/parse-csv.js';
import { JsonArrayParser, JsonLinesParser, parseJsonText } from '../web/src/viewer/parse-json.js';
import { aggregateCurves, defaultPlot } from '../web/src/viewer/plot-data.js';
import {
  artifactPath,
  browser,
  launchChromium,
  serveLake,
  type TestBrowser,
  WEB_DIST,
  writeDemoLake,
} from './helpers/browser.js';
import { copyToParquet } from './helpers/cli.js';
import { tempDir } from './helpers/lake-fixtures.js';

const col = (frame: Frame, name: string) => {
  const found = frame.columns.find((c) => c.name === name);
  if (!found) throw new Error(`no column ${name}`);
  return found;
};
const texts = (frame: Frame, name: string) =>
  Array.from({ length: frame.numRows }, (_, r) => cellText(col(frame, name), r));

describe('CSV parser', () => {
  it('reads quoted fields with commas, newlines and doubled quotes, CRLF, a BOM and a missing final newline', () => {
    const csv =
      '\ufeffname,note,value\r\n"a, b","line1\nline2",1.5\r\nplain,"say ""hi""",2\r\n"",x,\n last,"",-3e2';
    const frame = parseCsv(csv, 'q.csv');
    expect(frame.numRows).toBe(4);
    expect(frame.columns.map((c) => c.name)).toEqual(['name', 'note', 'value']);
    expect(texts(frame, 'name')).toEqual(['a, b', 'plain', '', ' last']);
    expect(texts(frame, 'note')).toEqual(['line1\nline2', 'say "hi"', 'x', '']);
    const value = col(frame, 'value') as NumericColumn;
    expect(value.kind).toBe('numeric');
    expect(Array.from(value.values)).toEqual([1.5, 2, Number.NaN, -300]);
  });

  it('infers integer, float and string columns; a late non-number turns a column into strings', () => {
    const frame = parseCsv('step,loss,tag,mixed\n1,0.5,a,1\n2,0.25,b,x\n3,,a,3\n', 'types.csv');
    expect(frame.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      'step:int',
      'loss:float',
      'tag:string',
      'mixed:string',
    ]);
    expect(texts(frame, 'mixed')).toEqual(['1', 'x', '3']);
    expect((col(frame, 'tag') as CategoryColumn).dictionary).toEqual(['a', 'b']);
  });

  it('gives the same frame however the text is split into chunks', async () => {
    const { CsvParser } = await import('../web/src/viewer/parse-csv.js');
    const csv = 'a,b\n"x,""y""\nz",1\nq,2\r\n"",3\n';
    for (let size = 1; size <= csv.length; size++) {
      const parser = new CsvParser('chunks.csv');
      for (let i = 0; i < csv.length; i += size) parser.push(csv.slice(i, i + size));
      const frame = parser.finish();
      expect(texts(frame, 'a'), `chunk size ${size}`).toEqual(['x,"y"\nz', 'q', '']);
      expect(texts(frame, 'b')).toEqual(['1', '2', '3']);
    }
  });

  it('names the file, line and field counts for a ragged row, and an unclosed quote', () => {
    expect(() => parseCsv('a,b,c\n1,2,3\n4,5\n', 'ragged.csv')).toThrow(
      'ragged.csv: line 3: expected 3 fields (as in the header), found 2',
    );
    expect(() => parseCsv('a,b\n1,2,3\n', 'wide.csv')).toThrow('wide.csv: line 2: expected 2 fields');
    expect(() => parseCsv('a,b\n1,"open\n', 'open.csv')).toThrow(
      'open.csv: line 2: a quoted field is never closed',
    );
    expect(() => parseCsv('', 'empty.csv')).toThrow('empty.csv: the file is empty');
  });

  it('parses numbers strictly (no hex, no padding)', () => {
    expect(parseNumber('1e-3')).toBe(0.001);
    expect(parseNumber('-.5')).toBe(-0.5);
    expect(parseNumber('0x10')).toBeUndefined();
    expect(parseNumber(' 1')).toBeUndefined();
    expect(parseNumber('abc')).toBeUndefined();
  });
});

describe('JSON parsers', () => {
  const records = [
    { step: 0, name: 'a,"b"', nested: { x: [1, 2] }, flag: true },
    { step: 1, name: 'é ü 🙂', flag: false, extra: null },
    { step: 2, name: '}]{[', late: 7 },
  ];

  it('reads an array of records cut into chunks at every byte position', () => {
    const bytes = new TextEncoder().encode(JSON.stringify(records, null, 2));
    for (const size of [1, 2, 3, 7, 64, bytes.length]) {
      const parser = new JsonArrayParser('rows.json');
      for (let i = 0; i < bytes.length; i += size) parser.push(bytes.subarray(i, i + size));
      const frame = parser.finish();
      expect(frame.numRows, `chunk size ${size}`).toBe(3);
      expect(texts(frame, 'name')).toEqual(['a,"b"', 'é ü 🙂', '}]{[']);
      expect(texts(frame, 'nested')).toEqual(['{"x":[1,2]}', '', '']);
      expect(texts(frame, 'late')).toEqual(['', '', '7']);
      expect(col(frame, 'flag').type).toBe('bool');
    }
  });

  it('reads JSON Lines, an object of columns, and an empty array', () => {
    const lines = new JsonLinesParser('e.jsonl');
    lines.push(new TextEncoder().encode('{"a":1}\n\n{"a":2,"b":"x"}\n{"a":3}'));
    const frame = lines.finish();
    expect(frame.numRows).toBe(3);
    expect(texts(frame, 'b')).toEqual(['', 'x', '']);
    expect(parseJsonText('{"x":[1,2,3],"y":["a","b","c"]}', 'cols.json').numRows).toBe(3);
    expect(parseJsonText('[]', 'empty.json').numRows).toBe(0);
  });

  it('names the file and the cause for truncated or invalid JSON', () => {
    const truncated = new JsonArrayParser('cut.json');
    truncated.push(new TextEncoder().encode('[{"a": 1}, {"a": 2'));
    expect(() => truncated.finish()).toThrow('cut.json: the JSON array is cut off');
    const lines = new JsonLinesParser('bad.jsonl');
    lines.push(new TextEncoder().encode('{"a":1}\n{"a":\n'));
    expect(() => lines.finish()).toThrow(/bad\.jsonl: line 2: invalid JSON/);
    const notRecords = new JsonArrayParser('nums.json');
    notRecords.push(new TextEncoder().encode('[1, 2]'));
    expect(() => notRecords.finish()).toThrow('nums.json: row 1 is not a JSON object');
  });
});

describe('filters and curves', () => {
  // 2 variants × 3 layers × 2 steps.
  const csv = ['variant,layer,step,l2'];
  for (const variant of ['mask_text', 'mask_image'])
    for (let step = 0; step < 2; step++)
      for (let layer = 0; layer < 3; layer++)
        csv.push(`${variant},${layer},${step},${layer + step + (variant === 'mask_text' ? 10 : 0)}`);
  const frame = parseCsv(`${csv.join('\n')}\n`, 'small.csv');

  it('offers selects for low-cardinality columns and ranges for the rest', () => {
    const choices = filterChoices(frame);
    expect(choices.map((c) => `${c.column.name}:${c.kind}`)).toEqual([
      'variant:select',
      'layer:select',
      'step:select',
      'l2:select',
    ]);
    expect(distinctValues(col(frame, 'variant'))?.map((o) => o.label)).toEqual(['mask_image', 'mask_text']);
    expect(filterChoices(frame, 3).find((c) => c.column.name === 'l2')?.kind).toBe('range');
  });

  it('selects rows by value and by range, narrowing filter by filter', () => {
    const variant = col(frame, 'variant') as CategoryColumn;
    const text = variant.dictionary.indexOf('mask_text');
    expect(selectRows(frame, [])).toBeNull();
    expect(selectRows(frame, [{ kind: 'equals', column: 'variant', value: text }])?.length).toBe(6);
    const both = selectRows(frame, [
      { kind: 'equals', column: 'variant', value: text },
      { kind: 'equals', column: 'layer', value: 2 },
    ]);
    expect(Array.from(both ?? [])).toEqual([2, 5]);
    expect(selectRows(frame, [{ kind: 'range', column: 'l2', min: 11, max: 12 }])?.length).toBe(4);
  });

  it('averages y per x, one curve per group, over the selected rows', () => {
    const set = aggregateCurves(frame, null, 'layer', 'l2', 'variant');
    expect(set.xs).toEqual([0, 1, 2]);
    expect(set.curves.map((c) => [c.label, c.ys])).toEqual([
      ['mask_image', [0.5, 1.5, 2.5]],
      ['mask_text', [10.5, 11.5, 12.5]],
    ]);
    const firstStep = selectRows(frame, [{ kind: 'equals', column: 'step', value: 0 }]);
    expect(aggregateCurves(frame, firstStep, 'layer', 'l2').curves[0]?.ys).toEqual([5, 6, 7]);
    const binned = aggregateCurves(frame, null, 'l2', 'layer', undefined, { bins: 4 });
    expect(binned.binned).toBe(false); // integral x with a small range stays exact
    // Never a key (step, layer) as y: the value column, against the step.
    expect(defaultPlot(frame)).toEqual({ x: 'step', y: 'l2', group: 'variant' });
  });
});

// ---- the page in Chromium -------------------------------------------------------------------

const VIEWER = path.join(WEB_DIST, 'viewer.html');
const MASK_ROWS = 3 * 36 * 2 * 50;

/** mask_impact rows written like Python's json.dump(indent=2). */
function maskImpactJson(): string {
  const rows: Record<string, unknown>[] = [];
  for (let step = 0; step < 3; step++)
    for (const variant of ['mask_image', 'mask_text'])
      for (let token = 0; token < 50; token++)
        for (let layer = 0; layer < 36; layer++) {
          const l2 = (1 + token / 10) * (1 + layer / 4) * (variant === 'mask_text' ? 2 : 1) + step / 7;
          rows.push({
            generation_step: step,
            layer,
            variant,
            token_masked: `vision_token_${token}`,
            l2_distance: l2,
            cosine_distance: Math.min(1, l2 / 100),
          });
        }
  return JSON.stringify(rows, null, 2);
}

describe.skipIf(browser.skip)('viewer.html in Chromium', () => {
  let dir: string;
  let chromium: TestBrowser;
  let page: Page;
  const fixture = (name: string) => path.join(dir, name);
  const pageErrors: string[] = [];

  beforeAll(async () => {
    dir = tempDir('runlake-web-viewer-');
    writeFileSync(fixture('mask_impact.json'), maskImpactJson());
    await convertFile(fixture('mask_impact.json'), fixture('mask_impact.parquet'), {
      float32: 'auto',
      round: 4,
    });
    await copyToParquet(
      `SELECT i AS step, CAST(i AS DOUBLE) * 0.5 AS loss, CASE WHEN i % 3 = 0 THEN 'train' ELSE 'eval' END AS split
       FROM range(1000) t(i)`,
      fixture('plain.parquet'),
    );
    writeFileSync(
      fixture('runs.csv'),
      'run,note,step,loss\nr1,"lr=1e-3, warmup",0,2.5\nr1,"multi\nline",1,1.25\nr2,"say ""hi""",0,3\nr2,,1,2\nr3,plain,0,4\n',
    );
    writeFileSync(fixture('ragged.csv'), 'a,b,c\n1,2,3\n4,5\n');
    writeFileSync(fixture('garbage.parquet'), 'this is not parquet at all, just text\n');
    const good = await readFile(fixture('mask_impact.parquet'));
    writeFileSync(fixture('truncated.parquet'), good.subarray(0, Math.floor(good.length / 2)));
    chromium = await launchChromium();
    page = await chromium.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(String(error)));
  });

  afterAll(async () => {
    await chromium?.close();
  });

  async function openFile(name: string): Promise<void> {
    await page.setInputFiles('[data-testid="file-input"]', fixture(name));
    // The page sets body[data-state] to ready (all columns read, filters built) or error.
    await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', {
      state: 'attached',
      timeout: 30_000,
    });
  }
  const text = async (testid: string) =>
    (await page.locator(`[data-testid="${testid}"]`).textContent()) ?? '';
  const seriesCount = () => page.locator('[data-testid="plot"]').getAttribute('data-series-count');

  it('opens from file:// with no server and shows the empty state', async () => {
    await page.goto(pathToFileURL(VIEWER).href);
    expect(await text('empty')).toBe('Open or drop a Parquet, CSV or JSON file');
  });

  it('loads the mask_impact Parquet, filters it, and plots mean l2 per layer by variant', async () => {
    await openFile('mask_impact.parquet');
    expect(await text('row-count')).toBe(`${MASK_ROWS.toLocaleString('en-US')} rows`);
    expect(await text('file-format')).toBe('PARQUET');
    expect(await text('column-variant')).toMatch(/dictionary/);
    expect(await text('column-l2_distance')).toMatch(/float32/);
    expect(await page.locator('[data-testid="data-table"] tbody tr').count()).toBe(100);
    expect(await seriesCount()).toBe('2');
    expect(await page.locator('[data-testid="plot"] canvas').count()).toBe(1);
    expect(await page.locator('[data-testid="plot"]').getAttribute('data-points')).toBe('36');
    expect(Number(await page.locator('body').getAttribute('data-first-curve-ms'))).toBeGreaterThan(0);
    await page.screenshot({ path: artifactPath('viewer.png'), fullPage: true });

    await page.selectOption('[data-testid="filter-variant"]', { label: 'mask_text' });
    expect(await text('row-count')).toBe(
      `${(MASK_ROWS / 2).toLocaleString('en-US')} of ${MASK_ROWS.toLocaleString('en-US')} rows`,
    );
    expect(await seriesCount()).toBe('1');
    await page.selectOption('[data-testid="filter-layer"]', { label: '3' });
    expect(await text('row-count')).toBe(
      `${(MASK_ROWS / 2 / 36).toLocaleString('en-US')} of ${MASK_ROWS.toLocaleString('en-US')} rows`,
    );
    await page.selectOption('[data-testid="filter-layer"]', { label: 'All (36)' });
    await page.selectOption('[data-testid="filter-variant"]', { label: 'All (2)' });
    expect(await text('row-count')).toBe(`${MASK_ROWS.toLocaleString('en-US')} rows`);
    await page.selectOption('[data-testid="plot-group"]', { label: 'generation_step' });
    expect(await seriesCount()).toBe('3');
    await page.check('[data-testid="plot-log"]');
    expect(await seriesCount()).toBe('3');
  });

  it('loads the same rows from JSON', async () => {
    await openFile('mask_impact.json');
    expect(await text('row-count')).toBe(`${MASK_ROWS.toLocaleString('en-US')} rows`);
    expect(await text('file-format')).toBe('JSON');
    expect(await seriesCount()).toBe('2');
  });

  it('loads a DuckDB Parquet with plain strings and ranges a numeric column', async () => {
    await openFile('plain.parquet');
    expect(await text('row-count')).toBe('1,000 rows');
    await page.fill('[data-testid="filter-loss-min"]', '100');
    await page.locator('[data-testid="filter-loss-min"]').dispatchEvent('change');
    expect(await text('row-count')).toBe('800 of 1,000 rows');
    // Default plot: the two numeric columns, one series per split.
    expect(await seriesCount()).toBe('2');
  });

  it('loads a CSV with quoted fields', async () => {
    await openFile('runs.csv');
    expect(await text('row-count')).toBe('5 rows');
    expect(await text('data-table')).toContain('say "hi"');
    await page.selectOption('[data-testid="filter-run"]', { label: 'r2' });
    expect(await text('row-count')).toBe('2 of 5 rows');
  });

  it('opens a file dropped onto the page', async () => {
    // A string expression: the test's tsconfig has no DOM types.
    await page.evaluate(`(() => {
      const data = new DataTransfer();
      data.items.add(new File(['x,y\\n1,2\\n3,4\\n'], 'dropped.csv', { type: 'text/csv' }));
      document.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    })()`);
    await page.waitForSelector('body[data-state="ready"]', { state: 'attached' });
    expect(await text('file-name')).toBe('dropped.csv');
    expect(await text('row-count')).toBe('2 rows');
  });

  it('names the file and the cause for a garbage or truncated .parquet and a ragged CSV', async () => {
    await openFile('garbage.parquet');
    expect(await text('error')).toContain('garbage.parquet');
    expect(await text('error')).toContain('not a Parquet file');
    await openFile('truncated.parquet');
    expect(await text('error')).toContain('truncated.parquet');
    expect(await text('error')).toContain('truncated Parquet file');
    await openFile('ragged.csv');
    expect(await text('error')).toContain('ragged.csv');
    expect(await text('error')).toContain('line 3: expected 3 fields (as in the header), found 2');
    // A good file after an error replaces it.
    await openFile('runs.csv');
    expect(await page.locator('[data-testid="error"]').count()).toBe(0);
  });

  it('raised no uncaught errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });

  it('is served by runlake serve at /viewer.html and loads a file by ?url=', async () => {
    const lake = await writeDemoLake(tempDir('runlake-web-viewer-lake-'));
    const served = await serveLake(lake);
    // The data comes from another origin, as from any file server with CORS.
    const files = http.createServer(async (request, response) => {
      try {
        const body = await readFile(fixture(path.basename(request.url ?? '')));
        response.writeHead(200, { 'access-control-allow-origin': '*', 'content-length': body.length });
        response.end(body);
      } catch {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = files.address() as AddressInfo;
      const viewer = new URL('/viewer.html', served.url);
      viewer.searchParams.set('url', `http://127.0.0.1:${port}/mask_impact.parquet`);
      await page.goto(viewer.href);
      await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', {
        state: 'attached',
        timeout: 30_000,
      });
      expect(
        await page.locator('[data-testid="error"]').count(),
        (await page.locator('#app').textContent()) ?? '',
      ).toBe(0);
      expect(await text('row-count')).toBe(`${MASK_ROWS.toLocaleString('en-US')} rows`);
      expect(await text('file-name')).toBe('mask_impact.parquet');
      await page.waitForSelector('body[data-first-curve-ms]', { state: 'attached' });
    } finally {
      files.close();
      await served.stop();
    }
  });
});
