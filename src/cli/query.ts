import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import {
  checkSqlClause,
  prepareSelect,
  quoteLiteral,
  RunlakeError,
  readAtMost,
  SqlError,
} from '../lake/index.js';
import { exactlyOne, withLake, writeStdout } from './common.js';
import { countOf, QUERY_FORMATS, type QueryFormat, renderCsv, renderJson, renderTable } from './output.js';
import { commaList, nonNegativeInteger } from './parse.js';

interface QueryOptions {
  where?: string;
  limit?: number;
  orderBy?: string;
  columns?: string[];
  sql?: string;
  format: QueryFormat;
  out?: string;
  output?: string;
  baseOut?: string;
  table?: string;
  asOf?: Date;
  atVersion?: string;
}

/** The format a file name asks for (exp_engine's `--output results.csv`). */
function formatOfFile(file: string): QueryFormat | undefined {
  const extension = file.toLowerCase().split('.').pop();
  return QUERY_FORMATS.find((f) => f === extension && f !== 'table');
}

function timeArgument(text: string): Date {
  const time = new Date(text);
  if (Number.isNaN(time.getTime()))
    throw new InvalidArgumentError(`expected a time such as 2026-12-01T12:00:00Z, got "${text}"`);
  return time;
}

/** `--at-version 12` pins the queried dataset; `--at-version a=3,b=7` pins several. */
function versionPins(text: string | undefined, dataset: string): Record<string, number> | undefined {
  if (text === undefined) return undefined;
  const pins: Record<string, number> = {};
  for (const part of text.split(',')) {
    const [name, value] = part.includes('=') ? part.split('=', 2) : [dataset, part];
    const version = Number(value);
    if (!name || !Number.isSafeInteger(version) || version < 0)
      throw new RunlakeError(`--at-version expects a version number or dataset=version pairs, got "${text}"`);
    pins[name] = version;
  }
  return pins;
}

const DEFAULT_TABLE_LIMIT = 100;

/**
 * `runlake query <lake> [dataset]`: filter a dataset, or run any SQL over the lake's views.
 *
 * @example
 * ```sh
 * runlake query results events --where "regret < 0.1" --limit 20
 * runlake query results --sql "SELECT grid_id, avg(regret) FROM events GROUP BY 1" --format csv
 * ```
 */
export function registerQueryCommand(program: Command): void {
  program
    .command('query')
    .description('query a dataset (events, seeds, grids, …) or run SQL over the lake views')
    .argument('[lake]', 'lake directory (or --base-out)')
    .argument('[dataset]', 'dataset or view to select from (default: events)')
    .option('-w, --where <expr>', 'SQL filter, e.g. "regret < 0.1 AND seed = 1"')
    .option(
      '-l, --limit <n>',
      `maximum rows (table format defaults to ${DEFAULT_TABLE_LIMIT})`,
      nonNegativeInteger,
    )
    .option('--order-by <expr>', 'SQL ORDER BY expression')
    .option('--columns <list>', 'comma-separated columns to select', commaList)
    .option('--sql <query>', 'run this SQL instead (views: one per dataset, plus grids)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(QUERY_FORMATS).default('table'))
    .option('-o, --out <file>', 'write to a file instead of stdout (required for parquet)')
    .option(
      '--output <file>',
      "exp_engine's name for --out; without --format, the file's extension picks it (.csv, .parquet, .json)",
    )
    .option('--base-out <dir>', "exp_engine's name for the lake directory argument")
    .option('--table <name|sql>', "exp_engine's flag: a dataset or view name, or a SQL query (like --sql)")
    .option(
      '--as-of <time>',
      'time travel: read every dataset as it was at this time (ISO-8601)',
      timeArgument,
    )
    .option(
      '--at-version <n|dataset=n,…>',
      'time travel: read the dataset (or the named ones) at a version of its log',
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  runlake query results events --where "regret < 0.1" --limit 20\n' +
        '  runlake query results grids --format json\n' +
        '  runlake query results --sql "SELECT grid_id, seed, avg(regret) FROM events GROUP BY ALL"\n' +
        '  runlake query results events --format parquet --out events.parquet\n' +
        '  runlake query results events --as-of 2026-12-01T12:00:00Z   (runlake history lists versions)',
    )
    .action(
      async (
        lakeArg: string | undefined,
        datasetArg: string | undefined,
        options: QueryOptions,
        command: Command,
      ) => {
        const baseOut = exactlyOne('the lake directory', lakeArg, options.baseOut, '--base-out');
        // exp_engine's --table takes a view name or a whole SQL query.
        const table = options.table?.trim();
        const tableIsSql = table !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(table);
        if (tableIsSql) {
          if (options.sql) throw new RunlakeError('--table with a SQL query cannot be combined with --sql');
          options.sql = table;
        }
        const dataset = datasetArg ?? (tableIsSql ? undefined : table) ?? 'events';
        if (datasetArg && table && !tableIsSql && datasetArg !== table)
          throw new RunlakeError(`the dataset is given twice: "${datasetArg}" and --table ${table}`);
        if (options.output) {
          if (options.out && options.out !== options.output)
            throw new RunlakeError('--out and --output name different files; give one');
          options.out = options.output;
          const inferred = formatOfFile(options.output);
          if (command.getOptionValueSource('format') === 'default' && inferred) options.format = inferred;
        }
        if (options.sql && options.atVersion && !options.atVersion.includes('=')) {
          throw new RunlakeError('with --sql, name the dataset to pin: --at-version <dataset>=<n>');
        }
        const timeTravel = { asOf: options.asOf, version: versionPins(options.atVersion, dataset) };
        await withLake(
          baseOut,
          async (lake) => {
            if (options.sql && (options.where || options.columns || options.orderBy)) {
              throw new RunlakeError('--sql cannot be combined with --where, --columns or --order-by');
            }
            const limit = options.limit ?? (options.format === 'table' ? DEFAULT_TABLE_LIMIT : undefined);
            // The user's SQL (or clauses) is checked on its own before anything is built around it,
            // so errors point into the user's text, and only a single SELECT ever runs.
            if (!options.sql) {
              if (options.where?.trim())
                await checkSqlClause(lake.connection, 'WHERE', options.where, '--where');
              if (options.orderBy?.trim())
                await checkSqlClause(lake.connection, 'ORDER BY', options.orderBy, '--order-by');
            }
            const sql = options.sql
              ? options.sql.trim().replace(/;\s*$/, '')
              : lake.datasetSql(dataset, {
                  where: options.where,
                  columns: options.columns,
                  orderBy: options.orderBy,
                });
            const prepared = await prepareSelect(lake.connection, sql);

            if (options.format === 'parquet') {
              prepared.destroySync();
              if (!options.out) throw new RunlakeError('--format parquet needs --out <file>');
              // Safe to wrap now: the statement is a checked, bound SELECT.
              const select = limit === undefined ? sql : `SELECT * FROM (${sql}) LIMIT ${limit}`;
              await lake.run(
                `COPY (${select}) TO ${quoteLiteral(options.out)} (FORMAT parquet, COMPRESSION zstd)`,
              );
              const [count] = await lake.query(
                `SELECT count(*)::BIGINT AS n FROM read_parquet(${quoteLiteral(options.out)})`,
              );
              process.stderr.write(`wrote ${countOf(Number(count?.n ?? 0), 'row')} to ${options.out}\n`);
              return;
            }
            let result: Awaited<ReturnType<typeof readAtMost>>;
            try {
              result = await readAtMost(prepared, limit);
            } catch (error) {
              throw new SqlError(sql, error);
            } finally {
              prepared.destroySync();
            }
            const { reader, rows, more } = result;
            const columns = reader.columnNames();
            const text =
              options.format === 'table'
                ? `${renderTable(rows, columns)}\n(${rows.length} row${rows.length === 1 ? '' : 's'}${
                    options.limit === undefined && more
                      ? `; first ${limit} shown, use --limit to see more`
                      : ''
                  })\n`
                : options.format === 'csv'
                  ? renderCsv(rows, columns)
                  : renderJson(rows, options.format);
            if (options.out) {
              const { writeFile } = await import('node:fs/promises');
              await writeFile(options.out, text);
              process.stderr.write(`wrote ${countOf(rows.length, 'row')} to ${options.out}\n`);
            } else {
              await writeStdout(text);
            }
          },
          timeTravel,
        );
      },
    );
}
