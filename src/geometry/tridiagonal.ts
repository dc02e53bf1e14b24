/**
 * The eigenvalue solver behind symmetricEigenvalues (eigen.ts): Householder tridiagonalisation of
 * the lower triangle with its O(n³) loops in hand-assembled WebAssembly SIMD, then implicit QL.
 * Kept apart from eigen.ts so that the package's public surface (eigen.ts is re-exported whole)
 * holds only the documented function, while the descriptor pipeline and its helper thread can share
 * a workspace: each large step's row groups are split in two halves, and a helper thread can run the
 * second half on the same (shared) WebAssembly memory.
 */
import { RunlakeError } from '../lake/index.js';
import {
  compiledOnce,
  F64X2_MADD,
  F64X2_NMADD,
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

/** Machine epsilon of float64 (2⁻⁵²), the convergence scale of the QL iteration. */
const EPSILON = 2 ** -52;

/** QL sweeps allowed per eigenvalue before giving up (EISPACK uses 30). */
const MAX_SWEEPS_PER_EIGENVALUE = 60;

/**
 * Eigenvalues of the symmetric n×n row-major `a` (lower triangle read, not modified), descending,
 * checks done by the caller. With `shared`, the workspace is that shared one and its helper thread
 * takes the second half of each large step (see {@link sharedTridiagonal}); if the helper fails,
 * the decomposition is redone here alone, in a workspace of its own.
 */
export function eigenvaluesOf(
  a: Float64Array,
  n: number,
  shared: SharedTridiagonal | null = null,
): Float64Array {
  if (shared !== null) {
    try {
      return decompose(a, n, shared.work, shared.helper);
    } catch (error) {
      shared.helper.finish();
      if (!(error instanceof HelperFailed)) throw error;
    }
  }
  return decompose(a, n, tridiagonalWorkspace(n), null);
}

function decompose(
  a: Float64Array,
  n: number,
  work: TridiagonalWorkspace,
  helper: TridiagonalHelper | null,
): Float64Array {
  const diag = new Float64Array(n);
  if (n === 0) return diag;
  const sub = new Float64Array(n);
  if (work.kernels !== null) {
    // Only the lower triangle is ever read (wholeDiagonalBlocks rebuilds the blocks' upper halves
    // from it): half the bytes of a full copy, on the calling thread's critical path.
    for (let i = 0; i < n; i++) work.a.set(a.subarray(i * n, i * n + i + 1), i * n);
  } else work.a.set(a);
  tridiagonalize(work, n, diag, sub, helper);
  tridiagonalQl(diag, sub, n);
  return diag.sort().reverse();
}

// ── The helper thread's side ──────────────────────────────────────────────────────────────────

/** Commands and the words of the control array shared with the helper thread. */
const SYMV = 1;
const RANK2 = 2;
const EXIT = 3;
const POSTED = 0;
const COMMAND = 1;
const C0 = 2;
const MID = 3;
const DONE = 4;
/** Control array length (Int32 words). */
export const TRIDIAGONAL_CONTROL_WORDS = 8;
/** Busy-wait this many polls before sleeping on the word: a step's half takes microseconds. */
const SPIN_POLLS = 20_000;
/**
 * Waiting for the helper's half steps longer than this in all (the first hand-off aside) ends the
 * sharing for the decomposition. On an idle machine a hand-off takes about a microsecond, so a
 * whole decomposition waits ~1 ms; when the two threads share a core with other work, each one
 * waits for the other's time slice and the waits add up to hundreds of milliseconds.
 */
const WAIT_BUDGET_MS = 5;
/** A single wait longer than this is counted as slow (diagnostics). */
const SLOW_HANDOFF_MS = 2;
/** A helper silent this long is given up on. */
const HELPER_TIMEOUT_MS = 10_000;

const helperStats = { sharedSteps: 0, slowHandOffs: 0, overBudget: 0 };

/**
 * How many half steps the calling thread has handed to a helper thread, how many single hand-offs
 * waited over 2 ms, and how many decompositions stopped sharing because the waits exceeded their
 * budget, in this thread since start.
 *
 * @example
 * ```ts
 * tridiagonalHelperStats(); // { sharedSteps: 1180, slowHandOffs: 0, overBudget: 0 }
 * ```
 */
export function tridiagonalHelperStats(): { sharedSteps: number; slowHandOffs: number; overBudget: number } {
  return { ...helperStats };
}

/** Thrown inside {@link decompose} when the helper thread does not answer. */
class HelperFailed extends Error {}

/** The calling thread's handle on the helper thread's half of the steps. */
export interface TridiagonalHelper {
  /** Posts a half step to the helper; false when it is not to be used (then do it here). */
  start(command: number, c0: number, mid: number): boolean;
  /** Waits for the posted half step; throws {@link HelperFailed} when the helper does not answer. */
  wait(): void;
  /** Releases the helper (it leaves its loop); idempotent. */
  finish(): void;
}

/** A workspace in shared WebAssembly memory, and the helper thread that works on it. */
export interface SharedTridiagonal {
  readonly work: TridiagonalWorkspace;
  readonly helper: TridiagonalHelper;
}

/** What the helper thread needs to serve a decomposition (posted to it with its job). */
export interface TridiagonalLink {
  readonly memory: object;
  readonly layout: TridiagonalLayout;
  readonly control: Int32Array;
}

/** The last shared memory, reused while its size fits (as the unshared one is). */
let cachedShared: {
  memory: { buffer: ArrayBuffer };
  exports: Record<string, unknown>;
  pages: number;
} | null = null;

/**
 * A workspace in shared WebAssembly memory for an n×n matrix plus the link to hand to a helper
 * thread, or null when no step would be split (n below 160), there are no SIMD kernels or no
 * shared memory in this runtime. Call
 * {@link attachHelper} once the helper has the link.
 */
export function sharedTridiagonalLink(
  n: number,
): { link: TridiagonalLink; work: TridiagonalWorkspace } | null {
  const layout = tridiagonalLayout(n);
  // Below SPLIT_MIN_ROWS no step is ever split: nothing for a helper to do.
  if (n < SPLIT_MIN_ROWS || !kernelsWanted(n, layout.bytes) || typeof SharedArrayBuffer === 'undefined')
    return null;
  const module = sharedTridiagonalModule();
  if (module === null) return null;
  try {
    const pages = Math.ceil(layout.bytes / 65536);
    let cached = cachedShared;
    if (cached === null || cached.pages < pages) {
      const api = wasmApi as WasmApi;
      const memory = new api.Memory({ initial: pages, maximum: pages, shared: true });
      const exports = new api.Instance(module, { e: { m: memory } }).exports;
      cached = { memory, exports, pages };
      cachedShared = layout.bytes <= 32 * 2 ** 20 ? cached : null;
    }
    const control = new Int32Array(new SharedArrayBuffer(4 * TRIDIAGONAL_CONTROL_WORDS));
    return {
      link: { memory: cached.memory, layout, control },
      work: viewsOf(cached.memory.buffer, layout, cached.exports),
    };
  } catch {
    return null;
  }
}

/**
 * The calling thread's side of a link whose helper is serving it ({@link serveTridiagonal}).
 */
export function attachHelper(link: TridiagonalLink, work: TridiagonalWorkspace): SharedTridiagonal {
  const control = link.control;
  let posted = 0;
  let finished = false;
  let waitedMs = 0;
  const helper: TridiagonalHelper = {
    start(command: number, c0: number, mid: number): boolean {
      if (finished) return false;
      control[COMMAND] = command;
      control[C0] = c0;
      control[MID] = mid;
      posted++;
      helperStats.sharedSteps++;
      Atomics.store(control, POSTED, posted);
      Atomics.notify(control, POSTED);
      return true;
    },
    wait(): void {
      const began = performance.now();
      if (!awaitWord(control, DONE, posted)) {
        finished = true;
        throw new HelperFailed('the geometry helper thread did not answer');
      }
      // Long waits mean the two threads are not both running (other work on the cores): past the
      // budget, the rest of this decomposition goes without the helper. The first hand-off may
      // find the helper mid-way through a piece of its TwoNN screen (it looks for the first step
      // between tile rows), so it does not count.
      if (posted > 1) {
        const elapsed = performance.now() - began;
        if (elapsed > SLOW_HANDOFF_MS) helperStats.slowHandOffs++;
        waitedMs += elapsed;
        if (waitedMs > WAIT_BUDGET_MS) {
          helperStats.overBudget++;
          helper.finish();
        }
      }
    },
    finish(): void {
      if (finished) return;
      finished = true;
      control[COMMAND] = EXIT;
      Atomics.store(control, POSTED, posted + 1);
      Atomics.notify(control, POSTED);
    },
  };
  return { work, helper };
}

/** Polls `control[index]` until it reaches `target`, spinning first, then sleeping; false on timeout. */
function awaitWord(control: Int32Array, index: number, target: number): boolean {
  for (let poll = 0; poll < SPIN_POLLS; poll++) if (Atomics.load(control, index) >= target) return true;
  const deadline = performance.now() + HELPER_TIMEOUT_MS;
  for (;;) {
    const current = Atomics.load(control, index);
    if (current >= target) return true;
    if (performance.now() > deadline) return false;
    Atomics.wait(control, index, current, 1);
  }
}

/** Whether the calling thread has posted the first step (or released the helper) yet. */
export function tridiagonalPosted(link: TridiagonalLink): boolean {
  return Atomics.load(link.control, POSTED) >= 1;
}

/**
 * The helper thread's loop: runs the second half of each posted step on the shared memory of
 * `link`, until the calling thread posts EXIT (or stops posting for {@link HELPER_TIMEOUT_MS}).
 */
export function serveTridiagonal(link: TridiagonalLink): void {
  const module = sharedTridiagonalModule();
  if (module === null) return;
  const api = wasmApi as WasmApi;
  const exports = new api.Instance(module, { e: { m: link.memory } }).exports;
  const { n } = link.layout;
  const work = viewsOf((link.memory as { buffer: ArrayBuffer }).buffer, link.layout, exports);
  const { a, v, q, qh, kernels } = work;
  const control = link.control;
  for (let seen = 1; ; seen++) {
    if (!awaitWord(control, POSTED, seen)) return;
    const command = control[COMMAND];
    if (command === EXIT) return;
    const c0 = control[C0] as number;
    const mid = control[MID] as number;
    if (command === SYMV) {
      qh.fill(0, c0, n);
      kernels.symv(a.byteOffset, 8 * n, 8 * c0, mid, n, v.byteOffset, qh.byteOffset);
    } else {
      kernels.rank2(a.byteOffset, 8 * n, 8 * c0, mid, n, v.byteOffset, q.byteOffset);
    }
    Atomics.store(control, DONE, seen);
    Atomics.notify(control, DONE);
  }
}

/**
 * The SIMD kernels of the tridiagonalisation: each call covers every full group of four rows of
 * one step (byte addresses into their memory; `c0` is the byte offset of the first column).
 */
export interface TridiagonalKernels {
  /**
   * symv(a, rowBytes, c0, i, n, v, q): for the row groups i, i+4, … < n: over the columns from c0
   * up to the group (an even count), q_j += (a0j·v_i + a1j·v_{i+1}) + (a2j·v_{i+2} + a3j·v_{i+3})
   * and the row sums Σ a_rj·v_j, then the row sums also over the group's own 4×4 diagonal block
   * (both triangles: the block is kept whole), added to q_{i..i+3}.
   */
  readonly symv: (
    a: number,
    rowBytes: number,
    c0: number,
    i: number,
    n: number,
    v: number,
    q: number,
  ) => void;
  /**
   * rank2(a, rowBytes, c0, i, n, v, w): for the same groups, a_rj ← (a_rj − v_r·w_j) − w_r·v_j over
   * the columns from c0 through the group's diagonal block.
   */
  readonly rank2: (
    a: number,
    rowBytes: number,
    c0: number,
    i: number,
    n: number,
    v: number,
    w: number,
  ) => void;
}

/** The matrix and vectors of {@link tridiagonalize}, in WebAssembly memory when the kernels exist. */
export interface TridiagonalWorkspace {
  readonly a: Float64Array;
  readonly v: Float64Array;
  /** A·v, then w (see {@link tridiagonalize}). */
  readonly q: Float64Array;
  /** The second half of the row groups' share of A·v, summed into q (see {@link splitRow}). */
  readonly qh: Float64Array;
  readonly kernels: TridiagonalKernels | null;
}

/** The last small kernel instance and its memory, reused by the next call that fits. */
let cachedTridiagonal: { exports: Record<string, unknown>; buffer: ArrayBuffer } | null = null;

/** Byte offsets of v, q, qh and A in the kernels' memory for an n×n matrix (each 16-byte aligned). */
export interface TridiagonalLayout {
  readonly n: number;
  readonly v: number;
  readonly q: number;
  readonly qh: number;
  readonly a: number;
  readonly bytes: number;
}

/**
 * Where everything sits in the kernels' memory: 128 spare bytes, then v, q, qh and A, each starting
 * on a 16-byte boundary.
 */
export function tridiagonalLayout(n: number): TridiagonalLayout {
  const vector = Math.ceil((8 * n) / 16) * 16;
  const v = 128;
  const q = v + vector;
  const qh = q + vector;
  const a = qh + vector;
  return { n, v, q, qh, a, bytes: a + 8 * n * n };
}

function viewsOf(
  buffer: ArrayBuffer | SharedArrayBuffer,
  layout: TridiagonalLayout,
  exports: Record<string, unknown>,
) {
  const { n } = layout;
  return {
    a: new Float64Array(buffer, layout.a, n * n),
    v: new Float64Array(buffer, layout.v, n),
    q: new Float64Array(buffer, layout.q, n),
    qh: new Float64Array(buffer, layout.qh, n),
    kernels: {
      symv: exports.s as TridiagonalKernels['symv'],
      rank2: exports.r as TridiagonalKernels['rank2'],
    },
  };
}

/**
 * A fresh workspace for an n×n matrix: WebAssembly memory holding the {@link tridiagonalLayout} and
 * the kernels bound to it when the runtime has WebAssembly SIMD (and `RUNLAKE_GEOMETRY_KERNEL` is
 * not `js`), else plain arrays. Memories up to 32 MiB are reused by later calls; larger ones are
 * fresh per call, so a large matrix's memory is not kept alive.
 */
function tridiagonalWorkspace(n: number): TridiagonalWorkspace {
  const plain = (): TridiagonalWorkspace => ({
    a: new Float64Array(n * n),
    v: new Float64Array(n),
    q: new Float64Array(n),
    qh: new Float64Array(n),
    kernels: null,
  });
  const layout = tridiagonalLayout(n);
  const module = kernelsWanted(n, layout.bytes) ? tridiagonalModule() : null;
  if (module === null) return plain();
  try {
    let instance = cachedTridiagonal;
    if (instance === null || instance.buffer.byteLength < layout.bytes) {
      const api = wasmApi as WasmApi;
      const memory = new api.Memory({ initial: Math.ceil(layout.bytes / 65536) });
      instance = { exports: new api.Instance(module, { e: { m: memory } }).exports, buffer: memory.buffer };
      // Kept for the next call when small (everything is rewritten before it is read), so that
      // repeated calls skip the allocation and the collector work; large ones are released.
      cachedTridiagonal = layout.bytes <= 32 * 2 ** 20 ? instance : null;
    }
    return viewsOf(instance.buffer, layout, instance.exports);
  } catch {
    return plain();
  }
}

function kernelsWanted(n: number, bytes: number): boolean {
  const forcedJs = typeof process !== 'undefined' && process.env?.RUNLAKE_GEOMETRY_KERNEL === 'js';
  return !forcedJs && n >= 8 && bytes <= 2 ** 31;
}

const tridiagonalModule = compiledOnce(() => tridiagonalModuleBytes(false, relaxedSimd()));
const sharedTridiagonalModule = compiledOnce(() => tridiagonalModuleBytes(true, relaxedSimd()));

/**
 * The module of {@link TridiagonalKernels}, assembled byte by byte (no toolchain). Both functions
 * loop over the row groups themselves (one call per Householder step), keep the four row pointers
 * in locals, load the group's coefficients as f64x2 splats (`v128.load64_splat`) and step two
 * columns (16 bytes) per iteration with f64x2 loads, multiplies, adds/subtracts and stores: the
 * scalar loops' arithmetic, two lanes at a time; with `fused` ({@link relaxedSimd}) each multiply
 * and add (or subtract) pair is one `f64x2.relaxed_madd` (`relaxed_nmadd`), which rounds once.
 *
 * ```wat
 * (func $symv (param $a $rowBytes $c0 $i $n $v $q i32) …
 *   (block (loop
 *     (br_if 1 (i32.ge_u $i $n))
 *     $p0 = $a + $i·$rowBytes + $c0   $p1…$p3 = the next rows   $vi = $v + 8$i   $qi = $q + 8$i
 *     $c_r = v128.load64_splat offset=8r $vi     $s_r = 0
 *     $vj = $v + $c0   $qj = $q + $c0
 *     (block (br_if 0 (i32.eq $vj $vi)) (loop
 *       $x = v128.load $vj   $y_r = v128.load $p_r   $s_r += $y_r·$x
 *       v128.store $qj (v128.load $qj + (($y0·$c0 + $y1·$c1) + ($y2·$c2 + $y3·$c3)))
 *       $p_r += 16   $vj += 16   $qj += 16   (br_if 0 (i32.ne $vj $vi))))
 *     $s_r = ($s_r + (v128.load $p_r)·(v128.load $vi)) + (v128.load offset=16 $p_r)·(v128.load offset=16 $vi)
 *     f64.store offset=8r $qi (f64.load offset=8r $qi + (lane0 $s_r + lane1 $s_r))
 *     $i += 4   (br 0)))
 * (func $rank2 (param $a $rowBytes $c0 $i $n $v $w i32) …
 *   (block (loop
 *     (br_if 1 (i32.ge_u $i $n))
 *     $p_r as above   $cv_r = v128.load64_splat offset=8r ($v + 8$i)   $cw_r likewise from $w
 *     $vj = $v + $c0   $wj = $w + $c0   $end = $v + 8$i + 32
 *     (loop
 *       $x = v128.load $vj   $y = v128.load $wj
 *       v128.store $p_r ((v128.load $p_r − $cv_r·$y) − $cw_r·$x)
 *       $p_r += 16   $vj += 16   $wj += 16   (br_if 0 (i32.ne $vj $end)))
 *     $i += 4   (br 0)))
 * ```
 */
function tridiagonalModuleBytes(shared: boolean, fused: boolean): Uint8Array {
  const i32 = (value: number): number[] => [0x41, value]; // 0 ≤ value < 64
  const iadd = [0x6a];
  const imul = [0x6c];
  const ishl = [0x74];
  const load = (offset: number): number[] => [...simd(0x00), 3, ...uleb(offset)];
  const store = (offset: number): number[] => [...simd(0x0b), 3, ...uleb(offset)];
  const splatLoad = (offset: number): number[] => [...simd(0x0a), 3, ...uleb(offset)];
  const f64Load = (offset: number): number[] => [0x2b, 3, ...uleb(offset)];
  const f64Store = (offset: number): number[] => [0x39, 3, ...uleb(offset)];
  const zero = [...simd(0x0c), ...new Array(16).fill(0)];
  const add = simd(0xf0);
  const sub = simd(0xf1);
  const mul = simd(0xf2);
  const madd = simd(F64X2_MADD);
  const nmadd = simd(F64X2_NMADD);
  const lane = (l: number): number[] => [...simd(0x21), l];
  // Params (both functions): 0 a, 1 rowBytes, 2 c0, 3 i, 4 n, 5 v, 6 q or w; then p0…p3 at 7–10.
  const P = [7, 8, 9, 10];
  const rowPointers = [
    ...get(0),
    ...get(3),
    ...get(1),
    ...imul,
    ...iadd,
    ...get(2),
    ...iadd,
    ...set(P[0] as number),
    ...[1, 2, 3].flatMap((r) => [...get(P[r - 1] as number), ...get(1), ...iadd, ...set(P[r] as number)]),
  ];
  const times8 = (local: number): number[] => [...get(local), ...i32(3), ...ishl];
  const advance = (locals: number[]): number[] =>
    locals.flatMap((l) => [...get(l), ...i32(16), ...iadd, ...set(l)]);
  const nextGroup = [...get(3), ...i32(4), ...iadd, ...set(3), 0x0c, 0];
  const exitWhenDone = [...get(3), ...get(4), 0x4f, 0x0d, 1];

  // symv locals: i32 11 vj, 12 qj, 13 vi, 14 qi; v128 15–18 s_r, 19–22 c_r, 23 x, 24–27 y_r.
  const symvGroup: number[] = [...exitWhenDone, ...rowPointers];
  symvGroup.push(...get(5), ...times8(3), ...iadd, ...set(13), ...get(6), ...times8(3), ...iadd, ...set(14));
  for (let r = 0; r < 4; r++) symvGroup.push(...get(13), ...splatLoad(8 * r), ...set(19 + r));
  for (let r = 0; r < 4; r++) symvGroup.push(...zero, ...set(15 + r));
  symvGroup.push(...get(5), ...get(2), ...iadd, ...set(11), ...get(6), ...get(2), ...iadd, ...set(12));
  const symvCols: number[] = [...get(11), ...load(0), ...set(23)];
  for (let r = 0; r < 4; r++) symvCols.push(...get(P[r] as number), ...load(0), ...set(24 + r));
  if (fused) {
    // s_r = y_r·x + s_r; q_j = y3·c3 + (y2·c2 + (y1·c1 + (y0·c0 + q_j))), each one rounding.
    for (let r = 0; r < 4; r++)
      symvCols.push(...get(24 + r), ...get(23), ...get(15 + r), ...madd, ...set(15 + r));
    symvCols.push(...get(12), ...get(27), ...get(22), ...get(26), ...get(21), ...get(25), ...get(20));
    symvCols.push(
      ...get(24),
      ...get(19),
      ...get(12),
      ...load(0),
      ...madd,
      ...madd,
      ...madd,
      ...madd,
      ...store(0),
    );
  } else {
    for (let r = 0; r < 4; r++)
      symvCols.push(...get(15 + r), ...get(24 + r), ...get(23), ...mul, ...add, ...set(15 + r));
    symvCols.push(...get(12), ...get(12), ...load(0));
    symvCols.push(...get(24), ...get(19), ...mul, ...get(25), ...get(20), ...mul, ...add);
    symvCols.push(...get(26), ...get(21), ...mul, ...get(27), ...get(22), ...mul, ...add, ...add);
    symvCols.push(...add, ...store(0));
  }
  symvCols.push(...advance([...P, 11, 12]), ...get(11), ...get(13), 0x47, 0x0d, 0);
  // (block (br_if 0 (vj == vi)) (loop …))
  symvGroup.push(0x02, 0x40, ...get(11), ...get(13), 0x46, 0x0d, 0, 0x03, 0x40, ...symvCols, 0x0b, 0x0b);
  // The diagonal block: x = v[i..i+1], y0 = v[i+2..i+3] (reusing locals 23 and 24).
  symvGroup.push(...get(13), ...load(0), ...set(23), ...get(13), ...load(16), ...set(24));
  for (let r = 0; r < 4; r++) {
    const p = P[r] as number;
    if (fused) {
      symvGroup.push(...get(p), ...load(16), ...get(24), ...get(p), ...load(0), ...get(23), ...get(15 + r));
      symvGroup.push(...madd, ...madd, ...set(15 + r));
    } else {
      symvGroup.push(...get(15 + r), ...get(p), ...load(0), ...get(23), ...mul, ...add);
      symvGroup.push(...get(p), ...load(16), ...get(24), ...mul, ...add, ...set(15 + r));
    }
    symvGroup.push(...get(14), ...get(14), ...f64Load(8 * r));
    symvGroup.push(...get(15 + r), ...lane(0), ...get(15 + r), ...lane(1), 0xa0, 0xa0, ...f64Store(8 * r));
  }
  symvGroup.push(...nextGroup);
  const symv = [0x02, 0x40, 0x03, 0x40, ...symvGroup, 0x0b, 0x0b, 0x0b];

  // rank2 locals: i32 11 vj, 12 wj, 13 end, 14 vi, 15 wi; v128 16–19 cv_r, 20–23 cw_r, 24 x, 25 y.
  const rankGroup: number[] = [...exitWhenDone, ...rowPointers];
  rankGroup.push(...get(5), ...times8(3), ...iadd, ...set(14), ...get(6), ...times8(3), ...iadd, ...set(15));
  for (let r = 0; r < 4; r++) rankGroup.push(...get(14), ...splatLoad(8 * r), ...set(16 + r));
  for (let r = 0; r < 4; r++) rankGroup.push(...get(15), ...splatLoad(8 * r), ...set(20 + r));
  rankGroup.push(...get(5), ...get(2), ...iadd, ...set(11), ...get(6), ...get(2), ...iadd, ...set(12));
  rankGroup.push(...get(14), ...i32(32), ...iadd, ...set(13));
  const rankCols: number[] = [...get(11), ...load(0), ...set(24), ...get(12), ...load(0), ...set(25)];
  for (let r = 0; r < 4; r++) {
    const p = P[r] as number;
    if (fused) {
      // a − cv_r·y − cw_r·x as −cw_r·x + (−cv_r·y + a).
      rankCols.push(...get(p), ...get(20 + r), ...get(24), ...get(16 + r), ...get(25), ...get(p), ...load(0));
      rankCols.push(...nmadd, ...nmadd, ...store(0));
    } else {
      rankCols.push(...get(p), ...get(p), ...load(0), ...get(16 + r), ...get(25), ...mul, ...sub);
      rankCols.push(...get(20 + r), ...get(24), ...mul, ...sub, ...store(0));
    }
  }
  rankCols.push(...advance([...P, 11, 12]), ...get(11), ...get(13), 0x47, 0x0d, 0);
  rankGroup.push(0x03, 0x40, ...rankCols, 0x0b, ...nextGroup);
  const rank = [0x02, 0x40, 0x03, 0x40, ...rankGroup, 0x0b, 0x0b, 0x0b];

  const locals = (i32s: number, v128s: number): number[] =>
    vec([
      [i32s, 0x7f],
      [v128s, 0x7b],
    ]);
  const symvFunc = [...locals(8, 13), ...symv];
  const rankFunc = [...locals(9, 10), ...rank];
  const params = vec([[0x7f], [0x7f], [0x7f], [0x7f], [0x7f], [0x7f], [0x7f]]);
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...params, ...vec([])]])),
    // Import memory e.m: min 1 page, or shared with max 65536 pages (what a helper thread can use).
    ...section(
      2,
      vec([[...name('e'), ...name('m'), 0x02, ...(shared ? [0x03, 0x01, ...uleb(65536)] : [0x00, 0x01])]]),
    ),
    ...section(3, vec([[0], [0]])),
    ...section(
      7,
      vec([
        [...name('s'), 0x00, 0],
        [...name('r'), 0x00, 1],
      ]),
    ),
    ...section(
      10,
      vec([
        [...uleb(symvFunc.length), ...symvFunc],
        [...uleb(rankFunc.length), ...rankFunc],
      ]),
    ),
  ]);
}

/**
 * Householder reduction of the lower triangle of `a` (overwritten) to a symmetric tridiagonal
 * matrix: `diag[k]` its diagonal, `sub[k]` the entry between rows k and k+1 (`sub[n−1] = 0`).
 * Each step applies H = I − β v vᵀ from both sides as the symmetric rank-2 update
 * A ← A − v wᵀ − w vᵀ with w = βAv − (β²vᵀAv/2) v, touching only the lower triangle, which
 * is what makes it 4n³/3 flops rather than 2n³.
 */
function tridiagonalize(
  work: TridiagonalWorkspace,
  n: number,
  diag: Float64Array,
  sub: Float64Array,
  helper: TridiagonalHelper | null,
): void {
  const { a, v, q, kernels } = work;
  if (kernels !== null) wholeDiagonalBlocks(a, n);
  for (let k = 0; k < n - 2; k++) {
    const m0 = k + 1;
    diag[k] = a[k * n + k] as number;
    // Column k below the diagonal, gathered once (it is strided in the row-major matrix).
    for (let i = m0; i < n; i++) v[i] = a[i * n + k] as number;
    // Scale the column first so that the norm cannot overflow or underflow.
    let scale = 0;
    for (let i = m0; i < n; i++) scale += Math.abs(v[i] as number);
    if (scale === 0) {
      sub[k] = 0;
      continue;
    }
    let sigma = 0;
    for (let i = m0; i < n; i++) {
      const x = (v[i] as number) / scale;
      sigma += x * x;
    }
    const norm = scale * Math.sqrt(sigma);
    const x0 = v[m0] as number;
    // The sign choice avoids cancellation in v₀ = x₀ − α.
    const alpha = x0 > 0 ? -norm : norm;
    v[m0] = x0 - alpha;
    let vnorm2 = 0;
    for (let i = m0; i < n; i++) vnorm2 += (v[i] as number) * (v[i] as number);
    const beta = 2 / vnorm2;
    if (kernels !== null) symmetricTimesWasm(work, kernels, n, m0, helper);
    else symmetricLowerTimes(a, n, m0, v, q);
    let vq = 0;
    for (let i = m0; i < n; i++) vq += (v[i] as number) * (q[i] as number);
    const half = (beta * beta * vq) / 2;
    // Reuse q as w = βq − half·v.
    for (let i = m0; i < n; i++) q[i] = beta * (q[i] as number) - half * (v[i] as number);
    if (kernels !== null) rankTwoWasm(work, kernels, n, m0, helper);
    else rankTwoUpdate(a, n, m0, v, q);
    sub[k] = alpha;
  }
  helper?.finish();
  if (n >= 2) {
    diag[n - 2] = a[(n - 2) * n + (n - 2)] as number;
    sub[n - 2] = a[(n - 1) * n + (n - 2)] as number;
  }
  diag[n - 1] = a[n * n - 1] as number;
  sub[n - 1] = 0;
}

/**
 * The SIMD path works on fixed groups of four rows counted from the bottom (rows n−4t … n−4t+3),
 * so that each group's 4×4 diagonal block is always the same block; kept whole (both triangles,
 * each rank-2 update rewrites all of it), the block's part of A·v is then a plain dense 4×4
 * product. This makes the blocks whole once, from the lower triangle (the only one callers must
 * fill).
 */
function wholeDiagonalBlocks(a: Float64Array, n: number): void {
  for (let b = n - 4; b >= 0; b -= 4)
    for (let r = b; r < b + 4; r++) for (let c = r + 1; c < b + 4; c++) a[r * n + c] = a[c * n + r] as number;
}

/**
 * The first column the kernels read, m0 or m0 − 1: the full groups start at i ≡ n (mod 4), and the
 * kernels step two columns at a time from there up to i, so the count from the first column must be
 * even. Column m0 − 1 (= k, already reduced) then rides along with v_k = w_k = 0: it adds nothing to
 * q and is left unchanged by the update.
 */
function firstKernelColumn(n: number, m0: number): number {
  return (n - m0) & 1 ? m0 - 1 : m0;
}

/** Below this many trailing rows a step is not split (a hand-off would cost more than it saves). */
const SPLIT_MIN_ROWS = 160;

/**
 * Where a step's full row groups (from `first`, up to n) are split in two halves of about equal
 * work (a group at row i covers i − c0 + 4 columns), on a group boundary; n when the step is too
 * small to split. The split depends only on the sizes, and the halves are always computed apart
 * (the second into qh for the product) and combined in the same order, so the results are bitwise
 * the same whether a helper thread computes the second half or the calling thread does.
 */
function splitRow(n: number, m0: number, c0: number, first: number): number {
  if (n - m0 < SPLIT_MIN_ROWS) return n;
  const lo = first - c0;
  const hi = n - c0;
  const mid = c0 + Math.sqrt((lo * lo + hi * hi) / 2);
  return Math.min(n, first + 4 * Math.round((mid - first) / 4));
}

/**
 * q[m0..n) = A₂₂ v (see {@link symmetricLowerTimes}) with the full row groups in kernel calls (the
 * second half on the helper thread when there is one) and the 0–3 rows above them (the shortest
 * rows, m0 … m0+s−1) here, from the lower triangle.
 */
function symmetricTimesWasm(
  work: TridiagonalWorkspace,
  kernels: TridiagonalKernels,
  n: number,
  m0: number,
  helper: TridiagonalHelper | null,
): void {
  const { a, v, q, qh } = work;
  const c0 = firstKernelColumn(n, m0);
  v[c0] = c0 < m0 ? 0 : (v[c0] as number);
  q.fill(0, c0, n);
  const first = m0 + ((n - m0) & 3);
  const mid = splitRow(n, m0, c0, first);
  if (mid < n && helper?.start(SYMV, c0, mid)) {
    if (first < mid) kernels.symv(a.byteOffset, 8 * n, 8 * c0, first, mid, v.byteOffset, q.byteOffset);
    helper.wait();
  } else {
    if (first < mid) kernels.symv(a.byteOffset, 8 * n, 8 * c0, first, mid, v.byteOffset, q.byteOffset);
    if (mid < n) {
      qh.fill(0, c0, n);
      kernels.symv(a.byteOffset, 8 * n, 8 * c0, mid, n, v.byteOffset, qh.byteOffset);
    }
  }
  if (mid < n) for (let j = c0; j < n; j++) q[j] = (q[j] as number) + (qh[j] as number);
  for (let r = m0; r < first; r++) {
    const row = r * n;
    const vr = v[r] as number;
    let s = 0;
    for (let j = m0; j < r; j++) {
      const arj = a[row + j] as number;
      s += arj * (v[j] as number);
      q[j] = (q[j] as number) + arj * vr;
    }
    q[r] = (q[r] as number) + s + (a[row + r] as number) * vr;
  }
}

/** {@link rankTwoUpdate} (w in q) with the full row groups in kernel calls, split like the product. */
function rankTwoWasm(
  work: TridiagonalWorkspace,
  kernels: TridiagonalKernels,
  n: number,
  m0: number,
  helper: TridiagonalHelper | null,
): void {
  const { a, v, q } = work;
  const c0 = firstKernelColumn(n, m0);
  if (c0 < m0) q[c0] = 0;
  const first = m0 + ((n - m0) & 3);
  const mid = splitRow(n, m0, c0, first);
  const shared = mid < n && helper !== null && helper.start(RANK2, c0, mid);
  if (first < mid) kernels.rank2(a.byteOffset, 8 * n, 8 * c0, first, mid, v.byteOffset, q.byteOffset);
  if (mid < n && !shared) kernels.rank2(a.byteOffset, 8 * n, 8 * c0, mid, n, v.byteOffset, q.byteOffset);
  for (let r = m0; r < first; r++) {
    const row = r * n;
    const vr = v[r] as number;
    const wr = q[r] as number;
    for (let j = m0; j <= r; j++)
      a[row + j] = (a[row + j] as number) - vr * (q[j] as number) - wr * (v[j] as number);
  }
  if (shared) helper.wait();
}

/**
 * q[m0..n) = A₂₂ v for the trailing block A₂₂ = A[m0.., m0..], reading only its lower triangle:
 * row i contributes A_ij·v_j to q_i and A_ij·v_i to q_j (j < i). Rows go four at a time, so each
 * v_j and q_j is loaded once per four matrix entries; the 4×4 corner on the diagonal is done
 * entry by entry. This product is half of the tridiagonalisation's flops. (The JavaScript path;
 * {@link symmetricTimesWasm} is the SIMD one.)
 */
function symmetricLowerTimes(a: Float64Array, n: number, m0: number, v: Float64Array, q: Float64Array): void {
  q.fill(0, m0, n);
  let i = m0;
  for (; i + 3 < n; i += 4) {
    const r0 = i * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    const v0 = v[i] as number;
    const v1 = v[i + 1] as number;
    const v2 = v[i + 2] as number;
    const v3 = v[i + 3] as number;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = m0; j < i; j++) {
      const a0 = a[r0 + j] as number;
      const a1 = a[r1 + j] as number;
      const a2 = a[r2 + j] as number;
      const a3 = a[r3 + j] as number;
      const vj = v[j] as number;
      s0 += a0 * vj;
      s1 += a1 * vj;
      s2 += a2 * vj;
      s3 += a3 * vj;
      q[j] = (q[j] as number) + (a0 * v0 + a1 * v1 + (a2 * v2 + a3 * v3));
    }
    q[i] = (q[i] as number) + s0;
    q[i + 1] = (q[i + 1] as number) + s1;
    q[i + 2] = (q[i + 2] as number) + s2;
    q[i + 3] = (q[i + 3] as number) + s3;
    for (let r = 0; r < 4; r++) {
      const row = (i + r) * n;
      const vr = v[i + r] as number;
      let s = 0;
      for (let c = i; c < i + r; c++) {
        const arc = a[row + c] as number;
        s += arc * (v[c] as number);
        q[c] = (q[c] as number) + arc * vr;
      }
      q[i + r] = (q[i + r] as number) + s + (a[row + i + r] as number) * vr;
    }
  }
  for (; i < n; i++) {
    const row = i * n;
    const vi = v[i] as number;
    let s = 0;
    for (let j = m0; j < i; j++) {
      const aij = a[row + j] as number;
      s += aij * (v[j] as number);
      q[j] = (q[j] as number) + aij * vi;
    }
    q[i] = (q[i] as number) + s + (a[row + i] as number) * vi;
  }
}

/**
 * A₂₂ ← A₂₂ − v wᵀ − w vᵀ on the lower triangle of the trailing block (rows m0..n). Rows go four
 * at a time over the columns m0..i+3, which also rewrites the few upper-triangle entries of the
 * 4×4 diagonal corner; nothing ever reads the upper triangle, so that is harmless and keeps the
 * loop branch-free.
 */
function rankTwoUpdate(a: Float64Array, n: number, m0: number, v: Float64Array, w: Float64Array): void {
  let i = m0;
  for (; i + 3 < n; i += 4) {
    const r0 = i * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    const v0 = v[i] as number;
    const v1 = v[i + 1] as number;
    const v2 = v[i + 2] as number;
    const v3 = v[i + 3] as number;
    const w0 = w[i] as number;
    const w1 = w[i + 1] as number;
    const w2 = w[i + 2] as number;
    const w3 = w[i + 3] as number;
    const stop = i + 4;
    for (let j = m0; j < stop; j++) {
      const vj = v[j] as number;
      const wj = w[j] as number;
      a[r0 + j] = (a[r0 + j] as number) - v0 * wj - w0 * vj;
      a[r1 + j] = (a[r1 + j] as number) - v1 * wj - w1 * vj;
      a[r2 + j] = (a[r2 + j] as number) - v2 * wj - w2 * vj;
      a[r3 + j] = (a[r3 + j] as number) - v3 * wj - w3 * vj;
    }
  }
  for (; i < n; i++) {
    const row = i * n;
    const vi = v[i] as number;
    const wi = w[i] as number;
    for (let j = m0; j <= i; j++) {
      a[row + j] = (a[row + j] as number) - vi * (w[j] as number) - wi * (v[j] as number);
    }
  }
}

/**
 * √(x² + y²): the plain formula when the squares neither overflow nor underflow (V8's Math.hypot
 * handles any arity and rescales, several times slower in the QL sweep), Math.hypot otherwise.
 */
function hypot(x: number, y: number): number {
  const s = x * x + y * y;
  return s > 1e-290 && s < 1e290 ? Math.sqrt(s) : Math.hypot(x, y);
}

/**
 * Implicit QL with Wilkinson shifts on a symmetric tridiagonal matrix (EISPACK `tql1`, as in
 * JAMA's `tql2` with the eigenvector updates removed). On return `diag` holds the eigenvalues
 * (unsorted) and `sub` is destroyed.
 */
function tridiagonalQl(diag: Float64Array, sub: Float64Array, n: number): void {
  let shift = 0;
  let tst1 = 0;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(diag[l] as number) + Math.abs(sub[l] as number));
    // Find the first negligible subdiagonal entry at or after l: the block l..m is unreduced.
    let m = l;
    while (m < n - 1 && Math.abs(sub[m] as number) > EPSILON * tst1) m++;
    if (m > l) {
      let sweeps = 0;
      do {
        if (++sweeps > MAX_SWEEPS_PER_EIGENVALUE) {
          throw new RunlakeError(`symmetricEigenvalues: QL iteration did not converge for eigenvalue ${l}`);
        }
        // Wilkinson shift from the leading 2×2 block.
        const g0 = diag[l] as number;
        const el = sub[l] as number;
        let p = ((diag[l + 1] as number) - g0) / (2 * el);
        let r = hypot(p, 1);
        if (p < 0) r = -r;
        diag[l] = el / (p + r);
        diag[l + 1] = el * (p + r);
        const dl1 = diag[l + 1] as number;
        const h0 = g0 - (diag[l] as number);
        for (let i = l + 2; i < n; i++) diag[i] = (diag[i] as number) - h0;
        shift += h0;
        // Implicit QL sweep of plane rotations from m−1 up to l.
        p = diag[m] as number;
        let c = 1;
        let c2 = 1;
        let c3 = 1;
        const el1 = sub[l + 1] as number;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          const ei = sub[i] as number;
          const g = c * ei;
          const h = c * p;
          r = hypot(p, ei);
          sub[i + 1] = s * r;
          s = ei / r;
          c = p / r;
          const di = diag[i] as number;
          p = c * di - s * g;
          diag[i + 1] = h + s * (c * g + s * di);
        }
        p = (-s * s2 * c3 * el1 * (sub[l] as number)) / dl1;
        sub[l] = s * p;
        diag[l] = c * p;
      } while (Math.abs(sub[l] as number) > EPSILON * tst1);
    }
    diag[l] = (diag[l] as number) + shift;
    sub[l] = 0;
  }
}
