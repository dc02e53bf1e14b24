// The hovered series' highlight: a canvas over uPlot's plot area that veils the chart in the
// background colour and draws the hovered series again on top, at full strength. uPlot's own focus
// dims the other series by redrawing every one of them, which at a few hundred runs takes longer
// than a mouse move; this draws one series.
import type uPlot from 'uplot';

export interface HighlightLayer {
  /** Veils the plot and draws series `seriesIndex` over it in `color`. */
  show(seriesIndex: number, color: string, width: number): void;
  clear(): void;
  /** Removes the canvas. */
  destroy(): void;
}

/** How much of the background covers the other series (0 none, 1 all). */
const VEIL = 0.6;

/**
 * A highlight canvas in `container` (a positioned ancestor of the chart, outside the chart's own
 * element, which keeps one canvas), placed over the plot area and veiled in `background`.
 *
 * @example
 * ```ts
 * const highlight = highlightLayer(chart, '#ffffff', chartBody);
 * highlight.show(3, '#d62728', 1.5);
 * highlight.clear();
 * ```
 */
export function highlightLayer(u: uPlot, background: string, container: HTMLElement): HighlightLayer {
  const canvas = document.createElement('canvas');
  canvas.className = 'chart-highlight';
  canvas.dataset.testid = 'chart-highlight';
  canvas.style.cssText = 'position:absolute;left:0;top:0;pointer-events:none;';
  container.append(canvas);
  const ctx = canvas.getContext('2d');
  const sizeToPlot = () => {
    const ratio = window.devicePixelRatio || 1;
    const width = u.over.clientWidth;
    const height = u.over.clientHeight;
    const over = u.over.getBoundingClientRect();
    const box = container.getBoundingClientRect();
    canvas.style.transform = `translate(${over.left - box.left}px, ${over.top - box.top}px)`;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    ctx?.setTransform(ratio, 0, 0, ratio, 0, 0);
    return { width, height };
  };
  return {
    destroy: () => canvas.remove(),
    show(seriesIndex, color, width) {
      if (!ctx) return;
      canvas.hidden = false;
      const { width: w, height: hgt } = sizeToPlot();
      ctx.clearRect(0, 0, w, hgt);
      ctx.globalAlpha = VEIL;
      ctx.fillStyle = background;
      ctx.fillRect(0, 0, w, hgt);
      ctx.globalAlpha = 1;
      const xs = u.data[0] as ArrayLike<number>;
      const ys = u.data[seriesIndex] as ArrayLike<number | null | undefined> | undefined;
      if (!ys) return;
      const xMin = u.scales.x?.min ?? Number.NEGATIVE_INFINITY;
      const xMax = u.scales.x?.max ?? Number.POSITIVE_INFINITY;
      ctx.save();
      ctx.beginPath();
      ctx.rect(0, 0, w, hgt);
      ctx.clip();
      ctx.beginPath();
      let started = false;
      for (let i = 0; i < xs.length; i++) {
        const x = xs[i] as number;
        const y = ys[i];
        if (y === null || y === undefined || !Number.isFinite(y)) continue;
        // One point either side of the visible range, so the line runs to the edges.
        if (x < xMin && (xs[i + 1] ?? x) < xMin) continue;
        const px = u.valToPos(x, 'x');
        const py = u.valToPos(y, 'y');
        if (!Number.isFinite(px) || !Number.isFinite(py)) continue;
        if (started) ctx.lineTo(px, py);
        else ctx.moveTo(px, py);
        started = true;
        if (x > xMax) break;
      }
      ctx.strokeStyle = color;
      ctx.lineWidth = width + 1;
      ctx.lineJoin = 'round';
      ctx.stroke();
      ctx.restore();
      canvas.dataset.series = String(seriesIndex);
    },
    clear() {
      if (!ctx) return;
      const { width: w, height: hgt } = sizeToPlot();
      ctx.clearRect(0, 0, w, hgt);
      delete canvas.dataset.series;
      canvas.hidden = true;
    },
  };
}
