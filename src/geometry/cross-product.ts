/**
 * The cross product AᵀB of two column-packed matrices with the same rows, by a WebAssembly SIMD
 * 4×4 tile kernel (or the same loop in JavaScript). The similarity stage uses it for X̃ᵀỸ between
 * consecutive checkpoints: gram.ts's kernel only forms symmetric products, and the column Gram of
 * [X̃ Ỹ] it was used for before also recomputed X̃ᵀX̃ and ỸᵀỸ, half of its work.
 */
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

/** Vectors per register tile: 4×4 dot products share their operand loads. */
const PANEL = 4;

/**
 * The columns of a row-major rows×cols matrix as panels of {@link PANEL} interleaved vectors:
 * `packed[(p·rows + k)·4 + r] = A[k, 4p + r]`, zero-padded to a multiple of 4 columns — the
 * layout gram.ts packs for its kernel, so that a tile streams both operands sequentially.
 */
export interface PackedColumns {
  readonly packed: Float64Array;
  readonly rows: number;
  readonly cols: number;
}

/**
 * Packs the columns of a row-major rows×cols float64 matrix (see {@link PackedColumns}).
 *
 * @example
 * ```ts
 * const p = packColumns(new Float64Array([1, 2, 3, 4]), 2, 2);
 * crossProduct(p, p); // Float64Array [10, 14, 14, 20]
 * ```
 */
export function packColumns(a: Float64Array, rows: number, cols: number): PackedColumns {
  const panels = Math.ceil(cols / PANEL);
  const packed = new Float64Array(panels * rows * PANEL);
  for (let k = 0; k < rows; k++) {
    const row = k * cols;
    for (let j = 0; j < cols; j++) {
      const p = (j / PANEL) | 0;
      packed[(p * rows + k) * PANEL + (j - p * PANEL)] = a[row + j] as number;
    }
  }
  return { packed, rows, cols };
}

/**
 * AᵀB (a.cols × b.cols, row-major) of two packed matrices with the same rows. Every entry is
 * Σ_k A[k,i]·B[k,j] summed over k in order, with fused multiply-adds where the WebAssembly
 * kernel has them (see {@link relaxedSimd}), else with separate multiplies and adds (the
 * JavaScript loop always): the two differ by rounding only (about n·ε·Σ_k |A[k,i]·B[k,j]|).
 * With `into` (a.cols·b.cols entries) the product is written there instead of a new array.
 *
 * @example
 * ```ts
 * crossProduct(packColumns(x, n, dx), packColumns(y, n, dy)); // dx×dy
 * ```
 */
export function crossProduct(a: PackedColumns, b: PackedColumns, into?: Float64Array): Float64Array {
  if (a.rows !== b.rows) throw new Error(`crossProduct: ${a.rows} rows against ${b.rows}`);
  if (into !== undefined && into.length !== a.cols * b.cols) {
    throw new Error(`crossProduct: the output has ${into.length} entries, AᵀB has ${a.cols}×${b.cols}`);
  }
  const out = into ?? new Float64Array(a.cols * b.cols);
  if (a.rows === 0 || a.cols === 0 || b.cols === 0) return out.fill(0);
  const outDoubles = Math.ceil(a.cols / PANEL) * PANEL * Math.ceil(b.cols / PANEL) * PANEL;
  const kernel = tileKernel(a.packed.length + b.packed.length + outDoubles);
  return kernel ? crossWasm(kernel, a, b, out) : crossJs(a, b, out);
}

function crossJs(a: PackedColumns, b: PackedColumns, out: Float64Array): Float64Array {
  const { rows, cols: ca } = a;
  const cb = b.cols;
  const pa = a.packed;
  const pb = b.packed;
  const stride = rows * PANEL;
  const tile = new Float64Array(PANEL * PANEL);
  for (let pi = 0; pi * PANEL < ca; pi++) {
    const bi = pi * stride;
    const end = bi + stride;
    for (let pj = 0; pj * PANEL < cb; pj++) {
      tile.fill(0);
      for (let ka = bi, kb = pj * stride; ka < end; ka += PANEL, kb += PANEL) {
        for (let r = 0; r < PANEL; r++) {
          const t = pa[ka + r] as number;
          for (let c = 0; c < PANEL; c++) {
            tile[r * PANEL + c] = (tile[r * PANEL + c] as number) + t * (pb[kb + c] as number);
          }
        }
      }
      writeTile(out, tile, 0, pi * PANEL, pj * PANEL, ca, cb);
    }
  }
  return out;
}

function crossWasm(kernel: TileKernel, a: PackedColumns, b: PackedColumns, out: Float64Array): Float64Array {
  const { view, row } = kernel;
  const ca = a.cols;
  const cb = b.cols;
  const panelsA = Math.ceil(ca / PANEL);
  const width = Math.ceil(cb / PANEL) * PANEL;
  view.set(a.packed, TILE_DOUBLES);
  view.set(b.packed, TILE_DOUBLES + a.packed.length);
  const outAt = TILE_DOUBLES + a.packed.length + b.packed.length;
  const strideBytes = a.rows * PANEL * 8;
  const baseA = TILE_DOUBLES * 8;
  const baseB = baseA + a.packed.length * 8;
  // One call per tile row of the output: the kernel walks B's panels itself and stores each
  // 4×4 tile in place in a row-major (4·panelsA)×width block, copied out at the end.
  for (let pi = 0; pi < panelsA; pi++) {
    const pa = baseA + pi * strideBytes;
    row(pa, baseB, pa + strideBytes, (outAt + pi * PANEL * width) * 8, width / PANEL, width * 8);
  }
  if (width === cb) {
    out.set(view.subarray(outAt, outAt + ca * cb));
    return out;
  }
  for (let i = 0; i < ca; i++) out.set(view.subarray(outAt + i * width, outAt + i * width + cb), i * cb);
  return out;
}

/** The part of a 4×4 tile (at `tile[from…]`, row-major) that lies inside the ca×cb output. */
function writeTile(
  out: Float64Array,
  tile: Float64Array,
  from: number,
  i0: number,
  j0: number,
  ca: number,
  cb: number,
): void {
  for (let r = 0; r < PANEL && i0 + r < ca; r++) {
    for (let c = 0; c < PANEL && j0 + c < cb; c++) {
      out[(i0 + r) * cb + j0 + c] = tile[from + r * PANEL + c] as number;
    }
  }
}

// ── WebAssembly SIMD tile kernel ────────────────────────────────────────────────────────────

/** Doubles left unused at the start of the kernel's memory; packed data follows. */
const TILE_DOUBLES = 16;

/** Largest memory handed to the kernel, in bytes (wasm32 memories stop at 4 GiB). */
const MAX_BYTES = 2 ** 31;

/** Memories up to this size are kept for the next call (the operands are copied in each time). */
const CACHE_BYTES = 32 * 2 ** 20;

/**
 * The tile-row kernel, hand-assembled:
 *
 * ```wat
 * (func (export "r") (param $a i32) (param $b i32) (param $end i32)   ;; byte addresses
 *                    (param $out i32) (param $count i32) (param $rowBytes i32)
 *   (local $ai $bi $o i32) (local $c0 … $c7 v128) (local $b01 $b23 $x v128)
 *   (loop $tiles                                   ;; one 4×4 tile per B panel
 *     $c0 … $c7 = 0   $ai = $a   $bi = $b
 *     (loop
 *       $b01 = v128.load $bi          $b23 = v128.load offset=16 $bi
 *       for r in 0..3:  $x = v128.load64_splat offset=8r $ai
 *                       $c{2r}   = f64x2.relaxed_madd $x $b01 $c{2r}      ;; fused
 *                       $c{2r+1} = f64x2.relaxed_madd $x $b23 $c{2r+1}
 *                       ;; or f64x2.add $c (f64x2.mul $x $b) without relaxed SIMD
 *       $ai += 32   $bi += 32   (br_if 0 (i32.ne $ai $end)))
 *     $o = $out   for r in 0..3: v128.store $o $c{2r}; v128.store offset=16 $o $c{2r+1}; $o += $rowBytes
 *     $b = $bi (the next panel: B's panels are as long as A's)   $out += 32
 *     (br_if $tiles (local.tee $count (i32.sub $count 1)))))
 * ```
 *
 * Every entry is one accumulator summed over the rows in order. With relaxed SIMD
 * ({@link relaxedSimd}: Node 20 on x86-64 with FMA) each step is one fused multiply-add — half
 * the floating-point instructions of the loop, which is bound by them — so the entries differ from
 * the JavaScript loop's (separate multiplies and adds) by rounding only; every thread of a process
 * makes the same choice, and the similarity routes all form X̃ᵀỸ here, so they agree bitwise.
 */
function kernelModuleBytes(fused: boolean): Uint8Array {
  const splat64 = (offset: number): number[] => [...simd(0x0a), 3, ...uleb(offset)];
  const v128Load = (offset: number): number[] => [...simd(0x00), 4, ...uleb(offset)];
  const v128Store = (offset: number): number[] => [...simd(0x0b), 4, ...uleb(offset)];
  const add = simd(0xf0);
  const mul = simd(0xf2);
  const madd = simd(F64X2_MADD);
  // c = x·b + c in one rounding (fused) or two.
  const accumulate = (c: number, b: number): number[] =>
    fused
      ? [...get(19), ...get(b), ...get(c), ...madd, ...set(c)]
      : [...get(c), ...get(19), ...get(b), ...mul, ...add, ...set(c)];
  const i32Add = 0x6a;
  // Locals: params 0 a, 1 b, 2 end, 3 out, 4 count, 5 rowBytes; 6 ai, 7 bi, 8 o (i32);
  // 9…16 the accumulators; 17 b01; 18 b23; 19 x (v128).
  const zero = [...simd(0x0c), ...new Array<number>(16).fill(0)];
  const tile: number[] = [];
  for (let t = 0; t < 8; t++) tile.push(...zero, ...set(9 + t));
  tile.push(...get(0), ...set(6), ...get(1), ...set(7));
  const inner: number[] = [...get(7), ...v128Load(0), ...set(17), ...get(7), ...v128Load(16), ...set(18)];
  for (let r = 0; r < 4; r++) {
    inner.push(...get(6), ...splat64(8 * r), ...set(19));
    inner.push(...accumulate(9 + 2 * r, 17), ...accumulate(10 + 2 * r, 18));
  }
  inner.push(...get(6), 0x41, 32, i32Add, ...set(6), ...get(7), 0x41, 32, i32Add, ...set(7));
  inner.push(...get(6), ...get(2), 0x47, 0x0d, 0);
  tile.push(0x03, 0x40, ...inner, 0x0b);
  tile.push(...get(3), ...set(8));
  for (let r = 0; r < 4; r++) {
    tile.push(...get(8), ...get(9 + 2 * r), ...v128Store(0), ...get(8), ...get(10 + 2 * r), ...v128Store(16));
    tile.push(...get(8), ...get(5), i32Add, ...set(8));
  }
  tile.push(...get(7), ...set(1), ...get(3), 0x41, 32, i32Add, ...set(3));
  tile.push(...get(4), 0x41, 1, 0x6b, 0x22, 4, 0x0d, 0); // $count − 1, tee, br_if while nonzero
  const body: number[] = [0x03, 0x40, ...tile, 0x0b, 0x0b];
  const func = [
    ...vec([
      [3, 0x7f],
      [11, 0x7b],
    ]),
    ...body,
  ];
  const i32 = [0x7f];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec([i32, i32, i32, i32, i32, i32]), ...vec([])]])), // (i32 ×6) → ()
    ...section(2, vec([[...name('e'), ...name('m'), 0x02, 0x00, 0x01]])), // import memory e.m, min 1 page
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name('r'), 0x00, 0]])), // export func 0 as "r"
    ...section(10, vec([[...uleb(func.length), ...func]])),
  ]);
}

interface TileKernel {
  /**
   * r(a, b, end, out, count, rowBytes): the 4×4 tiles of A's panel at byte address a (ending at
   * end) with `count` consecutive panels of B from b, stored row-major at out, rows rowBytes apart.
   */
  readonly row: (a: number, b: number, end: number, out: number, count: number, rowBytes: number) => void;
  /** The kernel's memory as doubles: 16 unused, then A's panels, B's panels and the output. */
  readonly view: Float64Array;
}

const kernelModule = compiledOnce(() => kernelModuleBytes(relaxedSimd()));
let cached: TileKernel | null = null;

/** A kernel instance with room for `doubles` packed values, or null to use the JS loop. */
function tileKernel(doubles: number): TileKernel | null {
  const bytes = (TILE_DOUBLES + doubles) * 8;
  if (bytes > MAX_BYTES) return null;
  if (typeof process !== 'undefined' && process.env?.RUNLAKE_GEOMETRY_KERNEL === 'js') return null;
  if (cached !== null && cached.view.byteLength >= bytes) return cached;
  const module = kernelModule();
  if (!module) return null;
  try {
    const memory = new (wasmApi as WasmApi).Memory({ initial: Math.ceil(bytes / 65536) });
    const instance = new (wasmApi as WasmApi).Instance(module, { e: { m: memory } });
    const kernel = {
      row: instance.exports.r as TileKernel['row'],
      view: new Float64Array(memory.buffer),
    };
    if (bytes <= CACHE_BYTES) cached = kernel;
    return kernel;
  } catch {
    return null; // e.g. the memory could not be reserved: the JS loop instead
  }
}
