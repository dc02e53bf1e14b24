/**
 * Error classes that carry the context a user needs to fix the input: the file, row, column or
 * value at fault. Every error runlake raises on purpose extends {@link RunlakeError}, so callers
 * (and the CLI) can tell a user mistake from a bug.
 *
 * @example
 * ```ts
 * try { await writeEventRows(rows, 'lake', params); }
 * catch (e) { if (e instanceof RowValidationError) console.error(e.rowIndex, e.column); }
 * ```
 */
export class RunlakeError extends Error {
  override readonly name: string = 'RunlakeError';
}

/**
 * A parameter set that cannot be canonicalized: a non-finite number, an unsupported value type,
 * or an integer outside the exactly representable range.
 *
 * @example
 * ```ts
 * canonicalizeParams({ lr: Number.NaN }); // throws ParamsError, path "lr"
 * ```
 */
export class ParamsError extends RunlakeError {
  override readonly name = 'ParamsError';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(path ? `params.${path}: ${reason}` : `params: ${reason}`);
  }
}

/**
 * Two different parameter sets hash to the same 8-character grid id. The lake refuses the second
 * one rather than silently mixing two grids' rows under one id.
 *
 * @example
 * ```ts
 * if (e instanceof GridIdCollisionError) console.error(e.gridId, e.existingHash, e.incomingHash);
 * ```
 */
export class GridIdCollisionError extends RunlakeError {
  override readonly name = 'GridIdCollisionError';
  constructor(
    readonly gridId: string,
    /** The stored params, canonical under the lake's scheme. */
    readonly existing: string,
    /** The incoming params, canonical under the lake's scheme. */
    readonly incoming: string,
    readonly file: string,
  ) {
    const show = (text: string) => (text.length > 200 ? `${text.slice(0, 200)}…` : text);
    super(
      `grid_id ${gridId} collision: ${file} holds params ${show(existing)}, ` +
        `but these params are ${show(incoming)}; refusing to mix two grids under one id`,
    );
  }
}

/**
 * A row that cannot be written: a missing partition key, a value whose type differs from the rest
 * of its column, or a value runlake cannot store.
 *
 * @example
 * ```ts
 * // rows[3].seed is missing
 * e.rowIndex === 3 && e.column === 'seed';
 * ```
 */
export class RowValidationError extends RunlakeError {
  override readonly name = 'RowValidationError';
  constructor(
    readonly dataset: string,
    readonly rowIndex: number,
    readonly column: string,
    readonly reason: string,
  ) {
    super(`${dataset}: row ${rowIndex}, column "${column}": ${reason}`);
  }
}

/**
 * A write whose column type conflicts with the type the dataset already holds, and no widening
 * rule applies (see docs/lake.md, "Schema evolution").
 *
 * @example
 * ```ts
 * // events.acc was DOUBLE, this write sends strings
 * e.column === 'acc' && e.existingType === 'DOUBLE' && e.incomingType === 'VARCHAR';
 * ```
 */
export class SchemaConflictError extends RunlakeError {
  override readonly name = 'SchemaConflictError';
  constructor(
    readonly dataset: string,
    readonly column: string,
    readonly existingType: string,
    readonly incomingType: string,
  ) {
    super(
      `${dataset}.${column}: the dataset holds ${existingType} but this write has ${incomingType}; ` +
        'cast the values or write them under another column name',
    );
  }
}

/**
 * A partition key or value that cannot become a directory name.
 *
 * @example
 * ```ts
 * e.column === 'algo' && e.reason.includes('255 bytes');
 * ```
 */
export class PartitionValueError extends RunlakeError {
  override readonly name = 'PartitionValueError';
  constructor(
    readonly column: string,
    readonly value: unknown,
    readonly reason: string,
  ) {
    const text = JSON.stringify(value) ?? String(value);
    // Long values (the usual reason a segment is refused) are cut so the error stays one line.
    super(
      `partition column "${column}" value ${text.length > 60 ? `${text.slice(0, 57)}…` : text}: ${reason}`,
    );
  }
}

/**
 * A dataset layout that disagrees with what the lake already holds, e.g. writing extra partition
 * columns into a dataset that was created without them.
 *
 * @example
 * ```ts
 * e.dataset === 'events';
 * ```
 */
export class DatasetLayoutError extends RunlakeError {
  override readonly name = 'DatasetLayoutError';
  constructor(
    readonly dataset: string,
    reason: string,
  ) {
    super(`${dataset}: ${reason}`);
  }
}

/**
 * An input file that cannot be read or converted.
 *
 * @example
 * ```ts
 * e.file === 'sweep/grid_a/seed_1.csv';
 * ```
 */
export class InputFileError extends RunlakeError {
  override readonly name = 'InputFileError';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

/**
 * SQL that DuckDB refused (a parse, binder, catalog or conversion error), with the statement.
 *
 * @example
 * ```ts
 * e.sql === 'SELECT nope FROM events';
 * ```
 */
export class SqlError extends RunlakeError {
  override readonly name = 'SqlError';
  constructor(
    readonly sql: string,
    cause: unknown,
  ) {
    super(`SQL error: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * A column of a query result or file that cannot be written: a partition key that is missing,
 * null or mistyped, or a type the dataset's schema refuses. Names the column and, where it can,
 * how many rows are affected.
 *
 * @example
 * ```ts
 * e.column === 'seed' && e.message.includes('3 rows');
 * ```
 */
export class ColumnValidationError extends RunlakeError {
  override readonly name = 'ColumnValidationError';
  constructor(
    readonly dataset: string,
    readonly column: string,
    readonly reason: string,
  ) {
    super(`${dataset}: column "${column}": ${reason}`);
  }
}

/**
 * A value outside an enum domain that cannot be added to it: the domain is closed, or the value is
 * not spelled as a lower-case identifier.
 *
 * @example
 * ```ts
 * e.domain === 'split' && e.value === 'test';
 * ```
 */
export class EnumValueError extends RunlakeError {
  override readonly name = 'EnumValueError';
  constructor(
    readonly domain: string,
    readonly value: string,
    readonly reason: string,
  ) {
    super(`${domain} value ${JSON.stringify(value)}: ${reason}`);
  }
}

/**
 * A lake opened or written with a schema set other than the one it records in
 * `.runlake/lake.json` (e.g. sweep `events` rows written into a Squiggle lake, whose `events` are
 * detected transitions), or a schema set this process does not know.
 *
 * @example
 * ```ts
 * e.lake === '/data/lake' && e.recorded === 'squiggle';
 * ```
 */
export class LakeSchemaError extends RunlakeError {
  override readonly name = 'LakeSchemaError';
  constructor(
    readonly lake: string,
    readonly recorded: string | undefined,
    readonly reason: string,
  ) {
    super(lake ? `${lake}: ${reason}` : reason);
  }
}
