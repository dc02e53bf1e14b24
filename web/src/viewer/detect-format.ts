// Which format a file is, from its name and first bytes (kept apart from load-file.ts so it can be
// used without parquet-wasm).
import type { FileFormat } from './frame.js';

/**
 * The lower-case extension of a file name or URL (query and fragment ignored), '' when none.
 *
 * @example
 * ```ts
 * extensionOf('runs.JSONL?x=1'); // 'jsonl'
 * ```
 */
export function extensionOf(name: string): string {
  const clean = name.split(/[?#]/)[0] ?? name;
  const dot = clean.lastIndexOf('.');
  return dot < 0 ? '' : clean.slice(dot + 1).toLowerCase();
}

/**
 * The first byte that is not whitespace or part of a UTF-8 byte order mark.
 *
 * @example
 * ```ts
 * firstNonSpace(new TextEncoder().encode('  {"a": 1}')); // 0x7b
 * ```
 */
export function firstNonSpace(head: Uint8Array): number | undefined {
  for (const c of head) {
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 0xef || c === 0xbb || c === 0xbf) continue;
    return c;
  }
  return undefined;
}

/**
 * Whether the bytes start an Arrow IPC file (`ARROW1`) or stream (a message behind the
 * `0xFFFFFFFF` continuation marker and a plausible metadata length), as the server's
 * `format=arrow` answers are. Text never starts with 0xFF bytes, so no CSV or JSON is mistaken.
 *
 * @example
 * ```ts
 * isArrowIpc(new Uint8Array(await (await fetch('api/query?format=arrow&sql=SELECT%201')).arrayBuffer())); // true
 * ```
 */
export function isArrowIpc(head: Uint8Array): boolean {
  if (head.length < 8) return false;
  const ascii = String.fromCharCode(...head.subarray(0, 6));
  if (ascii === 'ARROW1') return true;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const first = view.getUint32(0, true);
  if (first === 0xffffffff) {
    // The metadata length follows: positive, and no longer than a schema message can be.
    const length = view.getInt32(4, true);
    return length > 0 && length < 1 << 24;
  }
  return false;
}

/**
 * The format to read a file as: the extension decides (`.parquet`, `.arrow`, `.csv`, `.json`,
 * `.jsonl`), otherwise the first bytes (`PAR1`, Arrow IPC, `[` or `{`, else CSV).
 *
 * @example
 * ```ts
 * detectFormat('mask_impact.parquet', head); // 'parquet'
 * ```
 */
export function detectFormat(name: string, head: Uint8Array): FileFormat {
  const ext = extensionOf(name);
  if (ext === 'parquet' || ext === 'pq') return 'parquet';
  if (ext === 'csv') return 'csv';
  if (ext === 'jsonl' || ext === 'ndjson') return 'jsonl';
  if (ext === 'json') return 'json';
  if (ext === 'arrow' || ext === 'arrows' || ext === 'ipc' || ext === 'feather') return 'arrow';
  if (head[0] === 0x50 && head[1] === 0x41 && head[2] === 0x52 && head[3] === 0x31) return 'parquet';
  if (isArrowIpc(head)) return 'arrow';
  const first = firstNonSpace(head);
  if (first === 0x5b) return 'json';
  if (first === 0x7b) return 'jsonl';
  return 'csv';
}
