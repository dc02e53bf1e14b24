// The benchmark's peers: what a dashboard without server-side downsampling would do (fetch every
// point of a metric at full resolution through /api/query as Arrow and draw them all with uPlot),
// and the dashboard's own draw of an /api/metrics answer, aligned or not (before aligned answers,
// every run kept its own steps and the chart merged a thousand x arrays). Loaded on demand, never
// by the dashboard itself; loading it adds `drawServerSeries` to `window.runlake`.
import { tableFromIPC } from 'apache-arrow';
import uPlot from 'uplot';
import { authHeaders, decodeMetricSeries, sqlString } from './api.js';
import { type AlignedData, mergeSeries, type XYSeries } from './merge-series.js';
import { seriesColor } from './palette.js';

/** Draws `data` with one uPlot line per series into `host`; resolves after the first draw. */
function drawLines(host: HTMLElement, data: AlignedData, count: number): Promise<void> {
  return new Promise<void>((resolve) => {
    new uPlot(
      {
        width: Math.max(400, host.clientWidth || 1200),
        height: 380,
        legend: { show: false },
        scales: { x: { time: false } },
        cursor: { points: { show: false } },
        series: [
          {},
          ...Array.from({ length: count }, (_, i) => ({
            stroke: seriesColor(i),
            width: 1.5,
            spanGaps: true,
            points: { show: false },
          })),
        ],
        hooks: { draw: [() => resolve()] },
      },
      data as uPlot.AlignedData,
      host,
    );
  });
}

/**
 * Fetches `/api/metrics` (Arrow) for `runs` at `width`, aligned or not, merges the runs onto one
 * x array as the dashboard's chart does and draws them; resolves with the points drawn and the
 * milliseconds spent in the answer, the merge and the draw.
 */
export async function drawServerSeries(
  host: HTMLElement,
  metric: string,
  runs: readonly string[],
  options: { width: number; aligned: boolean },
): Promise<{ points: number; answerMs: number; mergeMs: number; drawMs: number }> {
  const start = performance.now();
  const response = await fetch('api/metrics', {
    method: 'POST',
    headers: { ...authHeaders(), 'Content-Type': 'application/json' },
    body: JSON.stringify({
      run: runs,
      metric,
      width: options.width,
      aligned: options.aligned,
      format: 'arrow',
    }),
  });
  if (!response.ok) throw new Error(`metrics failed: ${response.status} ${await response.text()}`);
  const answer = decodeMetricSeries(new Uint8Array(await response.arrayBuffer()));
  const answered = performance.now();
  const xy: XYSeries[] = answer.series.map((s) => ({ x: s.step, y: s.value }));
  const data = mergeSeries(xy);
  const merged = performance.now();
  await drawLines(host, data, xy.length);
  let points = 0;
  for (const s of answer.series) points += s.step.length;
  return {
    points,
    answerMs: answered - start,
    mergeMs: merged - answered,
    drawMs: performance.now() - merged,
  };
}

Object.assign(window.runlake ?? {}, { drawServerSeries });

/** Fetches all points of `metric` for `runs` and draws them; resolves with the points drawn. */
export async function drawFullResolution(
  host: HTMLElement,
  metric: string,
  runs: readonly string[],
): Promise<number> {
  const sql = `SELECT run_id, step, value FROM metrics_scalar WHERE metric_name = ${sqlString(metric)}
    AND run_id IN (${runs.map(sqlString).join(', ')}) ORDER BY run_id, step`;
  const response = await fetch('api/query', {
    method: 'POST',
    headers: { ...authHeaders(), 'Content-Type': 'application/json' },
    body: JSON.stringify({ sql, format: 'arrow' }),
  });
  if (!response.ok) throw new Error(`query failed: ${response.status} ${await response.text()}`);
  const table = tableFromIPC(new Uint8Array(await response.arrayBuffer()));
  const runCol = table.getChild('run_id');
  const stepCol = table.getChild('step');
  const valueCol = table.getChild('value');
  if (!runCol || !stepCol || !valueCol) throw new Error('unexpected columns');
  // Typed columns where Arrow has them, so the peer is not slowed by per-row boxing.
  const steps = stepCol.toArray() as ArrayLike<number | bigint>;
  const values = valueCol.toArray() as ArrayLike<number>;
  const byRun = new Map<string, { x: number[]; y: number[] }>();
  let current: { x: number[]; y: number[] } | undefined;
  let currentRun: string | undefined;
  for (let i = 0; i < table.numRows; i++) {
    const run = String(runCol.get(i));
    if (run !== currentRun) {
      currentRun = run;
      current = byRun.get(run);
      if (!current) {
        current = { x: [], y: [] };
        byRun.set(run, current);
      }
    }
    current?.x.push(Number(steps[i]));
    current?.y.push(values[i] as number);
  }
  const series = [...byRun.values()];
  await drawLines(host, mergeSeries(series), series.length);
  return table.numRows;
}
