/**
 * What an OLMES / oe-eval output path says: DataDecide stores one eval run per checkpoint under
 * `<recipe>/<params>/seed-<N>/step-<N>/` (or packed as `…/seed-<N>/step-<N>.tar.gz` holding
 * `step-<N>/…`), and names each task's files `<task>-predictions.jsonl`, `<task>-metrics.json`
 * (oe-eval itself writes `task-<idx>-<task>-…`). Recipe and seed are resolved through the shared
 * DataDecide name table, so `qa_outputs` rows carry the `data` and `seed` that `full_eval` uses.
 */
import { dataDecideRecipe, dataDecideSeed } from './datadecide-names.js';

/**
 * The checkpoint an OLMES path names.
 *
 * @example
 * ```ts
 * olmesCheckpoint('dclm-baseline/150M/seed-14/step-25000/arc_easy-predictions.jsonl')?.seed; // 1
 * ```
 */
export interface OlmesCheckpoint {
  /** The recipe directory as written (DataDecide's slug, e.g. `dclm-baseline`). */
  readonly recipe: string;
  /** The recipe's display name (`full_eval.data`), or null when the slug is not DataDecide's. */
  readonly data: string | null;
  /** The model size directory, e.g. `150M`, `1B`. */
  readonly params: string;
  /** The `N` of `seed-N`: the training seed. */
  readonly trainingSeed: number;
  /** datadec's seed index (`full_eval.seed`), or null when the training seed is not DataDecide's. */
  readonly seed: number | null;
  /** The seed's DataDecide name (`small aux 2`), or null as for `seed`. */
  readonly seedName: string | null;
  readonly step: number;
}

const SIZE = /^\d+(?:\.\d+)?[KMBT]$/i;
const SEED = /^seed-(\d+)$/;
const STEP = /^step-?(\d+)(?:\.(?:tar\.gz|tgz|tar))?$/i;

/**
 * Reads recipe, size, seed and step from the last `<recipe>/<size>/seed-<N>/step-<N>` run of
 * segments in a `/`-separated path (a directory, a file in it, or a `step-<N>.tar.gz`). The size
 * must look like DataDecide's (`4M`, `150M`, `1B`); undefined when no such run is found.
 *
 * @example
 * ```ts
 * olmesCheckpoint('/data/dclm-baseline/150M/seed-14/step-25000.tar.gz');
 * // { recipe: 'dclm-baseline', data: 'DCLM-Baseline', params: '150M', trainingSeed: 14, seed: 1,
 * //   seedName: 'small aux 2', step: 25000 }
 * ```
 */
export function olmesCheckpoint(path: string): OlmesCheckpoint | undefined {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  for (let i = parts.length - 2; i >= 2; i--) {
    const seedMatch = SEED.exec(parts[i] as string);
    const stepMatch = STEP.exec(parts[i + 1] as string);
    const params = parts[i - 1] as string;
    if (!seedMatch || !stepMatch || !SIZE.test(params)) continue;
    const step = Number(stepMatch[1]);
    const trainingSeed = Number(seedMatch[1]);
    if (!Number.isSafeInteger(step) || !Number.isSafeInteger(trainingSeed)) continue;
    const recipe = parts[i - 2] as string;
    const known = dataDecideSeed(`seed-${trainingSeed}`);
    return {
      recipe,
      data: dataDecideRecipe(recipe) ?? null,
      params,
      trainingSeed,
      seed: known?.index ?? null,
      seedName: known?.name ?? null,
      step,
    };
  }
  return undefined;
}

/**
 * The kind of file an OLMES / oe-eval output directory holds, from its base name, and the task
 * it belongs to. `predictions` are ingested; `metrics` (`<task>-metrics.json`) give the task's
 * primary metric; `side` files (`-requests.jsonl`, `-recorded-inputs.jsonl`, `metrics.json`,
 * `metrics-all.jsonl`) are skipped and counted; `other` is anything else.
 *
 * @example
 * ```ts
 * olmesFileKind('task-001-arc_easy-predictions.jsonl'); // { kind: 'predictions', task: 'arc_easy' }
 * olmesFileKind('arc_easy-requests.jsonl'); // { kind: 'side', task: 'arc_easy' }
 * ```
 */
export function olmesFileKind(baseName: string): {
  kind: 'predictions' | 'metrics' | 'side' | 'other';
  task?: string;
} {
  const task = (suffix: RegExp) => baseName.replace(suffix, '').replace(/^task-\d+-/, '');
  if (/^metrics(?:-all)?\.jsonl?$/i.test(baseName)) return { kind: 'side' };
  if (/-metrics\.json$/i.test(baseName)) return { kind: 'metrics', task: task(/-metrics\.json$/i) };
  if (/-(?:requests|recorded-inputs)\.jsonl$/i.test(baseName)) {
    return { kind: 'side', task: task(/-(?:requests|recorded-inputs)\.jsonl$/i) };
  }
  if (/[-_]predictions\.(?:jsonl|ndjson)$/i.test(baseName)) {
    return { kind: 'predictions', task: task(/[-_]predictions\.(?:jsonl|ndjson)$/i) };
  }
  return { kind: 'other' };
}
