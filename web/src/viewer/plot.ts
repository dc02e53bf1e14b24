// The uPlot chart: one line per series of a CurveSet. The first time a curve is actually drawn the
// page records `performance.mark('runlake:first-curve')` and `body.dataset.firstCurveMs` (read by
// bench/web-first-curve.mjs).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { CurveSet } from './plot-data.js';

/** Distinct, colour-blind-friendly line colours (Okabe–Ito, then Tableau). */
const COLORS = [
  '#0072b2',
  '#e69f00',
  '#009e73',
  '#d55e00',
  '#cc79a7',
  '#56b4e9',
  '#f0e442',
  '#000000',
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

let firstCurveMarked = false;

function markFirstCurve(): void {
  if (firstCurveMarked) return;
  firstCurveMarked = true;
  performance.mark('runlake:first-curve');
  document.body.dataset.firstCurveMs = String(performance.now());
}

export interface PlotSpec {
  readonly xLabel: string;
  readonly yLabel: string;
  readonly logY: boolean;
}

/**
 * Draws `set` into `host` (replacing any earlier chart) and returns the chart. The host gets
 * `data-series-count` so tests can check what was drawn.
 */
export function drawPlot(
  host: HTMLElement,
  set: CurveSet,
  spec: PlotSpec,
  previous?: uPlot,
): uPlot | undefined {
  previous?.destroy();
  host.replaceChildren();
  host.dataset.seriesCount = String(set.curves.length);
  host.dataset.points = String(set.xs.length);
  if (set.curves.length === 0 || set.xs.length === 0) {
    const empty = document.createElement('p');
    empty.className = 'plot-empty';
    empty.textContent = 'Nothing to plot: no rows with both an x and a y value.';
    host.append(empty);
    return undefined;
  }
  // A log axis cannot show zero or negative means; they become gaps.
  const ys = set.curves.map((c) => (spec.logY ? c.ys.map((v) => (v !== null && v > 0 ? v : null)) : c.ys));
  const data = [set.xs, ...ys] as uPlot.AlignedData;
  const labels = set.xLabels;
  const width = Math.max(320, host.clientWidth || 800);
  const options: uPlot.Options = {
    width,
    height: 380,
    scales: {
      x: { time: false },
      y: { distr: spec.logY ? 3 : 1 },
    },
    axes: [
      {
        label: spec.xLabel,
        values: labels ? (_u, splits) => splits.map((v) => labels[v] ?? '') : undefined,
      },
      { label: `mean ${spec.yLabel}`, size: 70 },
    ],
    series: [
      { label: spec.xLabel, value: labels ? (_u, v) => (v === null ? '' : (labels[v] ?? '')) : undefined },
      ...set.curves.map((curve, i) => ({
        label: curve.label,
        stroke: COLORS[i % COLORS.length],
        width: 1.75,
        spanGaps: true,
        points: { show: set.xs.length <= 60 },
      })),
    ],
    hooks: { draw: [() => markFirstCurve()] },
  };
  return new uPlot(options, data, host);
}
