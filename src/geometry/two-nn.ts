/**
 * The two nearest-neighbour distances TwoNN needs, without the full float64 Gram matrix.
 *
 * Why: with n > d the spectrum comes from the d×d scatter, and the n×n Gram was only ever formed
 * for TwoNN's r₁ ≤ r₂ per row — n²d/2 float64 multiply-adds, the largest product of the call. Here
 * the Gram is screened in float32 (WebAssembly `f32x4`: twice the lanes of `f64x2`) with a rigorous
 * bound on its error, and only the pairs that the bound cannot rule out are recomputed exactly, in
 * float64 with the same summation order as the float64 tile kernel of gram.ts. The result is
 * therefore bitwise what the scan of the float64 Gram gives (tests check it), at about half the
 * cost.
 */
import type { RowMatrix } from './gram.js';
import {
  compiledOnce,
  F32X4_MADD,
  get,
  name,
  relaxedSimd,
  section,
  set,
  simd,
  uleb,
  vec,
  type WasmApi,
  wasmApi,
} from './wasm.js';

/** Vectors per register tile, as in gram.ts. */
const PANEL = 4;
/** Where the packed rows start in the kernel's memory (16-byte aligned); K̂ follows them. */
const PACKED_OFFSET = 64;
/** Bytes of packed panels kept in L2 while the tile rows pass over them (see float32Gram). */
const PANEL_BLOCK_BYTES = 2 ** 19;
/** float32 unit roundoff 2⁻²⁴ and float64 unit roundoff 2⁻⁵³. */
const U32 = 2 ** -24;
const U64 = 2 ** -53;

/**
 * For every row i of the row-major n×d X, the two smallest positive squared distances
 * r₁ ≤ r₂ to the other rows, as the scan of the centred float64 Gram K = X̃X̃ᵀ computes them
 * (d²_ij = K_ii + K_jj − 2K_ij, values ≤ 0 — duplicates — skipped): `out[2i] = r₁`,
 * `out[2i + 1] = r₂`, +∞ where a row has fewer than two. `mean` holds X's column means (X̃ = X −
 * 1μᵀ). Results are bitwise those of that scan; without WebAssembly SIMD (or with
 * `RUNLAKE_GEOMETRY_KERNEL=js`) every pair is computed exactly. `between` (the helper thread's
 * hook for other work) is called every 64 rows while preparing and after each tile row of the
 * float32 Gram with false, and once with true when the Gram is done (or was skipped), before the
 * bound passes.
 *
 * @example
 * ```ts
 * const x = new Float32Array([0, 0, 1, 0, 0, 2]); // 3 rows × 2 columns
 * twoNearestSquaredDistances(x, new Float64Array([1 / 3, 2 / 3]), 3, 2); // [1, 4, 1, 5, 4, 5]
 * ```
 */
export function twoNearestSquaredDistances(
  x: RowMatrix,
  mean: Float64Array,
  n: number,
  d: number,
  out: Float64Array = new Float64Array(2 * n),
  between?: (gramDone: boolean) => void,
): Float64Array {
  const diagonal = new Float64Array(n);
  let maxAbs = 0;
  for (let i = 0; i < n; i++) {
    const row = i * d;
    let s = 0;
    for (let k = 0; k < d; k++) {
      const v = (x[row + k] as number) - (mean[k] as number);
      s += v * v;
      const a = Math.abs(v);
      if (a > maxAbs) maxAbs = a;
    }
    diagonal[i] = s;
    if ((i & 63) === 63) between?.(false);
  }
  // The bounds below are relative ones: far from 1 the float64 squares could underflow or
  // overflow, and very long rows would make the float32 bound useless; those scan exactly.
  const screenable = maxAbs > 1e-100 && maxAbs < 1e100 && (d + 3) * U32 < 0.01;
  const screen = screenable ? float32Gram(x, mean, n, d, maxAbs, between) : null;
  between?.(true);
  if (screen === null) {
    exactScan(x, mean, n, d, diagonal, out);
    return out;
  }
  const { gram, stride, scale2 } = screen;
  // |K̂_ij·s² − K_ij| ≤ e_ij = c·‖x̃_i‖‖x̃_j‖ + floor: the input rounding to float32 (2u₃₂), the
  // float32 dot product (γ_d), the float64 one the reference sums (γ_d in u₆₄), with a factor 2 to
  // spare (which also covers the rounding of the norms; the float32 kernel's fused multiply-adds,
  // where relaxedSimd() allows them, round once per step where a multiply and an add round twice, so
  // the same γ_d bounds them); the floor covers float32 underflow
  // (absolute 2⁻¹⁴⁹ per operation, scaled back by s²). d̂² = K_ii + K_jj − 2K̂_ij·s² and the
  // reference's d² (the same expression on K_ij) are then within 2e_ij plus the rounding of both
  // evaluations, 8u₆₄(K_ii + K_jj + 2|K_ij| + 2e_ij), where |K_ij| ≤ ‖x̃_i‖‖x̃_j‖ + e_ij: so within
  // m_ij = c1·‖x̃_i‖‖x̃_j‖ + 8u₆₄(K_ii + K_jj) + c0.
  const c = 2 * (d + 3) * (U32 + U64);
  const floor = 2 * (d + 3) * 2 ** -149 * scale2;
  const c1 = (2 + 32 * U64) * c + 16 * U64;
  const c0 = (2 + 32 * U64) * floor;
  // One margin per row, M_i = c1·‖x̃_i‖·max‖x̃‖ + c0 + 8u₆₄(K_ii + max K) ≥ m_ij for every j (the
  // per-pair bound, loosened only for pairs with a short row, which are rare among the nearest).
  let normMax = 0;
  let diagonalMax = 0;
  for (let i = 0; i < n; i++) {
    normMax = Math.max(normMax, Math.sqrt(diagonal[i] as number));
    diagonalMax = Math.max(diagonalMax, diagonal[i] as number);
  }
  const margin = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const kii = diagonal[i] as number;
    margin[i] = c1 * Math.sqrt(kii) * normMax + c0 + 8 * U64 * (kii + diagonalMax);
  }
  const twice = 2 * scale2;
  // Pass 1, over each pair once (the kernel wrote the lower triangle): for every row, the two
  // smallest d̂² among pairs certainly at positive distance (d̂² > M_i): a₂ + M_i bounds from
  // above the distance of two such pairs.
  const a1 = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const a2 = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  for (let i = 1; i < n; i++) {
    const kii = diagonal[i] as number;
    const mi = margin[i] as number;
    const row = i * stride;
    let b1 = a1[i] as number;
    let b2 = a2[i] as number;
    for (let j = 0; j < i; j++) {
      const dh = kii + (diagonal[j] as number) - twice * (gram[row + j] as number);
      if (dh > mi && dh < b2) {
        if (dh < b1) {
          b2 = b1;
          b1 = dh;
        } else b2 = dh;
      }
      if (dh > (margin[j] as number) && dh < (a2[j] as number)) {
        if (dh < (a1[j] as number)) {
          a2[j] = a1[j] as number;
          a1[j] = dh;
        } else a2[j] = dh;
      }
    }
    a1[i] = b1;
    a2[i] = b2;
  }
  // Pass 2: a pair whose lower bound d̂² − M_i is ≤ a₂ + M_i may be among row i's two nearest; no
  // other pair can be. Rows are visited in order, so each row's list comes out ascending: its own
  // j < i first, then the later rows i > j.
  const threshold = new Float64Array(n);
  for (let i = 0; i < n; i++) threshold[i] = (a2[i] as number) + 2 * (margin[i] as number);
  const lists: number[][] = Array.from({ length: n }, () => []);
  for (let i = 1; i < n; i++) {
    const kii = diagonal[i] as number;
    const ti = threshold[i] as number;
    const list = lists[i] as number[];
    const row = i * stride;
    for (let j = 0; j < i; j++) {
      const dh = kii + (diagonal[j] as number) - twice * (gram[row + j] as number);
      if (dh <= ti) list.push(j);
      if (dh <= (threshold[j] as number)) (lists[j] as number[]).push(i);
    }
  }
  const columns = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(a2[i] as number)) {
      // Fewer than two pairs are certainly apart (duplicates or near-duplicates): scan exactly.
      exactRow(x, mean, n, d, diagonal, i, out);
      continue;
    }
    const list = lists[i] as number[];
    for (let t = 0; t < list.length; t++) columns[t] = list[t] as number;
    nearestTwo(x, mean, d, diagonal, i, columns, list.length, out);
  }
  return out;
}

/**
 * {@link twoNearestSquaredDistances} from a full n×n centred Gram K already at hand (n ≤ d, where
 * the spectrum comes from K): the reference scan, reading the diagonal once and rows contiguously.
 *
 * @example
 * ```ts
 * twoNearestFromGram(centredGram(x, n, d), n);
 * ```
 */
export function twoNearestFromGram(gram: Float64Array, n: number): Float64Array {
  const out = new Float64Array(2 * n);
  const diagonal = new Float64Array(n);
  for (let i = 0; i < n; i++) diagonal[i] = gram[i * n + i] as number;
  for (let i = 0; i < n; i++) {
    const kii = diagonal[i] as number;
    const row = i * n;
    let r1 = Number.POSITIVE_INFINITY;
    let r2 = Number.POSITIVE_INFINITY;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const d2 = kii + (diagonal[j] as number) - 2 * (gram[row + j] as number);
      if (!(d2 > 0)) continue; // duplicates (and rounding below 0) are not neighbours
      if (d2 < r1) {
        r2 = r1;
        r1 = d2;
      } else if (d2 < r2) {
        r2 = d2;
      }
    }
    out[2 * i] = r1;
    out[2 * i + 1] = r2;
  }
  return out;
}

/** The reference loop of the TwoNN scan over the given columns j (ascending), exact K_ij. */
function nearestTwo(
  x: RowMatrix,
  mean: Float64Array,
  d: number,
  diagonal: Float64Array,
  i: number,
  columns: Int32Array,
  count: number,
  out: Float64Array,
): void {
  const kii = diagonal[i] as number;
  const rowI = i * d;
  let r1 = Number.POSITIVE_INFINITY;
  let r2 = Number.POSITIVE_INFINITY;
  for (let t = 0; t < count; t++) {
    const j = columns[t] as number;
    const rowJ = j * d;
    // K_ij summed over k in order from 0 with separate multiplies and adds: bitwise the float64
    // tile kernel's entry.
    let kij = 0;
    for (let k = 0; k < d; k++) {
      const mk = mean[k] as number;
      kij += ((x[rowI + k] as number) - mk) * ((x[rowJ + k] as number) - mk);
    }
    const d2 = kii + (diagonal[j] as number) - 2 * kij;
    if (!(d2 > 0)) continue; // duplicates (and rounding below 0) are not neighbours
    if (d2 < r1) {
      r2 = r1;
      r1 = d2;
    } else if (d2 < r2) {
      r2 = d2;
    }
  }
  out[2 * i] = r1;
  out[2 * i + 1] = r2;
}

function exactRow(
  x: RowMatrix,
  mean: Float64Array,
  n: number,
  d: number,
  diagonal: Float64Array,
  i: number,
  out: Float64Array,
): void {
  const all = new Int32Array(n - 1);
  for (let j = 0, t = 0; j < n; j++) if (j !== i) all[t++] = j;
  nearestTwo(x, mean, d, diagonal, i, all, n - 1, out);
}

/** Every row exactly (no SIMD): the full float64 Gram's worth of dot products. */
function exactScan(
  x: RowMatrix,
  mean: Float64Array,
  n: number,
  d: number,
  diagonal: Float64Array,
  out: Float64Array,
): void {
  for (let i = 0; i < n; i++) exactRow(x, mean, n, d, diagonal, i, out);
}

// ---------------------------------------------------------------------------------------------
// WebAssembly f32x4 tile kernel

/**
 * The float32 kernel's module, assembled byte by byte like gram.ts's float64 one. One call computes
 * a whole tile row: the 4×4 tiles of panel `a` against `count` consecutive panels from `b`, each
 * stored as four rows of four floats at `out`, `out + rowBytes`, … (then `out` moves 16 bytes on):
 *
 * ```wat
 * (func (export "k") (param $a $b $end $out $count $rowBytes i32)
 *   (local $ai $t i32) (local $c0 $c1 $c2 $c3 $bv v128)
 *   (loop $tiles
 *     $c_r = 0   $ai = $a
 *     (loop $k
 *       $bv = v128.load $b
 *       for r in 0..3:  $c{r} = f32x4.add $c{r} (f32x4.mul (v128.load32_splat offset=4r $ai) $bv)
 *       $ai += 16   $b += 16   (br_if $k (i32.ne $ai $end)))
 *     $t = $out   for r in 0..3: (v128.store $t $c{r})  $t += $rowBytes
 *     $out += 16   $count -= 1   (br_if $tiles $count)))
 * ```
 *
 * A second function, "p", does the same for an even count two panels of b at a time (4×8 tiles: 8
 * accumulators, which keep both FMA units busy where 4 chains wait on each other's latency), with
 * `f32x4.relaxed_madd` when `fused` ({@link relaxedSimd}): ~20% faster than "k" on the bench's
 * matrix. Either way each entry is one dot product summed over k in order.
 */
function float32KernelBytes(fused: boolean): Uint8Array {
  const loadSplat = (offset: number): number[] => [...simd(0x09), 2, ...uleb(offset)];
  const v128Load = [...simd(0x00), 4, 0];
  const v128Store = [...simd(0x0b), 4, 0];
  const zero = [...simd(0x0c), ...new Array(16).fill(0)];
  const add = simd(0xe4);
  const mul = simd(0xe6);
  const iadd = [0x6a];
  // Locals: params 0 a, 1 b, 2 end, 3 out, 4 count, 5 rowBytes; 6 ai, 7 t (i32); 8…11 c_r, 12 bv.
  const inner: number[] = [...get(1), ...v128Load, ...set(12)];
  for (let r = 0; r < 4; r++) {
    inner.push(...get(8 + r), ...get(6), ...loadSplat(4 * r), ...get(12), ...mul, ...add, ...set(8 + r));
  }
  inner.push(...get(6), 0x41, 16, ...iadd, ...set(6), ...get(1), 0x41, 16, ...iadd, ...set(1));
  inner.push(...get(6), ...get(2), 0x47, 0x0d, 0);
  const tiles: number[] = [];
  for (let r = 0; r < 4; r++) tiles.push(...zero, ...set(8 + r));
  tiles.push(...get(0), ...set(6), 0x03, 0x40, ...inner, 0x0b);
  tiles.push(...get(3), ...set(7));
  for (let r = 0; r < 4; r++) {
    tiles.push(...get(7), ...get(8 + r), ...v128Store);
    if (r < 3) tiles.push(...get(7), ...get(5), ...iadd, ...set(7));
  }
  tiles.push(...get(3), 0x41, 16, ...iadd, ...set(3));
  tiles.push(...get(4), 0x41, 1, 0x6b, 0x22, 4, 0x0d, 0); // count -= 1 (local.tee); br_if $tiles
  const body: number[] = [0x03, 0x40, ...tiles, 0x0b, 0x0b];
  const func = [
    ...vec([
      [2, 0x7f],
      [5, 0x7b],
    ]),
    ...body,
  ];
  // The pair kernel: locals 6 ai, 7 t, 8 gap (one panel's bytes, end − a), 9 b2 (i32); 10…13 c_r,
  // 14…17 e_r, 18 bv, 19 bw, 20 x (v128).
  const step = (acc: number, b: number): number[] =>
    fused
      ? [...get(20), ...get(b), ...get(acc), ...simd(F32X4_MADD), ...set(acc)]
      : [...get(acc), ...get(20), ...get(b), ...mul, ...add, ...set(acc)];
  const pairInner: number[] = [...get(1), ...v128Load, ...set(18), ...get(9), ...v128Load, ...set(19)];
  for (let r = 0; r < 4; r++)
    pairInner.push(...get(6), ...loadSplat(4 * r), ...set(20), ...step(10 + r, 18), ...step(14 + r, 19));
  pairInner.push(...get(6), 0x41, 16, ...iadd, ...set(6), ...get(1), 0x41, 16, ...iadd, ...set(1));
  pairInner.push(...get(9), 0x41, 16, ...iadd, ...set(9));
  pairInner.push(...get(6), ...get(2), 0x47, 0x0d, 0);
  const pairTiles: number[] = [];
  for (let r = 0; r < 8; r++) pairTiles.push(...zero, ...set(10 + r));
  pairTiles.push(
    ...get(0),
    ...set(6),
    ...get(1),
    ...get(8),
    ...iadd,
    ...set(9),
    0x03,
    0x40,
    ...pairInner,
    0x0b,
  );
  // b has moved one panel on: skip the second one.
  pairTiles.push(...get(1), ...get(8), ...iadd, ...set(1), ...get(3), ...set(7));
  for (let r = 0; r < 4; r++) {
    pairTiles.push(...get(7), ...get(10 + r), ...v128Store, ...get(7), ...get(14 + r), ...simd(0x0b), 4, 16);
    if (r < 3) pairTiles.push(...get(7), ...get(5), ...iadd, ...set(7));
  }
  pairTiles.push(...get(3), 0x41, 32, ...iadd, ...set(3));
  pairTiles.push(...get(4), 0x41, 2, 0x6b, 0x22, 4, 0x0d, 0); // count -= 2 (local.tee); br_if $tiles
  const pairFunc = [
    ...vec([
      [4, 0x7f],
      [11, 0x7b],
    ]),
    ...get(2),
    ...get(0),
    0x6b,
    ...set(8),
    0x03,
    0x40,
    ...pairTiles,
    0x0b,
    0x0b,
  ];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec([[0x7f], [0x7f], [0x7f], [0x7f], [0x7f], [0x7f]]), ...vec([])]])),
    ...section(2, vec([[...name('e'), ...name('m'), 0x02, 0x00, 0x01]])),
    ...section(3, vec([[0], [0]])),
    ...section(
      7,
      vec([
        [...name('k'), 0x00, 0],
        [...name('p'), 0x00, 1],
      ]),
    ),
    ...section(
      10,
      vec([
        [...uleb(func.length), ...func],
        [...uleb(pairFunc.length), ...pairFunc],
      ]),
    ),
  ]);
}

const float32Module = compiledOnce(() => float32KernelBytes(relaxedSimd()));

/** The last kernel instance, kept for the next call when its memory is at most 32 MiB. */
let cached: {
  tile: (a: number, b: number, end: number, out: number, count: number, rowBytes: number) => void;
  /** `tile` for an even count, two panels of b per pass (4×8 tiles). */
  pair: (a: number, b: number, end: number, out: number, count: number, rowBytes: number) => void;
  view: Float32Array;
} | null = null;

function float32Kernel(bytes: number): typeof cached {
  if (typeof process !== 'undefined' && process.env?.RUNLAKE_GEOMETRY_KERNEL === 'js') return null;
  if (bytes > 2 ** 31) return null;
  if (cached !== null && cached.view.byteLength >= bytes) return cached;
  const module = float32Module();
  if (module === null) return null;
  try {
    const api = wasmApi as WasmApi;
    const memory = new api.Memory({ initial: Math.ceil(bytes / 65536) });
    const instance = new api.Instance(module, { e: { m: memory } });
    const kernel = {
      tile: instance.exports.k as NonNullable<typeof cached>['tile'],
      pair: instance.exports.p as NonNullable<typeof cached>['pair'],
      view: new Float32Array(memory.buffer),
    };
    if (bytes <= 32 * 2 ** 20) cached = kernel;
    return kernel;
  } catch {
    return null;
  }
}

/**
 * K̂ = fl₃₂(X̃/s)·fl₃₂(X̃/s)ᵀ in float32, with s the power of two at or above max|x̃| (an exact
 * scaling that keeps float32 away from overflow), and s². K̂ is left in the kernel's memory as a
 * row-major matrix with `stride` floats per row, of which each row i holds columns 0 … i (and up to
 * the end of its 4×4 tile); null without the kernel.
 */
function float32Gram(
  x: RowMatrix,
  mean: Float64Array,
  n: number,
  d: number,
  maxAbs: number,
  between?: (gramDone: boolean) => void,
): { gram: Float32Array; stride: number; scale2: number } | null {
  const panels = Math.ceil(n / PANEL);
  const stride = panels * PANEL;
  const packedFloats = panels * d * PANEL;
  const kernel = float32Kernel(PACKED_OFFSET + 4 * (packedFloats + stride * stride));
  if (kernel === null) return null;
  const scale = 2 ** Math.ceil(Math.log2(maxAbs));
  const inv = 1 / scale;
  const view = kernel.view;
  const base = PACKED_OFFSET / 4;
  view.fill(0, base, base + packedFloats);
  for (let i = 0; i < n; i++) {
    const p = (i / PANEL) | 0;
    let o = base + p * d * PANEL + (i - p * PANEL);
    const row = i * d;
    for (let k = 0; k < d; k++, o += PANEL) view[o] = ((x[row + k] as number) - (mean[k] as number)) * inv;
    if ((i & 63) === 63) between?.(false);
  }
  const gramOffset = PACKED_OFFSET + 4 * packedFloats;
  const panelBytes = d * PANEL * 4;
  // A block of panels at a time, so that they stay in L2 while every tile row passes over them (as
  // tiles.ts's float64 kernel does); each tile is still one whole kernel call over k.
  const block = Math.max(1, Math.floor(PANEL_BLOCK_BYTES / panelBytes));
  for (let p0 = 0; p0 < panels; p0 += block) {
    const p1 = Math.min(panels, p0 + block);
    for (let pi = p0; pi < panels; pi++) {
      const a = PACKED_OFFSET + pi * panelBytes;
      const at = gramOffset + (pi * PANEL * stride + p0 * PANEL) * 4;
      const b = PACKED_OFFSET + p0 * panelBytes;
      const count = Math.min(pi + 1, p1) - p0;
      const even = count & ~1;
      if (even > 0) kernel.pair(a, b, a + panelBytes, at, even, stride * 4);
      if (even < count)
        kernel.tile(a, b + even * panelBytes, a + panelBytes, at + even * PANEL * 4, 1, stride * 4);
      if ((pi & 7) === 7) between?.(false);
    }
  }
  return { gram: new Float32Array(view.buffer, gramOffset, stride * stride), stride, scale2: scale * scale };
}
