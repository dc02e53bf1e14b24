// The dashboard's state in its URL, so a view can be shared: the hash is `#<view>[/<arg>]`, then
// `?s=<state>` with the selection, the workspace (panels, their zoom, the shared x axis, smoothing,
// grouping and envelope), the runs table's filter, sort and columns, the Geometry view's picks, the Compare
// view's brushes and the Matches view's query, selected match and filters. The state is JSON with
// defaults left out, deflated and base64url-encoded: a thousand similar run ids take a few hundred
// characters. A link that cannot be read is reported in one line and the page opens as usual.
import type { GeometryViewState } from './geometry-view.js';
import type {
  CompareBrush,
  CompareState,
  Envelope,
  MatchesState,
  MetricPanelState,
  RunsTableState,
  SmoothingKind,
  XAxis,
} from './panel-state.js';

/** A workspace panel's width: a third, two thirds, or the whole row. */
export type PanelSize = 'S' | 'M' | 'L';

/** What a workspace panel keeps of its own (the shared settings come from the workspace). */
export type OwnPanelState = Partial<
  Pick<MetricPanelState, 'logX' | 'logY' | 'robustY' | 'zoom' | 'hidden' | 'showRaw'>
>;

/** One panel of the workspace. */
export interface WorkspacePanel {
  readonly metric: string;
  readonly size: PanelSize;
  readonly own?: OwnPanelState;
}

/** The settings the workspace toolbar applies to every panel. */
export interface SharedPanelSettings {
  readonly x: XAxis;
  readonly smoothing: number;
  readonly smoothingKind: SmoothingKind;
  readonly groupBy: readonly string[];
  readonly envelope: Envelope;
}

/** The workspace: its panels in order, the shared settings and the collapsed sections. */
export interface WorkspaceState {
  readonly shared: SharedPanelSettings;
  readonly panels: readonly WorkspacePanel[];
  /** Section names (`train`, `eval`, `metrics`, …) folded shut. */
  readonly collapsed: readonly string[];
  /**
   * The layout is still the default one: metrics that appear later (a run still logging) get a
   * panel of their own, up to the default count. Adding, removing or resizing a panel ends it.
   */
  readonly auto?: boolean;
}

/** Everything a shared link restores. */
export interface DashboardState {
  /** The view (`runs`, `geometry`, `compare`, `run`, …). */
  readonly view: string;
  /** The view's argument: the run of `#run/<id>`. */
  readonly arg?: string;
  readonly selection?: readonly string[];
  readonly workspace?: WorkspaceState;
  readonly table?: Partial<RunsTableState>;
  /** The Geometry view's runs, filters and hidden events (once it has been opened). */
  readonly geometry?: Partial<GeometryViewState>;
  /** The Compare view's summary, brushes and scatter (once it has been opened). */
  readonly compare?: Partial<CompareState>;
  /** The Matches view's query, selected match and filters (once it has been opened). */
  readonly matches?: Partial<MatchesState>;
}

const X_AXES: readonly XAxis[] = ['step', 'wall_time', 'relative_time', 'tokens'];
const KINDS: readonly SmoothingKind[] = ['ema', 'gaussian', 'running_average'];
const ENVELOPES: readonly Envelope[] = ['std', 'stderr', 'minmax', 'none'];
const SIZES: readonly PanelSize[] = ['S', 'M', 'L'];

/** The shared settings a new workspace starts with. */
export const DEFAULT_SHARED: SharedPanelSettings = {
  x: 'step',
  smoothing: 0,
  smoothingKind: 'ema',
  groupBy: [],
  envelope: 'std',
};

const strings = (value: unknown): string[] | undefined =>
  Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : undefined;
const oneOf = <T extends string>(value: unknown, allowed: readonly T[]): T | undefined =>
  allowed.includes(value as T) ? (value as T) : undefined;
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Reads a workspace from untrusted JSON (a link, localStorage): fields of the wrong type are
 * dropped, so a stale or hand-edited value never breaks the page. Undefined when it is no workspace.
 *
 * @example
 * ```ts
 * parseWorkspace({ panels: [{ metric: 'loss', size: 'M' }] })?.panels[0]?.size; // 'M'
 * ```
 */
export function parseWorkspace(value: unknown): WorkspaceState | undefined {
  if (!isObject(value) || !Array.isArray(value.panels)) return undefined;
  const shared = isObject(value.shared) ? value.shared : {};
  const smoothing = Number(shared.smoothing);
  const panels: WorkspacePanel[] = [];
  for (const p of value.panels) {
    if (!isObject(p) || typeof p.metric !== 'string') continue;
    const own = isObject(p.own) ? parseOwn(p.own) : undefined;
    panels.push({ metric: p.metric, size: oneOf(p.size, SIZES) ?? 'S', ...(own ? { own } : {}) });
  }
  return {
    shared: {
      x: oneOf(shared.x, X_AXES) ?? DEFAULT_SHARED.x,
      smoothing: Number.isFinite(smoothing) && smoothing >= 0 && smoothing < 1 ? smoothing : 0,
      smoothingKind: oneOf(shared.smoothingKind, KINDS) ?? DEFAULT_SHARED.smoothingKind,
      groupBy: strings(shared.groupBy) ?? [],
      envelope: oneOf(shared.envelope, ENVELOPES) ?? DEFAULT_SHARED.envelope,
    },
    panels,
    collapsed: strings(value.collapsed) ?? [],
    ...(value.auto === true ? { auto: true } : {}),
  };
}

function parseOwn(o: Record<string, unknown>): OwnPanelState | undefined {
  const own: { -readonly [K in keyof OwnPanelState]: OwnPanelState[K] } = {};
  for (const key of ['logX', 'logY', 'robustY', 'showRaw'] as const) {
    if (typeof o[key] === 'boolean') own[key] = o[key];
  }
  const hidden = strings(o.hidden);
  if (hidden?.length) own.hidden = hidden;
  if (isObject(o.zoom) && Number.isFinite(o.zoom.from) && Number.isFinite(o.zoom.to)) {
    own.zoom = { from: Number(o.zoom.from), to: Number(o.zoom.to) };
  }
  return Object.keys(own).length > 0 ? own : undefined;
}

function parseGeometry(value: unknown): Partial<GeometryViewState> | undefined {
  if (!isObject(value)) return undefined;
  const g: { -readonly [K in keyof GeometryViewState]?: GeometryViewState[K] } = {};
  const runs = strings(value.runs);
  if (runs) g.runs = runs;
  if (value.layer === null || Number.isInteger(value.layer)) g.layer = value.layer as number | null;
  if (value.module === null || typeof value.module === 'string') g.module = value.module;
  if (typeof value.descriptor === 'string') g.descriptor = value.descriptor;
  const types = strings(value.hiddenEventTypes);
  if (types) g.hiddenEventTypes = types;
  const hiddenRuns = strings(value.hiddenEventRuns);
  if (hiddenRuns) g.hiddenEventRuns = hiddenRuns;
  return g;
}

function parseBrush(value: unknown): CompareBrush | undefined {
  if (!isObject(value)) return undefined;
  if (value.kind === 'range' && Number.isFinite(value.lo) && Number.isFinite(value.hi)) {
    return { kind: 'range', lo: Number(value.lo), hi: Number(value.hi) };
  }
  const values = value.kind === 'categories' ? strings(value.values) : undefined;
  return values ? { kind: 'categories', values } : undefined;
}

function parseCompare(value: unknown): Partial<CompareState> | undefined {
  if (!isObject(value)) return undefined;
  const c: { -readonly [K in keyof CompareState]?: CompareState[K] } = {};
  if (typeof value.metric === 'string') c.metric = value.metric;
  if (value.stat === 'final' || value.stat === 'min' || value.stat === 'max') c.stat = value.stat;
  if (isObject(value.brushes)) {
    const brushes: Record<string, CompareBrush> = {};
    for (const [key, brush] of Object.entries(value.brushes)) {
      const parsed = parseBrush(brush);
      if (parsed) brushes[key] = parsed;
    }
    c.brushes = brushes;
  }
  if (typeof value.scatterX === 'string') c.scatterX = value.scatterX;
  if (typeof value.scatterLogX === 'boolean') c.scatterLogX = value.scatterLogX;
  const box = isObject(value.scatterBox) ? value.scatterBox : undefined;
  const boxX = parseBrush(box?.x);
  if (boxX && isObject(box?.y) && Number.isFinite(box.y.lo) && Number.isFinite(box.y.hi)) {
    c.scatterBox = { x: boxX, y: { lo: Number(box.y.lo), hi: Number(box.y.hi) } };
  }
  if (typeof value.onlyDifferences === 'boolean') c.onlyDifferences = value.onlyDifferences;
  return c;
}

function parseMatches(value: unknown): Partial<MatchesState> | undefined {
  if (!isObject(value)) return undefined;
  const m: { -readonly [K in keyof MatchesState]?: MatchesState[K] } = {};
  for (const key of ['signature', 'candidate', 'find', 'method'] as const) {
    const v = value[key];
    if (typeof v === 'string') m[key] = v;
  }
  if (Number.isInteger(value.k) && Number(value.k) > 0) m.k = Number(value.k);
  for (const key of ['align', 'sameLayer', 'sameModule'] as const) {
    const v = value[key];
    if (typeof v === 'boolean') m[key] = v;
  }
  return m;
}

function parseTable(value: unknown): Partial<RunsTableState> | undefined {
  if (!isObject(value)) return undefined;
  const table: { -readonly [K in keyof RunsTableState]?: RunsTableState[K] } = {};
  if (typeof value.filter === 'string') table.filter = value.filter;
  if (
    isObject(value.sort) &&
    typeof value.sort.column === 'string' &&
    (value.sort.direction === 'asc' || value.sort.direction === 'desc')
  ) {
    table.sort = { column: value.sort.column, direction: value.sort.direction };
  }
  for (const key of ['hiddenColumns', 'pinnedColumns', 'columnOrder', 'summaryColumns'] as const) {
    const list = strings(value[key]);
    if (list) table[key] = list;
  }
  return table;
}

/** A state without its default parts, for a short link. */
function compact(state: DashboardState): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (state.selection) out.selection = state.selection;
  if (state.workspace) out.workspace = state.workspace;
  if (state.geometry) out.geometry = state.geometry;
  if (state.compare) out.compare = state.compare;
  if (state.matches) out.matches = state.matches;
  if (state.table) {
    const t: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(state.table)) {
      if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) continue;
      t[key] = value;
    }
    if (Object.keys(t).length > 0) out.table = t;
  }
  return out;
}

function toBase64Url(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

async function through(
  bytes: Uint8Array,
  stream: CompressionStream | DecompressionStream,
): Promise<Uint8Array> {
  const piped = new Blob([bytes as BlobPart]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(piped).arrayBuffer());
}

/**
 * The `s` value of a state: `z` + base64url of deflated JSON (or `j` + base64url of the JSON where
 * the browser has no CompressionStream).
 *
 * @example
 * ```ts
 * await encodeState({ view: 'runs', selection: ['a', 'b'] }); // 'zq1WKk...'
 * ```
 */
export async function encodeState(state: DashboardState): Promise<string> {
  const json = new TextEncoder().encode(JSON.stringify(compact(state)));
  if (typeof CompressionStream === 'undefined') return `j${toBase64Url(json)}`;
  return `z${toBase64Url(await through(json, new CompressionStream('deflate-raw')))}`;
}

/**
 * Reads an `s` value back; throws an Error naming the cause when it is not one.
 *
 * @example
 * ```ts
 * await decodeState(await encodeState({ view: 'runs', selection: ['a'] }), 'runs'); // { view: 'runs', selection: ['a'] }
 * ```
 */
export async function decodeState(encoded: string, view: string, arg?: string): Promise<DashboardState> {
  let parsed: unknown;
  try {
    const bytes = fromBase64Url(encoded.slice(1));
    let json: Uint8Array;
    if (encoded.startsWith('z')) json = await through(bytes, new DecompressionStream('deflate-raw'));
    else if (encoded.startsWith('j')) json = bytes;
    else throw new Error(`unknown encoding "${encoded.slice(0, 1)}"`);
    parsed = JSON.parse(new TextDecoder().decode(json));
  } catch (error) {
    throw new Error(`the link's view state is damaged (${(error as Error).message})`);
  }
  if (!isObject(parsed)) throw new Error("the link's view state is not an object");
  const selection = strings(parsed.selection);
  const workspace = parseWorkspace(parsed.workspace);
  const table = parseTable(parsed.table);
  const geometry = parseGeometry(parsed.geometry);
  const compare = parseCompare(parsed.compare);
  const matches = parseMatches(parsed.matches);
  return {
    view,
    ...(arg !== undefined ? { arg } : {}),
    ...(selection ? { selection } : {}),
    ...(workspace ? { workspace } : {}),
    ...(table ? { table } : {}),
    ...(geometry ? { geometry } : {}),
    ...(compare ? { compare } : {}),
    ...(matches ? { matches } : {}),
  };
}

/** The hash's parts: `#run/abc?s=…` → view `run`, arg `abc`, encoded `…`. */
export function parseHash(hash: string): { view: string; arg?: string; encoded?: string } {
  const body = hash.replace(/^#/, '');
  const q = body.indexOf('?');
  const path = q >= 0 ? body.slice(0, q) : body;
  const encoded = q >= 0 ? (new URLSearchParams(body.slice(q + 1)).get('s') ?? undefined) : undefined;
  const slash = path.indexOf('/');
  const view = slash >= 0 ? path.slice(0, slash) : path;
  const arg = slash >= 0 ? decodeURIComponent(path.slice(slash + 1)) : undefined;
  return { view, ...(arg !== undefined ? { arg } : {}), ...(encoded ? { encoded } : {}) };
}

/** The hash for a view (and its argument) with an encoded state. */
export function hashOf(view: string, arg: string | undefined, encoded: string | undefined): string {
  const path = arg !== undefined ? `${view}/${encodeURIComponent(arg)}` : view;
  return `#${path}${encoded ? `?s=${encoded}` : ''}`;
}
