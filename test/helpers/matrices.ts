// Seeded random matrices for the geometry tests (mulberry32 + Box–Muller).
import { mulberry32 } from '../../src/index.js';

/** Standard normal draws from a seeded stream. */
export function gaussian(seed: number): () => number {
  const u = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/** A rows×cols row-major matrix of standard normal entries. */
export function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  const g = gaussian(seed);
  return Float64Array.from({ length: rows * cols }, () => g());
}
/** The n×m product of row-major n×k A and k×m B. */
export function matmul(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p] as number;
      for (let j = 0; j < m; j++)
        out[i * m + j] = (out[i * m + j] as number) + aip * (b[p * m + j] as number);
    }
  return out;
}
/** A random orthogonal d×d matrix: Gram–Schmidt (twice, for stability) on a Gaussian one. */
export function randomOrthogonal(d: number, seed: number): Float64Array {
  const q = randomMatrix(d, d, seed); // rows are the vectors
  for (let i = 0; i < d; i++) {
    for (let pass = 0; pass < 2; pass++)
      for (let j = 0; j < i; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += (q[i * d + k] as number) * (q[j * d + k] as number);
        for (let k = 0; k < d; k++) q[i * d + k] = (q[i * d + k] as number) - s * (q[j * d + k] as number);
      }
    let norm = 0;
    for (let k = 0; k < d; k++) norm += (q[i * d + k] as number) ** 2;
    norm = Math.sqrt(norm);
    for (let k = 0; k < d; k++) q[i * d + k] = (q[i * d + k] as number) / norm;
  }
  return q;
}
