/**
 * `runlake shards convert`: a Parquet table of time series → sharded train/val/test datasets, as
 * synthefy-dataset-utils' `convert_to_sharded` builds them (same windows, fields, metadata and,
 * for a given seed, the same split), read with DuckDB instead of pandas.
 */
import fs from 'node:fs';
import path from 'node:path';
import { withStagingConnection } from '../lake/duckdb.js';
import { RunlakeError } from '../lake/index.js';
import { pythonFloatRepr } from '../lake/python-json.js';
import { NumpyRng } from './numpy-random.js';
import { INDEX_FILE } from './sqlite-index.js';
import { ShardedDatasetWriter } from './writer.js';

/**
 * How to cut a Parquet table into samples and splits; the names follow the Python converter's
 * config (`timeseries.cols`, `group_labels.cols`, `window_size`, …), see {@link convertOptionsFromConfig}.
 *
 * @example
 * ```ts
 * const options: ShardsConvertOptions = { timeseries: ['ppg'], groups: ['subject'], windowSize: 256, stride: 32 };
 * ```
 */
export interface ShardsConvertOptions {
  /** Columns whose windows become samples (`history`, `target`); required. */
  readonly timeseries: readonly string[];
  /** Columns to group rows by (windows never cross groups); none: one group `all`. */
  readonly groups?: readonly string[];
  /** Columns copied into each sample's metadata as strings (first row of the group). */
  readonly discrete?: readonly string[];
  /** Covariate columns: each adds fields `<col>` (history part) and `<col>_future`. */
  readonly continuous?: readonly string[];
  /** Window length, history + forecast (default 256). */
  readonly windowSize?: number;
  /** Step between windows (default 32). */
  readonly stride?: number;
  /** History length (< windowSize); else `historyRatio` × windowSize, rounded down. */
  readonly historyLength?: number;
  /** Default 0.8. */
  readonly historyRatio?: number;
  /**
   * The split. A `custom_split` column (train/val/test per row) wins over everything. `ratio`
   * (default): per group, `train` (0.8) and `val` (0.1) of the samples, shuffled with numpy's
   * `default_rng(seed)` unless `shuffle: false`. `timestamp`: by the window's first timestamp.
   */
  readonly split?:
    | {
        readonly method?: 'ratio';
        readonly train?: number;
        readonly val?: number;
        readonly shuffle?: boolean;
      }
    | {
        readonly method: 'timestamp';
        readonly timestampColumn: string;
        readonly trainEnd: string;
        readonly valEnd: string;
      };
  /** Seed of the ratio split's shuffle (default 42). */
  readonly seed?: number;
  /** Samples per tar shard (default 10000). */
  readonly samplesPerShard?: number;
  /** Names the output (`<name>_train`, …) and the `dataset` metadata (default: the file's stem). */
  readonly datasetName?: string;
}

/**
 * What {@link convertParquetToShards} wrote: each split's directory and sample count (`null`
 * when the split got no samples and no directory was written, as the Python converter does).
 *
 * @example
 * ```ts
 * report.splits.train; // { dir: 'out/ppg_train', samples: 800 }
 * ```
 */
export interface ShardsConvertReport {
  readonly rows: number;
  readonly samples: number;
  readonly historyLength: number;
  readonly forecastLength: number;
  readonly fields: readonly string[];
  readonly splits: Readonly<Record<'train' | 'val' | 'test', { dir: string; samples: number } | null>>;
}

interface Window {
  readonly arrays: Record<string, Float32Array>;
  readonly meta: Record<string, unknown>;
}

const SPLITS = ['train', 'val', 'test'] as const;
const CUSTOM_SPLIT = 'custom_split';

/**
 * The Python converter's JSON config (`convert_to_sharded --config`) as {@link ShardsConvertOptions}:
 * `timeseries.cols`, `group_labels.cols`, `discrete.cols`, `continuous.cols`, `window_size`,
 * `stride`, `history_forecast_split`, `train_val_split`, `shuffle`, `seed`, `samples_per_shard`.
 *
 * @example
 * ```ts
 * convertOptionsFromConfig(JSON.parse(fs.readFileSync('config.json', 'utf8')));
 * ```
 */
export function convertOptionsFromConfig(config: Record<string, unknown>): ShardsConvertOptions {
  const cols = (key: string): string[] | undefined => {
    const value = (config[key] as { cols?: unknown } | undefined)?.cols;
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || !value.every((c) => typeof c === 'string'))
      throw new RunlakeError(`config ${key}.cols must be a list of column names`);
    return value;
  };
  const hfs = (config.history_forecast_split ?? {}) as Record<string, unknown>;
  const tvs = (config.train_val_split ?? {}) as Record<string, unknown>;
  const split =
    tvs.method === 'timestamp'
      ? {
          method: 'timestamp' as const,
          timestampColumn: String(tvs.timestamp_column ?? ''),
          trainEnd: String(tvs.train_end ?? ''),
          valEnd: String(tvs.val_end ?? ''),
        }
      : {
          method: 'ratio' as const,
          train: tvs.train as number | undefined,
          val: tvs.val as number | undefined,
          shuffle: (tvs.shuffle ?? config.shuffle) as boolean | undefined,
        };
  return {
    timeseries: cols('timeseries') ?? [],
    groups: cols('group_labels'),
    discrete: cols('discrete'),
    continuous: cols('continuous'),
    windowSize: config.window_size as number | undefined,
    stride: config.stride as number | undefined,
    historyLength: hfs.history_length as number | undefined,
    historyRatio: hfs.history_ratio as number | undefined,
    split,
    seed: config.seed as number | undefined,
    samplesPerShard: config.samples_per_shard as number | undefined,
  };
}

/**
 * Converts a Parquet table of time series to sharded datasets `<outDir>/<name>_train`, `_val`
 * and `_test` with fields `history`, `target` (float32 windows) and `<covariate>` /
 * `<covariate>_future`, as synthefy-dataset-utils' `convert_to_sharded` does: sliding windows
 * per group and time-series column, windows with a NaN skipped, metadata `dataset`,
 * `group_id`, `history_length`, `prediction_length`, the discrete columns (and
 * `window_start_timestamp` / `custom_split` when they apply). An existing output dataset is
 * replaced; a directory that is not a shard dataset is refused.
 *
 * @example
 * ```ts
 * const report = await convertParquetToShards('ppg.parquet', 'sharded', {
 *   timeseries: ['ppg'], groups: ['subject'], windowSize: 256, stride: 32, seed: 42,
 * });
 * report.splits.train?.dir; // 'sharded/ppg_train'
 * ```
 */
export async function convertParquetToShards(
  input: string,
  outDir: string,
  options: ShardsConvertOptions,
): Promise<ShardsConvertReport> {
  const fail = (reason: string): never => {
    throw new RunlakeError(`${input}: ${reason}`);
  };
  if (!options.timeseries.length) fail('no time-series columns (--timeseries / config timeseries.cols)');
  const windowSize = options.windowSize ?? 256;
  const stride = options.stride ?? 32;
  if (!Number.isSafeInteger(windowSize) || windowSize < 2)
    fail(`window size must be an integer ≥ 2, got ${windowSize}`);
  if (!Number.isSafeInteger(stride) || stride < 1) fail(`stride must be a positive integer, got ${stride}`);
  let historyLength: number;
  if (options.historyLength !== undefined) {
    historyLength = Math.trunc(options.historyLength);
    if (historyLength >= windowSize)
      fail(`history length (${historyLength}) must be less than the window size (${windowSize})`);
  } else historyLength = Math.trunc(windowSize * (options.historyRatio ?? 0.8));
  const forecastLength = windowSize - historyLength;
  if (historyLength < 1) fail(`history length must be at least 1, got ${historyLength}`);
  const name = options.datasetName ?? path.basename(input).replace(/\.[^.]*$/, '');
  const continuous = [...(options.continuous ?? [])];
  const discrete = [...(options.discrete ?? [])];
  const split = options.split ?? {};

  const timestampColumn = split.method === 'timestamp' ? split.timestampColumn : undefined;
  const table = await readColumns(input, fail, timestampColumn);
  const has = (c: string) => table.columns.has(c);
  if (split.method === 'timestamp') {
    if (!timestampColumn || !split.trainEnd || !split.valEnd)
      fail('a timestamp split needs a timestamp column, a train end and a val end');
    if (!has(timestampColumn as string))
      fail(
        `timestamp column "${timestampColumn}" not found (columns: ${[...table.columns.keys()].join(', ')})`,
      );
  }
  const customSplit = has(CUSTOM_SPLIT);

  // Discrete columns that are also covariates become float label codes (first-seen order).
  const numeric = new Map<string, Float64Array>();
  for (const column of [...options.timeseries, ...continuous]) {
    if (!has(column) || numeric.has(column)) continue;
    numeric.set(column, discrete.includes(column) ? labelCodes(table.keys(column)) : table.numbers(column));
  }
  const metaDiscrete = discrete.filter((c) => has(c) && !continuous.includes(c));
  const groupColumns = (options.groups ?? []).filter(has);

  // Groups in first-appearance order (pandas groupby sort=False); rows with a missing key drop.
  const groups = new Map<string, number[]>();
  if (groupColumns.length === 0)
    groups.set(
      'all',
      Array.from({ length: table.rows }, (_, i) => i),
    );
  else {
    const keys = groupColumns.map((c) => table.keys(c));
    for (let row = 0; row < table.rows; row++) {
      const parts = keys.map((k) => k[row]);
      if (parts.some((p) => p === null)) continue;
      const key = parts.join('_');
      const rows = groups.get(key);
      if (rows) rows.push(row);
      else groups.set(key, [row]);
    }
  }

  const timestamps = table.timestamps;
  const customValues = customSplit ? table.keys(CUSTOM_SPLIT) : undefined;
  const samples: Window[] = [];
  for (const [groupId, rows] of groups) {
    const first = rows[0] as number;
    const groupMeta: Record<string, unknown> = {};
    for (const c of metaDiscrete) groupMeta[c] = table.keys(c)[first] ?? 'None';
    for (const column of options.timeseries) {
      const signal = numeric.get(column);
      if (!signal || rows.length < windowSize) continue;
      const count = Math.floor((rows.length - windowSize) / stride) + 1;
      for (let w = 0; w < count; w++) {
        const start = w * stride;
        const window = rows.slice(start, start + windowSize);
        if (window.some((r) => Number.isNaN(signal[r]))) continue;
        const arrays: Record<string, Float32Array> = {
          history: Float32Array.from(window.slice(0, historyLength), (r) => signal[r] as number),
          target: Float32Array.from(window.slice(historyLength), (r) => signal[r] as number),
        };
        let skip = false;
        for (const cov of continuous) {
          const values = numeric.get(cov);
          if (!values) continue;
          if (window.some((r) => Number.isNaN(values[r]))) {
            skip = true;
            break;
          }
          arrays[cov] = Float32Array.from(window.slice(0, historyLength), (r) => values[r] as number);
          arrays[`${cov}_future`] = Float32Array.from(
            window.slice(historyLength),
            (r) => values[r] as number,
          );
        }
        if (skip) continue;
        const meta: Record<string, unknown> = {
          dataset: `${name}_${column}`,
          group_id: groupId,
          history_length: historyLength,
          prediction_length: forecastLength,
          ...groupMeta,
        };
        if (timestamps) meta.window_start_timestamp = timestamps.text[window[0] as number];
        if (customValues) meta[CUSTOM_SPLIT] = customValues[window[0] as number] ?? 'None';
        samples.push({ arrays, meta });
      }
    }
  }
  if (samples.length === 0)
    fail('no samples: every window was too short or held a NaN; check the columns and window size');

  const parts: Record<(typeof SPLITS)[number], Window[]> = { train: [], val: [], test: [] };
  if (customSplit) {
    for (const s of samples) {
      const value = String(s.meta[CUSTOM_SPLIT]).toLowerCase().trim();
      if (value !== 'train' && value !== 'val' && value !== 'test')
        fail(`invalid ${CUSTOM_SPLIT} value ${JSON.stringify(s.meta[CUSTOM_SPLIT])}; use train, val or test`);
      parts[value as 'train'].push(s);
    }
  } else if (split.method === 'timestamp' && timestamps) {
    const trainEnd = parseInstant(split.trainEnd, fail);
    const valEnd = parseInstant(split.valEnd, fail);
    for (const s of samples) {
      const t = timestamps.byText.get(s.meta.window_start_timestamp as string) as number;
      parts[t < trainEnd ? 'train' : t < valEnd ? 'val' : 'test'].push(s);
    }
  } else {
    const ratio = split as { train?: number; val?: number; shuffle?: boolean };
    const rng = new NumpyRng(options.seed ?? 42);
    const byGroup = new Map<string, Window[]>();
    for (const s of samples) {
      const id = s.meta.group_id as string;
      const list = byGroup.get(id);
      if (list) list.push(s);
      else byGroup.set(id, [s]);
    }
    for (const list of byGroup.values()) {
      if (ratio.shuffle ?? true) rng.shuffle(list);
      // Python's int(n * ratio): truncation of the float product.
      const nTrain = Math.trunc(list.length * (ratio.train ?? 0.8));
      const nVal = Math.trunc(list.length * (ratio.val ?? 0.1));
      parts.train.push(...list.slice(0, nTrain));
      parts.val.push(...list.slice(nTrain, nTrain + nVal));
      parts.test.push(...list.slice(nTrain + nVal));
    }
  }

  const fields = ['history', 'target', ...continuous.flatMap((c) => [c, `${c}_future`])];
  const splits = {} as Record<(typeof SPLITS)[number], { dir: string; samples: number } | null>;
  for (const part of SPLITS) {
    const list = parts[part];
    if (list.length === 0) {
      splits[part] = null;
      continue;
    }
    const dir = path.join(outDir, `${name}_${part}`);
    replaceDataset(dir);
    const writer = new ShardedDatasetWriter(dir, { samplesPerShard: options.samplesPerShard ?? 10_000 });
    try {
      writer.addFields(fields);
      for (let i = 0; i < list.length; i += 1000)
        writer.addSamples(list.slice(i, i + 1000).map((s) => ({ arrays: s.arrays, metadata: s.meta })));
    } finally {
      writer.close();
    }
    splits[part] = { dir, samples: list.length };
  }
  return { rows: table.rows, samples: samples.length, historyLength, forecastLength, fields, splits };
}

/** An output split directory: replaced when it is a shard dataset (or empty), else refused. */
function replaceDataset(dir: string): void {
  if (!fs.existsSync(dir)) return;
  const entries = fs.readdirSync(dir);
  if (entries.length && !entries.includes(INDEX_FILE))
    throw new RunlakeError(`${dir}: exists and is not a shard dataset; refusing to replace it`);
  fs.rmSync(dir, { recursive: true, force: true });
}

function parseInstant(text: string, fail: (reason: string) => never): number {
  // Naive times compare as UTC on both sides, as pandas compares naive timestamps.
  const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(' ', 'T')}Z`;
  const ms = Date.parse(/T/.test(iso) ? iso : iso.replace(/Z$/, 'T00:00:00Z'));
  if (Number.isNaN(ms)) return fail(`cannot parse the split time ${JSON.stringify(text)}`);
  return ms * 1000;
}

function labelCodes(keys: readonly (string | null)[]): Float64Array {
  const codes = new Map<string | null, number>();
  const out = new Float64Array(keys.length);
  for (const [i, k] of keys.entries()) {
    let code = codes.get(k);
    if (code === undefined) {
      code = codes.size;
      codes.set(k, code);
    }
    out[i] = Math.fround(code);
  }
  return out;
}

interface Table {
  readonly rows: number;
  readonly columns: Map<string, string>;
  /** Values as doubles, NULL as NaN. */
  numbers(column: string): Float64Array;
  /** Values as Python's `str()` spells them; null for a missing value. */
  keys(column: string): (string | null)[];
  /** The time column's values as numpy prints its datetime64, and microseconds since 1970. */
  readonly timestamps: { text: string[]; byText: Map<string, number> } | undefined;
}

async function readColumns(
  input: string,
  fail: (reason: string) => never,
  timestampColumn: string | undefined,
): Promise<Table> {
  if (!fs.existsSync(input)) fail('no such file');
  const source = `read_parquet('${input.replace(/'/g, "''")}')`;
  return withStagingConnection(async (connection) => {
    let described: Record<string, unknown>[];
    try {
      described = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRowObjectsJS();
    } catch (error) {
      return fail(`cannot read as Parquet: ${(error as Error).message.split('\n')[0]}`);
    }
    const columns = new Map(described.map((r) => [String(r.column_name), String(r.column_type)]));
    const quote = (c: string) => `"${c.replace(/"/g, '""')}"`;
    const all = (await connection.runAndReadAll(`SELECT * FROM ${source}`)).getColumnsObjectJS() as Record<
      string,
      unknown[]
    >;
    const rows = (Object.values(all)[0] ?? []).length;
    const numbersCache = new Map<string, Float64Array>();
    const timestampRows = async (column: string) => {
      const type = columns.get(column) ?? '';
      const digits = /TIMESTAMP_S\b/.test(type)
        ? 0
        : /TIMESTAMP_MS/.test(type)
          ? 3
          : /^TIMESTAMP( WITH TIME ZONE)?$/.test(type)
            ? 6
            : 9;
      const result = await connection.runAndReadAll(
        `SELECT strftime(CAST(${quote(column)} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%f') AS t, epoch_us(CAST(${quote(column)} AS TIMESTAMP)) AS us FROM ${source}`,
      );
      const data = result.getColumnsObjectJS() as { t: (string | null)[]; us: (bigint | number | null)[] };
      const text = data.t.map((t) => {
        if (t === null) return 'NaT';
        const [whole, fraction = ''] = t.split('.');
        return digits === 0 ? whole : `${whole}.${fraction.padEnd(9, '0').slice(0, digits)}`;
      });
      const byText = new Map<string, number>();
      for (const [i, t] of text.entries())
        byText.set(t as string, data.us[i] === null ? Number.NaN : Number(data.us[i]));
      return { text: text as string[], byText };
    };
    // Read now: the connection closes when this callback returns.
    const timestamps =
      timestampColumn !== undefined && columns.has(timestampColumn)
        ? await timestampRows(timestampColumn)
        : undefined;
    return {
      rows,
      columns,
      numbers(column: string): Float64Array {
        let cached = numbersCache.get(column);
        if (!cached) {
          const values = all[column] ?? [];
          cached = Float64Array.from(values, (v) =>
            v === null || v === undefined ? Number.NaN : typeof v === 'boolean' ? Number(v) : Number(v),
          );
          if (cached.some((v, i) => Number.isNaN(v) && typeof values[i] === 'string' && values[i] !== 'NaN'))
            fail(`column "${column}" is not numeric (${columns.get(column)})`);
          numbersCache.set(column, cached);
        }
        return cached;
      },
      keys(column: string): (string | null)[] {
        const type = columns.get(column) ?? '';
        return (all[column] ?? []).map((v) => pythonStr(v, type));
      },
      timestamps,
    };
  });
}

/** `str(value)` as pandas hands the value to Python; null for a missing value (NaN, None). */
function pythonStr(value: unknown, type: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return null;
    return /^(DOUBLE|FLOAT|REAL|DECIMAL)/.test(type) ? pythonFloatRepr(value) : String(value);
  }
  if (value instanceof Date)
    return value
      .toISOString()
      .replace('T', ' ')
      .replace(/\.000Z$|Z$/, '');
  return String(value);
}
