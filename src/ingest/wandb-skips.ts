/**
 * Why a value of a W&B export did not become a row or a typed column (it is counted, never
 * silently dropped; docs/ingest.md, "W&B exports", lists where each kind goes):
 * - `string`: a history value that is text and not a number spelling (`"warmup"`);
 * - `list`: a history value that is a list (`value DOUBLE` holds one number);
 * - `media`: a W&B media or chart object (a dict with a `_type` key: images, histograms, tables);
 * - `null`: a history key logged as null (not logged at that step);
 * - `empty`: an empty dict logged as a history value;
 * - `internal`: W&B's own bookkeeping: a history key with a leading `_` (`_wandb`, and the keys
 *   dr_wandb moves into `extra_cols`/`extra`) other than `_step`, `_runtime` and `_timestamp`,
 *   dr_wandb's per-row `wandb_metadata`, and the config keys `_wandb` and `wandb_version`.
 */
export type WandbSkipReason = 'string' | 'list' | 'media' | 'null' | 'empty' | 'internal';

/** How many values of one key were skipped for one reason. */
export interface WandbSkip {
  readonly reason: WandbSkipReason;
  /** The metric name (history) or the dotted column path (metadata), e.g. `samples` or `config._wandb`. */
  readonly key: string;
  readonly count: number;
}

/**
 * Counts skipped values by reason and key.
 *
 * @example
 * ```ts
 * const skips = new WandbSkipCounter();
 * skips.add('media', 'samples');
 * skips.list(); // [{ reason: 'media', key: 'samples', count: 1 }]
 * ```
 */
export class WandbSkipCounter {
  readonly #counts = new Map<string, { reason: WandbSkipReason; key: string; count: number }>();

  /**
   * Counts skipped values of one key.
   *
   * @example
   * ```ts
   * skips.add('string', 'phase');
   * ```
   */
  add(reason: WandbSkipReason, key: string, count = 1): void {
    const id = `${reason}\u0000${key}`;
    const found = this.#counts.get(id);
    if (found) found.count += count;
    else this.#counts.set(id, { reason, key, count });
  }

  /**
   * The counts, sorted by reason, then key.
   *
   * @example
   * ```ts
   * skips.list().filter((s) => s.reason === 'media');
   * ```
   */
  list(): WandbSkip[] {
    return [...this.#counts.values()]
      .map((s) => ({ ...s }))
      .sort((a, b) => a.reason.localeCompare(b.reason) || a.key.localeCompare(b.key));
  }
}
