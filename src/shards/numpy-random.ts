/**
 * numpy's `default_rng(seed).shuffle(list)`, bit for bit: SeedSequence → PCG64 (XSL-RR 128/64)
 * → `random_interval` draws, as numpy's C code does. `runlake shards convert` needs it to put
 * the same samples in train/val/test as synthefy-dataset-utils' converter with the same seed.
 */

const M32 = 0xffffffff;
const INIT_A = 0x43b0d7e5;
const MULT_A = 0x931e8875;
const INIT_B = 0x8b51f9dd;
const MULT_B = 0x58f38ded;
const MIX_MULT_L = 0xca01f9dd;
const MIX_MULT_R = 0x4973f715;
const POOL_SIZE = 4;
const M128 = (1n << 128n) - 1n;
const M64 = (1n << 64n) - 1n;
const PCG_MULT = 0x2360ed051fc65da44385df649fccf645n;

/** A non-negative integer seed as numpy splits it: 32-bit words, least significant first. */
function seedWords(seed: bigint): number[] {
  if (seed < 0n) throw new RangeError('seed must be non-negative');
  const words: number[] = [];
  let rest = seed;
  do {
    words.push(Number(rest & 0xffffffffn));
    rest >>= 32n;
  } while (rest > 0n);
  return words;
}

/** SeedSequence(seed).generate_state(n_words * 2, uint32) (no spawn key). */
function seedSequenceState(seed: bigint, words: number): number[] {
  const entropy = seedWords(seed);
  let hashConst = INIT_A;
  const hashmix = (value: number): number => {
    let v = (value ^ hashConst) >>> 0;
    hashConst = Math.imul(hashConst, MULT_A) >>> 0;
    v = Math.imul(v, hashConst) >>> 0;
    return (v ^ (v >>> 16)) >>> 0;
  };
  const mix = (x: number, y: number): number => {
    const r = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0;
    return (r ^ (r >>> 16)) >>> 0;
  };
  const pool: number[] = [];
  for (let i = 0; i < POOL_SIZE; i++) pool.push(hashmix(i < entropy.length ? (entropy[i] as number) : 0));
  for (let src = 0; src < POOL_SIZE; src++)
    for (let dst = 0; dst < POOL_SIZE; dst++)
      if (src !== dst) pool[dst] = mix(pool[dst] as number, hashmix(pool[src] as number));
  for (let src = POOL_SIZE; src < entropy.length; src++)
    for (let dst = 0; dst < POOL_SIZE; dst++)
      pool[dst] = mix(pool[dst] as number, hashmix(entropy[src] as number));
  let hashB = INIT_B;
  const out: number[] = [];
  for (let i = 0; i < words; i++) {
    let v = ((pool[i % POOL_SIZE] as number) ^ hashB) >>> 0;
    hashB = Math.imul(hashB, MULT_B) >>> 0;
    v = Math.imul(v, hashB) >>> 0;
    out.push((v ^ (v >>> 16)) >>> 0);
  }
  return out;
}

/**
 * numpy's `np.random.default_rng(seed)`: a PCG64 generator seeded through SeedSequence. Only the
 * draws `shuffle` needs are implemented.
 *
 * @example
 * ```ts
 * const rng = new NumpyRng(42);
 * rng.shuffle(items); // the order numpy's default_rng(42).shuffle(items) gives
 * ```
 */
export class NumpyRng {
  private state: bigint;
  private readonly inc: bigint;
  private spare: number | undefined;

  constructor(seed: number | bigint) {
    if (typeof seed === 'number' && !Number.isSafeInteger(seed))
      throw new RangeError(`seed must be an integer, got ${seed}`);
    const w = seedSequenceState(BigInt(seed), 8);
    const u64 = (i: number) => (BigInt(w[2 * i + 1] as number) << 32n) | BigInt(w[2 * i] as number);
    const initState = (u64(0) << 64n) | u64(1);
    const initSeq = (u64(2) << 64n) | u64(3);
    this.inc = ((initSeq << 1n) | 1n) & M128;
    this.state = 0n;
    this.step();
    this.state = (this.state + initState) & M128;
    this.step();
  }

  private step(): void {
    this.state = (this.state * PCG_MULT + this.inc) & M128;
  }

  /** The next 64-bit output (XSL-RR). */
  next64(): bigint {
    this.step();
    const s = this.state;
    const xored = ((s >> 64n) ^ s) & M64;
    const rot = Number(s >> 122n);
    return ((xored >> BigInt(rot)) | (xored << BigInt((64 - rot) & 63))) & M64;
  }

  /** The next 32-bit output: numpy hands out each 64-bit draw as two halves, low first. */
  next32(): number {
    if (this.spare !== undefined) {
      const spare = this.spare;
      this.spare = undefined;
      return spare;
    }
    const x = this.next64();
    this.spare = Number(x >> 32n);
    return Number(x & 0xffffffffn);
  }

  /** numpy's `random_interval(max)`: uniform in [0, max] by masked rejection. */
  interval(max: number): number {
    if (max === 0) return 0;
    let mask = max;
    for (let shift = 1; shift <= 16; shift <<= 1) mask |= mask >>> shift;
    if (max <= M32) {
      for (;;) {
        const value = (this.next32() & mask) >>> 0;
        if (value <= max) return value;
      }
    }
    const big = BigInt(max);
    let bigMask = big;
    for (let shift = 1n; shift <= 32n; shift <<= 1n) bigMask |= bigMask >> shift;
    for (;;) {
      const value = this.next64() & bigMask;
      if (value <= big) return Number(value);
    }
  }

  /** `Generator.shuffle` of a list (numpy's untyped path): Fisher-Yates from the end, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.interval(i);
      const t = items[i] as T;
      items[i] = items[j] as T;
      items[j] = t;
    }
    return items;
  }
}
