/**
 * The little of the WebAssembly JS API the geometry kernels use (the project's type libraries do
 * not declare it), and compile-once caching for their hand-assembled modules.
 */

/** The part of the WebAssembly JS API used here. */
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
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
