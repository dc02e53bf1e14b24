import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  attachGridId,
  type CanonicalValue,
  canonicalizeParams,
  canonicalJson,
  DEFAULT_VOLATILE_KEYS,
  fullParamsHash,
  GRID_ID_LENGTH,
  gridHash,
  type Params,
} from '../src/lake/canonical-params.js';
import { ParamsError } from '../src/lake/errors.js';

interface Vector {
  name: string;
  params: Params;
  grid_id: string;
  hash: string;
  canonical: string;
}

type Outcome = { grid_id: string; hash: string; canonical: string } | { error: string; path: string };

const vectors = JSON.parse(
  readFileSync(new URL('./fixtures/grid-id-vectors.json', import.meta.url), 'utf8'),
) as Vector[];

const pythonScript = fileURLToPath(new URL('../examples/python/runlake_grid_id.py', import.meta.url));
const hasPython = spawnSync('python3', ['--version']).status === 0;

function runPython(args: string[], input: string) {
  const result = spawnSync('python3', [pythonScript, ...args], {
    input,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return result;
}

/** What the TypeScript implementation says about one parameter set, in the Python `--vectors` shape. */
function tsOutcome(params: Params): Outcome {
  try {
    const canonical = canonicalJson(canonicalizeParams(params));
    return { grid_id: gridHash(params), hash: fullParamsHash(params), canonical };
  } catch (e) {
    if (e instanceof ParamsError) return { error: e.message, path: e.path };
    throw e;
  }
}

function paramsError(fn: () => unknown): ParamsError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ParamsError) return e;
    throw e;
  }
  throw new Error('expected a ParamsError');
}

// --- seeded random inputs ---------------------------------------------------------------------

/** mulberry32: a small deterministic PRNG, so failures reproduce. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)] as T;
  return { next, int, pick };
}

type Rng = ReturnType<typeof prng>;

/** Any finite double, from 64 random bits: covers every exponent, subnormals included. */
function randomBitsDouble(rng: Rng): number {
  const view = new DataView(new ArrayBuffer(8));
  for (;;) {
    view.setUint32(0, rng.int(0, 0xffffffff));
    view.setUint32(4, rng.int(0, 0xffffffff));
    const x = view.getFloat64(0);
    if (Number.isFinite(x)) return x;
  }
}

/** A double a parameter set may hold (not an integer beyond ±(2^53 - 1)), biased to awkward cases. */
function randomParamDouble(rng: Rng): number {
  for (;;) {
    let x: number;
    switch (rng.int(0, 7)) {
      case 0:
        x = rng.next();
        break;
      case 1:
        x = (rng.next() - 0.5) * 10 ** rng.int(-330, 16);
        break;
      case 2:
        x = rng.int(1, 9999) * 10 ** rng.int(-12, 8);
        break;
      case 3:
        x = rng.pick([
          0.1, 0.2, 0.3, 1e-7, 1e-6, 1.5e-6, 5e-324, 1e-300, 123456.789, 0.30000000000000004, -0,
        ]);
        break;
      case 4:
        x = rng.int(-1000, 1000) / rng.pick([2, 3, 7, 10, 1024, 1e6]);
        break;
      default:
        x = randomBitsDouble(rng);
    }
    if (!(Number.isInteger(x) && Math.abs(x) > Number.MAX_SAFE_INTEGER)) return x;
  }
}

function randomInt(rng: Rng): number {
  switch (rng.int(0, 2)) {
    case 0:
      return rng.int(-10, 1000);
    case 1:
      return rng.int(-(2 ** 31), 2 ** 31);
    default: {
      const x = Math.floor(rng.next() * 2 ** 21) * 2 ** 32 + rng.int(0, 0xffffffff);
      return rng.next() < 0.5 ? -x : x;
    }
  }
}

/** A string of random UTF-16 code units: ASCII, controls, Latin-1, BMP, astral pairs, lone surrogates. */
function randomString(rng: Rng, maxLength = 8): string {
  let s = '';
  const length = rng.int(0, maxLength);
  for (let i = 0; i < length; i++) {
    switch (rng.int(0, 9)) {
      case 0:
        s += String.fromCharCode(rng.int(0, 0x1f));
        break;
      case 1:
        s += rng.pick(['"', '\\', '/', '\u007f', '\u2028', '\u2029', '\ufeff', '\uffff']);
        break;
      case 2:
        s += String.fromCharCode(rng.int(0x80, 0x7ff));
        break;
      case 3:
        s += String.fromCharCode(rng.int(0x800, 0xd7ff));
        break;
      case 4:
        s += String.fromCharCode(rng.int(0xe000, 0xffff));
        break;
      case 5:
        s += String.fromCodePoint(rng.int(0x10000, 0x10ffff));
        break;
      case 6:
        s += String.fromCharCode(rng.int(0xd800, 0xdfff)); // lone surrogate (or, by chance, a pair)
        break;
      default:
        s += String.fromCharCode(rng.int(0x20, 0x7e));
    }
  }
  return s;
}

function randomKey(rng: Rng): string {
  for (;;) {
    const key =
      rng.next() < 0.5 ? randomString(rng, 6) : rng.pick(['a', 'b', 'lr', '10', '9', 'é', '😀', '\uffff']);
    if (key !== '__proto__') return key;
  }
}

function randomValue(rng: Rng, depth: number): unknown {
  const kind = rng.int(0, depth > 0 ? 9 : 6);
  switch (kind) {
    case 0:
    case 1:
      return randomParamDouble(rng);
    case 2:
      return randomInt(rng);
    case 3:
      return randomString(rng);
    case 4:
      return rng.next() < 0.5;
    case 5:
      return null;
    case 6:
      // Occasionally a value both sides must refuse: an integer beyond ±(2^53 - 1).
      return rng.next() < 0.1
        ? rng.pick([2 ** 53, -(2 ** 53), 2 ** 60 + 2 ** 9, 1e21, 1.7976931348623157e308])
        : 0;
    case 7:
      return Array.from({ length: rng.int(0, 4) }, () => randomValue(rng, depth - 1));
    default:
      return randomObject(rng, depth - 1);
  }
}

function randomObject(rng: Rng, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const size = rng.int(0, 5);
  for (let i = 0; i < size; i++) out[randomKey(rng)] = randomValue(rng, depth);
  return out;
}

function randomParams(rng: Rng): Params {
  const params = randomObject(rng, 3);
  if (rng.next() < 0.3) params[rng.pick(DEFAULT_VOLATILE_KEYS)] = randomValue(rng, 1);
  return params;
}

// --- tests ------------------------------------------------------------------------------------

describe('grid id golden vectors', () => {
  it('has a healthy fixture', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(40);
    expect(new Set(vectors.map((v) => v.name)).size).toBe(vectors.length);
  });

  it.each(vectors.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    expect(canonicalJson(canonicalizeParams(v.params))).toBe(v.canonical);
    expect(fullParamsHash(v.params)).toBe(v.hash);
    expect(gridHash(v.params)).toBe(v.grid_id);
    expect(v.hash.startsWith(v.grid_id)).toBe(true);
  });
});

describe('canonicalJson number formatting (ECMAScript Number::toString)', () => {
  it.each([
    [1, '1'],
    [0.1, '0.1'],
    [1e-7, '1e-7'],
    [1e-6, '0.000001'],
    [1.5e-6, '0.0000015'],
    [1e20, '100000000000000000000'],
    [1e21, '1e+21'],
    [123456789012345680000, '123456789012345680000'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [5e-324, '5e-324'],
    [1e-300, '1e-300'],
    [-1.5e-7, '-1.5e-7'],
    [2 ** 53 - 1, '9007199254740991'],
    [0.30000000000000004, '0.30000000000000004'],
    [123456.789, '123456.789'],
  ])('%s -> %s', (x, text) => {
    expect(canonicalJson(x)).toBe(text);
  });
});

describe('canonicalizeParams', () => {
  it('does not depend on key order', () => {
    const a = { lr: 0.1, model: { width: 64, depth: 2 }, tags: ['x', 'y'] };
    const b = { tags: ['x', 'y'], model: { depth: 2, width: 64 }, lr: 0.1 };
    expect(canonicalJson(canonicalizeParams(a))).toBe(canonicalJson(canonicalizeParams(b)));
    expect(gridHash(a)).toBe(gridHash(b));
    expect(canonicalJson(canonicalizeParams(a))).toBe(
      '{"lr":0.1,"model":{"depth":2,"width":64},"tags":["x","y"]}',
    );
  });

  it('sorts integer-like keys as strings, not numerically', () => {
    expect(canonicalJson(canonicalizeParams({ 10: 'a', 9: 'b', a: 'c' }))).toBe('{"10":"a","9":"b","a":"c"}');
  });

  it('keeps array order', () => {
    expect(gridHash({ m: [1, 2] })).not.toBe(gridHash({ m: [2, 1] }));
  });

  it('treats 1 and 1.0 alike', () => {
    expect(gridHash(JSON.parse('{"x": 1.0}'))).toBe(gridHash(JSON.parse('{"x": 1}')));
    expect(canonicalJson(canonicalizeParams(JSON.parse('{"x": 1.0, "y": 1e2}')))).toBe('{"x":1,"y":100}');
  });

  it('turns -0 into 0', () => {
    const c = canonicalizeParams({ a: -0, b: [-0], c: { d: -0 } });
    expect(Object.is(c.a, 0)).toBe(true);
    expect(Object.is((c.b as number[])[0], 0)).toBe(true);
    expect(canonicalJson(c)).toBe('{"a":0,"b":[0],"c":{"d":0}}');
    expect(gridHash({ a: -0 })).toBe(gridHash({ a: 0 }));
  });

  it.each([
    ['NaN', { opt: { betas: [0.9, Number.NaN] } }, 'opt.betas[1]'],
    ['Infinity', { lr: Number.POSITIVE_INFINITY }, 'lr'],
    ['-Infinity', { layers: [{ k: 1 }, { scale: Number.NEGATIVE_INFINITY }] }, 'layers[1].scale'],
  ])('rejects %s with a ParamsError naming the path', (_label, params, path) => {
    const e = paramsError(() => canonicalizeParams(params));
    expect(e.path).toBe(path);
    expect(e.message).toContain(`params.${path}:`);
    expect(e.message).toContain('not a finite number');
    expect(() => gridHash(params)).toThrow(ParamsError);
  });

  it('drops volatile keys only at the top level', () => {
    const params = { seed: 1, run_name: 'a', out_dir: '/x', lr: 0.1, sub: { seed: 2, out_dir: '/y' } };
    expect(canonicalJson(canonicalizeParams(params))).toBe('{"lr":0.1,"sub":{"out_dir":"/y","seed":2}}');
    expect(gridHash({ ...params, seed: 99, run_name: 'b' })).toBe(gridHash(params));
    expect(gridHash({ ...params, sub: { seed: 3, out_dir: '/y' } })).not.toBe(gridHash(params));
    for (const key of DEFAULT_VOLATILE_KEYS) expect(canonicalizeParams({ [key]: 1, k: 2 })).toEqual({ k: 2 });
  });

  it('accepts a custom volatile key list', () => {
    const params = { seed: 1, host: 'node-7', lr: 0.1 };
    expect(canonicalizeParams(params, { volatileKeys: ['host'] })).toEqual({ lr: 0.1, seed: 1 });
    expect(canonicalizeParams(params, { volatileKeys: [...DEFAULT_VOLATILE_KEYS, 'host'] })).toEqual({
      lr: 0.1,
    });
    expect(canonicalizeParams(params, { volatileKeys: [] })).toEqual({ host: 'node-7', lr: 0.1, seed: 1 });
    expect(gridHash(params, { volatileKeys: new Set(['host', 'seed']) })).toBe(gridHash({ lr: 0.1 }));
  });

  it('drops undefined members and turns undefined array items into null', () => {
    expect(canonicalizeParams({ a: undefined, b: 1, c: { d: undefined } })).toEqual({ b: 1, c: {} });
    expect(canonicalJson(canonicalizeParams({ a: [1, undefined, 2] }))).toBe('{"a":[1,null,2]}');
    expect(gridHash({ a: undefined, b: 1 })).toBe(gridHash({ b: 1 }));
  });

  it('rejects Dates, Maps, class instances, functions and symbols', () => {
    class Config {
      lr = 0.1;
    }
    expect(paramsError(() => canonicalizeParams({ when: new Date(0) })).message).toContain('ISO string');
    expect(paramsError(() => canonicalizeParams({ m: { map: new Map() } })).path).toBe('m.map');
    expect(paramsError(() => canonicalizeParams({ cfg: [new Config()] })).path).toBe('cfg[0]');
    expect(paramsError(() => canonicalizeParams({ f: () => 1 })).path).toBe('f');
    expect(paramsError(() => canonicalizeParams({ s: Symbol('x') })).path).toBe('s');
    expect(() => canonicalizeParams(new Config() as unknown as Params)).toThrow(ParamsError);
    expect(() => canonicalizeParams([] as unknown as Params)).toThrow(ParamsError);
  });

  it('accepts objects without a prototype', () => {
    const bare = Object.assign(Object.create(null) as Params, { b: 1, a: 2 });
    expect(canonicalJson(canonicalizeParams({ x: bare }))).toBe('{"x":{"a":2,"b":1}}');
  });

  it('turns bigints in range into numbers and rejects the rest', () => {
    expect(canonicalizeParams({ a: 5n, b: -(2n ** 53n - 1n) })).toEqual({ a: 5, b: -(2 ** 53 - 1) });
    expect(gridHash({ a: 5n })).toBe(gridHash({ a: 5 }));
    expect(paramsError(() => canonicalizeParams({ a: { b: [0, 2n ** 53n] } })).path).toBe('a.b[1]');
    expect(paramsError(() => canonicalizeParams({ a: -(2n ** 53n) })).path).toBe('a');
  });

  it('rejects integers beyond ±(2^53 - 1)', () => {
    expect(canonicalizeParams({ a: 2 ** 53 - 1, b: -(2 ** 53 - 1) })).toEqual({
      a: 2 ** 53 - 1,
      b: -(2 ** 53 - 1),
    });
    for (const x of [2 ** 53, -(2 ** 53), 2 ** 60, 1e21]) {
      const e = paramsError(() => canonicalizeParams({ n: [x] }));
      expect(e.path).toBe('n[0]');
      expect(e.message).toContain('2^53');
    }
  });

  it('attachGridId is idempotent and overwrites a stale grid_id', () => {
    const once = attachGridId({ algo: 'memorypair', gamma_bar: 1.0, seed: 3 });
    const twice = attachGridId(once);
    expect(twice.grid_id).toBe(once.grid_id);
    expect(twice).toEqual(once);
    expect(once.seed).toBe(3);
    expect(attachGridId({ ...once, grid_id: 'deadbeef' }).grid_id).toBe(once.grid_id);
  });

  it('gridHash is the first 8 lowercase hex characters of the full SHA-256', () => {
    const params = { lr: 0.1 };
    expect(GRID_ID_LENGTH).toBe(8);
    expect(gridHash(params)).toMatch(/^[0-9a-f]{8}$/);
    expect(fullParamsHash(params)).toMatch(/^[0-9a-f]{64}$/);
    expect(fullParamsHash(params).slice(0, 8)).toBe(gridHash(params));
  });

  it('does not mutate its input', () => {
    const params = { seed: 1, b: { y: -0, x: [2, 1] } };
    const copy = structuredClone(params);
    canonicalizeParams(params);
    attachGridId(params);
    expect(params).toEqual(copy);
  });
});

describe.skipIf(!hasPython)('Python parity (examples/python/runlake_grid_id.py)', () => {
  it('matches the TypeScript implementation on the fixture and 500 random parameter sets', () => {
    const rng = prng(0x5eed1234);
    const all: Params[] = [
      ...vectors.map((v) => v.params),
      ...Array.from({ length: 500 }, () => randomParams(rng)),
    ];
    const result = runPython(['--vectors'], JSON.stringify(all));
    expect(result.stderr).toBe('');
    const outcomes = JSON.parse(result.stdout) as Outcome[];
    expect(outcomes).toHaveLength(all.length);

    let refused = 0;
    all.forEach((params, i) => {
      const expected = tsOutcome(params);
      const actual = outcomes[i] as Outcome;
      const context = `vector ${i}: ${JSON.stringify(params)}`;
      if ('error' in expected) {
        refused++;
        expect(actual, context).toMatchObject({ path: expected.path });
        expect('error' in actual, context).toBe(true);
      } else {
        expect(actual, context).toEqual(expected);
      }
    });
    expect(result.status).toBe(refused > 0 ? 1 : 0);
    // Most random sets are accepted, a few hold an out-of-range integer.
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThan(all.length / 4);
  });

  it('formats 300 random doubles of every magnitude exactly like canonicalJson', () => {
    const rng = prng(0xd0b1e);
    const values: CanonicalValue[] = [
      1e21,
      1e20,
      123456789012345680000,
      1.7976931348623157e308,
      -1.7976931348623157e308,
      2 ** 53,
      2 ** 64,
      1e-7,
      1e-6,
      5e-324,
      2.2250738585072014e-308,
      ...Array.from({ length: 150 }, () => randomBitsDouble(rng)),
      ...Array.from({ length: 150 }, () => randomParamDouble(rng)),
      { nested: [1e300, -0, 0.1], b: 1e-100 },
    ];
    const result = runPython(['--values'], JSON.stringify(values));
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(values.map((v) => canonicalJson(v)));
  });

  it.each([
    ['NaN', '{"opt": {"betas": [0.9, NaN]}}', 'opt.betas[1]'],
    ['Infinity', '{"lr": Infinity}', 'lr'],
    ['-Infinity', '{"layers": [{"k": 1}, {"scale": -Infinity}]}', 'layers[1].scale'],
    ['an overflowing float', '{"x": 1e400}', 'x'],
    ['2^53', '{"n": 9007199254740992}', 'n'],
    ['a huge int', '{"a": {"b": [0, 0, 123456789012345678901234567890]}}', 'a.b[2]'],
    ['an integral float beyond 2^53', '{"x": 1e21}', 'x'],
  ])('rejects %s with a non-zero exit naming the path', (_label, input, path) => {
    for (const args of [[], ['--json']]) {
      const result = runPython(args, input);
      expect(result.status).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`params.${path}:`);
    }
  });

  it('refuses the same inputs as TypeScript, at the same path', () => {
    const inputs: Params[] = [
      { opt: { betas: [0.9, Number.NaN] } },
      { lr: Number.POSITIVE_INFINITY },
      { n: 2 ** 53 },
      { a: { b: [0, 0, 1e21] } },
    ];
    for (const params of inputs) {
      const expected = tsOutcome(params);
      expect('error' in expected).toBe(true);
      // JSON has no NaN or Infinity; Python's json module reads these tokens.
      const text = JSON.stringify(params, (_k, v: unknown) =>
        typeof v === 'number' && !Number.isFinite(v) ? `@@${v}@@` : v,
      ).replace(/"@@(-?\w+)@@"/g, '$1');
      const result = runPython([], text);
      expect(result.status, text).toBe(1);
      if ('error' in expected) expect(result.stderr).toContain(`params.${expected.path}:`);
    }
  });

  it('prints the grid id and the canonical JSON from the command line', () => {
    const v = vectors.find((x) => x.name === 'typical training config') as Vector;
    const input = JSON.stringify(v.params);
    expect(runPython([], input).stdout).toBe(`${v.grid_id}\n`);
    expect(runPython(['--json'], input).stdout).toBe(`${v.canonical}\n`);
  });

  it('passes its own doctests', () => {
    const result = spawnSync('python3', ['-B', '-m', 'doctest', pythonScript], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
