// Opening a file (picked, dropped or fetched by URL): detect the format from the name and the
// first bytes, then stream it into the right parser. CSV and JSON are parsed chunk by chunk as
// they are read, so neither the file nor its text has to fit in one string.
import { type Table, tableFromIPC } from 'apache-arrow';
import { arrowToFrame } from './arrow-to-frame.js';
import type { FileFormat, Frame } from './frame.js';
import { ViewerFileError } from './frame.js';

export { detectFormat, isArrowIpc } from './detect-format.js';

import { streamChunks } from './byte-stream.js';
import { detectFormat, extensionOf, firstNonSpace } from './detect-format.js';
import { sameOriginHeaders } from './lake-source.js';
import { loadParquet, parquetFields } from './load-parquet.js';
import { CsvParser } from './parse-csv.js';
import { concatBytes, JsonArrayParser, JsonLinesParser, parseJsonText } from './parse-json.js';
import { firstColumns } from './plot-data.js';

/** A file being read: its name, size when known, and its bytes as a stream of chunks. */
export interface ByteSource {
  readonly name: string;
  readonly size: number | undefined;
  chunks(): AsyncIterable<Uint8Array>;
  /** Something to say about the content, e.g. that the server cut a query answer short. */
  readonly note?: string;
}

/** What the viewer shows about a loaded file. */
export interface LoadedFile {
  readonly name: string;
  readonly format: FileFormat;
  readonly bytes: number;
  readonly frame: Frame;
  /** The source's note (see {@link ByteSource.note}). */
  readonly note?: string;
  /**
   * Set when `frame` holds only the columns of the default plot (a wide Parquet file): reads the
   * other columns and resolves with the whole frame, columns in file order.
   */
  readonly rest?: () => Promise<Frame>;
}

export type ProgressListener = (bytesRead: number, totalBytes: number | undefined) => void;

/** JSON that does not start with "[" is parsed whole (columns object) below this size, else as JSON Lines. */
const WHOLE_JSON_LIMIT = 256 * 2 ** 20;

/** A picked or dropped File as a byte source. */
export function fileSource(file: File): ByteSource {
  return {
    name: file.name,
    size: file.size,
    chunks: () => streamChunks(file.stream()),
  };
}

/** A file fetched from a URL (`?url=`); a failed request is an error naming the URL. */
export async function urlSource(url: string): Promise<ByteSource> {
  const name = decodeURIComponent(new URL(url, location.href).pathname.split('/').pop() || url);
  let response: Response;
  try {
    response = await fetch(url, { headers: sameOriginHeaders(url) });
  } catch (error) {
    throw new ViewerFileError(
      name,
      `could not fetch ${url}: ${error instanceof Error ? error.message : error}`,
    );
  }
  if (!response.ok || !response.body) {
    throw new ViewerFileError(name, `could not fetch ${url}: HTTP ${response.status} ${response.statusText}`);
  }
  const length = Number(response.headers.get('content-length'));
  const body = response.body;
  return {
    name,
    size: Number.isFinite(length) && length > 0 ? length : undefined,
    chunks: () => streamChunks(body),
  };
}

/** Lets the page repaint the progress text now and then during a long parse. */
function makeYielder(onProgress: ProgressListener | undefined, total: number | undefined) {
  let last = performance.now();
  let read = 0;
  return async (chunkBytes: number) => {
    read += chunkBytes;
    const now = performance.now();
    if (now - last < 100) return;
    last = now;
    onProgress?.(read, total);
    await new Promise((resolve) => setTimeout(resolve, 0));
  };
}

/**
 * Reads a whole source into a frame. Errors are ViewerFileErrors naming the file.
 *
 * @example
 * ```ts
 * const loaded = await loadSource(fileSource(input.files[0]));
 * console.log(loaded.frame.numRows);
 * ```
 */
export async function loadSource(source: ByteSource, onProgress?: ProgressListener): Promise<LoadedFile> {
  try {
    return await load(source, onProgress);
  } catch (error) {
    if (error instanceof ViewerFileError) throw error;
    const cause = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new ViewerFileError(source.name, cause);
  }
}

async function load(source: ByteSource, onProgress: ProgressListener | undefined): Promise<LoadedFile> {
  const iterator = source.chunks()[Symbol.asyncIterator]();
  const firstResult = await iterator.next();
  const head = firstResult.done ? new Uint8Array(0) : firstResult.value;
  const format = detectFormat(source.name, head);
  const progress = makeYielder(onProgress, source.size);
  let bytes = 0;
  // Every chunk of the file, the first one included (it was read to detect the format).
  async function* all(): AsyncIterable<Uint8Array> {
    if (head.length > 0) {
      bytes += head.length;
      yield head;
      await progress(head.length);
    }
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      bytes += next.value.length;
      yield next.value;
      await progress(next.value.length);
    }
  }
  const done = (frame: Frame): LoadedFile => ({
    name: source.name,
    format,
    bytes,
    frame,
    ...(source.note ? { note: source.note } : {}),
  });

  if (format === 'parquet') {
    const parts: Uint8Array[] = [];
    for await (const chunk of all()) parts.push(chunk);
    performance.mark('runlake:file-read');
    const whole = concatBytes(parts, bytes);
    if (whole.length === 0) throw new ViewerFileError(source.name, 'the file is empty');
    const fields = await parquetFields(whole, source.name);
    const first = firstColumns(fields);
    if (!first) return done(await loadParquet(whole, source.name));
    // Should the projected read fail (e.g. a nested column name parquet-wasm resolves
    // differently), read everything instead.
    const partial = await loadParquet(whole, source.name, first).catch(() => undefined);
    if (!partial) return done(await loadParquet(whole, source.name));
    const rest = async (): Promise<Frame> => {
      const others = fields.map((f) => f.name).filter((name) => !first.includes(name));
      const more = await loadParquet(whole, source.name, others);
      const all = new Map([...partial.columns, ...more.columns].map((c) => [c.name, c]));
      return { numRows: partial.numRows, columns: fields.flatMap((f) => all.get(f.name) ?? []) };
    };
    return { ...done(partial), rest };
  }
  if (format === 'arrow') {
    const parts: Uint8Array[] = [];
    for await (const chunk of all()) parts.push(chunk);
    const whole = concatBytes(parts, bytes);
    if (whole.length === 0) throw new ViewerFileError(source.name, 'the file is empty');
    let table: Table;
    try {
      table = tableFromIPC(whole);
    } catch (error) {
      throw new ViewerFileError(
        source.name,
        `not a readable Arrow IPC file: ${error instanceof Error ? error.message : error}`,
      );
    }
    return done(arrowToFrame(table));
  }
  if (format === 'csv') {
    const parser = new CsvParser(source.name);
    const decoder = new TextDecoder();
    for await (const chunk of all()) parser.push(decoder.decode(chunk, { stream: true }));
    parser.push(decoder.decode());
    return done(parser.finish());
  }
  const startsWithBrace = firstNonSpace(head) === 0x7b;
  // A document starting with "{" is parsed whole (a query answer, records under a key, columns)
  // unless it is named JSON Lines; parseJsonText falls back to JSON Lines for several objects.
  const namedLines = ['jsonl', 'ndjson'].includes(extensionOf(source.name));
  if (startsWithBrace && !namedLines && (source.size ?? 0) <= WHOLE_JSON_LIMIT) {
    const decoder = new TextDecoder();
    let text = '';
    for await (const chunk of all()) text += decoder.decode(chunk, { stream: true });
    text += decoder.decode();
    return { ...done(parseJsonText(text, source.name)), format: 'json' };
  }
  const parser =
    format === 'jsonl' || startsWithBrace
      ? new JsonLinesParser(source.name)
      : new JsonArrayParser(source.name);
  for await (const chunk of all()) parser.push(chunk);
  return done(parser.finish());
}
