// Parquet in the browser: parquet-wasm decodes the file to Arrow IPC, apache-arrow reads the IPC
// stream. The wasm module's bytes are inlined into the page (gzipped, base64; see
// web/vite.viewer.config.ts), so the viewer also works from file:// where fetching a separate
// .wasm is blocked.

import wasmGzipBase64 from 'virtual:parquet-wasm-gzip';
import { DataType, tableFromIPC } from 'apache-arrow';
import initParquetWasm, { readParquet, readSchema } from 'parquet-wasm/esm';
import { arrowToFrame } from './arrow-to-frame.js';
import { type Frame, ViewerFileError } from './frame.js';

/**
 * Rows per Arrow record batch: runlake's row group size. parquet-wasm's default (1024) makes
 * thousands of tiny batches and many dictionary remaps.
 */
const BATCH_SIZE = 122_880;

let ready: Promise<unknown> | undefined;

function base64Bytes(base64: string): Uint8Array<ArrayBuffer> {
  const native = (Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array<ArrayBuffer> })
    .fromBase64;
  if (native) return native(base64);
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Compiles and instantiates parquet-wasm once. The viewer calls it at startup, so compiling the
 * ~5 MB module overlaps with the user picking (or the page fetching) a file.
 */
export function initParquet(): Promise<unknown> {
  if (!ready) {
    // Inflate while compiling: a Response with the wasm MIME type lets parquet-wasm's init use
    // WebAssembly.instantiateStreaming.
    const gzipped = new Blob([base64Bytes(wasmGzipBase64)]).stream();
    const wasm = new Response(gzipped.pipeThrough(new DecompressionStream('gzip')), {
      headers: { 'content-type': 'application/wasm' },
    });
    ready = initParquetWasm({ module_or_path: wasm });
  }
  return ready;
}

/** True when the bytes start and end with Parquet's `PAR1` magic. */
export function hasParquetMagic(bytes: Uint8Array): 'ok' | 'no-header' | 'no-footer' {
  const magic = (at: number) =>
    bytes[at] === 0x50 && bytes[at + 1] === 0x41 && bytes[at + 2] === 0x52 && bytes[at + 3] === 0x31;
  if (bytes.length < 12 || !magic(0)) return 'no-header';
  if (!magic(bytes.length - 4)) return 'no-footer';
  return 'ok';
}

/** A column of a Parquet file, from its schema (read without decoding any data). */
export interface ParquetField {
  readonly name: string;
  /** Integer or floating point (not dictionary, text, dates…). */
  readonly numeric: boolean;
  /** An integer type. */
  readonly integer: boolean;
}

function checkMagic(bytes: Uint8Array, fileName: string): void {
  const magic = hasParquetMagic(bytes);
  if (magic === 'no-header') {
    throw new ViewerFileError(fileName, 'not a Parquet file (it does not start with the "PAR1" magic bytes)');
  }
  if (magic === 'no-footer') {
    throw new ViewerFileError(
      fileName,
      'truncated Parquet file (it does not end with the "PAR1" footer; was it still being written?)',
    );
  }
}

function unreadable(fileName: string, error: unknown): ViewerFileError {
  const cause = error instanceof Error ? error.message : String(error);
  return new ViewerFileError(fileName, `not a readable Parquet file: ${cause}`);
}

/**
 * The file's columns, from the footer alone, so the viewer can decode the columns it plots first.
 *
 * @example
 * ```ts
 * (await parquetFields(bytes, 'mask_impact.parquet')).map((f) => f.name);
 * ```
 */
export async function parquetFields(bytes: Uint8Array, fileName: string): Promise<ParquetField[]> {
  checkMagic(bytes, fileName);
  await initParquet();
  let ipc: Uint8Array;
  try {
    ipc = readSchema(bytes).intoIPCStream();
  } catch (error) {
    throw unreadable(fileName, error);
  }
  return tableFromIPC(ipc).schema.fields.map((f) => ({
    name: f.name,
    numeric: DataType.isInt(f.type) || DataType.isFloat(f.type),
    integer: DataType.isInt(f.type),
  }));
}

/**
 * Reads a Parquet file (all columns, or only `columns`) into a frame; a file that is not
 * Parquet, or cut off, is a ViewerFileError naming the file.
 *
 * @example
 * ```ts
 * const frame = await loadParquet(new Uint8Array(await file.arrayBuffer()), file.name);
 * ```
 */
export async function loadParquet(
  bytes: Uint8Array,
  fileName: string,
  columns?: readonly string[],
): Promise<Frame> {
  checkMagic(bytes, fileName);
  await initParquet();
  let ipc: Uint8Array;
  try {
    const options = columns ? { batchSize: BATCH_SIZE, columns: [...columns] } : { batchSize: BATCH_SIZE };
    const table = readParquet(bytes, options);
    performance.mark('runlake:parquet-decoded');
    ipc = table.intoIPCStream();
  } catch (error) {
    throw unreadable(fileName, error);
  }
  const arrow = tableFromIPC(ipc);
  performance.mark('runlake:arrow-table');
  return arrowToFrame(arrow);
}
