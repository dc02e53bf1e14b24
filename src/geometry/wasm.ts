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

/**
 * Whether the runtime compiles WebAssembly relaxed SIMD, whose `f64x2.relaxed_madd` is one fused
 * multiply-add instruction on x86-64 with FMA (and on arm64): half the floating-point instructions
 * of every kernel loop here, which run at about two 128-bit operations per cycle. Node 22 ships
 * relaxed SIMD; Node 20's V8 has it behind `--experimental-wasm-relaxed-simd`, a flag that only
 * adds instructions to the validator, so it is switched on here (process-wide, before any kernel
 * module is compiled) when a probe module does not validate. `RUNLAKE_GEOMETRY_FMA=0` (or
 * `RUNLAKE_GEOMETRY_KERNEL=js`) keeps the separate multiplies and adds. Every thread decides the
 * same way (the environment and the V8 flags are process-wide), so the helper thread and the
 * calling thread always run the same kernels, and results stay bitwise independent of the split.
 *
 * @example
 * ```ts
 * const fma = relaxedSimd(); // true on Node 20+ on x86-64 with FMA
 * ```
 */
export function relaxedSimd(): boolean {
  if (relaxedSimdState !== undefined) return relaxedSimdState;
  relaxedSimdState = false;
  const env = typeof process !== 'undefined' ? process.env : undefined;
  if (wasmApi === undefined || env?.RUNLAKE_GEOMETRY_FMA === '0' || env?.RUNLAKE_GEOMETRY_KERNEL === 'js')
    return false;
  try {
    if (!wasmApi.validate(RELAXED_PROBE)) {
      const v8 = process.getBuiltinModule?.('node:v8') as
        | { setFlagsFromString(flags: string): void }
        | undefined;
      v8?.setFlagsFromString('--experimental-wasm-relaxed-simd');
    }
    relaxedSimdState = wasmApi.validate(RELAXED_PROBE);
  } catch {
    relaxedSimdState = false;
  }
  return relaxedSimdState;
}

let relaxedSimdState: boolean | undefined;

/** `(func (param v128 v128 v128) (result v128) (f64x2.relaxed_madd (local.get 0) (local.get 1) (local.get 2)))`. */
const RELAXED_PROBE = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
  ...[0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b],
  ...[0x03, 0x02, 0x01, 0x00],
  ...[0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x87, 0x02, 0x0b],
]);

/** `f64x2.relaxed_madd` (a·b + c, fused where the hardware has FMA); see {@link relaxedSimd}. */
export const F64X2_MADD = 0x107;
/** `f64x2.relaxed_nmadd` (−a·b + c). */
export const F64X2_NMADD = 0x108;
/** `f32x4.relaxed_madd`. */
export const F32X4_MADD = 0x105;

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
