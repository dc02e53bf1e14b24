/**
 * Small deterministic pseudo-random streams, so synthetic runs, demo lakes and benchmarks are the
 * same on every machine.
 */

/**
 * mulberry32: a fast 32-bit PRNG with a good enough spread for synthetic data (not for crypto).
 *
 * @example
 * ```ts
 * const random = mulberry32(7);
 * random(); // a number in [0, 1)
 * ```
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Standard normal draws (Box–Muller, one per pair of uniforms) from a seeded {@link mulberry32}.
 *
 * @example
 * ```ts
 * const normal = gaussianStream(7);
 * normal(); // e.g. -0.41
 * ```
 */
export function gaussianStream(seed: number): () => number {
  const next = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}
