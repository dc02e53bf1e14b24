// Scenario `convert-file`: the seed's format upgrade (mask_impact JSON → float32/categorical zstd
// Parquet) done by `convertFile`, against the seed's own pandas path in the same run.
//
// It generates a JSON array shaped like the seed's mask_impact output (generation_step, layer,
// variant, token_masked with about 1000 distinct tokens, l2_distance, cosine_distance; written
// like Python's json.dump(indent=2), floats at full float64 precision), then measures:
//   - convertFile(json, parquet, { float32: 'auto', round: 4 }): time, rows/s, output size / JSON size;
//   - loading: the Parquet into an Arrow table (readParquetToArrow: parquet-wasm + apache-arrow)
//     against JSON.parse of the JSON file (chunked: one string of a file this size exceeds V8's
//     ~512 MiB string limit, so the baseline parses ≤ 256 MiB slices cut between rows, which only
//     flatters it);
//   - the seed's path, bench/convert_file_peer.py: pd.read_json → round(4).astype('float32') /
//     astype('category') → to_parquet(compression='zstd'), its time and output size.
// CONVERT_FILE_ROWS overrides the row count (default min(--rows, 3.8M)); the JSON is deleted at
// the end unless --keep.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, readFileSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertFile } from '../dist/index.js';
import { readParquetToArrow } from '../dist/ingest/parquet-arrow.js';
import { rng } from './data.mjs';
import { fmt, median, progress, timed } from './lib.mjs';
import { locatePython } from './python-peer.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const OUT_DIR = path.join(BENCH_DIR, 'out', 'convert-file');
const PEER = path.join(BENCH_DIR, 'convert_file_peer.py');

/** The seed's table: 3.8M rows. */
export const SEED_ROWS = 3_800_000;
const LAYERS = 36;
const VARIANTS = ['mask_image', 'mask_text'];
const TOKENS = 1000;
const SPLIT_BYTES = 256 * 2 ** 20;

/**
 * Writes the mask_impact-shaped JSON array: rows ordered by generation step, variant, masked token
 * and layer. Each (variant, token, layer) has a base impact growing with depth (lognormal across
 * tokens); each generation step adds a small drift, so values vary like a real sweep's without
 * being random noise at full precision.
 *
 * @example
 * ```js
 * await writeMaskImpactJson('bench/out/mask.json', 100_000);
 * ```
 */
export async function writeMaskImpactJson(file, rows, spread = Number(process.env.CONVERT_FILE_SPREAD ?? 2)) {
  const random = rng(20_260_322);
  const perStep = LAYERS * VARIANTS.length * TOKENS;
  // Influence of masking a token: lognormal across (variant, token), most tokens barely matter.
  const influence = Float64Array.from({ length: VARIANTS.length * TOKENS }, () => {
    const u = Math.max(random(), 1e-12);
    return 0.002 * Math.exp(spread * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random()));
  });
  const stream = createWriteStream(file);
  const closed = once(stream, 'close');
  let buffer = '[\n';
  for (let row = 0; row < rows; row++) {
    const step = Math.floor(row / perStep);
    const k = row % perStep;
    const layer = k % LAYERS;
    const token = Math.floor(k / LAYERS) % TOKENS;
    const v = Math.floor(k / (LAYERS * TOKENS));
    // Impact grows with depth and drifts slowly over generation steps.
    const l2 = influence[v * TOKENS + token] * (1 + layer / 4) * (1 + 0.1 * Math.sin((step + token) / 7));
    const cosine = Math.min(1, (l2 * l2) / (2 * (1 + layer / 4) ** 2));
    buffer +=
      `  {\n    "generation_step": ${step},\n    "layer": ${layer},\n    "variant": "${VARIANTS[v]}",\n` +
      `    "token_masked": "vision_token_${token}",\n    "l2_distance": ${l2},\n` +
      `    "cosine_distance": ${cosine}\n  }${row + 1 < rows ? ',' : ''}\n`;
    if (buffer.length >= 1 << 22) {
      if (!stream.write(buffer)) await once(stream, 'drain');
      buffer = '';
    }
  }
  stream.end(`${buffer}]\n`);
  await closed;
}

/**
 * JSON.parse of a JSON array file too large for one string: parses it in slices of at most
 * `SPLIT_BYTES`, cut after a row's closing `},` at the top level (valid for the files
 * {@link writeMaskImpactJson} writes), and returns the row count.
 */
function parseJsonInSlices(file) {
  const bytes = readFileSync(file);
  const separator = Buffer.from('\n  },\n');
  let rows = 0;
  let start = bytes.indexOf('[') + 1;
  while (start < bytes.length) {
    let end = bytes.length;
    if (bytes.length - start > SPLIT_BYTES) {
      const cut = bytes.indexOf(separator, start + SPLIT_BYTES - 1024);
      if (cut > 0) end = cut + separator.length - 2; // keep "\n  }", drop ",\n"
    }
    let text = bytes.toString('utf8', start, end).trim();
    if (text.endsWith(']')) text = text.slice(0, -1);
    if (text.endsWith(',')) text = text.slice(0, -1);
    if (text.trim() !== '') rows += JSON.parse(`[${text}]`).length;
    start = end === bytes.length ? end : end + 2;
  }
  return rows;
}

function runPeer(python, payload) {
  return new Promise((resolve) => {
    const child = spawn(python, [PEER, JSON.stringify(payload)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', (error) => resolve({ error: error.message }));
    child.on('close', (code) => {
      if (code !== 0) resolve({ error: `exit ${code}: ${stderr.trim().split('\n').slice(-3).join(' ')}` });
      else {
        try {
          resolve(JSON.parse(stdout.trim().split('\n').pop()));
        } catch {
          resolve({ error: `unreadable output: ${stdout.slice(0, 200)}` });
        }
      }
    });
  });
}

/**
 * Runs the scenario; returns the object stored under `scenarios['convert-file']`.
 *
 * @example
 * ```js
 * results.scenarios['convert-file'] = await convertFileScenario({ rows: 3_800_000 });
 * ```
 */
export async function convertFileScenario(options) {
  const rows = Number(process.env.CONVERT_FILE_ROWS ?? Math.min(options.rows, SEED_ROWS));
  const repeat = options.repeat ?? (rows >= 1_000_000 ? 1 : 3);
  await rm(OUT_DIR, { recursive: true, force: true });
  await mkdir(OUT_DIR, { recursive: true });
  const json = path.join(OUT_DIR, 'mask_impact.json');
  const parquet = path.join(OUT_DIR, 'mask_impact.parquet');
  progress(`convert-file: writing a ${fmt.int(rows)}-row mask_impact JSON`);
  const generated = await timed(() => writeMaskImpactJson(json, rows));
  const jsonBytes = statSync(json).size;
  progress(`  ${fmt.mib(jsonBytes)} in ${fmt.seconds(generated.seconds)}`);

  const runs = [];
  for (let i = 0; i < repeat; i++) {
    const summary = await convertFile(json, parquet, { float32: 'auto', round: 4 });
    runs.push(summary);
    progress(
      `  convertFile: ${fmt.seconds(summary.seconds)}, ${fmt.rate(summary.rowsPerSecond)} rows, ` +
        `${(summary.sizeRatio * 100).toFixed(3)}% of the JSON`,
    );
  }
  const summary = runs[runs.length - 1];
  const convertSeconds = median(runs.map((r) => r.seconds));

  // Loading: Arrow from Parquet (warm-up once, then `repeat` runs) against JSON.parse.
  await readParquetToArrow(parquet);
  const arrowRuns = [];
  let arrowRows = 0;
  for (let i = 0; i < Math.max(3, repeat); i++) {
    const t = await timed(() => readParquetToArrow(parquet));
    arrowRows = t.value.numRows;
    arrowRuns.push(t.seconds);
  }
  const arrowSeconds = median(arrowRuns);
  progress(`  Parquet → Arrow: ${fmt.seconds(arrowSeconds)} (${fmt.int(arrowRows)} rows)`);
  const parseRuns = [];
  let parsedRows = 0;
  for (let i = 0; i < repeat; i++) {
    const t = await timed(async () => parseJsonInSlices(json));
    parsedRows = t.value;
    parseRuns.push(t.seconds);
    globalThis.gc?.();
  }
  const parseSeconds = median(parseRuns);
  progress(`  JSON.parse: ${fmt.seconds(parseSeconds)} (${fmt.int(parsedRows)} rows)`);

  let peer = { skipped: true };
  const found = locatePython();
  if (found.python) {
    progress('  pandas peer: read_json → float32/category → to_parquet(zstd)');
    const report = await runPeer(found.python, { input: json, output: path.join(OUT_DIR, 'pandas.parquet') });
    peer = report.error ? { skipped: true, reason: report.error } : { skipped: false, ...report };
    if (!peer.skipped) {
      progress(
        `  pandas: ${fmt.seconds(peer.convertSeconds)} (read_json ${fmt.seconds(peer.readSeconds)}), ` +
          `${fmt.mib(peer.outputBytes)}; pd.read_parquet ${fmt.seconds(peer.loadSeconds)}`,
      );
    }
  } else peer = { skipped: true, reason: found.reason };

  if (!options.keep) await rm(OUT_DIR, { recursive: true, force: true });
  return {
    rows,
    jsonBytes,
    generateSeconds: generated.seconds,
    convert: {
      seconds: convertSeconds,
      rowsPerSecond: rows / convertSeconds,
      outputBytes: summary.outputBytes,
      sizePercent: summary.sizeRatio * 100,
      columns: summary.columns,
      dictionaryColumns: summary.dictionaryColumns,
      categoricalColumns: summary.categoricalColumns,
      float32Columns: summary.float32Columns,
    },
    load: {
      arrowSeconds,
      arrowRows,
      jsonParseSeconds: parseSeconds,
      jsonParseRows: parsedRows,
      speedup: parseSeconds / arrowSeconds,
    },
    peer,
    targets: { sizePercentMax: 1, loadSpeedupMin: 20 },
  };
}

/** Prints the scenario's table. */
export function printConvertFile(s, printTable) {
  const c = s.convert;
  const p = s.peer;
  printTable(
    `convert-file: ${fmt.int(s.rows)}-row mask_impact JSON (${fmt.mib(s.jsonBytes)}) → Parquet ` +
      '(--float32 auto --round 4, dictionary auto, zstd)',
    ['path', 'convert', 'rows/s', 'output', '% of JSON', 'load'],
    [
      [
        'runlake convertFile',
        fmt.seconds(c.seconds),
        fmt.rate(c.rowsPerSecond),
        `${(c.outputBytes / 2 ** 20).toFixed(2)} MiB`,
        `${c.sizePercent.toFixed(3)}% (target ≤ 1%)`,
        `Arrow ${fmt.seconds(s.load.arrowSeconds)}`,
      ],
      p.skipped
        ? ['pandas (the seed)', 'skipped', '', '', '', p.reason ?? '']
        : [
            'pandas (the seed)',
            fmt.seconds(p.convertSeconds),
            fmt.rate(s.rows / p.convertSeconds),
            `${(p.outputBytes / 2 ** 20).toFixed(2)} MiB`,
            `${((p.outputBytes / s.jsonBytes) * 100).toFixed(3)}%`,
            `pd.read_parquet ${fmt.seconds(p.loadSeconds)}`,
          ],
      [
        'JSON.parse of the JSON',
        '',
        '',
        '',
        '',
        `${fmt.seconds(s.load.jsonParseSeconds)} → Arrow is ${s.load.speedup.toFixed(1)}x faster (target ≥ 20x)`,
      ],
    ],
  );
  console.log(
    `dictionary-encoded: ${c.dictionaryColumns.join(', ')}; float32: ${c.float32Columns.join(', ')}`,
  );
}
