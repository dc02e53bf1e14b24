// The benchmark's peer: what a dashboard without server-side downsampling would do. It fetches
// every point of a metric at full resolution through /api/query as Arrow and draws them all with
// uPlot. Loaded on demand (apache-arrow is only needed here), never by the dashboard itself.
import { tableFromIPC } from 'apache-arrow';
import uPlot from 'uplot';
import { authHeaders, sqlString } from './api.js';
import { mergeSeries } from './merge-series.js';
import { seriesColor } from './palette.js';

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
  const data = mergeSeries(series);
  await new Promise<void>((resolve) => {
    new uPlot(
      {
        width: Math.max(400, host.clientWidth || 1200),
        height: 380,
        legend: { show: false },
        scales: { x: { time: false } },
        cursor: { points: { show: false } },
        series: [
          {},
          ...series.map((_, i) => ({
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
  return table.numRows;
}
