/**
 * A small deterministic PRNG (mulberry32), so the demo lakes are the same on every machine.
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
