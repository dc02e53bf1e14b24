import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { analyzeLake, mulberry32, scoreDetections } from '../geometry/index.js';
import {
  attachGridId,
  lakeInfo,
  lakePaths,
  openLake,
  RunlakeError,
  validateLake,
  writeEventRows,
  writeSeedRows,
} from '../lake/index.js';
import { checkShardRefs } from '../shards/index.js';
import { writeStdout } from './common.js';
import { writeSampleMetrics, writeSquiggleDemo } from './demo-squiggle.js';
import { runlakeInvocation, shellWord } from './invocation.js';
import { countOf, renderTable } from './output.js';
import { nonNegativeInteger, positiveInteger } from './parse.js';
import { serveUntilSignal } from './serve.js';

interface DemoOptions {
  out: string;
  squiggleOut?: string;
  seeds: number;
  events: number;
  serve?: boolean;
  port: number;
}

const DEMO_MARKER = 'demo-lake';

/**
 * `runlake demo`: writes a synthetic sweep (8 grids × seeds × events) and a synthetic Squiggle
 * lake (every Squiggle dataset), runs example queries and prints what to try next.
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
    .option('-o, --out <dir>', 'sweep lake directory to (re)create', 'runlake-demo')
    .option('--squiggle-out <dir>', 'Squiggle lake directory to (re)create (default: <out>-squiggle)')
    .option('--seeds <n>', 'seeds per grid', positiveInteger, 3)
    .option('--events <n>', 'events per seed', positiveInteger, 2000)
    .option('--serve', 'then serve the Squiggle demo lake (runlake serve) until interrupted')
    .option('--port <n>', 'port for --serve (0 picks a free one)', nonNegativeInteger, 8787)
    .action(async (options: DemoOptions) => {
      const out = options.out;
      const squiggleOut = options.squiggleOut ?? `${out.replace(/[/\\]+$/, '')}-squiggle`;
      await prepareDemoDirectory(out);
      await prepareDemoDirectory(squiggleOut);
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
            `  ${d.name}/: ${countOf(d.rows, 'row')} in ${countOf(d.files, 'file')} (${Object.entries(
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
      lines.push('', ...(await squiggleDemo(squiggleOut)));
      const sampleMetrics = await writeSampleMetrics(squiggleOut);
      lines.push('', 'Try next:', ...nextSteps(out, squiggleOut, sampleMetrics));
      await writeStdout(`${lines.join('\n')}\n`);
      if (options.serve) {
        await serveUntilSignal(squiggleOut, {
          port: options.port,
          host: '127.0.0.1',
          maxRows: 100_000,
          timeoutMs: 30_000,
        });
      }
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

async function squiggleDemo(out: string): Promise<string[]> {
  const started = performance.now();
  const lake = await openLake(out, { schema: 'squiggle' });
  try {
    const { written, sweep } = await writeSquiggleDemo(lake);
    const seconds = (performance.now() - started) / 1000;
    const total = Object.values(written).reduce((a, b) => a + b, 0);
    const lines = [
      `wrote the inputs of a synthetic Squiggle lake to ${out}/ (${total.toLocaleString('en-US')} rows in ${Object.keys(written).length} datasets, ${seconds.toFixed(1)} s):`,
      ...Object.entries(written).map(([name, rows]) => `  ${name}/: ${countOf(rows, 'row')}`),
    ];
    const summary = await analyzeLake(lake);
    lines.push(
      '',
      `runlake analyze ${out}: ${summary.checkpoints} checkpoints of ${summary.keys} trajectories on ${summary.workers} ` +
        `workers in ${summary.seconds.toFixed(1)} s → ${summary.stateRows} geometry_state, ${summary.dynamicsRows} ` +
        `geometry_dynamics, ${summary.stages?.events ?? 0} events, ${summary.stages?.signatures ?? 0} signatures, ` +
        `${summary.stages?.matches ?? 0} matches`,
    );
    const detected = await lake.query('SELECT run_id, event_type, layer, module, step FROM events');
    const every = (sweep.steps[1] ?? 0) - (sweep.steps[0] ?? 0);
    const scores = scoreDetections(
      sweep.planted,
      detected.map((e) => ({
        runId: e.run_id as string,
        eventType: e.event_type as string,
        layer: e.layer as number | null,
        module: e.module as string | null,
        step: e.step as number,
      })),
      every,
    );
    lines.push(
      '',
      `-- planted vs detected events (a detection counts within ±1 checkpoint = ±${every} steps)`,
      renderTable(
        scores.map((s) => ({
          event_type: s.eventType,
          planted: s.planted,
          detected: s.detected,
          matched: s.matched,
          precision: Number(s.precision.toFixed(3)),
          recall: Number(s.recall.toFixed(3)),
        })),
      ),
    );
    for (const example of SQUIGGLE_QUERIES) {
      lines.push('', `-- ${example.title}`, example.sql, renderTable(await lake.query(example.sql)));
    }
    const report = await validateLake(out, { referenceChecks: [checkShardRefs] });
    lines.push(
      '',
      report.ok
        ? `runlake validate ${out}: ok (${report.datasets.length} datasets, every file matches its schema, every shard_ref resolves)`
        : `runlake validate ${out}: ${report.violations.length} violations`,
    );
    return lines;
  } finally {
    lake.close();
  }
}

const SQUIGGLE_QUERIES = [
  {
    title: 'runs joined with their sweep parameters (runs.grid_id → grids)',
    sql: 'SELECT r.run_id, r.seed, g.lr, r.status FROM runs r JOIN grids g USING (grid_id) ORDER BY r.run_id',
  },
  {
    title:
      'effective rank of layer 3 resid_post per seed: collapse at 600, re-expansion at 1200, seed 2 departs at 1500',
    sql:
      'PIVOT (SELECT run_id, step, round(effective_rank, 1) AS rank FROM geometry_state\n' +
      "  WHERE module = 'resid_post' AND layer = 3 AND step IN (0, 500, 600, 1100, 1200, 1400, 1500, 2000))\n" +
      'ON run_id USING first(rank) ORDER BY step',
  },
  {
    title: 'detected events by type',
    sql: 'SELECT event_type, detector, count(*) AS n, min(step) AS first_step, count(DISTINCT run_id) AS runs FROM events GROUP BY ALL ORDER BY n DESC',
  },
  {
    title:
      'best combined match of each run’s layer-2 resid_post effective-rank signature (seed 2 matches worst)',
    sql:
      'SELECT run_id, candidate_signature_id, round(score, 3) AS score FROM matches\n' +
      "WHERE method = 'combined' AND rank = 1 AND query_signature_id LIKE '%/resid_post/L2/*/effective_rank#%' ORDER BY score DESC",
  },
];

/**
 * The "Try next" lines: each runs as printed from the directory the demo ran in (the CLI as
 * {@link runlakeInvocation} finds it, paths shell-quoted, every file it writes inside a demo lake
 * directory), except `serve`, which runs until interrupted. Lines starting with `#` are notes.
 */
function nextSteps(out: string, squiggleOut: string, sampleMetrics: string): string[] {
  const cli = runlakeInvocation();
  const [o, sq] = [shellWord(out), shellWord(squiggleOut)];
  return [
    `  ${cli} info ${o}`,
    `  ${cli} query ${o} events --where "op = 'delete' AND regret < 0.02" --limit 10`,
    `  ${cli} query ${o} --sql "SELECT grid_id, seed, max(privacy_spent) FROM events GROUP BY ALL" --format csv`,
    `  ${cli} query ${o} seeds --format parquet --out ${shellWord(path.join(out, 'seeds.parquet'))}`,
    `  python3 -c "import pyarrow.dataset as ds; print(ds.dataset('${out}/events', partitioning='hive').count_rows())"   # needs pyarrow`,
    '  # write your own rows from Python: see examples/python/ and docs/lake.md',
    `  ${cli} query ${sq} --sql "SELECT run_id, layer, step, effective_rank FROM geometry_state WHERE module = 'resid_post' ORDER BY ALL LIMIT 20"`,
    `  ${cli} match ${sq} --run tiny-lr0.0003-s2 --layer 2 --module resid_post --top 3`,
    `  ${cli} analyze ${sq}        # incremental: nothing new, nothing recomputed`,
    `  ${cli} validate ${sq}`,
    `  ${cli} serve ${sq}          # dashboard + query API on http://127.0.0.1:8787/ (or: ${cli} demo --serve)`,
    `  ${cli} export-viewer --out ${shellWord(path.join(squiggleOut, 'visualize_results.html'))}   # standalone Parquet/CSV/JSON viewer, no server`,
    `  ${cli} schema geometry_state        # every dataset's columns: docs/schemas.md`,
    `  ${cli} import ${sq} metrics_scalar ${shellWord(sampleMetrics)}   # a sample file the demo wrote`,
  ];
}
