import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
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
import { attachGridId } from '../src/lake/grid-id-scheme.js';

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
// python3 is on every machine of this project; only a developer's unusual machine may lack it.
// In CI its absence must fail the run, not skip the parity tests.
const hasPython = spawnSync('python3', ['--version']).status === 0;
if (!hasPython && process.env.CI) throw new Error('python3 is required for the grid-id parity tests in CI');

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

/**
 * JSON text for the Python side. Unlike JSON.stringify it writes bigints as integer literals and
 * NaN / ±Infinity as the tokens Python's json module reads, so values TypeScript refuses reach
 * Python as the same values. Own enumerable keys only, `__proto__` included, as JSON.stringify.
 */
function toJsonText(value: unknown): string {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (Array.isArray(value))
    return `[${value.map((item) => (item === undefined ? 'null' : toJsonText(item))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const members = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${toJsonText(record[key])}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Sets `object[key]` as an own data property, even when `key` is `__proto__`. */
function setMember(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
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

/** A finite double (every one is a valid parameter value), biased to awkward cases. */
function randomParamDouble(rng: Rng): number {
  switch (rng.int(0, 8)) {
    case 0:
      return rng.next();
    case 1:
      return (rng.next() - 0.5) * 10 ** rng.int(-330, 308);
    case 2:
      return rng.int(1, 9999) * 10 ** rng.int(-12, 8);
    case 3:
      return rng.pick([
        0.1,
        0.2,
        0.3,
        1e-7,
        1e-6,
        1.5e-6,
        5e-324,
        1e-300,
        123456.789,
        0.30000000000000004,
        -0,
        2 ** 53,
        -(2 ** 53),
        2 ** 60,
        1e20,
        1e21,
        1e22,
        123456789012345680000,
        1.7976931348623157e308,
        -1e300,
      ]);
    case 4:
      return rng.int(-1000, 1000) / rng.pick([2, 3, 7, 10, 1024, 1e6]);
    case 5:
      // A whole double beyond 2^53: JSON.stringify writes it as an integer literal below 1e21.
      return rng.int(-9999, 9999) * 2 ** rng.int(40, 80);
    default:
      return randomBitsDouble(rng);
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
  return rng.next() < 0.5
    ? randomString(rng, 6)
    : rng.pick(['a', 'b', 'lr', '10', '9', 'é', '😀', '\uffff', '__proto__', 'constructor', 'toString']);
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
    case 6: {
      // Sometimes a bigint, which a double may or may not equal exactly (Python reads it as an
      // int); rarely a non-finite number. Both sides must refuse the same ones.
      const r = rng.next();
      if (r < 0.04)
        return rng.pick([
          2n ** 53n + 1n,
          -(2n ** 60n + 1n),
          10n ** 400n,
          Number.NaN,
          Number.NEGATIVE_INFINITY,
        ]);
      if (r < 0.08) return rng.pick([5n, -(2n ** 53n), 2n ** 60n, 10n ** 21n, 2n ** 1023n]);
      return 0;
    }
    case 7:
      return Array.from({ length: rng.int(0, 4) }, () => randomValue(rng, depth - 1));
    default:
      return randomObject(rng, depth - 1);
  }
}

/** An ordinary or a null-prototype object; members are defined, so `__proto__` is a real key. */
function randomObject(rng: Rng, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = rng.next() < 0.2 ? Object.create(null) : {};
  const size = rng.int(0, 5);
  for (let i = 0; i < size; i++) setMember(out, randomKey(rng), randomValue(rng, depth));
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
    [2 ** 53, '9007199254740992'],
    [2 ** 60, '1152921504606847000'],
    [2 ** 64, '18446744073709552000'],
    [-1e300, '-1e+300'],
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

  it('rejects Dates, Maps, class instances, functions and symbols, naming what they are', () => {
    class Config {
      lr = 0.1;
    }
    class Registry extends Map<string, number> {}
    const cases: [Params, string, string][] = [
      [{ when: new Date(0) }, 'when', 'a Date (store it as an ISO string)'],
      [{ m: { map: new Map() } }, 'm.map', 'a Map'],
      [{ m: { set: new Set([1]) } }, 'm.set', 'a Set'],
      [{ bytes: new Uint8Array(2) }, 'bytes', 'a Uint8Array'],
      [{ buf: new ArrayBuffer(2) }, 'buf', 'an ArrayBuffer'],
      [{ re: /x/ }, 're', 'a RegExp'],
      [{ cfg: [new Config()] }, 'cfg[0]', 'a Config instance'],
      [{ reg: new Registry() }, 'reg', 'a Registry instance'],
      [{ odd: Object.create({ inherited: 1 }) }, 'odd', 'an object with a custom prototype'],
      [{ f: () => 1 }, 'f', 'a function'],
      [{ s: Symbol('x') }, 's', 'a symbol'],
    ];
    for (const [params, path, kind] of cases) {
      const e = paramsError(() => canonicalizeParams(params));
      expect(e.path).toBe(path);
      expect(e.message).toBe(`params.${path}: ${kind} is not a JSON value`);
    }
  });

  it('refuses a parameter set that is not a plain object, without a dangling "params.:"', () => {
    class Config {
      lr = 0.1;
    }
    const cases: [unknown, string][] = [
      [new Config(), 'a Config instance'],
      [[], 'an array'],
      [null, 'null'],
      ['lr=0.1', 'a string'],
      [new Map(), 'a Map'],
    ];
    for (const [params, kind] of cases) {
      const e = paramsError(() => canonicalizeParams(params as Params));
      expect(e.path).toBe('');
      expect(e.message).toBe(`params: must be a plain object, not ${kind}`);
      expect(e.stack).toContain('params: must be a plain object');
    }
  });

  it('refuses symbol keys instead of silently ignoring them', () => {
    const key = Symbol('k');
    let e = paramsError(() => canonicalizeParams({ [key]: 1, a: 1 }));
    expect(e.path).toBe('Symbol(k)');
    expect(e.message).toBe('params.Symbol(k): a symbol key is not a JSON object key (keys must be strings)');
    e = paramsError(() => canonicalizeParams({ a: [{ b: { [key]: 'x' } }] }));
    expect(e.path).toBe('a[0].b.Symbol(k)');
    // Non-enumerable members, symbol or string, are not part of the value (as in JSON.stringify).
    const hidden = { lr: 0.1 };
    Object.defineProperty(hidden, key, { value: 1, enumerable: false });
    Object.defineProperty(hidden, 'secret', { value: 1, enumerable: false });
    expect(canonicalJson(canonicalizeParams({ hidden }))).toBe('{"hidden":{"lr":0.1}}');
  });

  it('accepts objects without a prototype', () => {
    const bare = Object.assign(Object.create(null) as Params, { b: 1, a: 2 });
    expect(canonicalJson(canonicalizeParams({ x: bare }))).toBe('{"x":{"a":2,"b":1}}');
    const top = Object.assign(Object.create(null) as Params, { seed: 1, lr: 0.1 });
    expect(canonicalJson(canonicalizeParams(top))).toBe('{"lr":0.1}');
    expect(gridHash(top)).toBe(gridHash({ lr: 0.1 }));
  });

  it('keeps a __proto__ key, at the top level and nested', () => {
    const top = JSON.parse('{"__proto__":{"a":1},"b":2}') as Params;
    expect(Object.keys(top)).toEqual(['__proto__', 'b']);
    const canonical = canonicalizeParams(top);
    expect(canonicalJson(canonical)).toBe('{"__proto__":{"a":1},"b":2}');
    expect(Object.getPrototypeOf(canonical)).toBeNull();
    expect(Object.keys(canonical)).toEqual(['__proto__', 'b']);
    expect(Object.getOwnPropertyDescriptor(canonical, '__proto__')?.value).toEqual({ a: 1 });
    expect(gridHash(top)).not.toBe(gridHash({ b: 2 }));
    expect(fullParamsHash(top)).not.toBe(fullParamsHash(JSON.parse('{"__proto__":{"a":2},"b":2}')));

    const nested = JSON.parse('{"x":{"__proto__":[1,{"__proto__":null}],"y":1},"seed":3}') as Params;
    expect(canonicalJson(canonicalizeParams(nested))).toBe(
      '{"x":{"__proto__":[1,{"__proto__":null}],"y":1}}',
    );
    expect(gridHash(nested)).not.toBe(gridHash({ x: { y: 1 } }));

    // Defined on a null-prototype object, as a runner building params by hand might.
    const bare = Object.create(null) as Params;
    // biome-ignore lint/suspicious/noProto: on a null-prototype object this is a plain member, which is the point
    bare.__proto__ = 'plain member';
    bare.a = 1;
    expect(canonicalJson(canonicalizeParams({ bare }))).toBe('{"bare":{"__proto__":"plain member","a":1}}');

    // canonicalJson also reads ordinary objects holding an own __proto__ member (as JSON.parse makes them).
    expect(canonicalJson(top as Record<string, CanonicalValue>)).toBe('{"__proto__":{"a":1},"b":2}');

    // Not a volatile key, and attachGridId keeps it.
    const attached = attachGridId(top);
    expect(Object.keys(attached).sort()).toEqual(['__proto__', 'b', 'grid_id']);
    expect(attached.grid_id).toBe(gridHash(top));
    expect(gridHash(attached)).toBe(gridHash(top));
  });

  it('canonical objects all have a null prototype and serialise like JSON.stringify would', () => {
    const canonical = canonicalizeParams({ a: { b: [{ c: 1 }] }, d: {} });
    expect(Object.getPrototypeOf(canonical)).toBeNull();
    const a = canonical.a as Record<string, CanonicalValue>;
    expect(Object.getPrototypeOf(a)).toBeNull();
    expect(Object.getPrototypeOf((a.b as CanonicalValue[])[0])).toBeNull();
    expect(canonicalJson(canonical)).toBe(JSON.stringify(canonical));
    // Canonicalizing a canonical value changes nothing.
    expect(canonicalJson(canonicalizeParams(canonical))).toBe(canonicalJson(canonical));
  });

  it('accepts every finite double, whole numbers beyond 2^53 included', () => {
    const params = {
      a: 2 ** 53,
      b: -(2 ** 53),
      c: 2 ** 60,
      d: 1e20,
      e: 1e21,
      f: 1.7976931348623157e308,
      g: -1e300,
      h: [2 ** 53 + 2],
    };
    expect(canonicalizeParams(params)).toEqual(params);
    expect(canonicalJson(canonicalizeParams(params))).toBe(
      '{"a":9007199254740992,"b":-9007199254740992,"c":1152921504606847000,"d":100000000000000000000,' +
        '"e":1e+21,"f":1.7976931348623157e+308,"g":-1e+300,"h":[9007199254740994]}',
    );
    // 1e21 and 10 ** 21 are the same double.
    expect(gridHash({ x: 1e21 })).toBe(gridHash({ x: 10 ** 21 }));
  });

  it('turns bigints a double equals exactly into that double and rejects the rest', () => {
    expect(
      canonicalizeParams({ a: 5n, b: -(2n ** 53n - 1n), c: 2n ** 53n, d: 2n ** 60n, e: 10n ** 21n }),
    ).toEqual({
      a: 5,
      b: -(2 ** 53 - 1),
      c: 2 ** 53,
      d: 2 ** 60,
      e: 1e21,
    });
    expect(canonicalizeParams({ max: (2n ** 1023n * (2n ** 53n - 1n)) / 2n ** 52n, zero: -0n })).toEqual({
      max: 1.7976931348623157e308,
      zero: 0,
    });
    expect(gridHash({ a: 5n })).toBe(gridHash({ a: 5 }));
    expect(gridHash({ a: 2n ** 60n })).toBe(gridHash({ a: 2 ** 60 }));

    let e = paramsError(() => canonicalizeParams({ a: { b: [0, 0, 2n ** 53n + 1n] } }));
    expect(e.path).toBe('a.b[2]');
    expect(e.message).toBe(
      'params.a.b[2]: integer 9007199254740993 is not exactly representable as an IEEE-754 double',
    );
    e = paramsError(() => canonicalizeParams({ a: -(2n ** 53n + 1n) }));
    expect(e.path).toBe('a');
    expect(e.message).toContain(
      'integer -9007199254740993 is not exactly representable as an IEEE-754 double',
    );
    // Beyond the double range (Number() would give Infinity): named by size, not by 400 digits.
    e = paramsError(() => canonicalizeParams({ big: [10n ** 400n] }));
    expect(e.path).toBe('big[0]');
    expect(e.message).toBe(
      'params.big[0]: an integer of 1329 bits is not exactly representable as an IEEE-754 double',
    );
    expect(paramsError(() => canonicalizeParams({ a: -(2n ** 1024n) })).message).toContain(
      'a negative integer of 1025 bits',
    );
  });

  it('names members of a top-level key "" with a leading dot, as Python does', () => {
    expect(paramsError(() => canonicalizeParams({ '': { x: Number.NaN } })).path).toBe('.x');
    expect(paramsError(() => canonicalizeParams({ '': Number.NaN })).path).toBe('');
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
    const result = runPython(['--vectors'], toJsonText(all));
    expect(result.stderr).toBe('');
    const outcomes = JSON.parse(result.stdout) as Outcome[];
    expect(outcomes).toHaveLength(all.length);

    let refused = 0;
    let withProto = 0;
    let bigWholeDoubles = 0;
    all.forEach((params, i) => {
      const expected = tsOutcome(params);
      const text = toJsonText(params);
      if (text.includes('"__proto__":')) withProto++;
      if (/[:,[]-?\d{17,}[,\]}]|e\+/.test(text)) bigWholeDoubles++;
      if ('error' in expected) refused++;
      // Same grid id, hash and canonical text, or the same error at the same path.
      expect(outcomes[i], `vector ${i}: ${text}`).toEqual(expected);
    });
    expect(result.status).toBe(refused > 0 ? 1 : 0);
    // Most random sets are accepted; a few hold an inexact bigint or a non-finite number.
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThan(all.length / 4);
    expect(withProto).toBeGreaterThan(10);
    expect(bigWholeDoubles).toBeGreaterThan(10);
  });

  it('keeps __proto__ keys, at the top level and nested', () => {
    for (const text of ['{"__proto__":{"a":1},"b":2}', '{"x":[{"__proto__":{"__proto__":0.5}}],"seed":1}']) {
      const params = JSON.parse(text) as Params;
      const result = runPython(['--json'], text);
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe(`${canonicalJson(canonicalizeParams(params))}\n`);
      expect(result.stdout).toContain('"__proto__":{');
      expect(runPython([], text).stdout).toBe(`${gridHash(params)}\n`);
    }
  });

  it('accepts whole doubles beyond 2^53 and exact integers, as TypeScript does', () => {
    const text =
      '{"a": 1e21, "b": 9007199254740992, "c": 1152921504606847000, "d": 1.7976931348623157e308, ' +
      '"e": -1e300, "f": 1000000000000000000000, "g": 1152921504606846976, "h": 9007199254740992.0}';
    const params = JSON.parse(text) as Params;
    const result = runPython(['--json'], text);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`${canonicalJson(canonicalizeParams(params))}\n`);
    expect(runPython([], text).stdout).toBe(`${gridHash(params)}\n`);
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
    ['2^53 + 1', '{"n": 9007199254740993}', 'n'],
    ['-(2^53 + 1)', '{"n": [-9007199254740993]}', 'n[0]'],
    ['a huge int', '{"a": {"b": [0, 0, 123456789012345678901234567890]}}', 'a.b[2]'],
    ['an int beyond the double range', `{"x": {"y": 1${'0'.repeat(400)}}}`, 'x.y'],
  ])('rejects %s with a non-zero exit naming the path', (_label, input, path) => {
    for (const args of [[], ['--json']]) {
      const result = runPython(args, input);
      expect(result.status).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`params.${path}:`);
      if (!/NaN|Infinity|1e400/.test(input)) {
        expect(result.stderr).toContain('is not exactly representable as an IEEE-754 double');
      }
    }
  });

  it('says "params: ..." for input that is not an object', () => {
    const result = runPython([], '[1, 2]');
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('runlake_grid_id: params: must be a dict, not a list\n');
  });

  it('refuses the same inputs as TypeScript, with the same message', () => {
    const inputs: Params[] = [
      { opt: { betas: [0.9, Number.NaN] } },
      { lr: Number.POSITIVE_INFINITY },
      { n: 2n ** 53n + 1n },
      { a: { b: [0, 0, -(2n ** 53n + 1n)] } },
      { __proto__: null, x: { y: [10n ** 400n] } } as Params,
    ];
    for (const params of inputs) {
      const expected = tsOutcome(params);
      expect('error' in expected).toBe(true);
      // JSON has no NaN, Infinity or bigint; toJsonText writes what Python's json module reads.
      const text = toJsonText(params);
      const result = runPython([], text);
      expect(result.status, text).toBe(1);
      if ('error' in expected) expect(result.stderr).toBe(`runlake_grid_id: ${expected.error}\n`);
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
