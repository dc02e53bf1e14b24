import { type ColumnType, t } from './column-types.js';
import type { EnumDomain } from './enum-domain.js';
import { DatasetLayoutError } from './errors.js';

/** A partition key: a column that names a directory level instead of being stored in files. */
export interface PartitionKeyDefinition {
  readonly name: string;
  /** Scalar type used when reading the directory value back (`hive_types`). */
  readonly type: ColumnType;
  readonly description?: string;
  /** Allowed values, for a string key. */
  readonly enum?: EnumDomain;
}

/** A column of a typed dataset. */
export interface ColumnDefinition {
  readonly name: string;
  readonly type: ColumnType;
  /** Defaults to true. */
  readonly nullable?: boolean;
  readonly description?: string;
  /** Allowed values, for a string column. */
  readonly enum?: EnumDomain;
}

/**
 * A rule over the columns of one row, as a SQL boolean expression. It holds unless it evaluates
 * to FALSE (SQL `CHECK` semantics: NULL passes), and is checked on every write (over the staged
 * rows, before anything is published) and by `runlake validate` (over the files).
 */
export interface RowCheck {
  /** Short identifier, used in messages. */
  readonly name: string;
  readonly description: string;
  /** A DuckDB expression over the row's columns, e.g. `vector IS NULL OR len(vector) = dim`. */
  readonly sql: string;
  /** The stored (non-partition) columns the expression reads, named in error messages. */
  readonly columns: readonly string[];
}

/**
 * A dataset: a name, its partition keys, and either an open schema (columns inferred from the
 * rows and evolved by the widening rules) or a typed one (`columns`).
 *
 * @example
 * ```ts
 * const metrics = defineDataset({
 *   name: 'metrics',
 *   partitionBy: [{ name: 'run_id', type: t.string }],
 *   columns: [{ name: 'step', type: t.int64, nullable: false }],
 * });
 * ```
 */
export interface DatasetDefinition {
  readonly name: string;
  readonly description?: string;
  readonly partitionBy: readonly PartitionKeyDefinition[];
  /** Typed schema. Absent means an open schema. */
  readonly columns?: readonly ColumnDefinition[];
  /** For typed datasets: accept columns not in `columns`, with inferred types. */
  readonly allowExtraColumns?: boolean;
  /** Why the dataset is partitioned as it is (shown in docs/schemas.md). */
  readonly partitionReason?: string;
  /**
   * Columns each written file is sorted by, so Parquet row-group statistics let readers skip
   * row groups when filtering on them.
   */
  readonly sortBy?: readonly string[];
  /** Rules over the columns of a row, beyond each column's type, nullability and enum. */
  readonly checks?: readonly RowCheck[];
  /**
   * Columns (partition keys included) that identify a row: `runlake validate` reports rows that
   * share them, e.g. a metric logged twice at one step.
   */
  readonly key?: readonly string[];
}

const DATASET_NAME = /^[a-z][a-z0-9_]*$/;

/**
 * Checks a dataset definition and returns it frozen.
 *
 * @example
 * ```ts
 * defineDataset({ name: 'evals', partitionBy: [{ name: 'grid_id', type: t.string }] });
 * ```
 */
export function defineDataset(definition: DatasetDefinition): DatasetDefinition {
  const { name } = definition;
  if (!DATASET_NAME.test(name) || name === 'grids') {
    throw new DatasetLayoutError(
      name,
      'dataset names are lower-case identifiers ([a-z][a-z0-9_]*), not "grids"',
    );
  }
  const seen = new Set<string>();
  for (const column of [...definition.partitionBy, ...(definition.columns ?? [])]) {
    if (seen.has(column.name)) throw new DatasetLayoutError(name, `column "${column.name}" is defined twice`);
    seen.add(column.name);
    if (column.enum && column.type.kind !== 'string') {
      throw new DatasetLayoutError(name, `column "${column.name}" has an enum but is not a string column`);
    }
  }
  const stored = new Set((definition.columns ?? []).map((c) => c.name));
  for (const column of definition.sortBy ?? []) {
    if (!stored.has(column)) {
      throw new DatasetLayoutError(name, `sortBy names "${column}", which is not a stored column`);
    }
  }
  for (const check of definition.checks ?? []) {
    // Partition values live in directory names, not in the staged rows a write checks.
    const unknown = check.columns.find((c) => !stored.has(c));
    if (unknown)
      throw new DatasetLayoutError(name, `check "${check.name}" reads "${unknown}", not a stored column`);
  }
  return Object.freeze(definition);
}

const SWEEP_PARTITIONS: readonly PartitionKeyDefinition[] = [
  { name: 'grid_id', type: t.string, description: 'content-addressed hash of the run parameters' },
  { name: 'seed', type: t.int64, description: 'random seed of the run' },
];

/**
 * Event-level rows of a sweep (one row per logged event or step), open schema, partitioned by
 * `grid_id` and `seed` as in exp_engine.
 *
 * @example
 * ```ts
 * await writeRows('lake', EVENTS_DATASET, rows, { partitionDefaults: { grid_id, seed: 1 } });
 * ```
 */
export const EVENTS_DATASET = defineDataset({
  name: 'events',
  description: 'event-level rows of a sweep, one per logged event',
  partitionBy: SWEEP_PARTITIONS,
});

/**
 * Seed-level summaries of a sweep (one row per seed), open schema, partitioned like events.
 *
 * @example
 * ```ts
 * await writeSeedRows([{ seed: 1, final_acc: 0.9 }], 'lake', params);
 * ```
 */
export const SEEDS_DATASET = defineDataset({
  name: 'seeds',
  description: 'seed-level summaries of a sweep, one per seed',
  partitionBy: SWEEP_PARTITIONS,
});

/**
 * The datasets a lake knows by name. Later modules (the Squiggle Matching schemas) register their
 * own; `openLake` creates a view for each registered dataset and for any dataset found on disk.
 *
 * @example
 * ```ts
 * const registry = new DatasetRegistry([EVENTS_DATASET]);
 * registry.get('events');
 * ```
 */
export class DatasetRegistry {
  readonly #datasets = new Map<string, DatasetDefinition>();

  constructor(definitions: Iterable<DatasetDefinition> = []) {
    for (const definition of definitions) this.register(definition);
  }

  register(definition: DatasetDefinition): this {
    const existing = this.#datasets.get(definition.name);
    if (existing && existing !== definition) {
      throw new DatasetLayoutError(
        definition.name,
        'a different dataset with this name is already registered',
      );
    }
    this.#datasets.set(definition.name, defineDataset(definition));
    return this;
  }

  get(name: string): DatasetDefinition | undefined {
    return this.#datasets.get(name);
  }

  list(): DatasetDefinition[] {
    return [...this.#datasets.values()];
  }
}

/**
 * The registry of the sweep schema set (exp_engine's datasets): `events` and `seeds`.
 *
 * @example
 * ```ts
 * defaultRegistry.get('seeds')?.partitionBy.map((k) => k.name); // ['grid_id', 'seed']
 * ```
 */
export const defaultRegistry = new DatasetRegistry([EVENTS_DATASET, SEEDS_DATASET]);
