import {
  Dictionary,
  Float64,
  Int32,
  Int64,
  makeData,
  makeVector,
  Table,
  TimestampMicrosecond,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { compareCodePoints } from '../../lake/python-json.js';
import { metricSplit } from '../wandb-history.js';
import type { MetricsRecord } from './frame.js';

/**
 * The points of metrics records as a `metrics_scalar` Arrow table, without a JavaScript value per
 * point: `run_id`, `metric_name` and `split` are dictionary columns (codes remapped from each
 * record's name indexes), `step` and `value` the records' own typed arrays concatenated, and
 * `wall_time` microseconds since the epoch. The lake stages dictionaries and numbers by memory
 * copies, so a fold costs a few typed-array passes per point.
 *
 * @example
 * ```ts
 * await lake.write('metrics_scalar', metricTable(records), { fileStem: 'track-7' });
 * ```
 */
export function metricTable(records: readonly MetricsRecord[]): Table {
  let total = 0;
  for (const r of records) total += r.step.length;
  const runCodes = new Int32Array(total);
  const nameCodes = new Int32Array(total);
  const splitCodes = new Int32Array(total);
  const splitValid = new Uint8Array((total + 7) >> 3);
  const step = new BigInt64Array(total);
  const value = new Float64Array(total);
  const micros = new BigInt64Array(total);
  const runs = new WordCodes();
  const names = new WordCodes();
  const splits = new WordCodes();
  let splitNulls = 0;
  let at = 0;
  let lastSeconds = Number.NaN;
  let lastMicros = 0n;
  for (const r of records) {
    const run = runs.code(r.runId);
    const nameMap = Int32Array.from(r.names, (n) => names.code(n));
    const splitMap = Int32Array.from(r.names, (n) => {
      const split = r.split ?? metricSplit(n);
      return split === null ? -1 : splits.code(split);
    });
    step.set(r.step, at);
    value.set(r.value, at);
    for (let i = 0; i < r.step.length; i++, at++) {
      const n = r.name[i] as number;
      runCodes[at] = run;
      nameCodes[at] = nameMap[n] as number;
      const s = splitMap[n] as number;
      if (s >= 0) {
        splitCodes[at] = s;
        splitValid[at >> 3] = (splitValid[at >> 3] as number) | (1 << (at & 7));
      } else splitNulls++;
      // The points of one log() call share its time: one conversion per call.
      const seconds = r.time[i] as number;
      if (seconds !== lastSeconds) {
        lastSeconds = seconds;
        lastMicros = BigInt(Math.round(seconds * 1e6));
      }
      micros[at] = lastMicros;
    }
  }
  // Metric names in code-point order, so the lake sorts each file by the codes (integers) rather
  // than the strings: `metrics_scalar` files are sorted by (metric_name, step).
  names.sortCodes(nameCodes);
  const dictionary = (codes: Int32Array, words: WordCodes, valid?: Uint8Array, nullCount = 0) =>
    makeVector(
      makeData({
        type: new Dictionary(new Utf8(), new Int32()),
        length: total,
        nullCount,
        nullBitmap: valid,
        data: codes,
        dictionary: vectorFromArray(words.words, new Utf8()),
      }),
    );
  return new Table({
    run_id: dictionary(runCodes, runs),
    step: makeVector(makeData({ type: new Int64(), length: total, data: step })),
    metric_name: dictionary(nameCodes, names),
    value: makeVector(makeData({ type: new Float64(), length: total, data: value })),
    split: dictionary(splitCodes, splits, splitNulls > 0 ? splitValid : undefined, splitNulls),
    wall_time: makeVector(makeData({ type: new TimestampMicrosecond('UTC'), length: total, data: micros })),
  });
}

/** Distinct strings in first-seen order, with their codes. */
class WordCodes {
  readonly words: string[] = [];
  readonly #codes = new Map<string, number>();

  /** Reorders the words into code-point order and rewrites `codes` to match. */
  sortCodes(codes: Int32Array): void {
    const order = this.words
      .map((_, i) => i)
      .sort((a, b) => compareCodePoints(this.words[a] as string, this.words[b] as string));
    const remap = new Int32Array(order.length);
    order.forEach((old, fresh) => {
      remap[old] = fresh;
    });
    const sorted = order.map((i) => this.words[i] as string);
    this.words.splice(0, this.words.length, ...sorted);
    this.#codes.clear();
    sorted.forEach((word, code) => {
      this.#codes.set(word, code);
    });
    for (let i = 0; i < codes.length; i++) codes[i] = remap[codes[i] as number] as number;
  }

  code(word: string): number {
    let code = this.#codes.get(word);
    if (code === undefined) {
      code = this.words.length;
      this.words.push(word);
      this.#codes.set(word, code);
    }
    return code;
  }
}
