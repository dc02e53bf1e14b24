import { RunlakeError } from './errors.js';

/**
 * How deep arrays and objects may nest in any JSON runlake reads. Real configs, params and W&B
 * summaries stay below a few dozen levels; the limit exists because every recursive walker over
 * parsed JSON (flattening, canonicalization, DuckDB's reader) runs out of stack somewhere between
 * 5,000 and 30,000 levels, and a hostile file must get a named error rather than a crash.
 */
export const MAX_JSON_DEPTH = 256;

/**
 * JSON text runlake refuses to read: not JSON, nested deeper than {@link MAX_JSON_DEPTH}, or not
 * valid UTF-8. The message names the source (a file, and the line where there is one).
 *
 * @example
 * ```ts
 * try { parseJsonText('{"a": ', 'params.json'); }
 * catch (e) { if (e instanceof InvalidJsonError) console.error(e.source); } // params.json
 * ```
 */
export class InvalidJsonError extends RunlakeError {
  override readonly name = 'InvalidJsonError';
  constructor(
    readonly source: string,
    readonly reason: string,
  ) {
    super(`${source}: ${reason}`);
  }
}

/**
 * The deepest nesting of arrays and objects in `text`, counted in one linear scan that skips
 * string contents (escapes included). Does not validate the JSON; pair it with `JSON.parse`.
 *
 * @example
 * ```ts
 * jsonNestingDepth('{"a": [1, {"b": "]]"}]}'); // 3
 * ```
 */
export function jsonNestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > deepest) deepest = depth;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return deepest;
}

/**
 * Throws {@link InvalidJsonError} when `text` nests deeper than `maxDepth`, before anything
 * recursive touches it.
 *
 * @example
 * ```ts
 * assertJsonDepth('[[[1]]]', 'run.json', 2); // throws: "run.json: JSON nested 3 levels deep …"
 * ```
 */
export function assertJsonDepth(text: string, source: string, maxDepth = MAX_JSON_DEPTH): void {
  const depth = jsonNestingDepth(text);
  if (depth > maxDepth) {
    throw new InvalidJsonError(
      source,
      `JSON nested ${depth} levels deep; runlake reads at most ${maxDepth} levels`,
    );
  }
}

/**
 * `JSON.parse` with a named error: the source (file, or file and line) and the parser's reason
 * on one line, and a depth limit ({@link MAX_JSON_DEPTH}) checked first.
 *
 * @example
 * ```ts
 * parseJsonText('{"lr": 0.1}', 'grids/grid_id=ab12cd34/params.json'); // { lr: 0.1 }
 * parseJsonText('garbage{', '.runlake/lake.json'); // throws: ".runlake/lake.json: not valid JSON (…)"
 * ```
 */
export function parseJsonText(text: string, source: string, maxDepth = MAX_JSON_DEPTH): unknown {
  assertJsonDepth(text, source, maxDepth);
  try {
    return JSON.parse(text);
  } catch (error) {
    // V8 quotes the start of the text, newlines included; keep it on the one error line.
    const reason = (error instanceof Error ? error.message : String(error)).replace(/\r?\n/g, '\\n');
    throw new InvalidJsonError(source, `not valid JSON (${reason})`);
  }
}

/**
 * Decodes UTF-8 strictly: invalid bytes are refused with the 1-based line they sit on rather than
 * silently replaced with U+FFFD (which would, for example, rename a run id).
 *
 * @example
 * ```ts
 * decodeUtf8Strict(new Uint8Array([0x61, 0x0a, 0xff]), 'history.jsonl'); // throws: "history.jsonl: line 2: invalid UTF-8 …"
 * ```
 */
export function decodeUtf8Strict(bytes: Uint8Array, source: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    const { line, offset } = firstInvalidUtf8(bytes);
    throw new InvalidJsonError(
      source,
      `line ${line}: invalid UTF-8 at byte ${offset}; re-encode the file as UTF-8`,
    );
  }
}

// The first byte offset where `bytes` stops being valid UTF-8, and the line it is on. Decodes in
// growing prefixes would be quadratic; a small validator is linear and only runs on failure.
function firstInvalidUtf8(bytes: Uint8Array): { line: number; offset: number } {
  let line = 1;
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    if (b === 0x0a) line++;
    let extra: number;

    if (b < 0x80) extra = 0;
    else if (b >= 0xc2 && b <= 0xdf) extra = 1;
    else if (b >= 0xe0 && b <= 0xef) extra = 2;
    else if (b >= 0xf0 && b <= 0xf4) extra = 3;
    else return { line, offset: i };
    if (extra === 0) {
      i++;
      continue;
    }
    // Overlong, surrogate and above-U+10FFFF forms are invalid (TextDecoder refuses them too).
    let code = b & (0x3f >> extra);
    for (let k = 1; k <= extra; k++) {
      const next = bytes[i + k];
      if (next === undefined || (next & 0xc0) !== 0x80) return { line, offset: i };
      code = (code << 6) | (next & 0x3f);
    }
    const min = extra === 1 ? 0x80 : extra === 2 ? 0x800 : 0x10000;
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return { line, offset: i };
    i += extra + 1;
  }
  return { line, offset: i };
}
