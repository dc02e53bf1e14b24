/**
 * Sample metadata as the Python package stores it: `json.dumps(metadata)`, which writes `NaN`,
 * `Infinity` and `-Infinity` as bare tokens (not JSON, but what `json.loads` reads), and any
 * JSON value, not only objects. runlake reads and writes the same text.
 */
import { RunlakeError } from '../lake/index.js';
import { PythonFloat, type PythonJsonValue, parsePythonJson } from '../lake/python-json.js';

/**
 * Metadata as stored. Usually an object; but the Python writer stores any JSON value (a list, a
 * string, a number) and runlake returns it as it is, so check with `Array.isArray` / `typeof`
 * when the dataset may come from elsewhere. Typed as an object with `any` members so that the
 * common case needs no narrowing.
 *
 * @example
 * ```ts
 * const m: SampleMetadata = { length: 100, score: Number.NaN };
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: metadata is whatever JSON the writer stored
export type SampleMetadata = Record<string, any>;

/**
 * Parses a `meta_json` cell: NULL or empty is `{}`, as the Python reader does; NaN/Infinity tokens
 * are numbers; integers beyond 2^53 are bigints (exact, as Python's `int`). Throws a
 * {@link RunlakeError} naming the sample and the character offset for text `json.loads` refuses.
 *
 * @example
 * ```ts
 * parseMetaJson('{"x": NaN}', 'a'); // { x: NaN }
 * parseMetaJson('[1, "two"]', 'b'); // [1, 'two']
 * ```
 */
export function parseMetaJson(text: unknown, sampleId: string): SampleMetadata {
  if (text === null || text === undefined || text === '') return {};
  const source =
    typeof text === 'string' ? text : Buffer.isBuffer(text) ? text.toString('utf8') : String(text);
  try {
    // The common case: plain JSON without big integers, parsed natively.
    if (!/\d{16}/.test(source)) return JSON.parse(source) as SampleMetadata;
  } catch {
    // NaN / Infinity tokens: parsed below as Python's json.loads does.
  }
  try {
    return plain(parsePythonJson(source)) as SampleMetadata;
  } catch (error) {
    throw new RunlakeError(`sample "${sampleId}": meta_json is not valid JSON: ${(error as Error).message}`);
  }
}

/** Python json values → plain JS: floats as numbers, objects with the ordinary prototype. */
function plain(value: PythonJsonValue): unknown {
  if (value instanceof PythonFloat) return value.value;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(value))
      Object.defineProperty(out, key, {
        value: plain(member),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return out;
  }
  return value;
}

const TOKEN = `\u0000runlake-nonfinite-${process.pid}-`;

/** Options of {@link metaJson}. */
export interface MetaJsonOptions {
  /**
   * Store the value as given, falsy ones included (`null` → `null`, `{}` → `{}`, `0` → `0`): what
   * the Python writer's `register_samples` stores for each item of a metadata list it is given
   * (`json.dumps(metadata[i])`), where `add_sample` stores `{}` for every falsy value.
   */
  readonly asGiven?: boolean;
}

/**
 * Metadata → `meta_json` text as the Python writer stores it: `{}` for nothing (`undefined`,
 * `null`, and, as `json.dumps(metadata) if metadata else "{}"` does, an empty object, list or
 * string, `0` and `false`), NaN and infinities as `NaN` / `Infinity` / `-Infinity` tokens, and
 * bigints as integers. Throws for values JSON cannot hold (cycles), naming the sample.
 *
 * @example
 * ```ts
 * metaJson({ x: Number.NaN }, 'a'); // '{"x":NaN}'
 * metaJson(null, 'b', { asGiven: true }); // 'null'
 * ```
 */
export function metaJson(metadata: unknown, sampleId: string, options: MetaJsonOptions = {}): string {
  if (options.asGiven && (metadata === undefined || metadata === null)) return 'null';
  if (!options.asGiven && isFalsy(metadata)) return '{}';
  let text: string | undefined;
  try {
    text = JSON.stringify(metadata, (_key, value: unknown) => {
      if (typeof value === 'number' && !Number.isFinite(value)) return `${TOKEN}${String(value)}`;
      if (typeof value === 'bigint') return `${TOKEN}${value.toString()}`;
      return value;
    });
  } catch (error) {
    throw new RunlakeError(`metadata of sample "${sampleId}" is not JSON: ${(error as Error).message}`);
  }
  if (text === undefined) throw new RunlakeError(`metadata of sample "${sampleId}" is not JSON`);
  if (!text.includes('\\u0000runlake-nonfinite-')) return text;
  const escaped = JSON.stringify(TOKEN)
    .slice(1, -1)
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(`"${escaped}(-?Infinity|NaN|-?\\d+)"`, 'g'), '$1');
}

function isFalsy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.keys(value as object).length === 0;
  return false;
}
