/**
 * The cross product AᵀB of two column-packed matrices with the same rows, by a WebAssembly SIMD
 * 4×4 tile kernel (or the same loop in JavaScript). The similarity stage uses it for X̃ᵀỸ between
 * consecutive checkpoints: gram.ts's kernel only forms symmetric products, and the column Gram of
 * [X̃ Ỹ] it was used for before also recomputed X̃ᵀX̃ and ỸᵀỸ, half of its work.
 */
import { compiledOnce, get, name, section, set, simd, uleb, vec, type WasmApi, wasmApi } from './wasm.js';

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
 * Σ_k A[k,i]·B[k,j] summed over k in order with separate multiplies and adds, as gram.ts's
 * kernel sums the entries of a Gram matrix, so it equals the corresponding block of the column
 * Gram of [A B] bitwise, by either kernel.
 *
 * @example
 * ```ts
 * crossProduct(packColumns(x, n, dx), packColumns(y, n, dy)); // dx×dy
 * ```
 */
export function crossProduct(a: PackedColumns, b: PackedColumns): Float64Array {
  if (a.rows !== b.rows) throw new Error(`crossProduct: ${a.rows} rows against ${b.rows}`);
  const kernel = tileKernel(a.packed.length + b.packed.length);
  return kernel ? crossWasm(kernel, a, b) : crossJs(a, b);
}

function crossJs(a: PackedColumns, b: PackedColumns): Float64Array {
  const { rows, cols: ca } = a;
  const cb = b.cols;
  const pa = a.packed;
  const pb = b.packed;
  const out = new Float64Array(ca * cb);
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

function crossWasm(kernel: TileKernel, a: PackedColumns, b: PackedColumns): Float64Array {
  const { view, tile } = kernel;
  const ca = a.cols;
  const cb = b.cols;
  const out = new Float64Array(ca * cb);
  view.set(a.packed, TILE_DOUBLES);
  view.set(b.packed, TILE_DOUBLES + a.packed.length);
  const strideBytes = a.rows * PANEL * 8;
  const baseA = TILE_DOUBLES * 8;
  const baseB = baseA + a.packed.length * 8;
  for (let pi = 0; pi * PANEL < ca; pi++) {
    const pa = baseA + pi * strideBytes;
    const i0 = pi * PANEL;
    const full = i0 + PANEL <= ca;
    for (let pj = 0; pj * PANEL < cb; pj++) {
      tile(pa, baseB + pj * strideBytes, pa + strideBytes);
      const j0 = pj * PANEL;
      if (full && j0 + PANEL <= cb) {
        for (let r = 0; r < PANEL; r++) {
          const o = (i0 + r) * cb + j0;
          const t = r * PANEL;
          out[o] = view[t] as number;
          out[o + 1] = view[t + 1] as number;
          out[o + 2] = view[t + 2] as number;
          out[o + 3] = view[t + 3] as number;
        }
      } else writeTile(out, view, 0, i0, j0, ca, cb);
    }
  }
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

/** The 4×4 tile the kernel writes sits at the start of its memory (16 doubles); packed data follows. */
const TILE_DOUBLES = 16;

/** Largest memory handed to the kernel, in bytes (wasm32 memories stop at 4 GiB). */
const MAX_BYTES = 2 ** 31;

/** Memories up to this size are kept for the next call (the operands are copied in each time). */
const CACHE_BYTES = 32 * 2 ** 20;

/**
 * The same module as gram.ts's tile kernel (that one is private to it), byte for byte:
 *
 * ```wat
 * (func (export "k") (param $a i32) (param $b i32) (param $end i32)   ;; byte addresses
 *   (local $c0 … $c7 v128) (local $b01 $b23 $x v128)
 *   (loop
 *     $b01 = v128.load $b          $b23 = v128.load offset=16 $b
 *     for r in 0..3:  $x = f64x2.splat (f64.load offset=8r $a)
 *                     $c{2r}   = f64x2.add $c{2r}   (f64x2.mul $x $b01)
 *                     $c{2r+1} = f64x2.add $c{2r+1} (f64x2.mul $x $b23)
 *     $a += 32   $b += 32   (br_if 0 (i32.ne $a $end)))
 *   v128.store offset=16t 0 $c{t} for t in 0..7)                       ;; the tile, row-major
 * ```
 */
function kernelModuleBytes(): Uint8Array {
  const f64Load = (offset: number): number[] => [0x2b, 3, ...uleb(offset)];
  const v128Load = (offset: number): number[] => [...simd(0x00), 4, ...uleb(offset)];
  const v128Store = (offset: number): number[] => [...simd(0x0b), 4, ...uleb(offset)];
  const splat = simd(0x14);
  const add = simd(0xf0);
  const mul = simd(0xf2);
  // Locals: 0 a, 1 b, 2 end (params, i32); 3…10 the accumulators; 11 b01; 12 b23; 13 x (v128).
  const loop: number[] = [...get(1), ...v128Load(0), ...set(11), ...get(1), ...v128Load(16), ...set(12)];
  for (let r = 0; r < 4; r++) {
    loop.push(...get(0), ...f64Load(8 * r), ...splat, ...set(13));
    loop.push(...get(3 + 2 * r), ...get(13), ...get(11), ...mul, ...add, ...set(3 + 2 * r));
    loop.push(...get(4 + 2 * r), ...get(13), ...get(12), ...mul, ...add, ...set(4 + 2 * r));
  }
  loop.push(...get(0), 0x41, 32, 0x6a, ...set(0), ...get(1), 0x41, 32, 0x6a, ...set(1));
  loop.push(...get(0), ...get(2), 0x47, 0x0d, 0);
  const body: number[] = [0x03, 0x40, ...loop, 0x0b];
  for (let t = 0; t < 8; t++) body.push(0x41, 0, ...get(3 + t), ...v128Store(16 * t));
  body.push(0x0b);
  const func = [...vec([[11, 0x7b]]), ...body];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec([[0x7f], [0x7f], [0x7f]]), ...vec([])]])), // (i32 i32 i32) → ()
    ...section(2, vec([[...name('e'), ...name('m'), 0x02, 0x00, 0x01]])), // import memory e.m, min 1 page
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name('k'), 0x00, 0]])), // export func 0 as "k"
    ...section(10, vec([[...uleb(func.length), ...func]])),
  ]);
}

interface TileKernel {
  /** k(a, b, end): the 4×4 tile of the panels at byte addresses a and b (a's panel ends at end). */
  readonly tile: (a: number, b: number, end: number) => void;
  /** The kernel's memory as doubles: the tile in [0, 16), the operands from 16 on. */
  readonly view: Float64Array;
}

const kernelModule = compiledOnce(kernelModuleBytes);
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
      tile: instance.exports.k as (a: number, b: number, end: number) => void,
      view: new Float64Array(memory.buffer),
    };
    if (bytes <= CACHE_BYTES) cached = kernel;
    return kernel;
  } catch {
    return null; // e.g. the memory could not be reserved: the JS loop instead
  }
}
