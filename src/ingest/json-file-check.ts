import { isUtf8 } from 'node:buffer';
import { open } from 'node:fs/promises';
import { InvalidJsonError, MAX_JSON_DEPTH } from '../lake/index.js';
import type { JsonLayout } from './convert-file-scan.js';

/**
 * The largest single row (one JSON object) runlake hands to DuckDB's JSON reader. DuckDB refuses
 * rows above its `maximum_object_size` (16 MiB by default) and allocates its read buffers from
 * that setting, so runlake raises it to the file's largest row, up to this bound: 512 MiB, the
 * size V8 caps a string at, and far above any table-shaped row a user exports.
 *
 * @example
 * ```ts
 * MAX_JSON_ROW_BYTES; // 536870912
 * ```
 */
export const MAX_JSON_ROW_BYTES = 512 * 1024 * 1024;

/**
 * What {@link checkJsonFile} learned about a JSON or JSONL file it accepted.
 *
 * @example
 * ```ts
 * const { deepest, largestRowBytes } = await checkJsonFile('a.jsonl', 'a.jsonl', 'lines');
 * ```
 */
export interface JsonFileShape {
  /** The deepest nesting of arrays and objects (the top-level array of a JSON input counts). */
  readonly deepest: number;
  /** Bytes of the largest row: a line's object (JSONL) or an element of the top-level array. */
  readonly largestRowBytes: number;
}

/**
 * Limits {@link checkJsonFile} enforces; the defaults are runlake's.
 *
 * @example
 * ```ts
 * await checkJsonFile('a.jsonl', 'a.jsonl', 'lines', { maxDepth: 64, maxRowBytes: 1 << 20 });
 * ```
 */
export interface JsonFileLimits {
  /** Deepest nesting accepted (default {@link MAX_JSON_DEPTH}). */
  readonly maxDepth?: number;
  /** Largest row accepted, in bytes (default {@link MAX_JSON_ROW_BYTES}). */
  readonly maxRowBytes?: number;
}

const CHUNK_BYTES = 1 << 20;

/**
 * Streams a JSON array or JSONL file once, before DuckDB reads it, and refuses what would crash or
 * mislead DuckDB's reader: nesting deeper than {@link MAX_JSON_DEPTH} (DuckDB's reader recurses
 * and ends in a segmentation fault near 30,000 levels), invalid UTF-8, and rows larger than
 * {@link MAX_JSON_ROW_BYTES}. Each refusal is an {@link InvalidJsonError} naming `input` and the
 * 1-based line. Memory stays constant; the scan is `lake/json-text`'s `jsonNestingDepth` over a
 * byte stream (a multi-GB file never fits in one JavaScript string), plus Node's native UTF-8
 * validator.
 *
 * @example
 * ```ts
 * const shape = await checkJsonFile('/data/mask.json', 'mask.json', 'array');
 * console.log(shape.largestRowBytes); // the maximum_object_size DuckDB needs
 * ```
 */
export async function checkJsonFile(
  file: string,
  input: string,
  layout: JsonLayout,
  limits: JsonFileLimits = {},
): Promise<JsonFileShape> {
  const maxDepth = limits.maxDepth ?? MAX_JSON_DEPTH;
  const maxRowBytes = limits.maxRowBytes ?? MAX_JSON_ROW_BYTES;
  const rowDepth = layout === 'array' ? 1 : 0;
  const state: ScanState = {
    depth: 0,
    deepest: 0,
    inString: false,
    escaped: false,
    line: 1,
    row: -1,
    rowStart: 0,
    rowLine: 1,
    largestRow: 0,
    largestRowIndex: -1,
    largestRowLine: 1,
    tooDeepLine: 0,
  };
  const handle = await open(file, 'r');
  const buffer = new Uint8Array(CHUNK_BYTES + 3);
  let carry = 0; // bytes of an incomplete UTF-8 character kept from the previous chunk
  let position = 0; // file offset of the first byte read into buffer[carry]
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, carry, CHUNK_BYTES, null);
      const end = carry + bytesRead;
      // Validate UTF-8 up to the last complete character; a character the chunk edge splits is
      // carried over and validated with the next chunk (it is never a newline, bracket or quote,
      // so the depth scan, which saw it already, has nothing to redo).
      const cut = bytesRead === 0 ? end : utf8Boundary(buffer, end);
      if (!isUtf8(buffer.subarray(0, cut))) {
        const line = state.line + invalidLineOffset(buffer.subarray(0, cut));
        throw new InvalidJsonError(input, `line ${line}: invalid UTF-8; re-encode the file as UTF-8`);
      }
      if (bytesRead === 0) break;
      scanBytes(buffer, carry, end, position - carry, state, rowDepth, maxDepth);
      if (state.tooDeepLine > 0) {
        throw new InvalidJsonError(
          input,
          `line ${state.tooDeepLine}: JSON nested more than ${maxDepth} levels deep; runlake reads at most ${maxDepth} levels`,
        );
      }
      position += bytesRead;
      buffer.copyWithin(0, cut, end);
      carry = end - cut;
    }
  } finally {
    await handle.close();
  }
  if (state.largestRow > maxRowBytes) {
    throw new InvalidJsonError(
      input,
      `line ${state.largestRowLine}, row ${state.largestRowIndex}: the row is ${mebibytes(state.largestRow)}; ` +
        `runlake reads JSON rows of at most ${mebibytes(maxRowBytes)}`,
    );
  }
  return { deepest: state.deepest, largestRowBytes: state.largestRow };
}

interface ScanState {
  depth: number;
  deepest: number;
  inString: boolean;
  escaped: boolean;
  line: number;
  row: number;
  rowStart: number;
  rowLine: number;
  largestRow: number;
  largestRowIndex: number;
  largestRowLine: number;
  tooDeepLine: number;
}

// The hot loop over bytes[from, to), whose file offsets are base + index: the state lives in
// locals while it runs, so V8 keeps it in registers.
function scanBytes(
  bytes: Uint8Array,
  from: number,
  to: number,
  base: number,
  s: ScanState,
  rowDepth: number,
  maxDepth: number,
): void {
  let { depth, deepest, inString, escaped, line } = s;
  for (let i = from; i < to; i++) {
    const c = bytes[i] as number;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 0x5c /* \ */) escaped = true;
      else if (c === 0x22 /* " */) inString = false;
      else if (c === 0x0a) line++;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (depth === rowDepth) {
        s.row++;
        s.rowStart = base + i;
        s.rowLine = line;
      }
      if (++depth > deepest) {
        deepest = depth;
        if (depth > maxDepth) {
          s.tooDeepLine = line;
          break;
        }
      }
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      if (--depth === rowDepth) {
        const size = base + i + 1 - s.rowStart;
        if (size > s.largestRow) {
          s.largestRow = size;
          s.largestRowIndex = s.row;
          s.largestRowLine = s.rowLine;
        }
      }
    } else if (c === 0x0a) line++;
  }
  s.depth = depth;
  s.deepest = deepest;
  s.inString = inString;
  s.escaped = escaped;
  s.line = line;
}

// Where the chunk's last complete UTF-8 character ends: before a lead byte among the last three
// whose sequence may continue in the next chunk.
function utf8Boundary(bytes: Uint8Array, end: number): number {
  for (let i = end - 1; i >= Math.max(0, end - 3); i--) {
    const b = bytes[i] as number;
    if (b < 0x80) return end;
    if (b >= 0xc0) return i;
  }
  return end;
}

// The 0-based line, within `bytes`, of the first line that is not valid UTF-8 (only called once
// validation has failed, so the split's cost does not matter).
function invalidLineOffset(bytes: Uint8Array): number {
  let start = 0;
  for (let line = 0; ; line++) {
    const newline = bytes.indexOf(0x0a, start);
    const stop = newline < 0 ? bytes.length : newline;
    if (!isUtf8(bytes.subarray(start, stop)) || newline < 0) return line;
    start = newline + 1;
  }
}

function mebibytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MiB`;
}
