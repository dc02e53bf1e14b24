/**
 * The little of the WebAssembly JS API the geometry kernels use (the project's type libraries do
 * not declare it), and compile-once caching for their hand-assembled modules.
 */

/** The part of the WebAssembly JS API used here. */
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Memory: new (descriptor: {
    initial: number;
    maximum?: number;
    shared?: boolean;
  }) => { buffer: ArrayBuffer };
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

/**
 * The runtime's WebAssembly API, or undefined where there is none.
 *
 * @example
 * ```ts
 * const memory = wasmApi ? new wasmApi.Memory({ initial: 1 }) : null;
 * ```
 */
export const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/**
 * A getter that assembles and compiles a module on first use and returns the same compiled module
 * afterwards, or null when the runtime lacks WebAssembly or refuses the bytes (e.g. no SIMD), so
 * callers fall back to their JavaScript kernels.
 *
 * @example
 * ```ts
 * const kernelModule = compiledOnce(kernelModuleBytes);
 * const module = kernelModule(); // object | null
 * ```
 */
export function compiledOnce(assemble: () => Uint8Array): () => object | null {
  let compiled: object | null | undefined;
  return () => {
    if (compiled === undefined) {
      try {
        const bytes = assemble();
        compiled = wasmApi?.validate(bytes) ? new wasmApi.Module(bytes) : null;
      } catch {
        compiled = null;
      }
    }
    return compiled;
  };
}

// ── Byte builders for the hand-assembled kernel modules (WebAssembly binary format) ─────────

/**
 * An unsigned LEB128 integer, as the binary format encodes sizes, indices and offsets.
 *
 * @example
 * ```ts
 * uleb(300); // [0xac, 0x02]
 * ```
 */
export function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/**
 * A vector: its length, then its items.
 *
 * @example
 * ```ts
 * vec([[1], [2, 3]]); // [2, 1, 2, 3]
 * ```
 */
export function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/**
 * A section: its id, its byte length, then its bytes.
 *
 * @example
 * ```ts
 * section(1, [0x60]); // [1, 1, 0x60]
 * ```
 */
export function section(id: number, bytes: number[]): number[] {
  return [id, ...uleb(bytes.length), ...bytes];
}

/**
 * A name (an ASCII string as a byte vector).
 *
 * @example
 * ```ts
 * name('m'); // [1, 0x6d]
 * ```
 */
export function name(text: string): number[] {
  return vec([...text].map((ch) => [ch.charCodeAt(0)]));
}

/**
 * A SIMD instruction: the 0xfd prefix and its opcode.
 *
 * @example
 * ```ts
 * simd(0x00); // v128.load: [0xfd, 0x00]
 * ```
 */
export function simd(op: number): number[] {
  return [0xfd, ...uleb(op)];
}

/**
 * `local.get i` (i < 128).
 *
 * @example
 * ```ts
 * get(2); // [0x20, 2]
 * ```
 */
export function get(i: number): number[] {
  return [0x20, i];
}

/**
 * `local.set i` (i < 128).
 *
 * @example
 * ```ts
 * set(2); // [0x21, 2]
 * ```
 */
export function set(i: number): number[] {
  return [0x21, i];
}
