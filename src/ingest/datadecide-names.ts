/**
 * The one mapping between the names DataDecide's sources give the same model: its seeds (named in
 * the Hugging Face results, numbered 0–4 by datadec, numbered by training seed in OLMES prediction
 * directories) and its data recipes (display names in the results, slugs in OLMES paths). Every
 * ingester resolves seeds and recipes through this table, so `full_eval` and `qa_outputs` rows of
 * the same checkpoint carry the same `seed` and `data` and join.
 */

/** One DataDecide seed under each of the names its sources use. */
export interface DataDecideSeed {
  /** The index datadec's `SEED_MAP` gives it (`full_eval.seed`). */
  readonly index: number;
  /** The name DataDecide's result files give it (`full_eval.seed_name`). */
  readonly name: string;
  /** The training seed: the `N` of an OLMES `seed-N` directory. */
  readonly trainingSeed: number;
  /**
   * The seed DataDecide's checkpoint and model names carry (`falcon-60M-6198`), where it differs
   * from the OLMES directory number: allenai/DataDecide `checkpoints/README.md` (commit 68abc49)
   * names the default seed 6198, the OLMES directories `seed-2`.
   */
  readonly checkpointSeed?: number;
}

/**
 * DataDecide's five seeds. Index and name as datadec's `SEED_MAP` (drothermel/datadec
 * `src/datadec/constants.py`, commit 6207b06); training seeds as danielle-rothermel/datadec
 * `configs/olmes.toml` `[seed_map]` (commit 098d35b) maps OLMES directories to names; the default
 * seed's checkpoint number as allenai/DataDecide `checkpoints/README.md` `SEED_MAPPING` (68abc49).
 *
 * @example
 * ```ts
 * DATADECIDE_SEEDS.find((s) => s.trainingSeed === 14)?.name; // 'small aux 2'
 * ```
 */
export const DATADECIDE_SEEDS: readonly DataDecideSeed[] = [
  { index: 0, name: 'default', trainingSeed: 2, checkpointSeed: 6198 },
  { index: 1, name: 'small aux 2', trainingSeed: 14 },
  { index: 2, name: 'small aux 3', trainingSeed: 15 },
  { index: 3, name: 'large aux 2', trainingSeed: 4 },
  { index: 4, name: 'large aux 3', trainingSeed: 5 },
];

/**
 * Resolves a seed as a DataDecide source spells it: a name (`small aux 2`, any case), or a
 * training seed written as `seed-14`, `seed_14` or `14` (OLMES directories; the default seed also
 * as `6198`, its number in DataDecide's checkpoint names). Returns undefined for
 * anything else. Integer columns are datadec's indexes and are not resolved here.
 *
 * @example
 * ```ts
 * dataDecideSeed('seed-14'); // { index: 1, name: 'small aux 2', trainingSeed: 14 }
 * dataDecideSeed('6198')?.name; // 'default'
 * ```
 */
export function dataDecideSeed(text: string): DataDecideSeed | undefined {
  const spelled = text.trim().toLowerCase();
  const named = DATADECIDE_SEEDS.find((seed) => seed.name === spelled);
  if (named) return named;
  const numbered = /^(?:seed[-_ ]?)?(\d+)$/.exec(spelled);
  if (!numbered) return undefined;
  const trainingSeed = Number(numbered[1]);
  return DATADECIDE_SEEDS.find(
    (seed) => seed.trainingSeed === trainingSeed || seed.checkpointSeed === trainingSeed,
  );
}

/**
 * OLMES directory slugs of DataDecide's 25 data recipes, mapped to the display names the result
 * files use (`full_eval.data`), as danielle-rothermel/datadec `configs/olmes.toml` `[recipe_map]`
 * (commit 098d35b) lists them.
 *
 * @example
 * ```ts
 * DATADECIDE_RECIPES['dclm-baseline-top-10p']; // 'DCLM-Baseline (QC 10%)'
 * ```
 */
export const DATADECIDE_RECIPES: Readonly<Record<string, string>> = {
  c4: 'C4',
  'dclm-baseline-25p-dolma1.7-75p': 'DCLM-Baseline 25% / Dolma 75%',
  'dclm-baseline-50p-dolma1.7-50p': 'DCLM-Baseline 50% / Dolma 50%',
  'dclm-baseline-75p-dolma1.7-25p': 'DCLM-Baseline 75% / Dolma 25%',
  'dclm-baseline-top-10p': 'DCLM-Baseline (QC 10%)',
  'dclm-baseline-top-20p': 'DCLM-Baseline (QC 20%)',
  'dclm-baseline-top-fw-10p': 'DCLM-Baseline (QC FW 10%)',
  'dclm-baseline-top-fw-3p': 'DCLM-Baseline (QC FW 3%)',
  'dclm-baseline-top-fw2-7p': 'DCLM-Baseline (QC 7%, FW2)',
  'dclm-baseline-top-fw3-7p': 'DCLM-Baseline (QC 7%, FW3)',
  'dclm-baseline': 'DCLM-Baseline',
  'dolma1.6++': 'Dolma1.6++',
  'dolma1.7-no-code': 'Dolma1.7 (no code)',
  'dolma1.7-no-flan': 'Dolma1.7 (no Flan)',
  'dolma1.7-no-math-no-code': 'Dolma1.7 (no math, code)',
  'dolma1.7-no-reddit': 'Dolma1.7 (no Reddit)',
  'dolma1.7': 'Dolma1.7',
  'falcon-with-cc-top-10p': 'Falcon+CC (QC 10%)',
  'falcon-with-cc-top-20p': 'Falcon+CC (QC 20%)',
  'falcon-with-cc-top-orig-10p': 'Falcon+CC (QC Orig 10%)',
  'falcon-with-cc-top-tulu-10p': 'Falcon+CC (QC Tulu 10%)',
  'falcon-with-cc': 'Falcon+CC',
  falcon: 'Falcon',
  'fineweb-edu': 'FineWeb-Edu',
  'fineweb-pro': 'FineWeb-Pro',
};

/**
 * The display name of a recipe given as an OLMES slug (case-insensitive) or already as a display
 * name; undefined when it is neither.
 *
 * @example
 * ```ts
 * dataDecideRecipe('DCLM-Baseline'); // 'DCLM-Baseline'
 * dataDecideRecipe('dclm-baseline'); // 'DCLM-Baseline'
 * ```
 */
export function dataDecideRecipe(text: string): string | undefined {
  const slug = DATADECIDE_RECIPES[text.toLowerCase()];
  if (slug !== undefined) return slug;
  return Object.values(DATADECIDE_RECIPES).find((name) => name === text);
}
