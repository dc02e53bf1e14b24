// Exports of the metric chart: a PNG (uPlot's canvas with the title and legend drawn around it)
// and an SVG built from the drawn data (one polyline per visible series, the envelopes as
// polygons, axes with the ticks the chart drew, title and legend), for papers and slides.
import type uPlot from 'uplot';
import type { ChartTheme } from './chart-axes.js';

/** A tick the chart drew: its value and label (empty labels are unlabelled ticks). */
export interface Tick {
  readonly value: number;
  readonly label: string;
}

/** What an export draws. */
export interface ChartExport {
  readonly chart: uPlot;
  readonly title: string;
  readonly xTitle: string;
  readonly yTitle: string;
  readonly ticks: { readonly x: readonly Tick[]; readonly y: readonly Tick[] };
  /** The visible main series (runs or group means), as legend rows. */
  readonly legend: readonly {
    readonly label: string;
    readonly color: string;
    readonly seriesIndex: number;
  }[];
  readonly theme: ChartTheme;
  /** The envelopes drawn (pairs of series indices and their fill). */
  readonly bands?: readonly uPlot.Band[];
}

const TITLE_H = 28;
const LEGEND_ROW_H = 18;
const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

/** Lays the legend out in rows across `width`; returns each entry's (x, y) offset and the height. */
function legendLayout(
  labels: readonly string[],
  width: number,
  measure: (text: string) => number,
): { at: { x: number; y: number }[]; height: number } {
  const at: { x: number; y: number }[] = [];
  let x = 10;
  let y = 0;
  for (const label of labels) {
    const w = 22 + measure(label) + 16;
    if (x + w > width - 10 && x > 10) {
      x = 10;
      y += LEGEND_ROW_H;
    }
    at.push({ x, y });
    x += w;
  }
  return { at, height: labels.length === 0 ? 0 : y + LEGEND_ROW_H + 8 };
}

/** At most this many legend entries are drawn into an export. */
const LEGEND_MAX = 40;

function legendLabels(input: ChartExport): string[] {
  const labels = input.legend.slice(0, LEGEND_MAX).map((l) => l.label);
  if (input.legend.length > LEGEND_MAX) labels.push(`+${input.legend.length - LEGEND_MAX} more`);
  return labels;
}

/**
 * The chart as a PNG: the title above uPlot's canvas (at its device pixel ratio) and the legend
 * below, on the theme's background.
 *
 * @example
 * ```ts
 * const blob = await chartPng({ chart, title: 'loss', xTitle: 'step', yTitle: 'loss', ticks, legend, theme });
 * downloadBlob(blob, 'loss.png');
 * ```
 */
export function chartPng(input: ChartExport): Promise<Blob> {
  const source = input.chart.ctx.canvas;
  const ratio = source.width / Math.max(1, input.chart.width);
  const measureCtx = document.createElement('canvas').getContext('2d');
  if (!measureCtx) return Promise.reject(new Error('this browser cannot draw on a canvas'));
  measureCtx.font = FONT;
  const labels = legendLabels(input);
  const layout = legendLayout(labels, input.chart.width, (t) => measureCtx.measureText(t).width);
  const canvas = document.createElement('canvas');
  canvas.width = source.width;
  canvas.height = Math.round((TITLE_H + input.chart.height + layout.height) * ratio);
  const ctx = canvas.getContext('2d');
  if (!ctx) return Promise.reject(new Error('this browser cannot draw on a canvas'));
  ctx.fillStyle = input.theme.bg;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(source, 0, TITLE_H * ratio);
  ctx.scale(ratio, ratio);
  ctx.fillStyle = input.theme.fg;
  ctx.font = `600 14px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif`;
  ctx.textBaseline = 'middle';
  ctx.fillText(input.title, 10, TITLE_H / 2);
  ctx.font = FONT;
  const top = TITLE_H + input.chart.height + 4;
  labels.forEach((label, i) => {
    const pos = layout.at[i];
    const entry = input.legend[i];
    if (!pos) return;
    if (entry && i < LEGEND_MAX) {
      ctx.fillStyle = entry.color;
      ctx.fillRect(pos.x, top + pos.y + LEGEND_ROW_H / 2 - 1.5, 16, 3);
    }
    ctx.fillStyle = entry && i < LEGEND_MAX ? input.theme.fg : input.theme.muted;
    ctx.fillText(label, pos.x + 22, top + pos.y + LEGEND_ROW_H / 2);
  });
  return new Promise((resolve, reject) =>
    canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error('the chart could not be encoded as PNG'))),
      'image/png',
    ),
  );
}

const esc = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: number) => String(Math.round(v * 100) / 100);

/**
 * The chart as an SVG document: a polyline per visible series (class `series` for runs or group
 * means, `aux` for envelope edges and raw curves) from the drawn data, envelopes as polygons,
 * x and y axes with the chart's ticks, the title and the legend.
 *
 * @example
 * ```ts
 * const svg = chartSvg({ chart, title: 'loss', xTitle: 'step', yTitle: 'loss', ticks, legend, theme });
 * downloadBlob(new Blob([svg], { type: 'image/svg+xml' }), 'loss.svg');
 * ```
 */
export function chartSvg(input: ChartExport): string {
  const u = input.chart;
  const ratio = u.ctx.canvas.width / Math.max(1, u.width);
  const plot = {
    left: u.bbox.left / ratio,
    top: u.bbox.top / ratio + TITLE_H,
    width: u.bbox.width / ratio,
    height: u.bbox.height / ratio,
  };
  const labels = legendLabels(input);
  // SVG text is not measured here: 7 px a character is close for a 12 px sans-serif.
  const layout = legendLayout(labels, u.width, (t) => t.length * 7);
  const width = u.width;
  const height = TITLE_H + u.height + layout.height;
  const xs = u.data[0] as ArrayLike<number>;
  const main = new Set(input.legend.map((l) => l.seriesIndex));
  const xMin = u.scales.x?.min ?? Number.NEGATIVE_INFINITY;
  const xMax = u.scales.x?.max ?? Number.POSITIVE_INFINITY;
  const pointsOf = (si: number): [number, number][] => {
    const ys = u.data[si] as ArrayLike<number | null | undefined>;
    const out: [number, number][] = [];
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i] as number;
      const y = ys[i];
      if (y === null || y === undefined || !Number.isFinite(y) || x < xMin || x > xMax) continue;
      const px = u.valToPos(x, 'x');
      const py = u.valToPos(y, 'y');
      if (Number.isFinite(px) && Number.isFinite(py)) out.push([plot.left + px, plot.top + py]);
    }
    return out;
  };
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="${esc(input.theme.bg)}"/>`,
    `<title>${esc(input.title)}</title>`,
    `<defs><clipPath id="plot"><rect x="${num(plot.left)}" y="${num(plot.top)}" width="${num(plot.width)}" height="${num(plot.height)}"/></clipPath></defs>`,
    `<text x="10" y="${TITLE_H / 2 + 5}" font-size="14" font-weight="600" fill="${esc(input.theme.fg)}">${esc(input.title)}</text>`,
  );
  // Grid and ticks.
  const axes: string[] = [];
  for (const t of input.ticks.x) {
    const px = u.valToPos(t.value, 'x');
    if (!Number.isFinite(px) || px < -0.5 || px > plot.width + 0.5) continue;
    const x = num(plot.left + px);
    axes.push(
      `<line class="grid" x1="${x}" x2="${x}" y1="${num(plot.top)}" y2="${num(plot.top + plot.height)}" stroke="${esc(input.theme.grid)}"/>`,
    );
    axes.push(
      `<line x1="${x}" x2="${x}" y1="${num(plot.top + plot.height)}" y2="${num(plot.top + plot.height + 5)}" stroke="${esc(input.theme.fg)}"/>`,
    );
    if (t.label)
      axes.push(
        `<text class="tick x" x="${x}" y="${num(plot.top + plot.height + 18)}" text-anchor="middle" fill="${esc(input.theme.fg)}">${esc(t.label)}</text>`,
      );
  }
  for (const t of input.ticks.y) {
    const py = u.valToPos(t.value, 'y');
    if (!Number.isFinite(py) || py < -0.5 || py > plot.height + 0.5) continue;
    const y = num(plot.top + py);
    axes.push(
      `<line class="grid" x1="${num(plot.left)}" x2="${num(plot.left + plot.width)}" y1="${y}" y2="${y}" stroke="${esc(input.theme.grid)}"/>`,
    );
    axes.push(
      `<line x1="${num(plot.left - 5)}" x2="${num(plot.left)}" y1="${y}" y2="${y}" stroke="${esc(input.theme.fg)}"/>`,
    );
    if (t.label)
      axes.push(
        `<text class="tick y" x="${num(plot.left - 8)}" y="${num(plot.top + py + 4)}" text-anchor="end" fill="${esc(input.theme.fg)}">${esc(t.label)}</text>`,
      );
  }
  parts.push(`<g class="axes">${axes.join('')}`);
  parts.push(
    `<line x1="${num(plot.left)}" x2="${num(plot.left + plot.width)}" y1="${num(plot.top + plot.height)}" y2="${num(plot.top + plot.height)}" stroke="${esc(input.theme.fg)}"/>`,
    `<line x1="${num(plot.left)}" x2="${num(plot.left)}" y1="${num(plot.top)}" y2="${num(plot.top + plot.height)}" stroke="${esc(input.theme.fg)}"/>`,
    `<text class="axis-title" x="${num(plot.left + plot.width / 2)}" y="${num(plot.top + plot.height + 36)}" text-anchor="middle" fill="${esc(input.theme.fg)}">${esc(input.xTitle)}</text>`,
    `<text class="axis-title" transform="translate(14 ${num(plot.top + plot.height / 2)}) rotate(-90)" text-anchor="middle" fill="${esc(input.theme.fg)}">${esc(input.yTitle)}</text>`,
    '</g>',
  );
  // Envelopes, then auxiliary lines, then the main series on top.
  const drawn: string[] = [];
  for (const band of input.bands ?? []) {
    const [hi, lo] = band.series;
    if (u.series[hi]?.show === false || u.series[lo]?.show === false) continue;
    const upper = pointsOf(hi);
    const lower = pointsOf(lo).reverse();
    if (upper.length < 2 || lower.length < 2) continue;
    const fill = typeof band.fill === 'string' ? band.fill : 'rgba(0,0,0,0.1)';
    drawn.push(
      `<polygon class="band" points="${[...upper, ...lower].map(([x, y]) => `${num(x)},${num(y)}`).join(' ')}" fill="${esc(fill)}" stroke="none"/>`,
    );
  }
  const lines = (isMain: boolean) => {
    u.series.forEach((s, si) => {
      if (si === 0 || s.show === false || main.has(si) !== isMain) return;
      const pts = pointsOf(si);
      if (pts.length === 0) return;
      const stroke = typeof s.stroke === 'function' ? s.stroke(u, si) : s.stroke;
      drawn.push(
        `<polyline class="${isMain ? 'series' : 'aux'}" data-label="${esc(String(s.label ?? ''))}" fill="none" stroke="${esc(String(stroke ?? '#000'))}" stroke-width="${s.width ?? 1}" stroke-linejoin="round" points="${pts.map(([x, y]) => `${num(x)},${num(y)}`).join(' ')}"/>`,
      );
    });
  };
  lines(false);
  lines(true);
  parts.push(`<g clip-path="url(#plot)">${drawn.join('')}</g>`);
  const top = TITLE_H + u.height + 4;
  const legend = labels.map((label, i) => {
    const pos = layout.at[i];
    const entry = input.legend[i];
    if (!pos) return '';
    const swatch =
      entry && i < LEGEND_MAX
        ? `<rect x="${pos.x}" y="${top + pos.y + LEGEND_ROW_H / 2 - 1.5}" width="16" height="3" fill="${esc(entry.color)}"/>`
        : '';
    return `${swatch}<text x="${pos.x + 22}" y="${top + pos.y + LEGEND_ROW_H / 2 + 4}" fill="${esc(input.theme.fg)}">${esc(label)}</text>`;
  });
  parts.push(`<g class="legend">${legend.join('')}</g>`, '</svg>');
  return parts.join('\n');
}
