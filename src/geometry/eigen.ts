/**
 * Eigenvalues of dense symmetric matrices, without eigenvectors.
 *
 * Why a solver of our own: ml-matrix's `EigenvalueDecomposition` always accumulates the
 * eigenvectors, which costs another O(n³) (and n² memory) that the geometry descriptors never
 * use — they only need the spectrum. Householder tridiagonalisation of the lower triangle
 * (about 4n³/3 flops) followed by implicit QL on the tridiagonal matrix (O(n²)) is the classic
 * EISPACK `tred1` + `tql1` pair and is all that is needed.
 */
import { RunlakeError } from '../lake/index.js';
import { compiledOnce, get, name, section, set, simd, uleb, vec, type WasmApi, wasmApi } from './wasm.js';

/** Machine epsilon of float64 (2⁻⁵²), the convergence scale of the QL iteration. */
const EPSILON = 2 ** -52;

/** QL sweeps allowed per eigenvalue before giving up (EISPACK uses 30). */
const MAX_SWEEPS_PER_EIGENVALUE = 60;

/**
 * Eigenvalues of a symmetric n×n row-major matrix, sorted descending. Only the lower triangle
 * is read (the matrix is assumed symmetric); the input is copied and never mutated.
 *
 * Householder reflections reduce the matrix to tridiagonal form, then the implicit QL
 * algorithm with the Wilkinson shift (the eigenvalue of the leading 2×2 block closest to its
 * first diagonal entry, as in EISPACK `tql1`) diagonalises it. Accuracy is backward stable:
 * each eigenvalue is within a small multiple of ε·‖A‖₂ of the exact one.
 *
 * @throws {RunlakeError} when `n` is not a non-negative integer, `a.length !== n * n`, or an
 *   entry is NaN or ±Infinity.
 * @example
 * ```ts
 * symmetricEigenvalues(new Float64Array([2, 1, 1, 2]), 2); // Float64Array [3, 1]
 * ```
 */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  if (!Number.isInteger(n) || n < 0) {
    throw new RunlakeError(`symmetricEigenvalues: size must be a non-negative integer, got ${n}`);
  }
  if (a.length !== n * n) {
    throw new RunlakeError(
      `symmetricEigenvalues: a ${n}×${n} matrix needs ${n * n} entries, got ${a.length} (not square)`,
    );
  }
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i] as number)) {
      const row = Math.floor(i / Math.max(n, 1));
      throw new RunlakeError(
        `symmetricEigenvalues: entry (${row}, ${i - row * n}) is ${a[i]}; the matrix must be finite`,
      );
    }
  }
  const diag = new Float64Array(n);
  if (n === 0) return diag;
  const sub = new Float64Array(n);
  const work = tridiagonalWorkspace(n);
  work.a.set(a);
  tridiagonalize(work, n, diag, sub);
  tridiagonalQl(diag, sub, n);
  return diag.sort().reverse();
}

/** The SIMD kernels of the tridiagonalisation (byte addresses into their memory). */
interface TridiagonalKernels {
  /**
   * symv4(p0, rowBytes, v, q, vEnd, coef): for the four rows starting at p0 (rowBytes apart) and the
   * columns from v to vEnd (an even count ≥ 2): q_j += (a0j·c0 + a1j·c1) + (a2j·c2 + a3j·c3) with
   * c = the 4 doubles at `coef`, and the row sums Σ a_rj·v_j into doubles 0–3 of the memory.
   */
  readonly symv4: (p0: number, rowBytes: number, v: number, q: number, vEnd: number, coef: number) => void;
  /**
   * rank2x4(p0, rowBytes, v, w, vEnd, coef): a_rj ← (a_rj − c_r·w_j) − c_{4+r}·v_j for the four rows
   * and the columns from v to vEnd (an even count), with c = the 8 doubles at `coef`.
   */
  readonly rank2x4: (p0: number, rowBytes: number, v: number, w: number, vEnd: number, coef: number) => void;
  /** The first 16 doubles of the memory: the row sums (0–3) and the coefficients (4–11). */
  readonly scratch: Float64Array;
}

/** The matrix, v and q of {@link tridiagonalize}, in WebAssembly memory when the kernels exist. */
interface TridiagonalWorkspace {
  readonly a: Float64Array;
  readonly v: Float64Array;
  readonly q: Float64Array;
  readonly kernels: TridiagonalKernels | null;
}

/** The last small kernel instance and its memory, reused by the next call that fits. */
let cachedTridiagonal: { exports: Record<string, unknown>; buffer: ArrayBuffer } | null = null;

/** Bytes before the vectors in the kernels' memory: the 16-double scratch area. */
const SCRATCH_BYTES = 128;

/**
 * A fresh workspace for an n×n matrix: WebAssembly memory holding [scratch | v | q | A] and the
 * kernels bound to it when the runtime has WebAssembly SIMD (and `RUNLAKE_GEOMETRY_KERNEL` is not
 * `js`), else plain arrays. Memories up to 32 MiB are reused by later calls; larger ones are fresh
 * per call, so a large matrix's memory is not kept alive.
 */
function tridiagonalWorkspace(n: number): TridiagonalWorkspace {
  const plain = (): TridiagonalWorkspace => ({
    a: new Float64Array(n * n),
    v: new Float64Array(n),
    q: new Float64Array(n),
    kernels: null,
  });
  const bytes = SCRATCH_BYTES + 8 * (2 * n + n * n);
  const forcedJs = typeof process !== 'undefined' && process.env?.RUNLAKE_GEOMETRY_KERNEL === 'js';
  const module = forcedJs || n < 8 || bytes > 2 ** 31 ? null : tridiagonalModule();
  if (module === null) return plain();
  try {
    let instance = cachedTridiagonal;
    if (instance === null || instance.buffer.byteLength < bytes) {
      const api = wasmApi as WasmApi;
      const memory = new api.Memory({ initial: Math.ceil(bytes / 65536) });
      instance = { exports: new api.Instance(module, { e: { m: memory } }).exports, buffer: memory.buffer };
      // Kept for the next call when small (everything is rewritten before it is read), so that
      // repeated calls skip the allocation and the collector work; large ones are released.
      cachedTridiagonal = bytes <= 32 * 2 ** 20 ? instance : null;
    }
    const { exports, buffer } = instance;
    return {
      a: new Float64Array(buffer, SCRATCH_BYTES + 16 * n, n * n),
      v: new Float64Array(buffer, SCRATCH_BYTES, n),
      q: new Float64Array(buffer, SCRATCH_BYTES + 8 * n, n),
      kernels: {
        symv4: exports.s as TridiagonalKernels['symv4'],
        rank2x4: exports.r as TridiagonalKernels['rank2x4'],
        scratch: new Float64Array(buffer, 0, 16),
      },
    };
  } catch {
    return plain();
  }
}

const tridiagonalModule = compiledOnce(tridiagonalModuleBytes);

/**
 * The module of {@link TridiagonalKernels}, assembled byte by byte (no toolchain). Both functions
 * take (p0, rowBytes, v, x, vEnd, coef) as i32 byte addresses, keep the four row pointers p0…p3 in
 * locals, load the coefficients as f64x2 splats, and step two columns (16 bytes) per iteration with
 * f64x2 loads, multiplies, adds/subtracts and stores — the scalar loops' arithmetic, two lanes at a
 * time. rank2x4 is bitwise the scalar update; symv4's q update is too, its row sums add the two
 * lanes at the end (a different summation order from the scalar loop, within rounding).
 */
function tridiagonalModuleBytes(): Uint8Array {
  const i32 = (value: number): number[] => [0x41, value]; // 0 ≤ value < 64
  const iadd = [0x6a];
  const load = (offset: number): number[] => [...simd(0x00), 3, ...uleb(offset)];
  const store = (offset: number): number[] => [...simd(0x0b), 3, ...uleb(offset)];
  const f64Load = (offset: number): number[] => [0x2b, 3, ...uleb(offset)];
  const f64Store = [0x39, 3, 0];
  const splat = simd(0x14);
  const add = simd(0xf0);
  const sub = simd(0xf1);
  const mul = simd(0xf2);
  const lane = (l: number): number[] => [...simd(0x21), l];
  // Params 0 p0, 1 rowBytes, 2 v, 3 x (q or w), 4 vEnd, 5 coef; locals 6–8 p1…p3 (i32), then v128s.
  const rowPointers = [
    ...get(0),
    ...get(1),
    ...iadd,
    ...set(6),
    ...get(6),
    ...get(1),
    ...iadd,
    ...set(7),
    ...get(7),
    ...get(1),
    ...iadd,
    ...set(8),
  ];
  const ptr = (r: number): number => (r === 0 ? 0 : 5 + r);
  const advance = (locals: number[]): number[] =>
    locals.flatMap((l) => [...get(l), ...i32(16), ...iadd, ...set(l)]);
  const loopBack = [...get(2), ...get(4), 0x47, 0x0d, 0]; // br_if 0 (v != vEnd)

  // symv4: v128 locals 9–12 s0…s3, 13–16 c0…c3, 17 vj, 18–21 x0…x3.
  const symv: number[] = [...rowPointers];
  for (let r = 0; r < 4; r++) symv.push(...get(5), ...f64Load(8 * r), ...splat, ...set(13 + r));
  const symvLoop: number[] = [...get(2), ...load(0), ...set(17)];
  for (let r = 0; r < 4; r++) symvLoop.push(...get(ptr(r)), ...load(0), ...set(18 + r));
  for (let r = 0; r < 4; r++)
    symvLoop.push(...get(9 + r), ...get(18 + r), ...get(17), ...mul, ...add, ...set(9 + r));
  // q_j ← q_j + ((x0·c0 + x1·c1) + (x2·c2 + x3·c3))
  symvLoop.push(...get(3), ...get(3), ...load(0));
  symvLoop.push(...get(18), ...get(13), ...mul, ...get(19), ...get(14), ...mul, ...add);
  symvLoop.push(...get(20), ...get(15), ...mul, ...get(21), ...get(16), ...mul, ...add, ...add);
  symvLoop.push(...add, ...store(0));
  symvLoop.push(...advance([0, 6, 7, 8, 2, 3]), ...loopBack);
  symv.push(0x03, 0x40, ...symvLoop, 0x0b);
  for (let r = 0; r < 4; r++) {
    symv.push(...i32(8 * r), ...get(9 + r), ...lane(0), ...get(9 + r), ...lane(1), 0xa0, ...f64Store);
  }
  symv.push(0x0b);

  // rank2x4: v128 locals 9–12 c0…c3 (the v_r), 13–16 c4…c7 (the w_r), 17 vj, 18 wj.
  const rank: number[] = [...rowPointers];
  for (let r = 0; r < 8; r++) rank.push(...get(5), ...f64Load(8 * r), ...splat, ...set(9 + r));
  const rankLoop: number[] = [...get(2), ...load(0), ...set(17), ...get(3), ...load(0), ...set(18)];
  for (let r = 0; r < 4; r++) {
    // a ← (a − v_r·w_j) − w_r·v_j
    rankLoop.push(...get(ptr(r)), ...get(ptr(r)), ...load(0), ...get(9 + r), ...get(18), ...mul, ...sub);
    rankLoop.push(...get(13 + r), ...get(17), ...mul, ...sub, ...store(0));
  }
  rankLoop.push(...advance([0, 6, 7, 8, 2, 3]), ...loopBack);
  rank.push(0x03, 0x40, ...rankLoop, 0x0b, 0x0b);

  const locals = (v128s: number): number[] =>
    vec([
      [3, 0x7f],
      [v128s, 0x7b],
    ]);
  const symvFunc = [...locals(13), ...symv];
  const rankFunc = [...locals(10), ...rank];
  const params = vec([[0x7f], [0x7f], [0x7f], [0x7f], [0x7f], [0x7f]]);
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...params, ...vec([])]])),
    ...section(2, vec([[...name('e'), ...name('m'), 0x02, 0x00, 0x01]])),
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
function tridiagonalize(work: TridiagonalWorkspace, n: number, diag: Float64Array, sub: Float64Array): void {
  const { a, v, q, kernels } = work;
  for (let k = 0; k < n - 2; k++) {
    const m0 = k + 1;
    diag[k] = a[k * n + k] as number;
    // Scale the column first so that the norm cannot overflow or underflow.
    let scale = 0;
    for (let i = m0; i < n; i++) scale += Math.abs(a[i * n + k] as number);
    if (scale === 0) {
      sub[k] = 0;
      continue;
    }
    let sigma = 0;
    for (let i = m0; i < n; i++) {
      const x = (a[i * n + k] as number) / scale;
      sigma += x * x;
    }
    const norm = scale * Math.sqrt(sigma);
    const x0 = a[m0 * n + k] as number;
    // The sign choice avoids cancellation in v₀ = x₀ − α.
    const alpha = x0 > 0 ? -norm : norm;
    let vnorm2 = 0;
    for (let i = m0; i < n; i++) {
      const vi = (a[i * n + k] as number) - (i === m0 ? alpha : 0);
      v[i] = vi;
      vnorm2 += vi * vi;
    }
    const beta = 2 / vnorm2;
    symmetricLowerTimes(a, n, m0, v, q, kernels);
    let vq = 0;
    for (let i = m0; i < n; i++) vq += (v[i] as number) * (q[i] as number);
    const half = (beta * beta * vq) / 2;
    // Reuse q as w = βq − half·v.
    for (let i = m0; i < n; i++) q[i] = beta * (q[i] as number) - half * (v[i] as number);
    rankTwoUpdate(a, n, m0, v, q, kernels);
    sub[k] = alpha;
  }
  if (n >= 2) {
    diag[n - 2] = a[(n - 2) * n + (n - 2)] as number;
    sub[n - 2] = a[(n - 1) * n + (n - 2)] as number;
  }
  diag[n - 1] = a[n * n - 1] as number;
  sub[n - 1] = 0;
}

/**
 * q[m0..n) = A₂₂ v for the trailing block A₂₂ = A[m0.., m0..], reading only its lower triangle:
 * row i contributes A_ij·v_j to q_i and A_ij·v_i to q_j (j < i). Rows go four at a time, so each
 * v_j and q_j is loaded once per four matrix entries; the 4×4 corner on the diagonal is done
 * entry by entry. This product is half of the tridiagonalisation's flops.
 */
function symmetricLowerTimes(
  a: Float64Array,
  n: number,
  m0: number,
  v: Float64Array,
  q: Float64Array,
  kernels: TridiagonalKernels | null,
): void {
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
    let j = m0;
    if (kernels !== null && i - m0 >= 2) {
      // The even-length bulk of the row in the SIMD kernel, two columns per instruction.
      const even = m0 + ((i - m0) & ~1);
      const scratch = kernels.scratch;
      scratch[4] = v0;
      scratch[5] = v1;
      scratch[6] = v2;
      scratch[7] = v3;
      kernels.symv4(
        a.byteOffset + 8 * (r0 + m0),
        8 * n,
        v.byteOffset + 8 * m0,
        q.byteOffset + 8 * m0,
        v.byteOffset + 8 * even,
        32,
      );
      s0 = scratch[0] as number;
      s1 = scratch[1] as number;
      s2 = scratch[2] as number;
      s3 = scratch[3] as number;
      j = even;
    }
    for (; j < i; j++) {
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
function rankTwoUpdate(
  a: Float64Array,
  n: number,
  m0: number,
  v: Float64Array,
  w: Float64Array,
  kernels: TridiagonalKernels | null,
): void {
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
    let j = m0;
    if (kernels !== null) {
      // stop − m0 ≥ 4: the even-length bulk in the SIMD kernel (same operations, same order).
      const even = m0 + ((stop - m0) & ~1);
      const scratch = kernels.scratch;
      scratch[4] = v0;
      scratch[5] = v1;
      scratch[6] = v2;
      scratch[7] = v3;
      scratch[8] = w0;
      scratch[9] = w1;
      scratch[10] = w2;
      scratch[11] = w3;
      kernels.rank2x4(
        a.byteOffset + 8 * (r0 + m0),
        8 * n,
        v.byteOffset + 8 * m0,
        w.byteOffset + 8 * m0,
        v.byteOffset + 8 * even,
        32,
      );
      j = even;
    }
    for (; j < stop; j++) {
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
