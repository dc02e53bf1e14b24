import { EnumDomain } from '../lake/index.js';

/**
 * Which part of the data a row describes. Closed: the seed fixes it to train, val and probe.
 *
 * @example
 * ```ts
 * SPLIT.has('probe'); // true
 * ```
 */
export const SPLIT = new EnumDomain(
  'split',
  {
    train: 'training data',
    val: 'held-out validation data',
    probe: 'a fixed probe set, the same samples at every checkpoint',
  },
  { description: 'data split a row describes' },
);

/**
 * Where in a transformer block a representation is read. Extensible, since architectures differ
 * (register e.g. `attn_q` or `embed` with `MODULE.register`).
 *
 * @example
 * ```ts
 * MODULE.register('embed', 'token embeddings, before the first block');
 * ```
 */
export const MODULE = new EnumDomain(
  'module',
  {
    resid_pre: 'residual stream entering the block',
    attn_out: 'output of the attention sub-layer',
    mlp_out: 'output of the MLP sub-layer',
    resid_post: 'residual stream leaving the block',
    logits: 'unembedded output logits',
  },
  { description: 'canonical module location of a representation', extensible: true },
);

/**
 * Kinds of detected events. Extensible over time, as the seed says: a new detector registers its
 * type with {@link registerEventType}, and lakes record the types their rows use.
 *
 * @example
 * ```ts
 * EVENT_TYPE.list(); // ['rank_collapse', 'reexpansion', 'bifurcation', 'phase_shift', 'stability_plateau']
 * ```
 */
export const EVENT_TYPE = new EnumDomain(
  'event_type',
  {
    rank_collapse: 'effective dimensionality of the representation drops sharply',
    reexpansion: 'dimensionality recovers after a collapse',
    bifurcation: 'trajectories that agreed (e.g. seeds of one grid) diverge beyond seed-to-seed noise',
    phase_shift: 'a change point in a descriptor trajectory',
    stability_plateau: 'drift stays below noise for a window of checkpoints',
  },
  { description: 'kind of detected event', extensible: true },
);

/**
 * Registers a new event type (for a new detector) in this process. Rows that use it are
 * accepted, and the lake they are written to records the type for later readers.
 *
 * @example
 * ```ts
 * registerEventType('grokking', 'validation loss falls long after training loss has');
 * ```
 */
export function registerEventType(name: string, description: string): void {
  EVENT_TYPE.register(name, description);
}

/** The enum domains of the Squiggle datasets. */
export const SQUIGGLE_ENUMS: readonly EnumDomain[] = [SPLIT, MODULE, EVENT_TYPE];
