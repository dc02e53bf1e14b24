import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireRunAnalysisLocks } from '../src/geometry/analysis-lock.js';
import {
  AnalysisLockedError,
  analyzeLake,
  attachGridId,
  type Lake,
  openLake,
  RunlakeError,
  syntheticRuns,
  writeSyntheticEmbeddings,
} from '../src/index.js';
import { runlake } from './helpers/cli.js';
import { tempDir } from './helpers/lake-fixtures.js';

const DERIVED = ['geometry_state', 'geometry_dynamics', 'events', 'signatures', 'matches'];

const sweep = syntheticRuns({
  seeds: 3,
  divergingSeed: 2,
  totalSteps: 900,
  collapseStep: 300,
  reexpansionStep: 500,
  divergenceStep: 700,
  layers: 2,
  modules: ['resid_post', 'mlp_out'],
  samples: 16,
  dim: 12,
});

async function writeInput(dir: string): Promise<void> {
  const lake = await openLake(dir, { schema: 'squiggle' });
  try {
    const { grid_id } = attachGridId({ model: 'tiny', lr: 1e-3 });
    await lake.write(
      'runs',
      sweep.runs.map((r) => ({ run_id: r.runId, grid_id, seed: r.seed })),
    );
    await writeSyntheticEmbeddings(lake, sweep, { shardModules: ['resid_post'] });
  } finally {
    lake.close();
  }
}

/** Every row of a dataset as JSON text, sorted: equal lists mean bitwise equal rows. */
async function rowsOf(lake: Lake, dataset: string): Promise<string[]> {
  const rows = await lake.query(`SELECT * FROM ${dataset}`);
  return rows
    .map((r) =>
      JSON.stringify(r, (_, v) =>
        typeof v === 'bigint' ? v.toString() : ArrayBuffer.isView(v) ? [...(v as Float32Array)] : v,
      ),
    )
    .sort();
}

/** Runs `analyzeLake` on its own connection to `dir`. */
async function analyzeIn(dir: string, options: Parameters<typeof analyzeLake>[1]) {
  const lake = await openLake(dir);
  try {
    return await analyzeLake(lake, options);
  } finally {
    lake.close();
  }
}

describe('analyzeLake stages: descriptors per run (concurrently), then trajectories', () => {
  const whole = tempDir();
  const staged = tempDir();
  const runs = sweep.runs.map((r) => r.runId);

  beforeAll(async () => {
    await writeInput(whole);
    await writeInput(staged);
  });
  afterAll(() => {
    rmSync(whole, { recursive: true, force: true });
    rmSync(staged, { recursive: true, force: true });
  });

  it('gives the rows of one whole analysis', async () => {
    await analyzeIn(whole, { workers: 1 });
    const summaries = await Promise.all(
      runs.map((run) => analyzeIn(staged, { stage: 'descriptors', runs: [run], workers: 1 })),
    );
    for (const [i, s] of summaries.entries()) {
      expect(s.runsWritten).toEqual([runs[i]]);
      expect(s.stages).toBeNull();
      expect(s.checkpoints).toBe(sweep.layers * sweep.modules.length * sweep.steps.length);
    }
    const written = summaries.flatMap((s) => s.runsWritten);
    const final = await analyzeIn(staged, { stage: 'trajectories', runs: written, workers: 1 });
    expect(final.runsRecomputed).toEqual([...runs].sort());
    expect(final.stages?.matches).toBeGreaterThan(0);
    const a = await openLake(whole);
    const b = await openLake(staged);
    try {
      for (const dataset of DERIVED) {
        const expected = await rowsOf(a, dataset);
        expect(expected.length, dataset).toBeGreaterThan(0);
        expect(await rowsOf(b, dataset), dataset).toEqual(expected);
      }
    } finally {
      a.close();
      b.close();
    }
  });

  it('locks per run: a run held elsewhere is refused, as is a whole analysis; other runs proceed', async () => {
    const held = acquireRunAnalysisLocks(staged, [runs[1] as string]);
    try {
      await expect(analyzeIn(staged, { stage: 'descriptors', runs: [runs[1] as string] })).rejects.toThrow(
        new AnalysisLockedError(`another analysis of run "${runs[1]}" in ${staged} is running`),
      );
      await expect(analyzeIn(staged, { stage: 'descriptors' })).rejects.toBeInstanceOf(AnalysisLockedError);
      await expect(analyzeIn(staged, {})).rejects.toThrow(`another analysis of ${staged} is running`);
      await expect(analyzeIn(staged, { stage: 'trajectories' })).rejects.toBeInstanceOf(AnalysisLockedError);
      const other = await analyzeIn(staged, { stage: 'descriptors', runs: [runs[0] as string] });
      expect(other.checkpoints).toBe(0);
      expect(other.runsWritten).toEqual([]);
    } finally {
      held.release();
    }
    const again = await analyzeIn(staged, {});
    expect(again.checkpoints).toBe(0);
  });

  it('refuses trajectories of a run without geometry_state, and names a bad --stage', async () => {
    await expect(analyzeIn(staged, { stage: 'trajectories', runs: ['nope'] })).rejects.toThrow(
      new RunlakeError(`no geometry_state rows for run "nope" in ${staged} (analyse its descriptors first)`),
    );
    const bad = runlake('analyze', staged, '--stage', 'everything');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('expected one of all, descriptors, trajectories, got "everything"');
    const cli = runlake(
      'analyze',
      staged,
      '--stage',
      'trajectories',
      '--run',
      runs[0] as string,
      '--workers',
      '2',
      '--json',
    );
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout).runsRecomputed).toEqual([...runs].sort());
  });
});
