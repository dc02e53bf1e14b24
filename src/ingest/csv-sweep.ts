import { createHash, type Hash, randomUUID } from 'node:crypto';
import { appendFile, mkdir, open, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { discoverPartitionLayout } from '../lake/discover.js';
import {
  assertNoCollision,
  type CanonicalizeOptions,
  type ColumnType,
  commitStagedQueries,
  type DatasetDefinition,
  EVENTS_DATASET,
  type GridIdScheme,
  type GridIdSetting,
  gridIdentity,
  InputFileError,
  lakePaths,
  listFilesNoFollow,
  type Params,
  PythonFloat,
  quoteIdentifier,
  quoteLiteral,
  RunlakeError,
  readManifest,
  recordGridIdSetting,
  resolveGridIdScheme,
  SEEDS_DATASET,
  type StagedQuery,
  stageQuery,
  stagingPath,
  sweepPartitions,
  sweepStaleStaging,
  type WriteOptions,
  withStagingConnection,
  writeGridParams,
  writeSweepQuery,
} from '../lake/index.js';
import { csvReadError, readCsvHeader, strictCsvSource } from './csv-strict.js';
import {
  EXP_ENGINE_DEFAULTS,
  expEngineGridDir,
  findGridConfig,
  parseCsvFileName,
  parseGridDirName,
  readParamsFile,
  type TypedParams,
} from './exp-engine-params.js';

/** Which dataset a legacy CSV sweep lands in. */
export type Granularity = 'event' | 'seed';

/** Options for {@link convertCsvSweep} and {@link rollupCsvSweep}. */
export interface ConvertOptions extends CanonicalizeOptions {
  /** The grid-id scheme; defaults to the lake's (see `resolveGridIdScheme`). */
  readonly gridIdScheme?: GridIdScheme;
  /**
   * `event`: each CSV row is an event (→ `events`); `seed`: one summary row per CSV (→ `seeds`,
   * exp_engine's seed summary), or the CSV's own rows with `copySeedRows` or `paramColumns`.
   */
  readonly granularity: Granularity;
  /** Plan only: report what would be converted, write nothing. */
  readonly dryRun?: boolean;
  /** Inputs converted at once (default 2). */
  readonly jobs?: number;
  /**
   * The columns that hold the run parameters (instead of a params file): rows are grouped by
   * their values, one grid per distinct combination, and copied as they are at either granularity.
   */
  readonly paramColumns?: readonly string[];
  /** Seed granularity: copy each CSV's rows as seed rows instead of summarising the CSV. */
  readonly copySeedRows?: boolean;
  /** Params to add as partition directories before grid_id/seed (see `writeEventRows`). */
  readonly partitionByParams?: readonly string[];
  /** Called after each input with the running totals. */
  readonly onProgress?: (done: number, total: number, input: ConvertedInput) => void;
}

/** Where an input's params came from (see docs/convert.md, "Layouts"). */
export type ParamsSource =
  /** `--param-columns`: CSV columns, one grid per distinct combination. */
  | 'columns'
  /** runlake's own layout: the nearest params.json, below the exp_engine grid directory. */
  | 'params.json'
  /** exp_engine's layout: the grid directory's config file, else its name, plus the defaults. */
  | 'exp_engine';

/** What happened to one CSV input at one granularity. */
export interface ConvertedInput {
  /** Path relative to the CSV directory. */
  readonly source: string;
  readonly granularity: Granularity;
  readonly status: 'converted' | 'skipped' | 'planned';
  /** Rows written (a seed summary is one row; an empty CSV none). */
  readonly rows: number;
  readonly gridIds: readonly string[];
  readonly seeds: readonly string[];
  readonly files: number;
  readonly paramsSource: ParamsSource;
}

/** Totals of a conversion run at one granularity. */
export interface ConvertSummary {
  readonly granularity: Granularity;
  readonly inputs: readonly ConvertedInput[];
  readonly converted: number;
  readonly skipped: number;
  readonly rows: number;
  readonly files: number;
}

/** Totals of a {@link rollupCsvSweep}: seed summaries first, then events, as exp_engine's rollup. */
export interface RollupSummary {
  readonly seeds: ConvertSummary;
  readonly events: ConvertSummary;
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
 * The strings pandas' `read_csv` reads as missing by default. A summary or an exp_engine layout
 * reads CSVs with them as nulls, so that a mean skips what pandas' skipped and `None` in a text
 * column is null, as in exp_engine's Parquet.
 */
const PANDAS_NA = [
  '',
  '#N/A',
  '#N/A N/A',
  '#NA',
  '-1.#IND',
  '-1.#QNAN',
  '-NaN',
  '-nan',
  '1.#IND',
  '1.#QNAN',
  '<NA>',
  'N/A',
  'NA',
  'NULL',
  'NaN',
  'None',
  'n/a',
  'nan',
  'null',
];

/** The last-row columns exp_engine copies into a seed summary when the CSV has them. */
const LAST_ROW_COLUMNS = ['eps_spent', 'capacity_remaining', 'rho_spent'];
/** The columns a seed summary computes; params of the same name give way to them. */
const SUMMARY_COLUMNS = [
  'avg_regret_empirical',
  'N_star_emp',
  'm_emp',
  'final_acc',
  'total_events',
  ...LAST_ROW_COLUMNS,
];

/**
 * Converts a directory of legacy CSV results into a lake, incrementally and in parallel (the
 * exp_engine converter, with its layouts, seed summaries and defaults; see docs/convert.md).
 *
 * Every `*.csv` under `csvDir` is one input. Its params come from `paramColumns`, else the
 * nearest `params.json` when it lies below the CSV's exp_engine grid directory, else exp_engine's
 * rules: the grid directory's `*.json`/`config.yaml`/`params.yaml`, else its name
 * (`split_0.7-0.3_q0.95_k10_default`), plus the defaults `algo=memorypair`, `accountant=zcdp`
 * and the file name's algorithm (`seed_001_baseline_….csv`). The seed comes from the file name
 * or the params (and, for events, a `seed` column first).
 *
 * An input's identity is the SHA-256 of its bytes, its params file, the granularity and the
 * params it resolves to. Inputs already in the lake's ledger are skipped, and their part files
 * have deterministic names, so an interrupted run can simply be run again. Every input not yet
 * converted is checked before anything is written.
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
  const [summary] = await convertSweep(csvDir, baseOut, [options.granularity], options);
  return summary as ConvertSummary;
}

/**
 * exp_engine's rollup without Snakemake: converts a CSV sweep at the seed granularity and then at
 * the event granularity, in one run. All inputs are checked once, before anything is written;
 * each granularity keeps its own ledger identity, so either half of an interrupted rollup is
 * resumed on its own.
 *
 * @example
 * ```ts
 * const { seeds, events } = await rollupCsvSweep('experiments/results', 'lake', { jobs: 4 });
 * console.log(seeds.converted, events.converted);
 * ```
 */
export async function rollupCsvSweep(
  csvDir: string,
  baseOut: string,
  options: Omit<ConvertOptions, 'granularity'>,
): Promise<RollupSummary> {
  const [seeds, events] = await convertSweep(csvDir, baseOut, ['seed', 'event'], {
    ...options,
    granularity: 'seed',
  });
  return { seeds: seeds as ConvertSummary, events: events as ConvertSummary };
}

/** A CSV input found under the sweep directory, with its params and identities. */
interface PlannedInput {
  /** Absolute path. */
  readonly file: string;
  /** Path relative to the CSV directory. */
  readonly source: string;
  /** The path as the user spelled the directory: what error messages name. */
  readonly shown: string;
  readonly resolved: ResolvedParams;
  /** Ledger identity per granularity. */
  readonly keys: Readonly<Record<Granularity, string>>;
  /** The CSV's data rows, counted by the strict read that checked it (inputs to convert only). */
  rows?: number;
  /** The CSV's header row, once read (inputs to convert only). */
  header?: readonly string[];
  /** Per granularity, the input's rows staged while checking it, and once committed, its result. */
  readonly staged: Partial<Record<Granularity, StagedInput>>;
}

/** The params of one input, before any param columns are read. */
interface ResolvedParams {
  readonly kind: ParamsSource;
  /** The params file read, if any. */
  readonly paramsFile?: string;
  /**
   * The grid's params, seed excluded: for exp_engine layouts with the defaults and the file
   * name's algorithm. The grid id is computed from these.
   */
  readonly params: Params;
  /** The params as the rows carry them, in exp_engine's order (grid params, then file params). */
  readonly rowParams: Params;
  /** Keys whose numbers are floats even when integral. */
  readonly floatKeys: ReadonlySet<string>;
  /** The seed the file's path or params give, if any (a `seed` column comes first for events). */
  readonly seed?: number;
}

/** Caches of one run: a grid directory's params are read once for all its CSVs. */
interface ResolveCache {
  readonly gridDirs: Map<string, Promise<{ file?: string; typed: TypedParams }>>;
  readonly paramsJson: Map<string, Promise<Params>>;
}

async function convertSweep(
  csvDir: string,
  baseOut: string,
  granularities: readonly Granularity[],
  options: ConvertOptions,
): Promise<ConvertSummary[]> {
  const root = path.resolve(csvDir);
  const csvs = await findCsvFiles(root);
  const ledger = await readLedger(baseOut);
  const jobs = Math.max(1, options.jobs ?? 2);
  // One scheme for the whole run: the lake's (an exp_engine lake keeps exp_engine's ids).
  const setting = await resolveGridIdScheme(lakePaths(baseOut), options.gridIdScheme);
  options = { ...options, gridIdScheme: setting.scheme };
  const cache: ResolveCache = { gridDirs: new Map(), paramsJson: new Map() };
  const run = newStagingRun(baseOut, setting, jobs);
  let done = false;
  try {
    const summaries = await convertPlanned(
      csvDir,
      root,
      csvs,
      baseOut,
      granularities,
      options,
      ledger,
      cache,
      run,
      jobs,
    );
    done = true;
    return summaries;
  } finally {
    for (const batch of await Promise.allSettled(run.batches.values())) {
      if (batch.status !== 'fulfilled') continue;
      // A failure to clean up must not hide the error that ended the run (the next writer's
      // sweep removes what is left).
      await rm(batch.value.stagingDir, { recursive: true, force: true }).catch(() => {});
    }
    // Innermost first; a directory something else has meanwhile put files in stays.
    if (!done) for (const dir of run.created.reverse()) await rmdir(dir).catch(() => {});
  }
}

async function convertPlanned(
  csvDir: string,
  root: string,
  csvs: readonly string[],
  baseOut: string,
  granularities: readonly Granularity[],
  options: ConvertOptions,
  ledger: Map<string, LedgerEntry>,
  cache: ResolveCache,
  run: StagingRun,
  jobs: number,
): Promise<ConvertSummary[]> {
  // Every input not yet converted is checked before anything is written: a hostile file (a
  // ragged row, invalid UTF-8, a params file that is not JSON or nests too deep) refuses the
  // whole run with its name and line, and the lake, ledger included, stays as it was.
  const planned: PlannedInput[] = new Array(csvs.length);
  const total = csvs.length * granularities.length;
  let done = 0;
  // A staged input is reported when staged: staging is its conversion's work (its commit, with
  // all the others, takes a moment at the end), so a progress bar moves while it happens.
  run.onStaged = (result) => options.onProgress?.(++done, total, result);
  await runPool(csvs.length, jobs, async (index) => {
    const file = csvs[index] as string;
    const source = path.relative(root, file);
    const shown = path.join(csvDir, source);
    const resolved = await resolveParams(file, source, shown, root, csvDir, options, cache);
    const keys = {} as Record<Granularity, string>;
    for (const granularity of granularities) {
      keys[granularity] = await inputKey(file, source, resolved, { ...options, granularity });
    }
    const input: PlannedInput = { file, source, shown, resolved, keys, staged: {} };
    const pending = granularities.filter((g) => !ledger.has(keys[g]));
    if (pending.length > 0) {
      // An input whose rows are copied as they are is read once: staging its Parquet file is its
      // strict read (the file stays in the run's staging area until every input has passed).
      const copies = pending.every((g) => copiesRows(resolved, g, options));
      const header = await checkInput(input, pending, options, !copies);
      let staged = copies && !header.includes('seed');
      for (const granularity of pending) {
        if (staged) staged = await stageInput(input, granularity, baseOut, options, run);
      }
      if (copies && !staged) await strictRead(input);
    }
    planned[index] = input;
  });

  let ledgerWrites = Promise.resolve();
  const summaries: ConvertSummary[] = [];
  for (const granularity of granularities) {
    const inputs: ConvertedInput[] = new Array(csvs.length);
    const dataset = granularity === 'event' ? 'events' : 'seeds';
    // The inputs staged while checking go in first, all in one commit.
    await commitStagedInputs(run, granularity === 'event' ? EVENTS_DATASET : SEEDS_DATASET, options);
    await runPool(csvs.length, jobs, async (index) => {
      const input = planned[index] as PlannedInput;
      const key = input.keys[granularity];
      const entry = ledger.get(key);
      const staged = input.staged[granularity];
      let result: ConvertedInput;
      if (entry) {
        result = {
          source: input.source,
          granularity,
          status: 'skipped',
          rows: entry.rows,
          gridIds: [],
          seeds: [],
          files: 0,
          paramsSource: input.resolved.kind,
        };
      } else {
        result = staged?.result ?? (await convertInput(input, granularity, baseOut, options));
        if (result.status === 'converted') {
          const converted: LedgerEntry = {
            key,
            source: input.source,
            dataset,
            rows: result.rows,
            files: result.files,
            converted_at: new Date().toISOString(),
          };
          ledger.set(key, converted);
          ledgerWrites = ledgerWrites.then(() => appendLedger(baseOut, converted));
          await ledgerWrites;
        }
      }
      inputs[index] = result;
      if (!staged) options.onProgress?.(++done, total, result);
    });
    summaries.push({
      granularity,
      inputs,
      converted: inputs.filter((i) => i.status === 'converted').length,
      skipped: inputs.filter((i) => i.status === 'skipped').length,
      rows: inputs.filter((i) => i.status !== 'skipped').reduce((a, i) => a + i.rows, 0),
      files: inputs.reduce((a, i) => a + i.files, 0),
    });
  }
  return summaries;
}

/**
 * The params of one CSV (docs/convert.md, "Layouts"): param columns; else the nearest
 * params.json when it is below the exp_engine grid directory (runlake's own layout, which
 * exp_engine never looked into); else exp_engine's rules.
 */
async function resolveParams(
  file: string,
  source: string,
  shown: string,
  root: string,
  csvDir: string,
  options: ConvertOptions,
  cache: ResolveCache,
): Promise<ResolvedParams> {
  const shownOf = (p: string) => path.join(csvDir, path.relative(root, p));
  const readJson = (p: string) => {
    let read = cache.paramsJson.get(p);
    if (!read) {
      read = readParamsFile(p, shownOf(p), 'json');
      cache.paramsJson.set(p, read);
    }
    return read;
  };
  const nameSeed = SEED_IN_NAME.exec(source)?.[1];
  const pathSeed = nameSeed === undefined ? undefined : Number(nameSeed);
  const paramsJson = await findParamsJson(path.dirname(file), root);
  const gridDir = expEngineGridDir(file, root);
  const runlakeLayout = paramsJson !== undefined && path.relative(gridDir, path.dirname(paramsJson)) !== '';
  if ((options.paramColumns?.length ?? 0) > 0 || runlakeLayout) {
    const params = paramsJson ? { ...(await readJson(paramsJson)) } : {};
    const seed = checkSeed(params.seed, shown, 'params.json') ?? pathSeed;
    delete params.seed;
    return {
      kind: runlakeLayout && !options.paramColumns?.length ? 'params.json' : 'columns',
      paramsFile: paramsJson,
      params,
      rowParams: seed === undefined ? params : { ...params, seed },
      floatKeys: new Set(),
      seed,
    };
  }

  const readConfig = (p: string, kind: 'json' | 'yaml') =>
    kind === 'json' ? readJson(p) : readParamsFile(p, shownOf(p), kind);
  let grid = cache.gridDirs.get(gridDir);
  if (!grid) {
    grid = (async () => {
      const config = await findGridConfig(gridDir);
      const fromFile = config ? await readConfig(config.file, config.kind) : {};
      // An empty config counts as none: the directory's name is read instead (as exp_engine).
      return Object.keys(fromFile).length > 0
        ? { file: config?.file, typed: { params: fromFile, floatKeys: new Set<string>() } }
        : { file: config?.file, typed: parseGridDirName(path.basename(gridDir)) };
    })().catch((error: unknown) => {
      throw error instanceof RunlakeError && !(error instanceof InputFileError)
        ? new InputFileError(shownOf(gridDir), error.message)
        : error;
    });
    cache.gridDirs.set(gridDir, grid);
  }
  const { file: configFile, typed } = await grid;
  const gridParams: Params = { ...typed.params };
  for (const [key, value] of Object.entries(EXP_ENGINE_DEFAULTS)) {
    if (!Object.hasOwn(gridParams, key)) gridParams[key] = value;
  }
  let fileParams: Params;
  try {
    fileParams = { ...parseCsvFileName(path.basename(file)) };
  } catch (error) {
    if (error instanceof RunlakeError) throw new InputFileError(shown, error.message);
    throw error;
  }
  const rowParams: Params = { ...gridParams, ...fileParams };
  // The seed: the file name's, else the config's, else (beyond exp_engine, which would have
  // written the rows without one) a seed=<n> / seed-<n> elsewhere in the path.
  const seed =
    checkSeed(rowParams.seed, shown, configFile ? shownOf(configFile) : 'the grid params') ?? pathSeed;
  if (seed !== undefined) rowParams.seed = seed;
  const params: Params = { ...rowParams };
  delete params.seed;
  return { kind: 'exp_engine', paramsFile: configFile, params, rowParams, floatKeys: typed.floatKeys, seed };
}

function checkSeed(value: unknown, shown: string, from: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  throw new InputFileError(shown, `the seed in ${from} is ${JSON.stringify(value)}, not an integer`);
}

/**
 * Reads everything about an input that can be wrong with the file itself, writing nothing: the
 * CSV's structure (every row has the header's field count, valid UTF-8, closed quotes: a strict
 * read that names the line), the param columns, a seed to partition by, params the lake can
 * canonicalize, and for a seed summary a numeric `regret` column.
 */
async function checkInput(
  input: PlannedInput,
  granularities: readonly Granularity[],
  options: ConvertOptions,
  read: boolean,
): Promise<string[]> {
  const { file, shown, resolved } = input;
  const paramColumns = options.paramColumns ?? [];
  const header = await readCsvHeader(shown, file, ',');
  input.header = header;
  if (read) await strictRead(input, header);
  await withStagingConnection(async (connection) => {
    if (!granularities.some((g) => summarises(resolved, g, options)) || !header.includes('regret')) return;
    // pandas' mean refused a text column (and exp_engine then dropped the file with a warning).
    await connection
      .run(`CREATE TEMP TABLE check_regret AS SELECT regret FROM ${typedCsvSource(file, resolved, true)}`)
      .catch((error) => {
        throw csvReadError(shown, error);
      });
    try {
      const type = await columnTypes(connection, 'check_regret');
      if (!isTextType(type.get('regret') ?? '')) return;
      const [bad] = (
        await connection.runAndReadAll(
          `SELECT regret FROM check_regret WHERE regret IS NOT NULL AND TRY_CAST(regret AS DOUBLE) IS NULL LIMIT 1`,
        )
      ).getRows();
      if (bad) {
        throw new InputFileError(
          shown,
          `column "regret" holds text (${JSON.stringify(String(bad[0]))}), so its mean cannot be taken for the seed summary`,
        );
      }
    } finally {
      await connection.run('DROP TABLE IF EXISTS check_regret');
    }
  });
  for (const column of paramColumns) {
    if (!header.includes(column))
      throw new InputFileError(shown, `param column "${column}" is not in the CSV header`);
  }
  if (paramColumns.length > 0) return header;
  for (const granularity of granularities) {
    if (summarises(resolved, granularity, options)) {
      if (resolved.seed === undefined) {
        throw new InputFileError(
          shown,
          'no seed in the file name (seed_<n>_….csv) or in the params, which its seed summary row needs',
        );
      }
    } else if (!header.includes('seed') && resolved.seed === undefined) {
      throw new InputFileError(shown, 'no seed column, no seed in params.json and none in the file name');
    }
  }
  try {
    gridIdentity(
      pythonTyped(
        resolved.seed === undefined ? resolved.params : { ...resolved.params, seed: resolved.seed },
        resolved.floatKeys,
      ),
      options.gridIdScheme,
      options,
    );
  } catch (error) {
    if (error instanceof RunlakeError) throw new InputFileError(shown, error.message);
    throw error;
  }
  return header;
}

/**
 * Reads a whole CSV with its dialect fixed and nothing sniffed (every row has the header's field
 * count, valid UTF-8, closed quotes), refusing it with the line; records its row count.
 */
async function strictRead(input: PlannedInput, header?: readonly string[]): Promise<void> {
  const { file, shown } = input;
  const names = header ?? (await readCsvHeader(shown, file, ','));
  await withStagingConnection(async (connection) => {
    const columns = names.map((name) => ({ name, type: 'VARCHAR' }));
    const counted = await connection
      .runAndReadAll(`SELECT count(*) FROM ${strictCsvSource(file, ',', columns)}`)
      .catch((error) => {
        throw csvReadError(shown, error);
      });
    input.rows = Number(counted.getRows()[0]?.[0] ?? 0);
  });
}

/** Whether an input's rows are copied as they are at this granularity (no summary, one grid). */
function copiesRows(resolved: ResolvedParams, granularity: Granularity, options: ConvertOptions): boolean {
  return !summarises(resolved, granularity, options) && !options.paramColumns?.length && !options.dryRun;
}

/** Whether an input is written as one summary row per CSV at this granularity. */
function summarises(resolved: ResolvedParams, granularity: Granularity, options: ConvertOptions): boolean {
  return granularity === 'seed' && resolved.kind !== 'columns' && !options.copySeedRows;
}

/**
 * The typed read of a CSV (DuckDB detects the types; the dialect is the one checkInput read it
 * with). exp_engine layouts and summaries read pandas' missing-value strings as nulls.
 */
function typedCsvSource(file: string, resolved: ResolvedParams, summary: boolean): string {
  return (
    `read_csv(${quoteLiteral(file)}, header = true, delim = ',', quote = '"', escape = '"'` +
    `${pandasNulls(resolved, summary)})`
  );
}

/** The `nullstr` option of an exp_engine layout's or a summary's read (pandas' missing values). */
function pandasNulls(resolved: ResolvedParams, summary: boolean): string {
  const pandas = summary || resolved.kind === 'exp_engine';
  return pandas ? `, nullstr = [${PANDAS_NA.map(quoteLiteral).join(', ')}]` : '';
}

async function columnTypes(connection: DuckDBConnection, table: string): Promise<Map<string, string>> {
  const reader = await connection.runAndReadAll(`DESCRIBE ${table}`);
  return new Map(reader.getRowObjectsJS().map((row) => [String(row.column_name), String(row.column_type)]));
}

function isTextType(type: string): boolean {
  return type === 'VARCHAR';
}

function isNumericType(type: string): boolean {
  return /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL.*)$/.test(
    type,
  );
}

function isFloatType(type: string): boolean {
  return type === 'DOUBLE' || type === 'FLOAT';
}

async function convertInput(
  input: PlannedInput,
  granularity: Granularity,
  baseOut: string,
  options: ConvertOptions,
): Promise<ConvertedInput> {
  const { file, shown: shownFile, source, resolved, keys } = input;
  const paramColumns = options.paramColumns ?? [];
  const summary = summarises(resolved, granularity, options);
  const dataset = granularity === 'event' ? EVENTS_DATASET : SEEDS_DATASET;
  if (!summary && paramColumns.length === 0 && !options.dryRun) {
    return convertRows(input, granularity, baseOut, options);
  }

  // The CSV never passes through JavaScript: DuckDB parses it (in parallel, with its own type
  // detection) into a temp table, and each grid's rows are written from there with writeSweepQuery.
  return withStagingConnection(async (connection) => {
    const table = `csv_${randomUUID().replaceAll('-', '')}`;
    try {
      await connection.run(
        `CREATE TEMP TABLE ${table} AS SELECT * FROM ${typedCsvSource(file, resolved, summary)}`,
      );
    } catch (error) {
      throw csvReadError(shownFile, error);
    }
    try {
      const types = await columnTypes(connection, table);
      const header = [...types.keys()];
      for (const column of paramColumns) {
        if (!header.includes(column))
          throw new InputFileError(shownFile, `param column "${column}" is not in the CSV header`);
      }
      const [[count] = []] = (await connection.runAndReadAll(`SELECT count(*) FROM ${table}`)).getRows();
      const groups: Array<{ params: Params; select: string }> = [];
      if (summary) {
        // exp_engine skipped an empty CSV: there is no last row to summarise.
        if (Number(count ?? 0) > 0) {
          groups.push({ params: resolved.params, select: summarySelect(table, types, resolved) });
        }
      } else if (paramColumns.length > 0) {
        groups.push(...(await paramGroups(connection, table, resolved.params, paramColumns)));
      } else if (resolved.kind === 'exp_engine') {
        groups.push({ params: resolved.params, select: expEngineEventSelect(table, types, resolved) });
      } else {
        groups.push({ params: resolved.params, select: `SELECT * FROM ${table}` });
      }
      const hasSeedColumn = header.includes('seed') && !summary;
      let rows = 0;
      let files = 0;
      const gridIds: string[] = [];
      const seeds = new Set<string>();
      for (const group of groups) {
        // A param column named seed gives each group its own; otherwise the file's.
        const seed = group.params.seed !== undefined ? group.params.seed : resolved.seed;
        if (!hasSeedColumn && seed === undefined) {
          throw new InputFileError(
            shownFile,
            'no seed column, no seed in params.json and none in the file name',
          );
        }
        const params = pythonTyped(
          seed === undefined ? group.params : { ...group.params, seed },
          resolved.floatKeys,
        );
        gridIds.push(gridIdentity(params, options.gridIdScheme, options).grid_id);
        const [counted] = (
          await connection.runAndReadAll(`SELECT count(*) FROM (${group.select})`)
        ).getRows();
        rows += Number(counted?.[0] ?? 0);
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
          gridIdScheme: options.gridIdScheme,
          partitionByParams: options.partitionByParams,
          fileStem: keys[granularity].slice(0, 20),
        }).catch((error: unknown) => {
          throw error instanceof RunlakeError && !(error instanceof InputFileError)
            ? new InputFileError(shownFile, error.message)
            : error;
        });
        files += result.files.length + result.skippedFiles;
      }
      return {
        source,
        granularity,
        status: options.dryRun ? 'planned' : 'converted',
        rows,
        gridIds,
        seeds: [...seeds],
        files,
        paramsSource: resolved.kind,
      };
    } finally {
      await connection.run(`DROP TABLE IF EXISTS ${table}`);
      await connection.run(`DROP TABLE IF EXISTS ${table}_grouped`);
    }
  });
}

/**
 * An input whose rows are copied as they are (one grid, no summary): the CSV is read once, by the
 * COPY that writes its Parquet file. Its types are sniffed first (DuckDB reads a sample), and the
 * read itself then runs with those types and the dialect fixed, so nothing is sniffed twice.
 */
async function convertRows(
  input: PlannedInput,
  granularity: Granularity,
  baseOut: string,
  options: ConvertOptions,
): Promise<ConvertedInput> {
  const { file, shown: shownFile, source, resolved, keys } = input;
  const dataset = granularity === 'event' ? EVENTS_DATASET : SEEDS_DATASET;
  return withStagingConnection(async (connection) => {
    const read = await sniffedCsvSource(connection, file, resolved, shownFile);
    const seed = resolved.seed;
    if (!read.types.has('seed') && seed === undefined) {
      throw new InputFileError(shownFile, 'no seed column, no seed in params.json and none in the file name');
    }
    const params = pythonTyped(
      seed === undefined ? resolved.params : { ...resolved.params, seed },
      resolved.floatKeys,
    );
    const gridId = gridIdentity(params, options.gridIdScheme, options).grid_id;
    const select =
      resolved.kind === 'exp_engine'
        ? expEngineEventSelect(read.source, read.types, resolved)
        : `SELECT * FROM ${read.source}`;
    const result = await writeSweepQuery(dataset, connection, select, baseOut, params, {
      volatileKeys: options.volatileKeys,
      gridIdScheme: options.gridIdScheme,
      partitionByParams: options.partitionByParams,
      fileStem: keys[granularity].slice(0, 20),
    }).catch((error: unknown) => {
      if (error instanceof InputFileError) throw error;
      // A row the sample did not foresee (text in a column sniffed as numbers) stops the COPY.
      if (!(error instanceof RunlakeError)) throw csvReadError(shownFile, error);
      throw new InputFileError(shownFile, error.message);
    });
    // Files an interrupted run already published are skipped: the rows are the checked count.
    const rows = result.files.length > 0 ? result.rowCount : (input.rows ?? result.rowCount);
    return {
      source,
      granularity,
      status: 'converted',
      rows,
      gridIds: [gridId],
      seeds: [],
      files: result.files.length + result.skippedFiles,
      paramsSource: resolved.kind,
    };
  });
}

/** An input's rows staged for one granularity, and its result once the batch is committed. */
interface StagedInput {
  readonly index: number;
  readonly shown: string;
  readonly source: string;
  readonly paramsSource: ParamsSource;
  readonly granularity: Granularity;
  readonly query: StagedQuery;
  readonly params: Params;
  readonly gridId: string;
  readonly writeOptions: WriteOptions;
  /** The input's result, final once the batch is committed (a failed commit fails the run). */
  readonly result: ConvertedInput;
}

/** The staged inputs of one dataset: one staging directory, committed once. */
interface StagedBatch {
  readonly stagingDir: string;
  readonly entries: StagedInput[];
  /** Ledger key → the input staged under it, so the same input twice is copied once. */
  readonly byKey: Map<string, Promise<StagedQuery | undefined>>;
}

/** What staging inputs during a run shares: the batches, and what every input would re-read. */
interface StagingRun {
  readonly baseOut: string;
  readonly setting: GridIdSetting;
  readonly batches: Map<string, Promise<StagedBatch>>;
  /** Directories of the lake that did not exist before staging began (the lake's own included). */
  readonly created: string[];
  /** DuckDB threads per staging COPY: the cores shared among the jobs. */
  readonly threads: number;
  /** Reports an input as staged (the run's progress). */
  onStaged?: (result: ConvertedInput) => void;
  readonly layouts: Map<string, Promise<ReadonlyArray<{ name: string; type: ColumnType }> | undefined>>;
  readonly collisions: Map<string, Promise<void>>;
}

function newStagingRun(baseOut: string, setting: GridIdSetting, jobs: number): StagingRun {
  return {
    baseOut,
    setting,
    batches: new Map(),
    layouts: new Map(),
    collisions: new Map(),
    created: [],
    threads: Math.max(1, Math.floor(availableParallelism() / jobs)),
  };
}

const convertInstances = new Map<number, Promise<DuckDBInstance>>();

/**
 * Runs `use` with a connection to this process's conversion instance for `threads` DuckDB
 * threads per query. Inputs are converted `jobs` at a time, so each COPY gets its share of the
 * cores: on a small CSV, DuckDB's parallel reader and writer spend a third more CPU on two threads
 * than on one for the same work (docs/benchmarks.md, "Where convert-csv's time goes"), and with
 * one thread the `jobs` COPYs still run at once, each on the thread that runs its query.
 */
async function withConvertConnection<T>(
  threads: number,
  use: (connection: DuckDBConnection) => Promise<T>,
): Promise<T> {
  let instance = convertInstances.get(threads);
  if (!instance) {
    instance = DuckDBInstance.create(':memory:', {
      threads: String(threads),
      autoload_known_extensions: 'false',
      autoinstall_known_extensions: 'false',
    });
    convertInstances.set(threads, instance);
  }
  const connection = await (await instance).connect();
  try {
    return await use(connection);
  } finally {
    connection.closeSync();
  }
}

/** The run's batch for a dataset, its staging directory created on first use. */
function batchOf(run: StagingRun, dataset: DatasetDefinition): Promise<StagedBatch> {
  let batch = run.batches.get(dataset.name);
  if (!batch) {
    batch = (async () => {
      const paths = lakePaths(run.baseOut);
      // A refused run leaves no trace: the directories staging creates are noted to be removed.
      for (const dir of [run.baseOut, path.dirname(paths.staging), paths.staging]) {
        if (!(await exists(dir))) run.created.push(dir);
      }
      await sweepStaleStaging(paths);
      return { stagingDir: stagingPath(paths), entries: [], byKey: new Map() };
    })();
    run.batches.set(dataset.name, batch);
  }
  return batch;
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stages an input's rows for one granularity into the run's staging area: the CSV is read once,
 * strictly, by the COPY that writes its Parquet file, which is also the input's check (a ragged
 * row, invalid UTF-8, text in a column sniffed as numbers refuse it with the line). False when the
 * input needs the materialized path (see `stageQuery`); it is then read strictly instead.
 */
async function stageInput(
  input: PlannedInput,
  granularity: Granularity,
  baseOut: string,
  options: ConvertOptions,
  run: StagingRun,
): Promise<boolean> {
  const { file, shown, resolved, keys } = input;
  const dataset = granularity === 'event' ? EVENTS_DATASET : SEEDS_DATASET;
  const seed = resolved.seed;
  if (seed === undefined || Object.keys(resolved.params).length === 0) return false;
  const params = pythonTyped({ ...resolved.params, seed }, resolved.floatKeys);
  const target = await sweepTarget(run, dataset, params, options).catch((error: unknown) => {
    throw error instanceof RunlakeError && !(error instanceof InputFileError)
      ? new InputFileError(shown, error.message)
      : error;
  });
  const batch = await batchOf(run, dataset);
  const fileStem = keys[granularity].slice(0, 20);
  const writeOptions: WriteOptions = { ...target.writeOptions, fileStem };
  let staging = batch.byKey.get(keys[granularity]);
  if (!staging) {
    const stagingDir = batch.stagingDir;
    staging = withConvertConnection(run.threads, async (connection) => {
      const read = await sniffedCsvSource(connection, file, resolved, shown, input.header);
      if (read.types.has('seed')) return undefined;
      const select =
        resolved.kind === 'exp_engine'
          ? expEngineEventSelect(read.source, read.types, resolved)
          : `SELECT * FROM ${read.source}`;
      return stageQuery(baseOut, dataset, connection, select, stagingDir, writeOptions).catch(
        (error: unknown) => {
          if (error instanceof InputFileError) throw error;
          if (!(error instanceof RunlakeError)) throw csvReadError(shown, error);
          throw new InputFileError(shown, error.message);
        },
      );
    });
    batch.byKey.set(keys[granularity], staging);
  }
  const query = await staging;
  if (!query) return false;
  const entry: StagedInput = {
    index: batch.entries.length,
    shown,
    source: input.source,
    paramsSource: resolved.kind,
    granularity,
    query,
    params,
    gridId: target.gridId,
    writeOptions,
    result: {
      source: input.source,
      granularity,
      status: 'converted',
      rows: query.rowCount,
      gridIds: [target.gridId],
      seeds: [],
      files: query.rowCount > 0 ? 1 : 0,
      paramsSource: resolved.kind,
    },
  };
  batch.entries.push(entry);
  input.staged[granularity] = entry;
  input.rows = query.rowCount;
  run.onStaged?.(entry.result);
  return true;
}

/**
 * How a sweep write of these params partitions its rows (the dataset's layout on disk, else the
 * definition's with `partitionByParams` first), as `writeSweepQuery` decides it for one write;
 * refuses params whose grid id another grid's params already hold.
 */
async function sweepTarget(
  run: StagingRun,
  dataset: DatasetDefinition,
  params: Params,
  options: ConvertOptions,
): Promise<{ writeOptions: WriteOptions; gridId: string }> {
  const paths = lakePaths(run.baseOut);
  const grid = gridIdentity(params, run.setting.scheme, options);
  let layout = run.layouts.get(dataset.name);
  if (!layout) {
    layout = (async () =>
      (await readManifest(paths, dataset.name))?.partitionBy ??
      (await discoverPartitionLayout(paths, dataset)))();
    run.layouts.set(dataset.name, layout);
  }
  const onDisk = await layout;
  const partitions = sweepPartitions(dataset, params, onDisk, grid.grid_id, options);
  let collision = run.collisions.get(grid.grid_id);
  if (!collision) {
    collision = assertNoCollision(run.baseOut, grid, options);
    run.collisions.set(grid.grid_id, collision);
  }
  await collision;
  return { gridId: grid.grid_id, writeOptions: { ...partitions, nullablePartitions: [] } };
}

/**
 * Commits the inputs staged for a dataset in one commit (manifest reconciled once, every file
 * fsynced, published and logged together), then records each grid's params.json, as
 * `writeSweepQuery` does after each write.
 */
async function commitStagedInputs(
  run: StagingRun,
  dataset: DatasetDefinition,
  options: ConvertOptions,
): Promise<void> {
  const batch = await run.batches.get(dataset.name);
  if (!batch || batch.entries.length === 0) return;
  const { entries } = batch;
  const [first] = entries as [StagedInput];
  const queries = [...new Set(entries.map((e) => e.query))];
  await withStagingConnection((connection) =>
    commitStagedQueries(
      run.baseOut,
      dataset,
      connection,
      batch.stagingDir,
      queries,
      first.writeOptions,
      (i) => {
        const query = queries[i];
        return entries.find((e) => e.query === query)?.shown ?? first.shown;
      },
    ),
  );
  const written = new Map<string, StagedInput>();
  for (const entry of entries) if (entry.query.rowCount > 0) written.set(entry.gridId, entry);
  for (const entry of written.values()) {
    await writeGridParams(run.baseOut, entry.params, { ...options, scheme: run.setting.scheme });
  }
  if (written.size > 0) await recordGridIdSetting(lakePaths(run.baseOut), run.setting);
}

/** Types the sniffer may give that a read with explicit columns parses exactly as it would. */
const PLAIN_CSV_TYPES = new Set(['BIGINT', 'DOUBLE', 'VARCHAR', 'BOOLEAN']);

/**
 * The typed read of a CSV for one pass: DuckDB sniffs the types once (`DESCRIBE` reads a sample)
 * and the read runs with them given (`auto_detect = false`, strict). A column sniffed as a date or
 * time keeps the sniffing read, whose detected format an explicit read would not know.
 */
async function sniffedCsvSource(
  connection: DuckDBConnection,
  file: string,
  resolved: ResolvedParams,
  shown: string,
  known?: readonly string[],
): Promise<{ source: string; types: Map<string, string> }> {
  const sniffing = typedCsvSource(file, resolved, false);
  const header = known ?? (await readCsvHeader(shown, file, ','));
  // Only a strict read names a malformed file's line: the sniffer gives up without one, or reads
  // the file as another shape (a row with an extra field makes line 1 a row to skip).
  const strict = () =>
    connection
      .run(
        `SELECT count(*) FROM ${strictCsvSource(
          file,
          ',',
          header.map((name) => ({ name, type: 'VARCHAR' })),
        )}`,
      )
      .catch((error) => {
        throw csvReadError(shown, error);
      });
  let types: Map<string, string>;
  try {
    const reader = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${sniffing}`);
    types = new Map(
      reader.getRowObjectsJS().map((row) => [String(row.column_name), String(row.column_type)]),
    );
  } catch (error) {
    await strict();
    throw csvReadError(shown, error);
  }
  // The columns the sniffer found must be the header's; and a date or time column keeps the
  // sniffing read (the format it detected is not passed on). Both after a strict read.
  const plain = [...types.values()].every((type) => PLAIN_CSV_TYPES.has(type));
  if (!plain || [...types.keys()].join('\u0000') !== header.join('\u0000')) {
    await strict();
    return { source: sniffing, types };
  }
  const columns = [...types].map(([name, type]) => `${quoteLiteral(name)}: ${quoteLiteral(type)}`);
  const source =
    `read_csv(${quoteLiteral(file)}, auto_detect = false, header = true, delim = ',', quote = '"', ` +
    `escape = '"', strict_mode = true, columns = {${columns.join(', ')}}${pandasNulls(resolved, false)})`;
  return { source, types };
}

/**
 * The params with each whole number of a float key as a Python float (`gamma_bar` 1.0 from a
 * directory name `split_1-0`), so exp_engine's grid-id schemes hash it as exp_engine did.
 */
function pythonTyped(params: Params, floatKeys: ReadonlySet<string>): Params {
  if (floatKeys.size === 0) return params;
  const typed: Record<string, unknown> = { ...params };
  for (const key of floatKeys) {
    const value = typed[key];
    if (typeof value === 'number' && Number.isInteger(value)) typed[key] = new PythonFloat(value);
  }
  return typed;
}

/**
 * A param as a typed SQL literal: an int BIGINT, a float (or a key parsed as one) DOUBLE, a nested
 * value its JSON text.
 */
function paramLiteral(key: string, value: unknown, floatKeys: ReadonlySet<string>): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof PythonFloat) return `CAST(${quoteLiteral(String(value.value))} AS DOUBLE)`;
  if (typeof value === 'number') {
    const float = floatKeys.has(key) || !Number.isInteger(value);
    return `CAST(${quoteLiteral(String(value))} AS ${float ? 'DOUBLE' : 'BIGINT'})`;
  }
  if (typeof value === 'bigint') return `CAST(${quoteLiteral(value.toString())} AS HUGEINT)`;
  if (typeof value === 'string') return quoteLiteral(value);
  return quoteLiteral(JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

/** The row params as `literal AS "name"` items, leaving out the names in `except`. */
function paramItems(resolved: ResolvedParams, except: ReadonlySet<string>): string[] {
  return Object.entries(resolved.rowParams)
    .filter(([key]) => !except.has(key))
    .map(([key, value]) => `${paramLiteral(key, value, resolved.floatKeys)} AS ${quoteIdentifier(key)}`);
}

/** A column with NaN read as null, as pandas' frame becomes Parquet through pyarrow. */
function nanAsNull(column: string, type: string): string {
  const c = quoteIdentifier(column);
  return isFloatType(type) ? `(CASE WHEN isnan(${c}) THEN NULL ELSE ${c} END)` : c;
}

/**
 * exp_engine's seed summary of one CSV as a one-row SELECT: the params, then the mean of
 * `regret` (nulls skipped), the counts of `insert` and `delete` ops, the last `acc`, the row
 * count, and the last row's privacy columns where the CSV has them. A summary column missing
 * from the CSV is a typed null (exp_engine's None).
 */
function summarySelect(table: string, types: ReadonlyMap<string, string>, resolved: ResolvedParams): string {
  const last = (column: string) =>
    `(SELECT ${nanAsNull(column, types.get(column) ?? '')} FROM ${table} ORDER BY rowid DESC LIMIT 1)`;
  const regretType = types.get('regret');
  let mean = 'CAST(NULL AS DOUBLE)';
  if (regretType !== undefined) {
    const value =
      isNumericType(regretType) || regretType === 'BOOLEAN'
        ? `CAST(regret AS DOUBLE)`
        : `TRY_CAST(regret AS DOUBLE)`;
    mean = `(SELECT avg(CASE WHEN isnan(${value}) THEN NULL ELSE ${value} END) FROM ${table})`;
  }
  const ops = (op: string) =>
    types.has('op')
      ? `(SELECT count(*) FROM ${table} WHERE CAST(op AS VARCHAR) = ${quoteLiteral(op)})`
      : 'CAST(NULL AS BIGINT)';
  const items = [
    ...paramItems(resolved, new Set(SUMMARY_COLUMNS)),
    `${mean} AS avg_regret_empirical`,
    `${ops('insert')} AS "N_star_emp"`,
    `${ops('delete')} AS m_emp`,
    `${types.has('acc') ? last('acc') : 'CAST(NULL AS DOUBLE)'} AS final_acc`,
    `(SELECT count(*) FROM ${table}) AS total_events`,
    ...LAST_ROW_COLUMNS.filter((c) => types.has(c)).map((c) => `${last(c)} AS ${quoteIdentifier(c)}`),
  ];
  return `SELECT ${items.join(', ')}`;
}

/**
 * exp_engine's event rows: the params, then the CSV's columns (which win over a param of the same
 * name), NaN as null, and `regret`/`cum_regret` normalised as exp_engine's writer did: a missing
 * `regret` is taken from `cum_regret`, else `regret_increment`; a missing `cum_regret` from
 * `regret`. Text columns of those names that are not empty are left as they are.
 */
function expEngineEventSelect(
  table: string,
  types: ReadonlyMap<string, string>,
  resolved: ResolvedParams,
): string {
  const header = new Set(types.keys());
  const regretColumns = ['regret', 'cum_regret', 'regret_increment'].filter((c) => header.has(c));
  const normalise = regretColumns.every((c) => isNumericType(types.get(c) ?? ''));
  const numeric = (c: string) =>
    header.has(c) ? `CAST(${nanAsNull(c, types.get(c) ?? '')} AS DOUBLE)` : undefined;
  const replaced = new Map<string, string>();
  for (const [column, type] of types) if (isFloatType(type)) replaced.set(column, nanAsNull(column, type));
  const added: string[] = [];
  if (normalise) {
    const regretParts = ['regret', 'cum_regret', 'regret_increment']
      .map(numeric)
      .filter((x) => x !== undefined);
    const regret = regretParts.length > 0 ? `coalesce(${regretParts.join(', ')})` : 'CAST(NULL AS DOUBLE)';
    const cumParts = [numeric('cum_regret'), regret].filter((x) => x !== undefined);
    const cum = `coalesce(${cumParts.join(', ')})`;
    if (header.has('regret')) replaced.set('regret', regret);
    else added.push(`${regret} AS regret`);
    if (header.has('cum_regret')) replaced.set('cum_regret', cum);
    else added.push(`${cum} AS cum_regret`);
  }
  const star =
    replaced.size > 0
      ? `* REPLACE (${[...replaced].map(([c, e]) => `${e} AS ${quoteIdentifier(c)}`).join(', ')})`
      : '*';
  const items = [
    ...paramItems(resolved, new Set([...header, ...(normalise ? ['regret', 'cum_regret'] : [])])),
    star,
    ...added,
  ];
  return `SELECT ${items.join(', ')} FROM ${table}`;
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
  resolved: ResolvedParams,
  options: ConvertOptions,
): Promise<string> {
  // The first part is what runlake always hashed, so inputs converted by an earlier version from
  // a params.json layout or param columns keep their identity; what an exp_engine layout and a
  // seed summary resolve to is added after it.
  const hash = createHash('sha256');
  await hashFile(hash, file);
  hash.update('\u0000');
  if (resolved.paramsFile) hash.update(await readFile(resolved.paramsFile));
  hash.update(`\u0000${options.granularity}\u0000${(options.paramColumns ?? []).join(',')}`);
  hash.update(`\u0000${SEED_IN_NAME.exec(source)?.[1] ?? ''}`);
  if (resolved.kind === 'exp_engine') {
    const floats = [...resolved.floatKeys].sort();
    hash.update(`\u0000exp_engine\u0000${JSON.stringify([Object.entries(resolved.rowParams), floats])}`);
  }
  if (summarises(resolved, options.granularity, options)) hash.update('\u0000seed-summary');
  return hash.digest('hex');
}

/**
 * Feeds a file's bytes to `hash` through one 1 MiB buffer: a sweep's CSVs are hashed without
 * allocating each whole file (which left the garbage collector a tenth of the main thread's time).
 */
async function hashFile(hash: Hash, file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
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
  let failed = false;
  const worker = async () => {
    while (next < count && !failed) {
      try {
        await task(next++);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  // After a failure no task starts, and the run waits for those under way (they may be writing
  // into the staging area the caller removes) before throwing the first error.
  const settled = await Promise.allSettled(Array.from({ length: Math.min(jobs, count) }, worker));
  const rejected = settled.find((s) => s.status === 'rejected');
  if (rejected) throw rejected.reason;
}
