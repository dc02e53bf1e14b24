import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import {
  attachGridId,
  lakeInfo,
  lakePaths,
  openLake,
  RunlakeError,
  writeEventRows,
  writeSeedRows,
} from '../lake/index.js';
import { writeStdout } from './common.js';
import { renderTable } from './output.js';
import { positiveInteger } from './parse.js';

interface DemoOptions {
  out: string;
  seeds: number;
  events: number;
}

const DEMO_MARKER = 'demo-lake';

/**
 * `runlake demo`: writes a synthetic sweep (8 grids × seeds × events), runs example queries and
 * prints what to try next.
 *
 * @example
 * ```sh
 * runlake demo --out /tmp/runlake-demo --seeds 3 --events 2000
 * ```
 */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('write a synthetic sweep into a lake, run example queries, and show what to try next')
    .option('-o, --out <dir>', 'lake directory to (re)create', 'runlake-demo')
    .option('--seeds <n>', 'seeds per grid', positiveInteger, 3)
    .option('--events <n>', 'events per seed', positiveInteger, 2000)
    .action(async (options: DemoOptions) => {
      const out = options.out;
      await prepareDemoDirectory(out);
      const started = performance.now();
      const grids = demoGrids();
      let eventCount = 0;
      for (const [g, params] of grids.entries()) {
        const random = mulberry32(1000 + g);
        const events: Record<string, unknown>[] = [];
        const summaries: Record<string, unknown>[] = [];
        for (let seed = 0; seed < options.seeds; seed++) {
          const run = simulateRun(params, seed, options.events, random);
          events.push(...run.events);
          summaries.push(run.summary);
        }
        await writeEventRows(events, out, params);
        await writeSeedRows(summaries, out, params);
        eventCount += events.length;
      }
      const seconds = (performance.now() - started) / 1000;
      const lines = [
        `wrote ${grids.length} grids × ${options.seeds} seeds × ${options.events} events = ` +
          `${eventCount.toLocaleString('en-US')} event rows to ${out}/ in ${seconds.toFixed(1)} s`,
      ];

      const lake = await openLake(out);
      try {
        const info = await lakeInfo(lake);
        for (const d of info.datasets) {
          lines.push(
            `  ${d.name}/: ${d.rows.toLocaleString('en-US')} rows in ${d.files} files (${Object.entries(
              d.distinct,
            )
              .map(([k, n]) => `${n} ${k}`)
              .join(', ')})`,
          );
        }
        for (const example of EXAMPLE_QUERIES) {
          lines.push('', `-- ${example.title}`, example.sql, renderTable(await lake.query(example.sql)));
        }
      } finally {
        lake.close();
      }
      lines.push('', 'Try next:', ...nextSteps(out));
      await writeStdout(`${lines.join('\n')}\n`);
    });
}

async function prepareDemoDirectory(out: string): Promise<void> {
  const marker = path.join(lakePaths(out).meta, DEMO_MARKER);
  if (existsSync(out) && readdirSync(out).length > 0) {
    if (!existsSync(marker)) {
      throw new RunlakeError(`${out} exists and is not a demo lake; pass --out with a new directory`);
    }
    await rm(out, { recursive: true, force: true });
  }
  await mkdir(path.dirname(marker), { recursive: true });
  await writeFile(marker, 'created by `runlake demo`; the demo deletes and rewrites this lake\n');
}

function demoGrids(): Array<Record<string, unknown> & { grid_id: string }> {
  const grids = [];
  for (const algo of ['memorypair', 'sgd_baseline']) {
    for (const accountant of ['zcdp', 'rdp']) {
      for (const gamma_bar of [0.5, 1.0]) {
        grids.push(
          attachGridId({ algo, accountant, gamma_bar, gamma_split: 0.5, rho_total: 1.0, delete_ratio: 0.1 }),
        );
      }
    }
  }
  return grids;
}

// A stylised online-learning run: regret decays as 1/sqrt(t), faster for memorypair and for a
// larger regret budget; deletions add noise; zCDP spends privacy budget more smoothly than RDP.
function simulateRun(params: Record<string, unknown>, seed: number, events: number, random: () => number) {
  const speed = (params.algo === 'memorypair' ? 1.6 : 1.0) * (params.gamma_bar === 1.0 ? 1.2 : 1.0);
  const rows: Record<string, unknown>[] = [];
  let correct = 0;
  let regretSum = 0;
  let privacy = 0;
  for (let i = 0; i < events; i++) {
    const op = random() < (params.delete_ratio as number) ? 'delete' : 'insert';
    const regret = Math.max(
      0,
      1 / (speed * Math.sqrt(i + 1)) + (random() - 0.5) * 0.02 + (op === 'delete' ? 0.01 : 0),
    );
    const acc = Math.min(
      1,
      0.5 + 0.45 * (1 - Math.exp(((-(i + 1) * speed) / events) * 4)) + (random() - 0.5) * 0.02,
    );
    privacy += (params.accountant === 'zcdp' ? 1 : 1 + random()) * ((params.rho_total as number) / events);
    correct += random() < acc ? 1 : 0;
    regretSum += regret;
    rows.push({ seed, event_id: i, op, regret, acc, privacy_spent: privacy });
  }
  const summary = {
    seed,
    n_events: events,
    avg_regret_empirical: regretSum / events,
    final_acc: correct / events,
    privacy_spent: privacy,
    converged: regretSum / events < 0.05,
  };
  return { events: rows, summary };
}

const EXAMPLE_QUERIES = [
  {
    title: 'the parameter grid (params flattened into typed columns)',
    sql: 'SELECT grid_id, algo, accountant, gamma_bar FROM grids ORDER BY algo, accountant, gamma_bar',
  },
  {
    title: 'mean ± std over seeds of each grid, best first (seeds joined with grids)',
    sql:
      'SELECT g.algo, g.accountant, g.gamma_bar, count(*) AS seeds,\n' +
      '       round(avg(s.avg_regret_empirical), 4) AS regret, round(stddev(s.avg_regret_empirical), 4) AS regret_std\n' +
      'FROM seeds s JOIN grids g USING (grid_id)\nGROUP BY ALL ORDER BY regret LIMIT 5',
  },
  {
    title: 'event-level filter, like exp_engine\'s query_events("regret < 0.05")',
    sql: 'SELECT grid_id, seed, event_id, op, round(regret, 4) AS regret FROM events WHERE regret < 0.05 ORDER BY event_id LIMIT 5',
  },
];

function nextSteps(out: string): string[] {
  return [
    `  runlake info ${out}`,
    `  runlake query ${out} events --where "op = 'delete' AND regret < 0.02" --limit 10`,
    `  runlake query ${out} --sql "SELECT grid_id, seed, max(privacy_spent) FROM events GROUP BY ALL" --format csv`,
    `  runlake query ${out} seeds --format parquet --out seeds.parquet`,
    `  python3 -c "import pyarrow.dataset as ds; print(ds.dataset('${out}/events', partitioning='hive').count_rows())"`,
    '  write your own rows from Python: see examples/python/ and docs/lake.md',
  ];
}

// Small deterministic PRNG so the demo lake is the same on every machine.
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
