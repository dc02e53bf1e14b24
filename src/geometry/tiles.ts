/**
 * The packed, register-tiled Gram kernels behind gram.ts (float64, WebAssembly SIMD or plain
 * JavaScript) and the input checks and row statistics shared by the geometry entry points. Kept
 * apart from gram.ts so that the package's public surface (gram.ts is re-exported whole) holds
 * only the documented functions, while the descriptor pipeline and its helper thread can call the
 * kernels on parts of a matrix.
 */
import { RunlakeError } from '../lake/index.js';
import type { RowMatrix } from './gram.js';
import {
  compiledOnce,
  F64X2_MADD,
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

/** Vectors per register tile of the Gram kernel: 4×4 dot products share their operand loads. */
export const PANEL = 4;

export function checkShape(x: RowMatrix, n: number, d: number, fn = 'covarianceSpectrum'): void {
  checkDimensions(x, n, d, fn);
  checkFinite(x, d, fn);
}

/**
 * Whether every entry is finite: x·0 is 0 for finite x and NaN for NaN or ±∞, so four running sums
 * of x·0 stay 0 exactly when all are finite. Branch-free with independent sums, it is several
 * times faster than testing each entry, and it is on the critical path of every decomposition.
 */
export function allFinite(a: Float64Array): boolean {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < a.length; i += 4) {
    s0 += (a[i] as number) * 0;
    s1 += (a[i + 1] as number) * 0;
    s2 += (a[i + 2] as number) * 0;
    s3 += (a[i + 3] as number) * 0;
  }
  for (; i < a.length; i++) s0 += (a[i] as number) * 0;
  return s0 + s1 + s2 + s3 === 0;
}

/** The shape part of {@link checkShape}. */
export function checkDimensions(x: RowMatrix, n: number, d: number, fn: string): void {
  if (!Number.isInteger(n) || !Number.isInteger(d) || n < 1 || d < 1) {
    throw new RunlakeError(`${fn}: shape must be positive integers, got ${n}×${d}`);
  }
  if (x.length !== n * d) {
    throw new RunlakeError(`${fn}: a ${n}×${d} matrix needs ${n * d} entries, got ${x.length}`);
  }
}

/**
 * The finiteness part of {@link checkShape}: throws naming the first NaN or ±∞ entry. A first pass
 * sums x·0 (0 for finite x, NaN otherwise) in four independent sums, branch-free; only when that is
 * not 0 does the entry-by-entry scan run, to name the entry.
 */
export function checkFinite(x: RowMatrix, d: number, fn: string): void {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 3 < x.length; j += 4) {
    s0 += (x[j] as number) * 0;
    s1 += (x[j + 1] as number) * 0;
    s2 += (x[j + 2] as number) * 0;
    s3 += (x[j + 3] as number) * 0;
  }
  for (; j < x.length; j++) s0 += (x[j] as number) * 0;
  if (s0 + s1 + s2 + s3 === 0) return;
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i] as number)) {
      throw new RunlakeError(`${fn}: entry (${Math.floor(i / d)}, ${i % d}) is ${x[i]}; X must be finite`);
    }
  }
}

export function rowStatistics(
  x: RowMatrix,
  n: number,
  d: number,
): { rowNorms: Float64Array; unitRowSum: Float64Array; nonzeroRows: number } {
  const rowNorms = new Float64Array(n);
  const unitRowSum = new Float64Array(d);
  let nonzeroRows = 0;
  for (let i = 0; i < n; i++) {
    const row = i * d;
    let ss = 0;
    for (let j = 0; j < d; j++) {
      const v = x[row + j] as number;
      ss += v * v;
    }
    const norm = Math.sqrt(ss);
    rowNorms[i] = norm;
    if (norm === 0) continue;
    nonzeroRows++;
    const inv = 1 / norm;
    for (let j = 0; j < d; j++) unitRowSum[j] = (unitRowSum[j] as number) + (x[row + j] as number) * inv;
  }
  return { rowNorms, unitRowSum, nonzeroRows };
}

/**
 * The column means μ in float64. X̃ = X − 1μᵀ is formed while packing (in float64, before any
 * product, which keeps shifted data from cancelling), never as a separate copy.
 */
export function columnMeans(x: RowMatrix, n: number, d: number): Float64Array {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) + (x[row + j] as number);
  }
  for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) / n;
  return mean;
}

/**
 * The Gram matrix of the rows of a row-major rows×cols A (`byColumns` false: A·Aᵀ, rows×rows) or
 * of its columns (true: AᵀA, cols×cols), full and symmetric. The vectors are packed
 * ({@link packRows}, {@link packColumns}) and multiplied 4×4 tiles at a time by the WebAssembly
 * SIMD kernel when the runtime has one ({@link tileKernelKind}), else by {@link syrkPacked}; both
 * sum every entry over k in the same order with separate multiplies and adds, so they agree
 * bitwise.
 */
export function gramOf(
  a: RowMatrix,
  mean: Float64Array,
  rows: number,
  cols: number,
  byColumns: boolean,
): Float64Array {
  const count = byColumns ? cols : rows;
  const out = new Float64Array(count * count);
  gramPanelRows(a, mean, rows, cols, byColumns, 0, Math.ceil(count / PANEL), out);
  return out;
}

/**
 * The tile rows [from, to) of {@link gramOf} (tile row p holds output rows 4p…4p+3, columns up to
 * 4p+3) and their mirrors, written into the count×count `out`; other entries are left as they
 * are. Two threads that split the tile rows write disjoint entries, and the result is bitwise the
 * whole product's. Only the vectors up to tile row `to` are packed. With `mirror` false the
 * WebAssembly path writes only the lower triangle and the 4×4 diagonal blocks (all that the
 * eigenvalue solver reads), which spares the column-strided writes of the mirror image.
 */
export function gramPanelRows(
  a: RowMatrix,
  mean: Float64Array,
  rows: number,
  cols: number,
  byColumns: boolean,
  from: number,
  to: number,
  out: Float64Array,
  mirror = true,
): void {
  const count = byColumns ? cols : rows;
  const len = byColumns ? rows : cols;
  if (to <= from) return;
  const size = to * len * PANEL;
  // The WebAssembly kernel also needs room for the output of a chunk of tile rows (4 rows of `to`·4
  // doubles each), which it fills block of columns by block of columns (see syrkWasm).
  const kernel = wasmTileKernel(size + stagedTileRows(from, to) * PANEL * to * PANEL);
  const packed = kernel ? kernel.view : new Float64Array(size);
  const offset = kernel ? WASM_TILE_DOUBLES : 0;
  const vectors = Math.min(count, to * PANEL);
  if (byColumns) packColumns(a, mean, rows, cols, vectors, packed, offset);
  else packRows(a, mean, vectors, cols, packed, offset);
  // The scatter (by columns) feeds only the eigenvalue solver, whose own kernels fuse too; the Gram
  // by rows keeps separate multiplies and adds, bitwise the JavaScript kernel's, because TwoNN's
  // exact refinement (two-nn.ts) must reproduce its distances bitwise.
  if (kernel) syrkWasm(kernel, count, len, from, to, out, mirror, byColumns);
  else syrkPacked(packed, count, len, from, to, out);
}

/**
 * The rows of the centred A − 1μᵀ (A row-major rows×cols) as panels of {@link PANEL} interleaved
 * vectors, written to `out` from element `offset`: `out[offset + (p·cols + k)·4 + r] =
 * A[4p + r, k] − μ[k]` (in float64), zero-padded to a
 * multiple of 4 vectors, so that the kernel streams both operands of a 4×4 tile sequentially.
 */
function packRows(
  a: RowMatrix,
  mean: Float64Array,
  rows: number,
  cols: number,
  out: Float64Array,
  offset: number,
): void {
  const panels = Math.ceil(rows / PANEL);
  out.fill(0, offset, offset + panels * cols * PANEL);
  for (let i = 0; i < rows; i++) {
    const p = (i / PANEL) | 0;
    let o = offset + p * cols * PANEL + (i - p * PANEL);
    const row = i * cols;
    for (let k = 0; k < cols; k++, o += PANEL) out[o] = (a[row + k] as number) - (mean[k] as number);
  }
}

/**
 * The first `limit` columns of the centred A − 1μᵀ packed like {@link packRows} packs the rows of
 * its transpose.
 */
function packColumns(
  a: RowMatrix,
  mean: Float64Array,
  rows: number,
  cols: number,
  limit: number,
  out: Float64Array,
  offset: number,
): void {
  const panels = Math.ceil(limit / PANEL);
  const full = Math.floor(limit / PANEL);
  // Panel by panel within blocks of rows, so that the writes are sequential and the block's rows
  // stay in cache while its panels are filled (row by row, the writes jumped across every panel).
  const block = 64;
  for (let k0 = 0; k0 < rows; k0 += block) {
    const k1 = Math.min(rows, k0 + block);
    for (let p = 0; p < full; p++) {
      const j = p * PANEL;
      const m0 = mean[j] as number;
      const m1 = mean[j + 1] as number;
      const m2 = mean[j + 2] as number;
      const m3 = mean[j + 3] as number;
      let o = offset + (p * rows + k0) * PANEL;
      for (let k = k0, at = k0 * cols + j; k < k1; k++, at += cols, o += PANEL) {
        out[o] = (a[at] as number) - m0;
        out[o + 1] = (a[at + 1] as number) - m1;
        out[o + 2] = (a[at + 2] as number) - m2;
        out[o + 3] = (a[at + 3] as number) - m3;
      }
    }
  }
  if (full < panels) {
    // The last, partial panel: zero-padded.
    const start = offset + full * rows * PANEL;
    out.fill(0, start, start + rows * PANEL);
    for (let k = 0; k < rows; k++)
      for (let j = full * PANEL; j < limit; j++)
        out[start + k * PANEL + (j - full * PANEL)] = (a[k * cols + j] as number) - (mean[j] as number);
  }
}

/**
 * V·Vᵀ for `count` vectors of length `len` packed by {@link packRows}, as a full symmetric
 * count×count matrix. Each 4×4 tile of dot products is accumulated in 16 locals from 8 loads
 * per step (instead of 2 loads per product), only tiles on or below the diagonal are computed,
 * and each is mirrored. Sums run over k in order, one accumulator per entry.
 */
function syrkPacked(
  packed: Float64Array,
  count: number,
  len: number,
  from: number,
  to: number,
  out: Float64Array,
): void {
  const stride = len * PANEL;
  for (let pi = from; pi < to; pi++) {
    const bi = pi * stride;
    const end = bi + stride;
    for (let pj = 0; pj <= pi; pj++) {
      let c00 = 0;
      let c01 = 0;
      let c02 = 0;
      let c03 = 0;
      let c10 = 0;
      let c11 = 0;
      let c12 = 0;
      let c13 = 0;
      let c20 = 0;
      let c21 = 0;
      let c22 = 0;
      let c23 = 0;
      let c30 = 0;
      let c31 = 0;
      let c32 = 0;
      let c33 = 0;
      for (let ka = bi, kb = pj * stride; ka < end; ka += 4, kb += 4) {
        const b0 = packed[kb] as number;
        const b1 = packed[kb + 1] as number;
        const b2 = packed[kb + 2] as number;
        const b3 = packed[kb + 3] as number;
        let t = packed[ka] as number;
        c00 += t * b0;
        c01 += t * b1;
        c02 += t * b2;
        c03 += t * b3;
        t = packed[ka + 1] as number;
        c10 += t * b0;
        c11 += t * b1;
        c12 += t * b2;
        c13 += t * b3;
        t = packed[ka + 2] as number;
        c20 += t * b0;
        c21 += t * b1;
        c22 += t * b2;
        c23 += t * b3;
        t = packed[ka + 3] as number;
        c30 += t * b0;
        c31 += t * b1;
        c32 += t * b2;
        c33 += t * b3;
      }
      const i0 = pi * PANEL;
      const j0 = pj * PANEL;
      if (i0 + PANEL <= count) {
        // A full tile (j0 < i0 + 4 ≤ count too): rows i0…i0+3, then mirrored into columns.
        let o = i0 * count + j0;
        out[o] = c00;
        out[o + 1] = c01;
        out[o + 2] = c02;
        out[o + 3] = c03;
        o += count;
        out[o] = c10;
        out[o + 1] = c11;
        out[o + 2] = c12;
        out[o + 3] = c13;
        o += count;
        out[o] = c20;
        out[o + 1] = c21;
        out[o + 2] = c22;
        out[o + 3] = c23;
        o += count;
        out[o] = c30;
        out[o + 1] = c31;
        out[o + 2] = c32;
        out[o + 3] = c33;
        o = j0 * count + i0;
        out[o] = c00;
        out[o + 1] = c10;
        out[o + 2] = c20;
        out[o + 3] = c30;
        o += count;
        out[o] = c01;
        out[o + 1] = c11;
        out[o + 2] = c21;
        out[o + 3] = c31;
        o += count;
        out[o] = c02;
        out[o + 1] = c12;
        out[o + 2] = c22;
        out[o + 3] = c32;
        o += count;
        out[o] = c03;
        out[o + 1] = c13;
        out[o + 2] = c23;
        out[o + 3] = c33;
      } else {
        // The last, partial tile row: only the entries inside the matrix.
        const tile = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
        for (let r = 0; r < PANEL && i0 + r < count; r++) {
          for (let c = 0; c < PANEL && j0 + c < count; c++) {
            const value = tile[r * PANEL + c] as number;
            out[(i0 + r) * count + j0 + c] = value;
            out[(j0 + c) * count + i0 + r] = value;
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// WebAssembly SIMD tile kernel

/** Doubles left free at the start of the kernel's memory (unused); the packed data follows. */
const WASM_TILE_DOUBLES = 16;

/** Largest packed matrix handed to the kernel, in bytes (wasm32 memories stop at 4 GiB). */
const WASM_MAX_BYTES = 2 ** 31;

/**
 * The kernel's module, assembled here byte by byte (there is no toolchain and nothing to fetch).
 * One call computes a whole tile row: the 4×4 tiles of panel a against `count` consecutive panels
 * from b, each stored as four rows of two v128 at out, out + rowBytes, …:
 *
 * ```wat
 * (func (export "r") (param $a $b $end $out $count $rowBytes i32)     ;; byte addresses
 *   (local $ai $t i32) (local $c0 … $c7 $b01 $b23 $x v128)
 *   (loop $tiles
 *     $c{t} = 0   $ai = $a
 *     (loop $k
 *       $b01 = v128.load $b          $b23 = v128.load offset=16 $b
 *       for r in 0..3:  $x = v128.load64_splat offset=8r $ai
 *                       $c{2r}   = f64x2.add $c{2r}   (f64x2.mul $x $b01)
 *                       $c{2r+1} = f64x2.add $c{2r+1} (f64x2.mul $x $b23)
 *       $ai += 32   $b += 32   (br_if $k (i32.ne $ai $end)))
 *     $t = $out   for r in 0..3: v128.store $t $c{2r}, v128.store offset=16 $t $c{2r+1}, $t += $rowBytes
 *     $out += 32   $count -= 1   (br_if $tiles $count)))
 * ```
 *
 * It is {@link syrkPacked}'s inner loop with two columns per instruction: the same products, each
 * entry summed over k in the same order, no fused multiply-add, so the results are bitwise equal.
 * With `fused` ({@link relaxedSimd}; used for the scatter only, see gramPanelRows) each multiply and
 * add is one `f64x2.relaxed_madd` instead: one rounding per step, ~30% faster here.
 * (`v128.load64_splat` loads and broadcasts in one instruction: ~17% faster than `f64.load` then
 * `f64x2.splat`, which adds a shuffle per row.)
 */
function kernelModuleBytes(fused: boolean): Uint8Array {
  const f64Splat = (offset: number): number[] => [...simd(0x0a), 3, ...uleb(offset)];
  const v128Load = (offset: number): number[] => [...simd(0x00), 4, ...uleb(offset)];
  const v128Store = (offset: number): number[] => [...simd(0x0b), 4, ...uleb(offset)];
  const add = simd(0xf0);
  const mul = simd(0xf2);
  const madd = simd(F64X2_MADD);
  // c = x·b + c in one rounding (fused) or two.
  const accumulate = (c: number, b: number): number[] =>
    fused
      ? [...get(18), ...get(b), ...get(c), ...madd, ...set(c)]
      : [...get(c), ...get(18), ...get(b), ...mul, ...add, ...set(c)];
  // Locals: params 0 a, 1 b, 2 end, 3 out, 4 count, 5 rowBytes; 6 ai, 7 t (i32); 8…15 the
  // accumulators; 16 b01; 17 b23; 18 x (v128).
  const inner: number[] = [...get(1), ...v128Load(0), ...set(16), ...get(1), ...v128Load(16), ...set(17)];
  for (let r = 0; r < 4; r++) {
    inner.push(...get(6), ...f64Splat(8 * r), ...set(18));
    inner.push(...accumulate(8 + 2 * r, 16), ...accumulate(9 + 2 * r, 17));
  }
  inner.push(...get(6), 0x41, 32, 0x6a, ...set(6), ...get(1), 0x41, 32, 0x6a, ...set(1));
  inner.push(...get(6), ...get(2), 0x47, 0x0d, 0);
  const zero = [...simd(0x0c), ...new Array(16).fill(0)];
  const tiles: number[] = [];
  for (let t = 0; t < 8; t++) tiles.push(...zero, ...set(8 + t));
  tiles.push(...get(0), ...set(6), 0x03, 0x40, ...inner, 0x0b, ...get(3), ...set(7));
  for (let r = 0; r < 4; r++) {
    tiles.push(...get(7), ...get(8 + 2 * r), ...v128Store(0), ...get(7), ...get(9 + 2 * r), ...v128Store(16));
    if (r < 3) tiles.push(...get(7), ...get(5), 0x6a, ...set(7));
  }
  tiles.push(...get(3), 0x41, 32, 0x6a, ...set(3));
  tiles.push(...get(4), 0x41, 1, 0x6b, 0x22, 4, 0x0d, 0); // count -= 1 (local.tee); br_if $tiles
  const func = [
    ...vec([
      [2, 0x7f],
      [11, 0x7b],
    ]),
    0x03,
    0x40,
    ...tiles,
    0x0b,
    0x0b,
  ];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec([[0x7f], [0x7f], [0x7f], [0x7f], [0x7f], [0x7f]]), ...vec([])]])), // (6 × i32) → ()
    ...section(2, vec([[...name('e'), ...name('m'), 0x02, 0x00, 0x01]])), // import memory e.m, min 1 page
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name('r'), 0x00, 0]])), // export func 0 as "r"
    ...section(10, vec([[...uleb(func.length), ...func]])),
  ]);
}

interface WasmTileKernel {
  /** r(a, b, end, out, count, rowBytes): a tile row, stored as rows rowBytes apart from out. */
  readonly row: (a: number, b: number, end: number, out: number, count: number, rowBytes: number) => void;
  /** The same with fused multiply-adds ({@link relaxedSimd}), on the same memory; else `row`. */
  readonly fusedRow: (
    a: number,
    b: number,
    end: number,
    out: number,
    count: number,
    rowBytes: number,
  ) => void;
  /** The kernel's memory as doubles: packed data from 16 on, then the staged tile row. */
  readonly view: Float64Array;
}

const kernelModule = compiledOnce(() => kernelModuleBytes(false));
const fusedKernelModule = compiledOnce(() => (relaxedSimd() ? kernelModuleBytes(true) : new Uint8Array(0)));

/**
 * An instance of the kernel with a memory of at least `doubles` packed values (kept for the next
 * call up to {@link WASM_CACHE_BYTES}, else fresh so that a large matrix's memory is not kept
 * alive afterwards), or null to use the JS kernel.
 */
function wasmTileKernel(doubles: number): WasmTileKernel | null {
  const bytes = (WASM_TILE_DOUBLES + doubles) * 8;
  if (bytes > WASM_MAX_BYTES || tileKernelKind() !== 'wasm-simd') return null;
  if (cachedTileKernel !== null && cachedTileKernel.view.byteLength >= bytes) return cachedTileKernel;
  const module = kernelModule() as object;
  const api = wasmApi as WasmApi;
  try {
    const memory = new api.Memory({ initial: Math.ceil(bytes / 65536) });
    const instance = new api.Instance(module, { e: { m: memory } });
    const row = instance.exports.r as WasmTileKernel['row'];
    const fused = fusedKernelModule();
    const fusedRow = fused
      ? (new api.Instance(fused, { e: { m: memory } }).exports.r as WasmTileKernel['row'])
      : row;
    const kernel = { row, fusedRow, view: new Float64Array(memory.buffer) };
    if (bytes <= WASM_CACHE_BYTES) cachedTileKernel = kernel;
    return kernel;
  } catch {
    return null; // e.g. the memory could not be reserved: fall back to the JS kernel
  }
}

/**
 * Kernel memories up to this size are kept for the next call (packing overwrites everything it
 * reads, zero padding included), which spares repeated calls the allocation and the collector
 * work; larger ones are fresh per call and released with it.
 */
const WASM_CACHE_BYTES = 32 * 2 ** 20;

let cachedTileKernel: WasmTileKernel | null = null;

/**
 * Bytes of packed panels a block of kernel calls shares: the panels of one block stay in the
 * core's L2 cache (2 MiB here) while every tile row is multiplied by them, instead of all the
 * panels streaming from L3 once per tile row, which bounded the kernel once it used fused
 * multiply-adds (~20% slower than from L2).
 */
const PANEL_BLOCK_BYTES = 2 ** 19;

/**
 * Bytes of output staged at a time: the tile rows go in chunks of at most this much output, each
 * chunk over all the blocks of panels, so that a large Gram's staging area stays small (the whole
 * 768 × 768 scatter is one chunk).
 */
const STAGE_BYTES = 2 ** 23;

/** How many tile rows of [from, to) syrkWasm stages at a time. */
function stagedTileRows(from: number, to: number): number {
  return Math.max(1, Math.min(to - from, Math.floor(STAGE_BYTES / (PANEL * to * PANEL * 8))));
}

/**
 * {@link syrkPacked} with the tile rows [from, to) computed by the WebAssembly kernel into a
 * staging area after the packed data — one block of panels (columns) at a time, each tile whole
 * over k in one call (so the arithmetic is that of one call per tile row) — then copied row by
 * row into `out` (up to the diagonal block's end) and, with `mirror`, into the columns above the
 * diagonal.
 */
function syrkWasm(
  kernel: WasmTileKernel,
  count: number,
  len: number,
  from: number,
  to: number,
  out: Float64Array,
  mirror: boolean,
  fused: boolean,
): void {
  const view = kernel.view;
  const tileRow = fused ? kernel.fusedRow : kernel.row;
  const strideBytes = len * PANEL * 8;
  const base = WASM_TILE_DOUBLES * 8;
  const rowDoubles = to * PANEL;
  const stage = WASM_TILE_DOUBLES + to * len * PANEL;
  const tileRowDoubles = PANEL * rowDoubles;
  const block = Math.max(1, Math.floor(PANEL_BLOCK_BYTES / strideBytes));
  const chunk = stagedTileRows(from, to);
  for (let c0 = from; c0 < to; c0 += chunk) {
    const c1 = Math.min(to, c0 + chunk);
    for (let p0 = 0; p0 < c1; p0 += block) {
      const p1 = Math.min(c1, p0 + block);
      for (let pi = Math.max(c0, p0); pi < c1; pi++) {
        const a = base + pi * strideBytes;
        const at = stage + (pi - c0) * tileRowDoubles + p0 * PANEL;
        tileRow(
          a,
          base + p0 * strideBytes,
          a + strideBytes,
          at * 8,
          Math.min(pi + 1, p1) - p0,
          rowDoubles * 8,
        );
      }
    }
    for (let pi = c0; pi < c1; pi++) {
      const i0 = pi * PANEL;
      const rows = Math.min(PANEL, count - i0);
      const width = Math.min(count, i0 + PANEL);
      for (let r = 0; r < rows; r++) {
        const start = stage + (pi - c0) * tileRowDoubles + r * rowDoubles;
        out.set(view.subarray(start, start + width), (i0 + r) * count);
      }
      if (!mirror) continue;
      for (let r = 0; r < rows; r++) {
        const i = i0 + r;
        const row = i * count;
        for (let j = 0; j < i0; j++) out[j * count + i] = out[row + j] as number;
      }
    }
  }
}

/** Which float64 Gram kernel runs (see gram.ts `gramKernel`). */
export function tileKernelKind(): 'wasm-simd' | 'js' {
  if (typeof process !== 'undefined' && process.env?.RUNLAKE_GEOMETRY_KERNEL === 'js') return 'js';
  return kernelModule() ? 'wasm-simd' : 'js';
}
