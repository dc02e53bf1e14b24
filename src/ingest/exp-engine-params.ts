import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  assertJsonDepth,
  decodeUtf8Strict,
  InputFileError,
  type Params,
  parsePythonJson,
  RunlakeError,
} from '../lake/index.js';

/**
 * How exp_engine's converter found the params of a legacy CSV sweep, reimplemented: the grid
 * directory a CSV belongs to, the config file in it, what a directory name and a file name say.
 * See docs/convert.md ("Layouts") for the rules and where runlake departs from them.
 */

/**
 * A directory whose name contains one of these (case-insensitively) is a grid directory: the
 * first such ancestor of a CSV, below the CSV root, holds its params.
 *
 * @example
 * ```ts
 * GRID_DIR_MARKERS.some((m) => 'Split_0.7-0.3'.toLowerCase().includes(m)); // true
 * ```
 */
export const GRID_DIR_MARKERS: readonly string[] = Object.freeze(['grid', 'split', 'gamma', 'ratio']);

/**
 * The params every exp_engine grid has when nothing else gave them.
 *
 * @example
 * ```ts
 * const params = { ...EXP_ENGINE_DEFAULTS, ...fromConfig };
 * ```
 */
export const EXP_ENGINE_DEFAULTS: Readonly<{ algo: string; accountant: string }> = Object.freeze({
  algo: 'memorypair',
  accountant: 'zcdp',
});

/** The algorithm names exp_engine recognises in a CSV file name. */
const FILE_NAME_ALGOS = ['memorypair', 'baseline'];
/** The accountant names exp_engine recognises in a grid directory name. */
const DIR_NAME_ACCOUNTANTS = ['default', 'rdp', 'zcdp'];

/**
 * Params with the numeric kind of each number: a value parsed from a directory name keeps
 * Python's int/float distinction (`k10` is an int, `q1` a float), which JavaScript numbers lose.
 */
export interface TypedParams {
  readonly params: Params;
  /** Keys whose numbers are floats even when integral (written as DOUBLE columns). */
  readonly floatKeys: ReadonlySet<string>;
}

/**
 * The grid directory of a CSV: walking up from the CSV's directory, the first directory whose
 * name contains `grid`, `split`, `gamma` or `ratio`, else the CSV root itself (whose own name is
 * never tested). Both paths must be absolute and `csvFile` inside `root`.
 *
 * @example
 * ```ts
 * expEngineGridDir('/r/grid_a/seeds/seed_1.csv', '/r'); // '/r/grid_a'
 * expEngineGridDir('/r/misc/seed_1.csv', '/r'); // '/r'
 * ```
 */
export function expEngineGridDir(csvFile: string, root: string): string {
  let dir = path.dirname(csvFile);
  while (dir !== root && dir.startsWith(root) && path.dirname(dir) !== dir) {
    const name = path.basename(dir).toLowerCase();
    if (GRID_DIR_MARKERS.some((marker) => name.includes(marker))) return dir;
    dir = path.dirname(dir);
  }
  return root;
}

/**
 * Params from a grid directory's name, `_`-separated: `split_<a>-<b>` or `split<a>-<b>` give
 * the floats `gamma_bar` and `gamma_split`, `q<x>` the float `quantile`, `k<n>` the int
 * `delete_ratio`, and `default`, `rdp` or `zcdp` the `accountant`. Parts that do not parse are
 * ignored; a later part overrides an earlier one.
 *
 * @example
 * ```ts
 * parseGridDirName('split_0.7-0.3_q0.95_k10_default').params;
 * // { gamma_bar: 0.7, gamma_split: 0.3, quantile: 0.95, delete_ratio: 10, accountant: 'default' }
 * ```
 */
export function parseGridDirName(name: string): TypedParams {
  const params: Params = {};
  const floatKeys = new Set<string>();
  const setFloat = (key: string, value: number) => {
    if (!Number.isFinite(value)) {
      throw new RunlakeError(
        `grid directory "${name}": ${key} would be ${value}, which a grid id cannot hold`,
      );
    }
    params[key] = value;
    floatKeys.add(key);
  };
  // Both numbers are set one after the other, so "0.7-x" still gives gamma_bar (as exp_engine).
  const gammas = (text: string) => {
    const halves = text.split('-');
    if (halves.length !== 2) return;
    const bar = pythonFloat(halves[0] as string);
    if (bar === undefined) return;
    setFloat('gamma_bar', bar);
    const split = pythonFloat(halves[1] as string);
    if (split !== undefined) setFloat('gamma_split', split);
  };
  const parts = name.split('_');
  for (const [i, part] of parts.entries()) {
    const next = parts[i + 1];
    if (part === 'split' && next !== undefined && next.includes('-')) gammas(next);
    else if (part.startsWith('split') && part.includes('-')) {
      const text = part.replaceAll('split', '');
      if (text.includes('-')) gammas(text);
    } else if (part.startsWith('q')) {
      const value = pythonFloat(part.slice(1));
      if (value !== undefined) setFloat('quantile', value);
    } else if (part.startsWith('k')) {
      const value = pythonInt(part.slice(1));
      if (value !== undefined) params.delete_ratio = checkedInt(value, `grid directory "${name}"`);
    } else if (DIR_NAME_ACCOUNTANTS.includes(part)) params.accountant = part;
  }
  return { params, floatKeys };
}

/** What a CSV's file name says about its run. */
export interface FileNameParams {
  readonly seed?: number;
  readonly algo?: string;
}

/**
 * Params from a CSV's file name, `_`-separated after dropping `.csv`: the seed is the int after
 * the first part that is exactly `seed` (`seed_001_…` → 1), the algorithm the first part that is
 * `memorypair` or `baseline`.
 *
 * @example
 * ```ts
 * parseCsvFileName('seed_001_memorypair_gamma1.0-split0.5_zcdp.csv'); // { seed: 1, algo: 'memorypair' }
 * ```
 */
export function parseCsvFileName(basename: string): FileNameParams {
  const parts = basename.replaceAll('.csv', '').split('_');
  let seed: number | undefined;
  const at = parts.indexOf('seed');
  if (at >= 0 && at + 1 < parts.length) {
    const value = pythonInt(parts[at + 1] as string);
    if (value !== undefined) seed = checkedInt(value, `file name "${basename}"`);
  }
  const algo = parts.find((part) => FILE_NAME_ALGOS.includes(part));
  return { ...(seed === undefined ? {} : { seed }), ...(algo === undefined ? {} : { algo }) };
}

/** A config file of a grid directory. */
export interface GridConfigFile {
  readonly file: string;
  readonly kind: 'json' | 'yaml';
}

/**
 * The config file of a grid directory: a `*.json` of any name (`params.json` when there are
 * several, else the first by name: exp_engine took whichever its glob listed first, an order
 * that differs between file systems), else `config.yaml`, else `params.yaml`. Hidden files and
 * directories are not candidates, as with a glob.
 *
 * @example
 * ```ts
 * await findGridConfig('results/grid_a'); // { file: 'results/grid_a/params.json', kind: 'json' }
 * ```
 */
export async function findGridConfig(gridDir: string): Promise<GridConfigFile | undefined> {
  let names: string[];
  try {
    names = await readdir(gridDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const isFile = async (name: string) => {
    try {
      return (await stat(path.join(gridDir, name))).isFile();
    } catch {
      return false;
    }
  };
  const json: string[] = [];
  for (const name of names.sort()) {
    if (!name.startsWith('.') && name.endsWith('.json') && (await isFile(name))) json.push(name);
  }
  const chosen = json.includes('params.json') ? 'params.json' : json[0];
  if (chosen !== undefined) return { file: path.join(gridDir, chosen), kind: 'json' };
  for (const name of ['config.yaml', 'params.yaml']) {
    if (names.includes(name) && (await isFile(name))) return { file: path.join(gridDir, name), kind: 'yaml' };
  }
  return undefined;
}

/**
 * Reads a params file as an object of params: JSON (strict UTF-8, a nesting limit, an object; a
 * runlake `{grid_id, params_hash, params}` record gives its `params`) or a flat YAML mapping.
 * Anything else is refused with an {@link InputFileError} naming `shown`: exp_engine printed a
 * warning and went on without the file, which silently put the runs in another grid.
 *
 * @example
 * ```ts
 * await readParamsFile('/abs/grid_a/params.json', 'results/grid_a/params.json', 'json');
 * ```
 */
export async function readParamsFile(file: string, shown: string, kind: 'json' | 'yaml'): Promise<Params> {
  let text: string;
  try {
    text = decodeUtf8Strict(await readFile(file), shown);
  } catch (error) {
    if (error instanceof RunlakeError) throw error;
    throw new InputFileError(shown, `cannot read: ${(error as Error).message.split('\n')[0]}`);
  }
  if (kind === 'yaml') return parseFlatYaml(text, shown);
  let parsed: unknown;
  try {
    // The nesting limit first: canonicalizing params recurses.
    assertJsonDepth(text, shown);
    // Python's reading: `1.0` stays a float (exp_engine's grid ids tell 1 and 1.0 apart).
    parsed = parsePythonJson(text);
  } catch (error) {
    if (error instanceof RunlakeError) throw error;
    throw new InputFileError(shown, `is not valid JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InputFileError(shown, 'must hold a JSON object of parameters');
  }
  const record = parsed as Record<string, unknown>;
  return record.params_hash && record.params && typeof record.params === 'object'
    ? (record.params as Params)
    : record;
}

/**
 * A flat YAML mapping (`key: scalar` lines, `#` comments) read with YAML 1.1 scalar rules as
 * PyYAML's `safe_load` applies them: `true`/`yes`/`on` and their opposites are booleans, `~`,
 * `null` and nothing are null, ints and floats (a float's exponent needs a sign: `1e5` is a
 * string) are numbers, quoted text is a string. Nested or multi-line values are refused.
 *
 * @example
 * ```ts
 * parseFlatYaml('algo: memorypair\ngamma_bar: 1.0\n', 'config.yaml'); // { algo: 'memorypair', gamma_bar: 1 }
 * ```
 */
export function parseFlatYaml(text: string, shown: string): Params {
  const params: Params = {};
  for (const [index, raw] of text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .entries()) {
    const line = stripYamlComment(raw);
    if (line.trim() === '' || line.trim() === '---') continue;
    const match = /^([A-Za-z_][\w.-]*|"[^"]*"|'[^']*')\s*:(?:\s+(.*))?$/.exec(line.trimEnd());
    if (!match || /^\s/.test(line)) {
      throw new InputFileError(
        shown,
        `line ${index + 1}: only a flat "key: value" YAML mapping is read; put nested params in a params.json`,
      );
    }
    const key = (match[1] as string).replace(/^["']|["']$/g, '');
    const value = (match[2] ?? '').trim();
    if (/^[[{|>&*!]/.test(value)) {
      throw new InputFileError(
        shown,
        `line ${index + 1}: the value of "${key}" is not a plain scalar; put nested params in a params.json`,
      );
    }
    params[key] = yamlScalar(value);
  }
  return params;
}

function stripYamlComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#' && (i === 0 || /\s/.test(line[i - 1] as string))) return line.slice(0, i);
  }
  return line;
}

function yamlScalar(value: string): unknown {
  if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) return JSON.parse(value);
  if (value.startsWith("'") && value.endsWith("'") && value.length >= 2)
    return value.slice(1, -1).replaceAll("''", "'");
  if (value === '' || value === '~' || /^(null|Null|NULL)$/.test(value)) return null;
  if (/^(yes|Yes|YES|true|True|TRUE|on|On|ON|y|Y)$/.test(value)) return /^[yY]$/.test(value) ? value : true;
  if (/^(no|No|NO|false|False|FALSE|off|Off|OFF|n|N)$/.test(value))
    return /^[nN]$/.test(value) ? value : false;
  if (/^[-+]?(0|[1-9][0-9_]*)$/.test(value)) return Number(value.replaceAll('_', ''));
  if (/^[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?$/.test(value) && /[0-9]/.test(value)) {
    return Number(value.replaceAll('_', ''));
  }
  return value;
}

// Python's float() and int() on a str: surrounding whitespace is allowed, so are inf/nan
// spellings for float; JavaScript's Number() accepts other things ('' → 0, '0x10' → 16).
const PYTHON_FLOAT =
  /^[+-]?((\d+(_\d+)*)?\.?\d+(_\d+)*([eE][+-]?\d+(_\d+)*)?|\d+(_\d+)*\.([eE][+-]?\d+)?|inf|infinity|nan)$/i;
const PYTHON_INT = /^[+-]?\d+(_\d+)*$/;

/**
 * `float(text)` as Python computes it, or undefined where Python raises ValueError.
 *
 * @example
 * ```ts
 * pythonFloat(' 0.95'); // 0.95
 * pythonFloat('uantile'); // undefined
 * ```
 */
export function pythonFloat(text: string): number | undefined {
  const trimmed = text.trim();
  if (!PYTHON_FLOAT.test(trimmed)) return undefined;
  const bare = trimmed.replaceAll('_', '').toLowerCase();
  const sign = bare.startsWith('-') ? -1 : 1;
  const unsigned = bare.replace(/^[+-]/, '');
  if (unsigned === 'nan') return Number.NaN;
  if (unsigned === 'inf' || unsigned === 'infinity') return sign * Number.POSITIVE_INFINITY;
  return Number(bare);
}

/**
 * `int(text)` as Python computes it (base 10), as a bigint, or undefined where Python raises.
 *
 * @example
 * ```ts
 * pythonInt('001'); // 1n
 * ```
 */
export function pythonInt(text: string): bigint | undefined {
  const trimmed = text.trim();
  return PYTHON_INT.test(trimmed) ? BigInt(trimmed.replaceAll('_', '')) : undefined;
}

function checkedInt(value: bigint, where: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number)) {
    throw new RunlakeError(
      `${where}: ${value} is too large an integer for a seed or param (at most 2^53 - 1)`,
    );
  }
  return number;
}
