import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { RunlakeError } from '../lake/index.js';
import {
  arrayValues,
  checkIndexFile,
  compactShards,
  convertOptionsFromConfig,
  convertParquetToShards,
  DTYPES,
  encodeNpy,
  INDEX_FILE,
  metaJson,
  type NdArray,
  reindexShards,
  ShardDatasetError,
  ShardedDatasetReader,
  ShardIndexError,
  type ShardsConvertOptions,
  shardsInfo,
  UnknownFieldError,
  verifyShards,
} from '../shards/index.js';
import { writeStdout } from './common.js';
import { countOf, formatBytes, renderTable } from './output.js';
import { commaList, nonNegativeInteger, positiveInteger } from './parse.js';

const DEFAULT_LIMIT = 100;
interface ConvertCliOptions {
  config?: string;
  timeseries?: string[];
  group?: string[];
  discrete?: string[];
  continuous?: string[];
  windowSize?: number;
  stride?: number;
  historyLength?: number;
  historyRatio?: number;
  train?: number;
  val?: number;
  shuffle?: boolean;
  seed?: number;
  timestampColumn?: string;
  trainEnd?: string;
  valEnd?: string;
  samplesPerShard?: number;
  name?: string;
}

/** Command-line flags over the Python converter's config file, when one is given. */
function convertOptions(flags: ConvertCliOptions): ShardsConvertOptions {
  let base: ShardsConvertOptions = { timeseries: [] };
  if (flags.config) {
    let config: unknown;
    try {
      config = JSON.parse(fs.readFileSync(flags.config, 'utf8'));
    } catch (error) {
      throw new RunlakeError(`${flags.config}: not a JSON config: ${(error as Error).message}`);
    }
    if (config === null || typeof config !== 'object' || Array.isArray(config))
      throw new RunlakeError(`${flags.config}: the config must be a JSON object`);
    base = convertOptionsFromConfig(config as Record<string, unknown>);
  }
  const ratio = (base.split?.method === 'timestamp' ? {} : (base.split ?? {})) as {
    train?: number;
    val?: number;
    shuffle?: boolean;
  };
  const split: ShardsConvertOptions['split'] =
    flags.timestampColumn !== undefined
      ? {
          method: 'timestamp',
          timestampColumn: flags.timestampColumn,
          trainEnd: flags.trainEnd ?? '',
          valEnd: flags.valEnd ?? '',
        }
      : base.split?.method === 'timestamp' && flags.train === undefined && flags.val === undefined
        ? base.split
        : {
            method: 'ratio',
            train: flags.train ?? ratio.train,
            val: flags.val ?? ratio.val,
            shuffle: flags.shuffle === false ? false : ratio.shuffle,
          };
  return {
    ...base,
    timeseries: flags.timeseries ?? base.timeseries,
    groups: flags.group ?? base.groups,
    discrete: flags.discrete ?? base.discrete,
    continuous: flags.continuous ?? base.continuous,
    windowSize: flags.windowSize ?? base.windowSize,
    stride: flags.stride ?? base.stride,
    historyLength: flags.historyLength ?? (flags.historyRatio === undefined ? base.historyLength : undefined),
    historyRatio: flags.historyRatio ?? base.historyRatio,
    split,
    seed: flags.seed ?? base.seed,
    samplesPerShard: flags.samplesPerShard ?? base.samplesPerShard,
    datasetName: flags.name ?? base.datasetName,
  };
}

function checkRoot(root: string): void {
  let isDirectory = false;
  try {
    isDirectory = fs.statSync(root).isDirectory();
  } catch {
    throw new ShardDatasetError(root, 'directory does not exist');
  }
  if (!isDirectory) throw new ShardDatasetError(root, 'not a directory');
}

/**
 * SQLite reports a damaged index page only when a query reaches it (the open-time check reads
 * the schema, not every page); name the index file in the one-line error instead of crashing.
 */
async function namingIndex<T>(root: string, run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (error instanceof RunlakeError || typeof code !== 'string' || !code.startsWith('SQLITE_')) throw error;
    throw new ShardIndexError(
      path.join(root, INDEX_FILE),
      `unreadable SQLite index: ${(error as Error).message}`,
    );
  }
}

function withReader<T>(root: string, use: (reader: ShardedDatasetReader) => T): T {
  checkRoot(root);
  const reader = new ShardedDatasetReader(root, { indexCache: 'lazy' });
  try {
    return use(reader);
  } finally {
    reader.close();
  }
}

/**
 * JSON for `--json` output: metadata may hold what the Python writer stores and JSON cannot
 * (NaN, infinities: as the strings "NaN", "Infinity"; integers past 2^53: as digits).
 */
function jsonLine(value: unknown): string {
  const big: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
    if (typeof v === 'bigint') {
      big.push(v.toString());
      return `\u0000big${big.length - 1}`;
    }
    return v;
  });
  return big.length ? text.replace(/"\\u0000big(\d+)"/g, (_m, i: string) => big[Number(i)] as string) : text;
}

function parseParams(text: string | undefined): unknown[] {
  if (text === undefined) return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RunlakeError(`--params must be a JSON array, got ${JSON.stringify(text)}`);
  }
  if (!Array.isArray(value))
    throw new RunlakeError('--params must be a JSON array, e.g. \'[128, "synthetic"]\'');
  return value;
}

/**
 * A one-line description of an array: dtype, shape, order, min/max/mean and the first values.
 *
 * @example
 * ```ts
 * summarizeArray(ndarray(new Float32Array([1, 2]))); // 'float32 [2] C  min 1  max 2  mean 1.5  [1, 2]'
 * ```
 */
export function summarizeArray(array: NdArray): string {
  const dtype = array.descr ? `${array.dtype} (${array.descr})` : array.dtype;
  const info = DTYPES[array.dtype];
  if (info.codec === 'raw' || info.lanes !== 1 || info.needsDescr) {
    // No min/max/mean for strings, complex, datetime counts or raw bytes: show the values.
    const values = arrayValues(array);
    const head = values.slice(0, 6).map((v) => JSON.stringify(v));
    return `${dtype} [${array.shape.join(', ')}] ${array.order}  [${head.join(', ')}${values.length > 6 ? ', …' : ''}]`;
  }
  const values = array.data;
  const n = values.length;
  let stats = '';
  if (n > 0) {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const v = Number(values[i]);
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    stats = `  min ${formatNumber(min)}  max ${formatNumber(max)}  mean ${formatNumber(sum / n)}`;
  }
  const head = Array.from(values.slice(0, 6) as ArrayLike<number | bigint>, (v) => formatNumber(Number(v)));
  return `${dtype} [${array.shape.join(', ')}] ${array.order}${stats}  [${head.join(', ')}${n > 6 ? ', …' : ''}]`;
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, '');
}

/**
 * `runlake shards info|ls|get|query|verify|compact|reindex <root>` and `runlake shards convert
 * <parquet> <out-dir>`: inspect, maintain and build array shard datasets (see docs/shards.md).
 *
 * @example
 * ```sh
 * runlake shards info my_dataset
 * runlake shards query my_dataset --where "json_extract(meta_json, '$.length') > 128"
 * runlake shards get my_dataset sample_000000000001 --out arrays/
 * ```
 */
export function registerShardsCommand(program: Command): void {
  const shards = program
    .command('shards')
    .description('array shard datasets: tar shards of .npy members with a SQLite index (docs/shards.md)');

  shards
    .command('info')
    .description('fields, samples, shards and bytes of a dataset')
    .argument('<root>', 'dataset directory')
    .option('--json', 'print machine-readable JSON')
    .action(async (root: string, options: { json?: boolean }) => {
      checkRoot(root);
      const info = await namingIndex(root, () => shardsInfo(root));
      if (options.json) return writeStdout(`${JSON.stringify(info, null, 2)}\n`);
      const lines = [
        `dataset ${info.root}`,
        `samples: ${info.samples.toLocaleString('en-US')}   fields: ${info.fields.length}   ` +
          `size: ${formatBytes(info.totalBytes)} (index ${formatBytes(info.indexBytes)})`,
      ];
      const indexed = Object.entries(info.indexedMetadata);
      if (indexed.length)
        lines.push(`indexed metadata: ${indexed.map(([k, c]) => (k === c ? k : `${k} → ${c}`)).join(', ')}`);
      if (info.fields.length) {
        lines.push(
          '',
          renderTable(
            info.fields.map((f) => ({
              field: f.name,
              samples: f.samples,
              shards: f.shards,
              bytes: formatBytes(f.bytes),
              live: formatBytes(f.liveBytes),
            })),
          ),
        );
      }
      await writeStdout(`${lines.join('\n')}\n`);
    });

  shards
    .command('ls')
    .description('list samples: id, the fields each holds, metadata')
    .argument('<root>', 'dataset directory')
    .option('-w, --where <sql>', 'SQL condition over the samples table')
    .option('-l, --limit <n>', `maximum samples (default ${DEFAULT_LIMIT})`, nonNegativeInteger)
    .option('--json', 'print JSON lines')
    .action(async (root: string, options: { where?: string; limit?: number; json?: boolean }) => {
      const text = await namingIndex(root, () =>
        withReader(root, (reader) => {
          const limit = options.limit ?? DEFAULT_LIMIT;
          const ids = reader.queryIds(options.where, [], limit);
          const rows = reader.getMany(ids).map((s) => ({
            id: s.sampleId,
            fields: Object.entries(s.arrays)
              .map(([f, a]) => `${f}[${a.shape.join('x')}]`)
              .join(' '),
            metadata: s.metadata,
          }));
          if (options.json) return rows.map((r) => `${jsonLine(r)}\n`).join('');
          const total = reader.size;
          const table = rows.map((r) => ({ ...r, metadata: metaJson(r.metadata, r.id) }));
          return `${renderTable(table, ['id', 'fields', 'metadata'])}\n(${rows.length} of ${total} samples)\n`;
        }),
      );
      await writeStdout(text);
    });

  shards
    .command('get')
    .description("print a sample's arrays summarised, or write them as .npy files")
    .argument('<root>', 'dataset directory')
    .argument('<sample-id>', 'sample id')
    .option('--fields <list>', 'comma-separated fields (default: all the sample has)', commaList)
    .option('-o, --out <dir>', 'write <dir>/<field>.npy for each array')
    .option('--json', 'print JSON (shape, dtype, order, values)')
    .action(
      async (
        root: string,
        sampleId: string,
        options: { fields?: string[]; out?: string; json?: boolean },
      ) => {
        const text = await namingIndex(root, () =>
          withReader(root, (reader) => {
            // The library skips fields a sample lacks, as the Python reader does; on the command
            // line a misspelt field is an error.
            const known = reader.listFields();
            const unknown = options.fields?.find((f) => !known.includes(f));
            if (unknown !== undefined) throw new UnknownFieldError(root, unknown, known);
            const sample = reader.getSample(sampleId, options.fields);
            if (options.out) {
              fs.mkdirSync(options.out, { recursive: true });
              const written: string[] = [];
              for (const [field, array] of Object.entries(sample.arrays)) {
                const file = path.join(options.out, `${field}.npy`);
                // The descr the array was read with: byte order, string widths and units as stored.
                const npy = encodeNpy(array);
                fs.writeFileSync(file, Buffer.concat([npy.header, npy.data]));
                written.push(file);
              }
              return `${written.map((f) => `wrote ${f}`).join('\n')}\n`;
            }
            if (options.json) {
              const arrays = Object.fromEntries(
                Object.entries(sample.arrays).map(([f, a]) => [
                  f,
                  {
                    dtype: a.dtype,
                    shape: a.shape,
                    order: a.order,
                    ...(a.descr ? { descr: a.descr } : {}),
                    values: arrayValues(a),
                  },
                ]),
              );
              return `${jsonLine({ sampleId, metadata: sample.metadata, arrays })}\n`;
            }
            const lines = [`sample ${sampleId}`, `metadata ${metaJson(sample.metadata, sampleId)}`];
            for (const [field, array] of Object.entries(sample.arrays))
              lines.push(`  ${field}: ${summarizeArray(array)}`);
            return `${lines.join('\n')}\n`;
          }),
        );
        await writeStdout(text);
      },
    );

  shards
    .command('query')
    .description('sample ids matching an SQL condition, one per line')
    .argument('<root>', 'dataset directory')
    .option('-w, --where <sql>', 'SQL condition, e.g. "json_extract(meta_json, \'$.length\') > ?"')
    .option('--params <json>', 'JSON array of values for the ? placeholders')
    .option('-l, --limit <n>', 'maximum ids', nonNegativeInteger)
    .option('--json', 'print a JSON array')
    .action(
      async (root: string, options: { where?: string; params?: string; limit?: number; json?: boolean }) => {
        const ids = await namingIndex(root, () =>
          withReader(root, (reader) =>
            reader.queryIds(options.where, parseParams(options.params), options.limit),
          ),
        );
        await writeStdout(options.json ? `${JSON.stringify(ids)}\n` : ids.map((id) => `${id}\n`).join(''));
      },
    );

  shards
    .command('verify')
    .description(
      'check every indexed member: tar header checksum, name, size, npy header (exit 1 on problems)',
    )
    .argument('<root>', 'dataset directory')
    .option('--json', 'print the report as JSON')
    .action(async (root: string, options: { json?: boolean }) => {
      checkRoot(root);
      const report = await namingIndex(root, () => verifyShards(root));
      if (options.json) await writeStdout(`${JSON.stringify(report, null, 2)}\n`);
      else {
        const lines = [
          `checked ${report.membersChecked} members of ${report.samples} samples in ${report.shards} shards (${report.fields} fields)`,
          ...report.problems.map((p) => `problem: ${p.message}`),
          ...report.warnings.map((p) => `warning: ${p.message}`),
          report.ok ? 'ok' : `${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}`,
        ];
        await writeStdout(`${lines.join('\n')}\n`);
      }
      if (!report.ok)
        throw new RunlakeError(
          `${root}: ${report.problems.length} indexed member${report.problems.length === 1 ? '' : 's'} failed verification; ` +
            `first: ${report.problems[0]?.message}`,
        );
    });

  shards
    .command('convert')
    .description(
      'Parquet time series → sharded <name>_train/_val/_test datasets, as synthefy-dataset-utils convert_to_sharded builds them',
    )
    .argument('<input>', 'Parquet file')
    .argument('<out-dir>', 'directory for <name>_train, <name>_val, <name>_test')
    .option(
      '--config <json-file>',
      "the Python converter's config (timeseries.cols, window_size, …); flags override it",
    )
    .option('--timeseries <cols>', 'time-series columns (samples: history + target windows)', commaList)
    .option('--group <cols>', 'columns to group rows by', commaList)
    .option('--discrete <cols>', 'columns copied into metadata as strings', commaList)
    .option('--continuous <cols>', 'covariate columns (fields <col> and <col>_future)', commaList)
    .option('--window-size <n>', 'history + forecast length (default 256)', positiveInteger)
    .option('--stride <n>', 'step between windows (default 32)', positiveInteger)
    .option(
      '--history-length <n>',
      'history length (default: --history-ratio × window size)',
      positiveInteger,
    )
    .option('--history-ratio <x>', 'history share of the window (default 0.8)', Number)
    .option('--train <x>', 'train share per group (ratio split, default 0.8)', Number)
    .option('--val <x>', 'val share per group (ratio split, default 0.1)', Number)
    .option('--no-shuffle', 'keep window order within groups (ratio split)')
    .option('--seed <n>', "seed of numpy's default_rng for the shuffle (default 42)", nonNegativeInteger)
    .option('--timestamp-column <col>', 'split by time: the column of window start times')
    .option('--train-end <time>', 'time split: train windows start before this')
    .option('--val-end <time>', 'time split: val windows start before this; the rest is test')
    .option('--samples-per-shard <n>', 'samples per tar shard (default 10000)', positiveInteger)
    .option('--name <name>', "dataset name (default: the input file's stem)")
    .option('--json', 'print the report as JSON')
    .action(async (input: string, outDir: string, options: ConvertCliOptions & { json?: boolean }) => {
      const report = await convertParquetToShards(input, outDir, convertOptions(options));
      if (options.json) return writeStdout(`${JSON.stringify(report, null, 2)}\n`);
      const lines = [
        `${countOf(report.samples, 'sample')} from ${countOf(report.rows, 'row')} (history ${report.historyLength}, forecast ${report.forecastLength}; fields ${report.fields.join(', ')})`,
        ...Object.entries(report.splits).map(([split, s]) =>
          s ? `${split}: ${s.samples} samples → ${s.dir}` : `${split}: no samples (nothing written)`,
        ),
      ];
      await writeStdout(`${lines.join('\n')}\n`);
    });

  shards
    .command('compact')
    .description('rewrite shards without the dead bytes updates leave, atomically (takes the writer lock)')
    .argument('<root>', 'dataset directory')
    .option('--json', 'print the report as JSON')
    .action(async (root: string, options: { json?: boolean }) => {
      checkRoot(root);
      // Unlike a writer, compaction never starts a dataset: a root without an index is refused.
      checkIndexFile(root, 'read');
      const report = await namingIndex(root, () => compactShards(root));
      if (options.json) return writeStdout(`${JSON.stringify(report, null, 2)}\n`);
      const lines = report.fields.map(
        (f) =>
          `${f.field}: ${f.shardsRewritten} shard${f.shardsRewritten === 1 ? '' : 's'} rewritten, ${f.shardsRemoved} removed, ` +
          `${formatBytes(f.bytesBefore)} → ${formatBytes(f.bytesAfter)}`,
      );
      lines.push(`reclaimed ${formatBytes(report.bytesReclaimed)}`);
      await writeStdout(`${lines.join('\n')}\n`);
    });

  shards
    .command('reindex')
    .description(
      'record true byte offsets for rows the Python writer indexed (its offsets are running sums), in place; both readers read the result (takes the writer lock)',
    )
    .argument('<root>', 'dataset directory')
    .option('--json', 'print the report as JSON')
    .action(async (root: string, options: { json?: boolean }) => {
      checkRoot(root);
      // Like compact, never starts a dataset.
      checkIndexFile(root, 'read');
      const report = await namingIndex(root, () => reindexShards(root));
      if (options.json) return writeStdout(`${JSON.stringify(report, null, 2)}\n`);
      const lines = report.fields.map(
        (f) =>
          `${f.field}: ${f.rowsReindexed} row${f.rowsReindexed === 1 ? '' : 's'} reindexed` +
          (f.rowsUnresolved
            ? `, ${f.rowsUnresolved} without a member of their name (see \`runlake shards verify\`)`
            : ''),
      );
      lines.push(
        `${countOf(report.rowsReindexed, 'row')} now ${report.rowsReindexed === 1 ? 'holds' : 'hold'} byte offsets`,
      );
      await writeStdout(`${lines.join('\n')}\n`);
    });
}
