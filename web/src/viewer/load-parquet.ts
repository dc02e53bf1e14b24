// Parquet in the browser: parquet-wasm decodes the file to Arrow IPC, apache-arrow reads the IPC
// stream. The wasm module's bytes are inlined into the page (Vite `?inline` gives a base64 data
// URL), so the viewer also works from file:// where fetching a separate .wasm is blocked.
import { tableFromIPC } from 'apache-arrow';
import initParquetWasm, { readParquet } from 'parquet-wasm/esm';
import wasmDataUrl from 'parquet-wasm/esm/parquet_wasm_bg.wasm?url&inline';
import { arrowToFrame } from './arrow-to-frame.js';
import { type Frame, ViewerFileError } from './frame.js';

/**
 * Rows per Arrow record batch: runlake's row group size. parquet-wasm's default (1024) makes
 * thousands of tiny batches and many dictionary remaps.
 */
const BATCH_SIZE = 122_880;

let ready: Promise<unknown> | undefined;

function base64Bytes(dataUrl: string): Uint8Array {
  const base64 = dataUrl.slice(dataUrl.indexOf(',') + 1);
  const native = (Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array }).fromBase64;
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
  ready ??= initParquetWasm({ module_or_path: base64Bytes(wasmDataUrl) });
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

/**
 * Reads a whole Parquet file into a frame; a file that is not Parquet, or cut off, is a
 * ViewerFileError naming the file.
 *
 * @example
 * ```ts
 * const frame = await loadParquet(new Uint8Array(await file.arrayBuffer()), file.name);
 * ```
 */
export async function loadParquet(bytes: Uint8Array, fileName: string): Promise<Frame> {
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
  await initParquet();
  let ipc: Uint8Array;
  try {
    const table = readParquet(bytes, { batchSize: BATCH_SIZE });
    ipc = table.intoIPCStream();
  } catch (error) {
    const cause = error instanceof Error ? error.message : String(error);
    throw new ViewerFileError(fileName, `not a readable Parquet file: ${cause}`);
  }
  return arrowToFrame(tableFromIPC(ipc));
}
