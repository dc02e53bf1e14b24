import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  analyzeLake,
  attachGridId,
  geometryDescriptors,
  type Lake,
  openLake,
  RunlakeError,
  type SyntheticSweep,
  scoreDetections,
  syntheticRuns,
  writeSyntheticEmbeddings,
} from '../src/index.js';
import { runlake } from './helpers/cli.js';
import { listFiles, tempDir } from './helpers/lake-fixtures.js';

const SWEEP_OPTIONS = {
  seeds: 4,
  divergingSeed: 2,
  layers: 2,
  modules: ['resid_post', 'mlp_out'],
  samples: 32,
  dim: 24,
} as const;

async function writeRuns(lake: Lake, sweep: SyntheticSweep): Promise<void> {
  const { grid_id } = attachGridId({ model: 'tiny', lr: 3e-4 });
  await lake.write(
    'runs',
    sweep.runs.map((r) => ({ run_id: r.runId, grid_id, seed: r.seed })),
  );
}

async function detectedEvents(lake: Lake) {
  const rows = await lake.query('SELECT run_id, event_type, layer, module, step FROM events');
  return rows.map((e) => ({
    runId: e.run_id as string,
    eventType: e.event_type as string,
    layer: e.layer as number | null,
    module: e.module as string | null,
    step: e.step as number,
  }));
}

describe('analyzeLake on a synthetic sweep (in process)', () => {
  const dir = tempDir();
  const sweep = syntheticRuns(SWEEP_OPTIONS);
  const firstHalf = sweep.steps.filter((s) => s <= 1000);
  const secondHalf = sweep.steps.filter((s) => s > 1000);
  let lake: Lake;

  beforeAll(async () => {
    lake = await openLake(dir, { schema: 'squiggle' });
    await writeRuns(lake, sweep);
    await writeSyntheticEmbeddings(lake, sweep, {
      steps: firstHalf,
      shardModules: ['resid_post'],
      store: 'arrays/a',
    });
  });
  afterAll(() => {
    lake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('computes one geometry_state row per checkpoint and dynamics between consecutive ones', async () => {
    const summary = await analyzeLake(lake, { workers: 1 });
    const keys = sweep.runs.length * sweep.layers * sweep.modules.length;
    expect(summary.keys).toBe(keys);
    expect(summary.checkpoints).toBe(keys * firstHalf.length);
    expect(summary.stateRows).toBe(keys * firstHalf.length);
    expect(summary.dynamicsRows).toBe(keys * (firstHalf.length - 1));
    expect(summary.problems).toEqual([]);
    const [counts] = await lake.query(
      'SELECT (SELECT count(*) FROM geometry_state) AS state, (SELECT count(*) FROM geometry_dynamics) AS dynamics',
    );
    expect(counts).toEqual({ state: keys * firstHalf.length, dynamics: keys * (firstHalf.length - 1) });
  });

  it('stores the descriptors of the matrix itself, for inline and shard-referenced embeddings alike', async () => {
    const run = sweep.runs[1]?.runId as string;
    for (const module of ['resid_post', 'mlp_out']) {
      const [row] = await lake.query(
        `SELECT * FROM geometry_state WHERE run_id = '${run}' AND module = '${module}' AND layer = 1 AND step = 700`,
      );
      const expected = geometryDescriptors(sweep.matrix(run, 700, 1, module), sweep.samples, sweep.dim);
      expect(row?.effective_rank).toBeCloseTo(expected.effective_rank as number, 10);
      expect(row?.intrinsic_dim).toBeCloseTo(expected.intrinsic_dim as number, 10);
      expect(row?.sample_id).toBe('*');
      expect(row?.n_samples).toBe(sweep.samples);
    }
    const [drift] = await lake.query(
      `SELECT step_prev, cka_drift, procrustes_distance FROM geometry_dynamics
       WHERE run_id = '${run}' AND module = 'resid_post' AND layer = 0 AND step = 600`,
    );
    // 500 → 600 is the planted collapse: the representation changes a lot.
    expect(drift?.step_prev).toBe(500);
    expect(drift?.cka_drift as number).toBeGreaterThan(0.05);
    expect(drift?.procrustes_distance as number).toBeGreaterThan(0);
  });

  it('is incremental: a rerun with nothing new writes nothing; new checkpoints alone are processed', async () => {
    const before = listFiles(dir).length;
    const idle = await analyzeLake(lake, { workers: 1 });
    expect(idle.checkpoints).toBe(0);
    expect(idle.stages).toBeNull();
    expect(listFiles(dir).length).toBe(before);

    await lake.write('events', [
      {
        run_id: sweep.runs[0]?.runId,
        event_type: 'phase_shift',
        event_id: 'hand-labelled',
        step: 300,
        sample_set: 'fixed_v1',
        detector: 'human',
        magnitude: 1,
        confidence: 1,
      },
    ]);
    await writeSyntheticEmbeddings(lake, sweep, {
      steps: secondHalf,
      shardModules: ['resid_post'],
      store: 'arrays/b',
    });
    const keys = sweep.runs.length * sweep.layers * sweep.modules.length;
    const next = await analyzeLake(lake, { workers: 1 });
    expect(next.checkpoints).toBe(keys * secondHalf.length);
    expect(next.stateRows).toBe(keys * secondHalf.length);
    // Each key's first new checkpoint has its dynamics measured from the last old one.
    expect(next.dynamicsRows).toBe(keys * secondHalf.length);
    const [dup] = await lake.query(
      `SELECT count(*) AS n FROM (SELECT run_id, module, layer, step, count(*) AS c FROM geometry_state
       GROUP BY ALL HAVING c > 1)`,
    );
    expect(dup?.n).toBe(0);
    const [bridge] = await lake.query(
      'SELECT count(*) AS n FROM geometry_dynamics WHERE step = 1100 AND step_prev = 1000',
    );
    expect(bridge?.n).toBe(keys);
    // Derived events were replaced, not appended; the hand-written one survived.
    const [ids] = await lake.query(
      'SELECT count(*) AS n, count(DISTINCT event_id) AS distinct_ids FROM events',
    );
    expect(ids?.n).toBe(ids?.distinct_ids);
    const human = await lake.query("SELECT event_id FROM events WHERE detector = 'human'");
    expect(human).toEqual([{ event_id: 'hand-labelled' }]);
  });

  it('detects the planted collapse, re-expansion and bifurcation with precision and recall ≥ 0.9 (±1 checkpoint)', async () => {
    const every = (sweep.steps[1] as number) - (sweep.steps[0] as number);
    const scores = scoreDetections(sweep.planted, await detectedEvents(lake), every);
    expect(scores.map((s) => s.eventType).sort()).toEqual(['bifurcation', 'rank_collapse', 'reexpansion']);
    for (const score of scores) {
      expect(score.precision, `${score.eventType} precision`).toBeGreaterThanOrEqual(0.9);
      expect(score.recall, `${score.eventType} recall`).toBeGreaterThanOrEqual(0.9);
    }
  });

  it('writes two signatures per trajectory and descriptor, and ranked matches across runs', async () => {
    const [sig] = await lake.query(
      'SELECT count(*) AS n, count(DISTINCT signature_id) AS ids, count(DISTINCT method) AS methods FROM signatures',
    );
    const keys = sweep.runs.length * sweep.layers * sweep.modules.length;
    expect(sig).toEqual({ n: keys * 2 * 2, ids: keys * 2 * 2, methods: 2 });
    const matches = await lake.query(
      "SELECT run_id, candidate_run_id, rank FROM matches WHERE method = 'combined' ORDER BY query_signature_id, rank",
    );
    expect(matches.length).toBeGreaterThan(0);
    expect(matches.every((m) => m.run_id !== m.candidate_run_id)).toBe(true);
    // The diverging seed's best combined match is worse than any other seed's.
    const best = await lake.query(`
      SELECT run_id, avg(score) AS score FROM matches WHERE method = 'combined' AND rank = 1
        AND query_signature_id LIKE '%/effective_rank#%' GROUP BY run_id ORDER BY score`);
    expect(best[0]?.run_id).toBe(sweep.runs.find((r) => r.diverges)?.runId);
  });

  it('refuses unknown runs, bad worker counts and sweep lakes, naming the cause', async () => {
    await expect(analyzeLake(lake, { runs: ['nope'] })).rejects.toThrow(/no embeddings for run "nope"/);
    await expect(analyzeLake(lake, { workers: 0 })).rejects.toThrow(RunlakeError);
    const sweepDir = tempDir();
    const sweepLake = await openLake(sweepDir, { schema: 'sweep' });
    try {
      await expect(analyzeLake(sweepLake)).rejects.toThrow(/needs a squiggle lake/);
    } finally {
      sweepLake.close();
      rmSync(sweepDir, { recursive: true, force: true });
    }
  });
});

describe('analyzeLake on bad embeddings', () => {
  it('skips a checkpoint whose rows disagree on dim and reports it with its key and step', async () => {
    const dir = tempDir();
    const lake = await openLake(dir, { schema: 'squiggle' });
    try {
      const rows = [0, 100].flatMap((step) =>
        Array.from({ length: 6 }, (_, i) => ({
          run_id: 'r1',
          sample_set: 'p',
          module: 'resid_post',
          step,
          layer: 0,
          sample_id: `s${i}`,
          dim: step === 100 && i === 3 ? 3 : 4,
          vector: Float32Array.from({ length: step === 100 && i === 3 ? 3 : 4 }, (_, j) =>
            Math.sin(i * 7 + j + step),
          ),
        })),
      );
      await lake.write('embeddings', rows);
      const summary = await analyzeLake(lake, { workers: 1 });
      expect(summary.stateRows).toBe(1);
      expect(summary.problems).toHaveLength(1);
      expect(summary.problems[0]).toMatch(/r1\/p\/resid_post\/L0\/\* step 100: .*sample s3 has dim 3/);
    } finally {
      lake.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Lake.replace', () => {
  it('swaps only the files an earlier replace with the same stem wrote in that partition', async () => {
    const dir = tempDir();
    const lake = await openLake(dir, { schema: 'squiggle' });
    const event = (run: string, id: string) => ({
      run_id: run,
      event_type: 'rank_collapse',
      event_id: id,
      step: 1,
      sample_set: 'p',
      detector: 'd',
      magnitude: 1,
      confidence: 0.5,
    });
    try {
      await lake.write('events', [event('r1', 'mine')]);
      await lake.replace('events', [event('r1', 'a1')], { partition: { run_id: 'r1' }, stem: 'analysis' });
      await lake.replace('events', [event('r2', 'b1')], { partition: { run_id: 'r2' }, stem: 'analysis' });
      const second = await lake.replace('events', [event('r1', 'a2')], {
        partition: { run_id: 'r1' },
        stem: 'analysis',
      });
      expect(second.removedFiles).toBe(1);
      const ids = async () =>
        (await lake.query('SELECT event_id FROM events ORDER BY event_id')).map((r) => r.event_id);
      expect(await ids()).toEqual(['a2', 'b1', 'mine']);
      await lake.replace('events', [], { partition: { run_id: 'r1' }, stem: 'analysis' });
      expect(await ids()).toEqual(['b1', 'mine']);
      await expect(
        lake.replace('events', [event('r3', 'x')], { partition: { run_id: 'r1' }, stem: 'analysis' }),
      ).rejects.toThrow(/run_id/);
      await expect(
        lake.replace('events', [], { partition: { event_type: 'x' }, stem: 'analysis' }),
      ).rejects.toThrow(/leading prefix/);
      await expect(lake.replace('events', [], { partition: { run_id: 'r1' }, stem: '../x' })).rejects.toThrow(
        /stem/,
      );
      expect(await ids()).toEqual(['b1', 'mine']);
    } finally {
      lake.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('runlake analyze / match (compiled, worker threads)', () => {
  const sweep = syntheticRuns({ ...SWEEP_OPTIONS, seeds: 3, layers: 2, samples: 24, dim: 16 });
  const dirs = [tempDir(), tempDir()];
  beforeAll(async () => {
    for (const dir of dirs) {
      const lake = await openLake(dir, { schema: 'squiggle' });
      try {
        await writeRuns(lake, sweep);
        await writeSyntheticEmbeddings(lake, sweep, { shardModules: ['resid_post'] });
      } finally {
        lake.close();
      }
    }
  });
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('gives the same rows on 2 worker threads as on the calling thread', async () => {
    const parallel = runlake('analyze', dirs[0] as string, '--workers', '2', '--json');
    expect(parallel.stderr).toBe('');
    expect(parallel.code).toBe(0);
    const summary = JSON.parse(parallel.stdout);
    expect(summary.workers).toBe(2);
    expect(summary.stateRows).toBe(sweep.runs.length * 2 * 2 * sweep.steps.length);
    const serial = runlake('analyze', dirs[1] as string, '--workers', '1');
    expect(serial.code).toBe(0);
    expect(serial.stdout).toMatch(/analysed \d+ checkpoints of 12 trajectories on 1 worker/);
    const rows = async (dir: string) => {
      const lake = await openLake(dir);
      try {
        return await lake.query(
          'SELECT * EXCLUDE (top_eigenvalues) FROM geometry_state ORDER BY run_id, module, layer, step',
        );
      } finally {
        lake.close();
      }
    };
    expect(await rows(dirs[0] as string)).toEqual(await rows(dirs[1] as string));
  });

  it('prints a ranked table of matches, and refuses a run without signatures', () => {
    const run = sweep.runs[0]?.runId as string;
    const out = runlake(
      'match',
      dirs[0] as string,
      '--run',
      run,
      '--layer',
      '1',
      '--module',
      'resid_post',
      '--top',
      '2',
    );
    expect(out.code).toBe(0);
    const lines = out.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/query\s+\| rank \| run/);
    expect(lines).toHaveLength(4); // header, rule, 2 ranks
    expect(lines[2]).toMatch(/L1 resid_post \|\s+1 \|/);
    expect(out.stdout).not.toContain(`| ${run} |`);
    const missing = runlake('match', dirs[0] as string, '--run', 'ghost');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no signatures for run "ghost"/);
    const lakeFile = path.join(dirs[0] as string, 'nope');
    expect(runlake('analyze', lakeFile).stderr).toMatch(/does not exist/);
  });
});
