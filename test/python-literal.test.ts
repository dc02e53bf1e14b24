import { describe, expect, it } from 'vitest';
import { flattenPythonValue, PythonLiteralError, parsePythonLiteral } from '../src/index.js';

describe('parsePythonLiteral: Python dict text without eval', () => {
  it('reads the metrics dicts DataDecide exports', () => {
    const text =
      "{'primary_metric': 0.32383276483316237, 'acc_raw': 0.15, 'no_answer': 0, 'sum_logits_corr': -17.79, " +
      "'bits_per_byte_corr': nan, 'margin': -inf, 'total_prob': inf, 'task_name': 'arc_easy'}";
    expect(parsePythonLiteral(text)).toEqual({
      primary_metric: 0.32383276483316237,
      acc_raw: 0.15,
      no_answer: 0,
      sum_logits_corr: -17.79,
      bits_per_byte_corr: Number.NaN,
      margin: Number.NEGATIVE_INFINITY,
      total_prob: Number.POSITIVE_INFINITY,
      task_name: 'arc_easy',
    });
  });

  it('reads every scalar Python prints', () => {
    expect(parsePythonLiteral('True')).toBe(true);
    expect(parsePythonLiteral('False')).toBe(false);
    expect(parsePythonLiteral('None')).toBe(null);
    expect(parsePythonLiteral('NaN')).toBeNaN();
    expect(parsePythonLiteral('-Infinity')).toBe(Number.NEGATIVE_INFINITY);
    expect(parsePythonLiteral('1e-05')).toBe(1e-5);
    expect(parsePythonLiteral('-.5')).toBe(-0.5);
    expect(parsePythonLiteral('1_000')).toBe(1000);
    expect(parsePythonLiteral('123456789012345678901234567890')).toBe(123456789012345678901234567890n);
    expect(parsePythonLiteral('np.float64(0.25)')).toBe(0.25);
    expect(parsePythonLiteral('numpy.int64(7)')).toBe(7);
    expect(parsePythonLiteral('np.True_')).toBe(true);
    expect(parsePythonLiteral("float('nan')")).toBeNaN();
    expect(parsePythonLiteral("float('-inf')")).toBe(Number.NEGATIVE_INFINITY);
  });

  it('reads strings with escapes, both quotes, prefixes and triple quotes', () => {
    expect(parsePythonLiteral(String.raw`'it\'s'`)).toBe("it's");
    expect(parsePythonLiteral(`"say 'hi'"`)).toBe("say 'hi'");
    expect(parsePythonLiteral(String.raw`'tab\there\nnl \\ \x41\u00e9\U0001F600 \101'`)).toBe(
      'tab\there\nnl \\ Aé😀 A',
    );
    expect(parsePythonLiteral(String.raw`r'C:\path\n'`)).toBe(String.raw`C:\path\n`);
    expect(parsePythonLiteral("u'ünï'")).toBe('ünï');
    expect(parsePythonLiteral("'''multi\nline'''")).toBe('multi\nline');
    expect(parsePythonLiteral(String.raw`'\d'`)).toBe(String.raw`\d`); // unknown escapes stay
  });

  it('reads nested dicts, lists and tuples, trailing commas and non-string keys', () => {
    expect(
      parsePythonLiteral(
        "{'a': [1, 2.5, (3, 'x')], 'b': {'c': None}, 1: True, (1, 2): (), 'e': (5,), 'f': (6)}",
      ),
    ).toEqual({
      a: [1, 2.5, [3, 'x']],
      b: { c: null },
      '1': true,
      '(1, 2)': [],
      e: [5],
      f: 6,
    });
    expect(parsePythonLiteral('[1, 2, ]')).toEqual([1, 2]);
    expect(parsePythonLiteral("{'a': 1, 'a': 2}")).toEqual({ a: 2 }); // last wins, as in Python
    expect(parsePythonLiteral("  {'__proto__': 1}  ")).toEqual(JSON.parse('{"__proto__": 1}'));
  });

  it('refuses anything that is not a literal, naming the position', () => {
    const cases: Array<[string, number, RegExp]> = [
      ["{'a': 0.5, 'b': 0.9", 19, /not closed/],
      ["{'acc': }", 8, /unexpected character "}"/],
      ["{'a': __import__('os').system('x')}", 6, /"__import__" is not a literal/],
      ["{'a': 1 'b': 2}", 8, /expected "," or "}"/],
      ["{'a': 'unterminated}", 6, /string is not closed/],
      ['{1, 2}', 2, /sets are not supported/],
      ["{'a': 1} trailing", 9, /unexpected text after the literal/],
      ["b'bytes'", 0, /bytes literals are not supported/],
      ['', 0, /expected a value/],
      ["{'a': np.float64('x')}", 6, /does not wrap a matching literal/],
    ];
    for (const [text, position, reason] of cases) {
      let caught: unknown;
      try {
        parsePythonLiteral(text);
      } catch (error) {
        caught = error;
      }
      expect(caught, text).toBeInstanceOf(PythonLiteralError);
      expect((caught as PythonLiteralError).position, text).toBe(position);
      expect((caught as PythonLiteralError).message, text).toMatch(reason);
      expect((caught as PythonLiteralError).message, text).toMatch(/at character \d+ \(near /);
    }
  });

  it('refuses absurd nesting instead of overflowing the stack', () => {
    expect(() => parsePythonLiteral('['.repeat(5000))).toThrow(/nested deeper than/);
  });
});

describe('flattenPythonValue', () => {
  it('joins nested keys with dots and list items by index', () => {
    expect(
      flattenPythonValue(parsePythonLiteral("{'acc': 0.5, 'per': {'char': 0.4, 'k': [1, 2]}, 'e': {}}")),
    ).toEqual([
      ['acc', 0.5],
      ['per.char', 0.4],
      ['per.k.0', 1],
      ['per.k.1', 2],
    ]);
  });
});
