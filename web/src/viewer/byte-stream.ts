// Reading a byte stream (a File's, a fetch response's) chunk by chunk, for the streaming parsers.

/**
 * The non-empty chunks of `stream`, in order; the reader's lock is released when the consumer stops.
 *
 * @example
 * ```ts
 * for await (const chunk of streamChunks(file.stream())) parser.push(chunk);
 * ```
 */
export async function* streamChunks(stream: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (value && value.length > 0) yield value;
    }
  } finally {
    reader.releaseLock();
  }
}
