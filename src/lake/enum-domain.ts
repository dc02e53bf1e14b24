import path from 'node:path';
import { withFileLock, writeFileAtomic } from './atomic-file.js';
import { EnumValueError } from './errors.js';
import type { LakePaths } from './layout.js';
import { objectProblem, readMetadataRecord } from './metadata-file.js';

/** One allowed value of an {@link EnumDomain}. */
export interface EnumValue {
  readonly value: string;
  readonly description: string;
  /** True for the values the domain was defined with; false for registered extensions. */
  readonly canonical: boolean;
}

/** Options for {@link EnumDomain}. */
export interface EnumDomainOptions {
  readonly description: string;
  /** Whether values may be added after definition (in code or in a lake). Defaults to false. */
  readonly extensible?: boolean;
}

const ENUM_VALUE = /^[a-z][a-z0-9_]*$/;

/**
 * The allowed values of a string column, such as `split` or `event_type`. Validators ask the
 * domain, never a hard-coded list: an extensible domain grows when code registers a value (a new
 * event detector, say) or when a lake records one (`.runlake/enums/<domain>.json`), and every
 * reader of that lake then accepts it.
 *
 * @example
 * ```ts
 * const eventType = new EnumDomain('event_type', { rank_collapse: 'effective rank drops' }, {
 *   description: 'kind of detected event',
 *   extensible: true,
 * });
 * eventType.register('grokking', 'validation loss falls long after training loss');
 * eventType.has('grokking'); // true
 * ```
 */
export class EnumDomain {
  readonly #values = new Map<string, EnumValue>();
  readonly description: string;
  readonly extensible: boolean;

  constructor(
    readonly name: string,
    canonical: Readonly<Record<string, string>>,
    options: EnumDomainOptions,
  ) {
    this.description = options.description;
    this.extensible = options.extensible ?? false;
    for (const [value, description] of Object.entries(canonical)) {
      this.#values.set(checkValueSpelling(name, value), { value, description, canonical: true });
    }
  }

  /** True when `value` is canonical or has been registered in this process. */
  has(value: string): boolean {
    return this.#values.has(value);
  }

  /** The value's entry, when it is canonical or registered in this process. */
  get(value: string): EnumValue | undefined {
    return this.#values.get(value);
  }

  /**
   * Adds a value to an extensible domain; registering a value again with any description is a
   * no-op. Throws {@link EnumValueError} for a closed domain or a badly spelled value.
   */
  register(value: string, description: string): this {
    if (this.#values.has(value)) return this;
    if (!this.extensible) {
      throw new EnumValueError(
        this.name,
        value,
        `the ${this.name} domain is closed (${this.list().join(', ')})`,
      );
    }
    this.#values.set(checkValueSpelling(this.name, value), { value, description, canonical: false });
    return this;
  }

  /** Every value, canonical ones first, then registrations in the order they were made. */
  values(): EnumValue[] {
    return [...this.#values.values()];
  }

  /** The value names, for messages and SQL `IN` lists. */
  list(): string[] {
    return [...this.#values.keys()];
  }
}

function checkValueSpelling(domain: string, value: string): string {
  if (!ENUM_VALUE.test(value) || value.length > 64) {
    throw new EnumValueError(
      domain,
      value,
      'enum values are lower-case identifiers ([a-z][a-z0-9_]*, ≤ 64 chars)',
    );
  }
  return value;
}

/** The values a lake has recorded for one domain, beyond those its code defines. */
export interface LakeEnumFile {
  readonly format: 1;
  readonly domain: string;
  readonly values: ReadonlyArray<{ readonly value: string; readonly description: string }>;
}

function enumFile(paths: LakePaths, domain: string): string {
  return path.join(paths.meta, 'enums', `${domain}.json`);
}

/**
 * Values recorded in a lake for an extensible domain (by writes that used a registered value, or
 * by {@link recordLakeEnumValues}).
 *
 * @example
 * ```ts
 * const extra = await readLakeEnumValues(lakePaths('lake'), 'event_type');
 * ```
 */
export async function readLakeEnumValues(paths: LakePaths, domain: string): Promise<Map<string, string>> {
  const file = await readMetadataRecord<LakeEnumFile>(enumFile(paths, domain), (value) =>
    enumFileProblem(value, domain),
  );
  return new Map((file?.values ?? []).map((v) => [v.value, v.description]));
}

/**
 * What is wrong with a parsed `.runlake/enums/<domain>.json`, or `undefined` when it records
 * values of `domain`: `{"format": 1, "domain": …, "values": [{"value": …, "description": …}]}`.
 *
 * @example
 * ```ts
 * enumFileProblem({ format: 1, domain: 'event_type', values: [] }, 'event_type'); // undefined
 * ```
 */
export function enumFileProblem(value: unknown, domain: string): string | undefined {
  const wrong = (what: string) => `not a runlake enum file: ${what}`;
  const notObject = objectProblem(value);
  if (notObject) return wrong(`the file ${notObject}`);
  const file = value as Record<string, unknown>;
  if (file.domain !== domain) return wrong(`it names domain ${JSON.stringify(file.domain)}, not "${domain}"`);
  if (!Array.isArray(file.values)) return wrong('"values" is not a list');
  for (const [i, entry] of file.values.entries()) {
    const item = entry as Record<string, unknown>;
    if (objectProblem(entry) || typeof item.value !== 'string' || typeof item.description !== 'string')
      return wrong(`values[${i}] is not {"value": string, "description": string}`);
  }
  return undefined;
}

/**
 * Records values of an extensible domain in a lake, under a lock, so that later processes
 * (`runlake validate`, another writer) accept them without registering them in code.
 *
 * @example
 * ```ts
 * await recordLakeEnumValues(lakePaths('lake'), eventTypeDomain, [['grokking', 'late generalisation']]);
 * ```
 */
export async function recordLakeEnumValues(
  paths: LakePaths,
  domain: EnumDomain,
  values: Iterable<readonly [string, string]>,
): Promise<void> {
  const incoming = [...values];
  if (incoming.length === 0) return;
  for (const [value] of incoming) {
    if (!domain.extensible && !domain.has(value)) {
      throw new EnumValueError(domain.name, value, `the ${domain.name} domain is closed`);
    }
    checkValueSpelling(domain.name, value);
  }
  const file = enumFile(paths, domain.name);
  await withFileLock(file, async () => {
    const current = await readLakeEnumValues(paths, domain.name);
    let changed = false;
    for (const [value, description] of incoming) {
      if (current.has(value)) continue;
      current.set(value, description);
      changed = true;
    }
    if (!changed) return;
    const next: LakeEnumFile = {
      format: 1,
      domain: domain.name,
      values: [...current].map(([value, description]) => ({ value, description })),
    };
    await writeFileAtomic(file, `${JSON.stringify(next, null, 2)}\n`);
  });
}
