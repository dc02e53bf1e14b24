/**
 * A datadec output folder (drothermel/datadec `DataDecidePaths`, `data/datadecide/`) as one
 * input: which of the files its pipeline stages wrote to ingest, which to check, which hold
 * nothing new. The stages write the same results several times over (raw downloads, parsed,
 * merged, enriched, melted), so ingesting every file would count each result several times;
 * the folder ingests the most complete generation present and names the rest as skipped.
 */
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { InputFileError } from '../lake/index.js';
import type { AggregateStatistic } from './datadec-aggregates.js';

/**
 * The Parquet files datadec's pipeline writes (`paths.py`, commit 6207b06), by base name, with
 * the stage that writes each.
 *
 * @example
 * ```ts
 * DATADEC_OUTPUT_FILES['full_eval.parquet']; // 'enrich'
 * ```
 */
export const DATADEC_OUTPUT_FILES: Readonly<Record<string, string>> = {
  'ppl_eval.parquet': 'download',
  'downstream_eval.parquet': 'download',
  'dwn_metrics_expanded.parquet': 'metrics_expand',
  'ppl_eval_parsed.parquet': 'parse',
  'downstream_eval_parsed.parquet': 'parse',
  'full_eval_raw.parquet': 'merge',
  'full_eval.parquet': 'enrich',
  'mean_eval.parquet': 'aggregate',
  'std_eval.parquet': 'aggregate',
  'full_eval_melted.parquet': 'plotting_prep',
  'mean_eval_melted.parquet': 'plotting_prep',
};

/**
 * A file of the folder that is not ingested, and why.
 *
 * @example
 * ```ts
 * for (const s of summary.notIngested) console.log(`${s.file}: ${s.reason}`);
 * ```
 */
export interface SkippedFile {
  readonly file: string;
  readonly reason: string;
}

/**
 * What a folder ingest does with each file of the folder.
 *
 * @example
 * ```ts
 * const { ingest, check, skipped }: DatadecFolderPlan = await planDatadecFolder('data/datadecide');
 * ```
 */
export interface DatadecFolderPlan {
  /** Files to ingest into `full_eval`. */
  readonly ingest: readonly string[];
  /**
   * DataDecide's raw downloads (`downstream_eval.parquet`, `ppl_eval.parquet`) when `ingest` is
   * datadec's merged table: read for the rows it lacks (the metrics datadec drops, anything else
   * it leaves out) and for the `chinchilla` column it drops, which fills the rows of `ingest`.
   */
  readonly supplement: readonly string[];
  /** Aggregate files to check against the views after the ingest. */
  readonly check: ReadonlyArray<{ readonly file: string; readonly statistic: AggregateStatistic }>;
  readonly skipped: readonly SkippedFile[];
  /**
   * Base names of datadec files not ingested this time: rows an earlier ingest wrote from them
   * are removed, so after a re-ingest the lake holds exactly the folder's current generation.
   */
  readonly retire: readonly string[];
}

/** DataDecide's downloads, which hold what datadec's merged tables drop. */
const RAW_DOWNLOADS = ['downstream_eval.parquet', 'ppl_eval.parquet'];

const DERIVED: Readonly<Record<string, string>> = {
  'dwn_metrics_expanded.parquet': 'an intermediate stage (metrics dict spread into columns)',
  'full_eval_melted.parquet': 'a melt of full_eval.parquet for plotting',
  'mean_eval_melted.parquet': 'a melt of mean_eval.parquet for plotting',
};

/**
 * Plans the ingest of a datadec output folder: `full_eval.parquet` if present (it holds every
 * per-seed result, perplexities and LR columns), else `full_eval_raw.parquet`, else the
 * downloads (`downstream_eval.parquet` and `ppl_eval.parquet`, or their parsed forms); with a
 * `full_eval…` file, the downloads present supplement it (see {@link DatadecFolderPlan.supplement});
 * the aggregates are checked; a Parquet file datadec does not write is refused.
 *
 * @example
 * ```ts
 * const plan = await planDatadecFolder('data/datadecide');
 * plan.ingest; // ['data/datadecide/full_eval.parquet']
 * ```
 */
export async function planDatadecFolder(dir: string): Promise<DatadecFolderPlan> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new InputFileError(dir, `cannot list the folder: ${(error as Error).message}`);
  }
  const names = new Set<string>();
  const skipped: SkippedFile[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    // datadec keeps its pickled model datasets in datasets/; subfolders are not its outputs.
    if (!entry.isFile()) continue;
    if (!entry.name.endsWith('.parquet')) {
      skipped.push({ file: entry.name, reason: 'not a Parquet file' });
      continue;
    }
    if (!(entry.name in DATADEC_OUTPUT_FILES)) {
      throw new InputFileError(
        path.join(dir, entry.name),
        `is not a file datadec writes (${Object.keys(DATADEC_OUTPUT_FILES).join(', ')}); ` +
          'to ingest it, name it as an input instead of its folder',
      );
    }
    names.add(entry.name);
  }
  const has = (name: string) => names.has(name);
  let ingest: string[];
  if (has('full_eval.parquet')) ingest = ['full_eval.parquet'];
  else if (has('full_eval_raw.parquet')) ingest = ['full_eval_raw.parquet'];
  else {
    const downstream = ['downstream_eval.parquet', 'downstream_eval_parsed.parquet'].find(has);
    const perplexity = ['ppl_eval.parquet', 'ppl_eval_parsed.parquet'].find(has);
    ingest = [downstream, perplexity].filter((n): n is string => n !== undefined);
  }
  if (ingest.length === 0) {
    throw new InputFileError(
      dir,
      'holds no datadec results to ingest (full_eval.parquet, full_eval_raw.parquet, downstream_eval.parquet, ppl_eval.parquet …)',
    );
  }
  const chosen = ingest[0] as string;
  const supplement = chosen.startsWith('full_eval') ? RAW_DOWNLOADS.filter((name) => names.has(name)) : [];
  const check: Array<{ file: string; statistic: AggregateStatistic }> = [];
  for (const name of names) {
    if (ingest.includes(name) || supplement.includes(name)) continue;
    if (name === 'mean_eval.parquet' || name === 'std_eval.parquet') {
      check.push({ file: path.join(dir, name), statistic: name.startsWith('mean') ? 'mean' : 'std' });
      continue;
    }
    skipped.push({
      file: name,
      reason: DERIVED[name] ?? `an earlier stage of ${chosen}, which holds its results`,
    });
  }
  const retire = Object.keys(DATADEC_OUTPUT_FILES).filter(
    (name) => !ingest.includes(name) && !supplement.includes(name),
  );
  return {
    ingest: ingest.map((name) => path.join(dir, name)),
    supplement: supplement.map((name) => path.join(dir, name)),
    check,
    skipped,
    retire,
  };
}
