// The serialisable state of the dashboard's pieces: what the URL, the saved workspace and the
// keyboard shortcuts read and write. Each piece (a metric panel, the runs table) reports changes
// through an `onStateChange` callback and accepts a partial state back, so the workspace can
// restore a shared link without knowing how a panel draws.

/** The x axis of a metric chart: the step, wall-clock time, time since the run's first point, or tokens. */
export type XAxis = 'step' | 'wall_time' | 'relative_time' | 'tokens';

/** How curves are smoothed on the server (`smoothing` is the strength in [0, 1)). */
export type SmoothingKind = 'ema' | 'gaussian' | 'running_average';

/** The band drawn around a group's mean. */
export type Envelope = 'std' | 'stderr' | 'minmax' | 'none';

/** One metric panel's state. */
export interface MetricPanelState {
  readonly metric: string;
  readonly x: XAxis;
  readonly smoothing: number;
  readonly smoothingKind: SmoothingKind;
  /** Draw the unsmoothed curves faintly behind (only meaningful when smoothing > 0). */
  readonly showRaw: boolean;
  readonly groupBy: readonly string[];
  readonly envelope: Envelope;
  readonly logX: boolean;
  readonly logY: boolean;
  /** Clip the y range to the 1st–99th percentile of the drawn points, so one spike does not flatten the rest. */
  readonly robustY: boolean;
  /** The zoomed x range, absent for the full range. */
  readonly zoom?: { readonly from: number; readonly to: number };
  /** Legend entries hidden by a click (run ids, or group labels). */
  readonly hidden: readonly string[];
}

/** The runs table's state. */
export interface RunsTableState {
  /** The filter expression (docs/web.md, "Filter language"). */
  readonly filter: string;
  readonly sort?: { readonly column: string; readonly direction: 'asc' | 'desc' };
  /** Column ids hidden, pinned (left), and the order of the rest (ids absent keep their place). */
  readonly hiddenColumns: readonly string[];
  readonly pinnedColumns: readonly string[];
  readonly columnOrder: readonly string[];
  /** Summary columns shown, as `<stat>:<metric>` with stat one of final, min, max. */
  readonly summaryColumns: readonly string[];
}

/** A brush on a Compare axis: a closed numeric range, or a set of categories. */
export type CompareBrush =
  | { readonly kind: 'range'; readonly lo: number; readonly hi: number }
  | { readonly kind: 'categories'; readonly values: readonly string[] };

/** The Compare view's state (compare-view.ts): the summary, the brushes and the scatter. */
export interface CompareState {
  /** The metric summarised (absent: the view's default, `loss` when there is one). */
  readonly metric?: string;
  readonly stat: 'final' | 'min' | 'max';
  /** Parallel-coordinates brushes by axis key (`lr`, `seed`, `final:loss` for the metric axis). */
  readonly brushes: Readonly<Record<string, CompareBrush>>;
  /** The scatter's x parameter (absent: the first that varies), its log x, and its box brush. */
  readonly scatterX?: string;
  readonly scatterLogX: boolean;
  readonly scatterBox?: {
    readonly x: CompareBrush;
    readonly y: { readonly lo: number; readonly hi: number };
  };
  /** The config diff shows only the keys that differ. */
  readonly onlyDifferences: boolean;
}

/** The Matches view's state (matches-view.ts): the query, the selected match and the filters. */
export interface MatchesState {
  /** The query signature's id (absent: the first signature with matches). */
  readonly signature?: string;
  /** The selected (highlighted) match's candidate signature id (absent: the first row). */
  readonly candidate?: string;
  /** The signature list's filter text (whitespace-separated words, see docs/web.md). */
  readonly find: string;
  /** The match method shown (absent: `combined`, else the first the query has). */
  readonly method?: string;
  /** How many matches are shown (top k). */
  readonly k: number;
  /** Matches drawn warped onto the query along their DTW path. */
  readonly align: boolean;
  /** Only candidates from the query's layer / module. */
  readonly sameLayer: boolean;
  readonly sameModule: boolean;
}
