import { createHash, randomUUID } from 'node:crypto';
import { appendFile, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import {
  assertJsonDepth,
  type CanonicalizeOptions,
  decodeUtf8Strict,
  EVENTS_DATASET,
  gridRecord,
  InputFileError,
  lakePaths,
  listFilesNoFollow,
  type Params,
  quoteIdentifier,
  quoteLiteral,
  RunlakeError,
  SEEDS_DATASET,
  withStagingConnection,
  writeSweepQuery,
} from '../lake/index.js';
import { csvReadError, readCsvHeader, strictCsvSource } from './csv-strict.js';

/** Which dataset a legacy CSV sweep lands in. */
export type Granularity = 'event' | 'seed';

/** Options for {@link convertCsvSweep}. */
export interface ConvertOptions extends CanonicalizeOptions {
  /** `event`: each CSV row is an event (→ `events`); `seed`: a seed summary (→ `seeds`). */
  readonly granularity: Granularity;
  /** Plan only: report what would be converted, write nothing. */
  readonly dryRun?: boolean;
  /** Inputs converted at once (default 2). */
  readonly jobs?: number;
  /**
   * For CSVs without a `params.json`: the columns that hold the run parameters. Rows are grouped
   * by their values, one grid per distinct combination.
   */
  readonly paramColumns?: readonly string[];
  /** Params to add as partition directories before grid_id/seed (see `writeEventRows`). */
  readonly partitionByParams?: readonly string[];
  /** Called after each input with the running totals. */
  readonly onProgress?: (done: number, total: number, input: ConvertedInput) => void;
}

/** What happened to one CSV input. */
export interface ConvertedInput {
  /** Path relative to the CSV directory. */
  readonly source: string;
  readonly status: 'converted' | 'skipped' | 'planned';
  readonly rows: number;
  readonly gridIds: readonly string[];
  readonly seeds: readonly string[];
  readonly files: number;
}

/** Totals of a conversion run. */
export interface ConvertSummary {
  readonly inputs: readonly ConvertedInput[];
  readonly converted: number;
  readonly skipped: number;
  readonly rows: number;
  readonly files: number;
}

interface LedgerEntry {
  readonly key: string;
  readonly source: string;
  readonly dataset: string;
  readonly rows: number;
  readonly files: number;
  readonly converted_at: string;
}

const SEED_IN_NAME = /(?:^|[^a-z])seed[_=-]?(\d+)(?![0-9])/i;

/**
 * Converts a directory of legacy CSV results into a lake, incrementally and in parallel (the
 * exp_engine converter and its Snakemake rollup in one).
 *
 * Layout accepted (see docs/convert.md): every `*.csv` under `csvDir`, recursively. Params come
 * from the nearest `params.json` in the CSV's directory or above it (up to `csvDir`), or, when
 * there is none, from `paramColumns`. The seed comes from a `seed` column, else the params'
 * `seed`, else a `seed_<n>` / `seed=<n>` / `seed-<n>` in the file or directory name.
 *
 * An input's identity is the SHA-256 of its bytes, its params.json, the granularity and the
 * param columns. Inputs already in the lake's ledger are skipped, and their part files have
 * deterministic names, so an interrupted run can simply be run again.
 *
 * @example
 * ```ts
 * const summary = await convertCsvSweep('experiments/results', 'lake', { granularity: 'event', jobs: 4 });
 * console.log(summary.converted, summary.skipped);
 * ```
 */
export async function convertCsvSweep(
  csvDir: string,
  baseOut: string,
  options: ConvertOptions,
): Promise<ConvertSummary> {
  if (options.granularity !== 'event' && options.granularity !== 'seed') {
    throw new RunlakeError(`granularity must be "event" or "seed", got "${options.granularity}"`);
  }
  const root = path.resolve(csvDir);
  const csvs = await findCsvFiles(root);
  const ledger = await readLedger(baseOut);
  const jobs = Math.max(1, options.jobs ?? 2);

  // Every input not yet converted is checked before anything is written: a hostile file (a
  // ragged row, invalid UTF-8, a params.json that is not JSON or nests too deep) refuses the
  // whole run with its name and line, and the lake, ledger included, stays as it was.
  const planned: PlannedInput[] = new Array(csvs.length);
  await runPool(csvs.length, jobs, async (index) => {
    const file = csvs[index] as string;
    const source = path.relative(root, file);
    const shown = path.join(csvDir, source);
    const paramsFile = await findParamsJson(path.dirname(file), root);
    const key = await inputKey(file, source, paramsFile, options);
    planned[index] = ledger.has(key)
      ? { file, source, shown, paramsFile, key }
      : await checkInput({ file, source, shown, paramsFile, key }, root, csvDir, options);
  });

  const inputs: ConvertedInput[] = new Array(csvs.length);
  let done = 0;
  let ledgerWrites = Promise.resolve();
  const convertOne = async (index: number): Promise<void> => {
    const input = planned[index] as PlannedInput;
    const { key, source } = input;
    let result: ConvertedInput;
    if (ledger.has(key)) {
      const entry = ledger.get(key) as LedgerEntry;
      result = { source, status: 'skipped', rows: entry.rows, gridIds: [], seeds: [], files: 0 };
    } else {
      result = await convertInput(input, baseOut, options);
      if (result.status === 'converted') {
        const entry: LedgerEntry = {
          key,
          source,
          dataset: options.granularity === 'event' ? 'events' : 'seeds',
          rows: result.rows,
          files: result.files,
          converted_at: new Date().toISOString(),
        };
        ledger.set(key, entry);
        ledgerWrites = ledgerWrites.then(() => appendLedger(baseOut, entry));
        await ledgerWrites;
      }
    }
    inputs[index] = result;
    options.onProgress?.(++done, csvs.length, result);
  };

  await runPool(csvs.length, jobs, convertOne);
  return {
    inputs,
    converted: inputs.filter((i) => i.status === 'converted').length,
    skipped: inputs.filter((i) => i.status === 'skipped').length,
    rows: inputs.filter((i) => i.status !== 'skipped').reduce((a, i) => a + i.rows, 0),
    files: inputs.reduce((a, i) => a + i.files, 0),
  };
}

/** A CSV input found under the sweep directory, with its identity. */
interface PlannedInput {
  /** Absolute path. */
  readonly file: string;
  /** Path relative to the CSV directory. */
  readonly source: string;
  /** The path as the user spelled the directory: what error messages name. */
  readonly shown: string;
  readonly paramsFile?: string;
  readonly key: string;
  /** The params.json's params, once {@link checkInput} has read them. */
  readonly fileParams?: Params;
}

/**
 * Reads everything about an input that can be wrong with the file itself, writing nothing: its
 * params.json (strict UTF-8, a nesting limit, a JSON object), the CSV's structure (every row has
 * the header's field count, valid UTF-8, closed quotes: a strict read that names the line), the
 * param columns, a seed to partition by, and params the lake can canonicalize.
 */
async function checkInput(
  input: PlannedInput,
  root: string,
  csvDir: string,
  options: ConvertOptions,
): Promise<PlannedInput> {
  const { file, shown, paramsFile, source } = input;
  const fileParams = paramsFile
    ? await readParams(paramsFile, path.join(csvDir, path.relative(root, paramsFile)))
    : undefined;
  const paramColumns = options.paramColumns ?? [];
  if (!fileParams && paramColumns.length === 0) {
    throw new InputFileError(
      shown,
      'no params.json beside it (or above it) and no --param-columns to take params from',
    );
  }
  const header = await readCsvHeader(shown, file, ',');
  await withStagingConnection(async (connection) => {
    const columns = header.map((name) => ({ name, type: 'VARCHAR' }));
    await connection.run(`SELECT count(*) FROM ${strictCsvSource(file, ',', columns)}`).catch((error) => {
      throw csvReadError(shown, error);
    });
  });
  for (const column of paramColumns) {
    if (!header.includes(column))
      throw new InputFileError(shown, `param column "${column}" is not in the CSV header`);
  }
  if (paramColumns.length === 0) {
    const params = fileParams ?? {};
    const nameSeed = SEED_IN_NAME.exec(source)?.[1];
    const seed = params.seed ?? (nameSeed === undefined ? undefined : Number(nameSeed));
    if (!header.includes('seed') && seed === undefined) {
      throw new InputFileError(shown, 'no seed column, no seed in params.json and none in the file name');
    }
    try {
      gridRecord(seed === undefined ? params : { ...params, seed }, options);
    } catch (error) {
      if (error instanceof RunlakeError) throw new InputFileError(shown, error.message);
      throw error;
    }
  }
  return { ...input, fileParams };
}

async function convertInput(
  input: PlannedInput,
  baseOut: string,
  options: ConvertOptions,
): Promise<ConvertedInput> {
  const { file, shown: shownFile, source, key, fileParams } = input;
  const paramColumns = options.paramColumns ?? [];
  const nameSeed = SEED_IN_NAME.exec(source)?.[1];
  const dataset = options.granularity === 'event' ? EVENTS_DATASET : SEEDS_DATASET;

  // The CSV never passes through JavaScript: DuckDB parses it (in parallel, with its own type
  // detection) into a temp table, and each grid's rows are written from there with writeSweepQuery.
  return withStagingConnection(async (connection) => {
    const table = `csv_${randomUUID().replaceAll('-', '')}`;
    try {
      await connection.run(
        // Types are DuckDB's to detect, but not the dialect: checkInput read the file with this one.
        `CREATE TEMP TABLE ${table} AS SELECT * FROM read_csv(${quoteLiteral(file)}, header = true, ` +
          `delim = ',', quote = '"', escape = '"')`,
      );
    } catch (error) {
      throw csvReadError(shownFile, error);
    }
    try {
      const header = (await connection.runAndReadAll(`SELECT * FROM ${table} LIMIT 0`)).columnNames();
      for (const column of paramColumns) {
        if (!header.includes(column))
          throw new InputFileError(shownFile, `param column "${column}" is not in the CSV header`);
      }
      const groups = await paramGroups(connection, table, fileParams ?? {}, paramColumns);
      const hasSeedColumn = header.includes('seed');
      let rows = 0;
      let files = 0;
      const gridIds: string[] = [];
      const seeds = new Set<string>();
      for (const group of groups) {
        const seed = group.params.seed ?? (nameSeed === undefined ? undefined : Number(nameSeed));
        if (!hasSeedColumn && seed === undefined) {
          throw new InputFileError(
            shownFile,
            'no seed column, no seed in params.json and none in the file name',
          );
        }
        const params = seed === undefined ? group.params : { ...group.params, seed };
        gridIds.push(gridRecord(params, options).grid_id);
        const [count] = (await connection.runAndReadAll(`SELECT count(*) FROM (${group.select})`)).getRows();
        rows += Number(count?.[0] ?? 0);
        if (options.dryRun) {
          const seedText = hasSeedColumn
            ? `coalesce(CAST(seed AS VARCHAR), ${seed === undefined ? 'NULL' : quoteLiteral(String(seed))})`
            : quoteLiteral(String(seed));
          const reader = await connection.runAndReadAll(
            `SELECT DISTINCT ${seedText} FROM (${group.select}) ORDER BY 1`,
          );
          for (const [value] of reader.getRows()) seeds.add(String(value));
          continue;
        }
        const result = await writeSweepQuery(dataset, connection, group.select, baseOut, params, {
          volatileKeys: options.volatileKeys,
          partitionByParams: options.partitionByParams,
          fileStem: key.slice(0, 20),
        }).catch((error: unknown) => {
          throw error instanceof RunlakeError && !(error instanceof InputFileError)
            ? new InputFileError(shownFile, error.message)
            : error;
        });
        files += result.files.length + result.skippedFiles;
      }
      return {
        source,
        status: options.dryRun ? 'planned' : 'converted',
        rows,
        gridIds,
        seeds: [...seeds],
        files,
      };
    } finally {
      await connection.run(`DROP TABLE IF EXISTS ${table}`);
      await connection.run(`DROP TABLE IF EXISTS ${table}_grouped`);
    }
  });
}

/**
 * One grid per distinct combination of the param columns' values (or the whole file when there
 * are none): its params, and the SELECT giving its rows without the param columns.
 */
async function paramGroups(
  connection: DuckDBConnection,
  table: string,
  fileParams: Params,
  paramColumns: readonly string[],
): Promise<Array<{ params: Params; select: string }>> {
  if (paramColumns.length === 0) return [{ params: fileParams, select: `SELECT * FROM ${table}` }];
  const columns = paramColumns.map(quoteIdentifier);
  const grouped = `${table}_grouped`;
  // Number each distinct combination once, and tag every row with its combination's number.
  await connection.run(
    `CREATE TEMP TABLE ${grouped} AS SELECT t.*, g.__runlake_group FROM ${table} t JOIN ` +
      `(SELECT ${columns.join(', ')}, (row_number() OVER ()) - 1 AS __runlake_group ` +
      `FROM (SELECT DISTINCT ${columns.join(', ')} FROM ${table})) g ` +
      `ON ${columns.map((c) => `t.${c} IS NOT DISTINCT FROM g.${c}`).join(' AND ')}`,
  );
  const reader = await connection.runAndReadAll(
    `SELECT DISTINCT __runlake_group, ${columns.join(', ')} FROM ${grouped} ORDER BY 1`,
  );
  return reader.getRowObjectsJS().map((row) => {
    const params: Params = { ...fileParams };
    for (const column of paramColumns) params[column] = jsonSafe(row[column]);
    return {
      params,
      select: `SELECT * EXCLUDE (${[...columns, '__runlake_group'].join(', ')}) FROM ${grouped} WHERE __runlake_group = ${row.__runlake_group}`,
    };
  });
}

async function readParams(file: string, shown: string): Promise<Params> {
  let parsed: unknown;
  try {
    // Strict UTF-8 and a nesting limit first: canonicalizing params recurses, and a replaced
    // byte would silently change the grid's identity.
    const text = decodeUtf8Strict(await readFile(file), shown);
    assertJsonDepth(text, shown);
    parsed = JSON.parse(text);
  } catch (error) {
    if (error instanceof RunlakeError) throw error;
    const reason = (error as Error).message.split('\n')[0];
    if ((error as NodeJS.ErrnoException).code) throw new InputFileError(shown, `cannot read: ${reason}`);
    throw new InputFileError(shown, `is not valid JSON: ${reason}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InputFileError(shown, 'must hold a JSON object of parameters');
  }
  // A runlake params.json record ({grid_id, params_hash, params}) is accepted too.
  const record = parsed as Record<string, unknown>;
  return record.params_hash && record.params && typeof record.params === 'object'
    ? (record.params as Params)
    : record;
}

function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint')
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return value.toISOString();
  return value;
}

async function findCsvFiles(root: string): Promise<string[]> {
  try {
    if (!(await stat(root)).isDirectory()) throw new InputFileError(root, 'is not a directory');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new InputFileError(root, 'does not exist');
    throw error;
  }
  // Symlinked directories are not descended into (as git and rsync): a link back up the tree
  // would otherwise list the sweep over and over.
  const entries = await listFilesNoFollow(root, (name) => name.toLowerCase().endsWith('.csv'));
  return entries.map((e) => path.join(root, e)).sort();
}

async function findParamsJson(directory: string, root: string): Promise<string | undefined> {
  for (let dir = directory; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'params.json');
    try {
      await stat(candidate);
      return candidate;
    } catch {
      // keep looking upwards
    }
    if (dir === root || !dir.startsWith(root) || path.dirname(dir) === dir) return undefined;
  }
}

async function inputKey(
  file: string,
  source: string,
  paramsFile: string | undefined,
  options: ConvertOptions,
): Promise<string> {
  const hash = createHash('sha256');
  hash.update(await readFile(file));
  hash.update('\u0000');
  if (paramsFile) hash.update(await readFile(paramsFile));
  hash.update(`\u0000${options.granularity}\u0000${(options.paramColumns ?? []).join(',')}`);
  hash.update(`\u0000${SEED_IN_NAME.exec(source)?.[1] ?? ''}`);
  return hash.digest('hex');
}

async function readLedger(baseOut: string): Promise<Map<string, LedgerEntry>> {
  const ledger = new Map<string, LedgerEntry>();
  let text = '';
  try {
    text = await readFile(lakePaths(baseOut).convertLedger, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as LedgerEntry;
      ledger.set(entry.key, entry);
    } catch {
      // A torn last line from a crash: its input is simply converted again (idempotently).
    }
  }
  return ledger;
}

async function appendLedger(baseOut: string, entry: LedgerEntry): Promise<void> {
  const file = lakePaths(baseOut).convertLedger;
  await mkdir(path.dirname(file), { recursive: true });
  await appendFile(file, `${JSON.stringify(entry)}\n`, 'utf8');
}

async function runPool(count: number, jobs: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(jobs, count) }, worker));
}
