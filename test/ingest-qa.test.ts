import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingestQaOutputs, type Lake, openLake } from '../src/index.js';
import { runlake } from './helpers/cli.js';
import { repoRoot, tempDir, visibleFiles } from './helpers/lake-fixtures.js';

const FIXTURES = path.join(repoRoot, 'test', 'fixtures', 'qa');
const INSTANCES = path.join(FIXTURES, 'instances');
const GENERIC = path.join(FIXTURES, 'generic-outputs.jsonl');
const RUN = 'dclm-baseline/150M/seed-14/step-25000';

async function withLake<T>(dir: string, use: (lake: Lake) => Promise<T>): Promise<T> {
  const lake = await openLake(dir, { schema: 'squiggle' });
  try {
    return await use(lake);
  } finally {
    lake.close();
  }
}

function jsonl(records: readonly unknown[], name = 'arc_easy-predictions.jsonl'): string {
  const file = path.join(tempDir(), name);
  writeFileSync(file, `${records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')}\n`);
  return file;
}

const parquetFiles = (dir: string) => visibleFiles(dir).filter((f) => f.endsWith('.parquet'));

describe('ingest qa', () => {
  it('loads a directory of DataDecide predictions: task from the file, run from the directory', async () => {
    const dir = tempDir();
    await withLake(dir, async (lake) => {
      const summary = await ingestQaOutputs(lake, [INSTANCES, GENERIC]);
      expect(summary).toEqual({
        files: 5,
        rows: 2 * (6 + 4) + 3,
        tasks: ['arc_challenge', 'boolq', 'trivia_qa'],
        runs: 3,
        replacedFiles: 0,
        archives: 0,
        metricsFiles: 0,
        skipped: 0,
        unknownRecipes: [],
        unknownSeeds: [],
      });
      const [row] = await lake.query(
        `SELECT * FROM qa_outputs WHERE task = 'arc_challenge' AND run_id = '${RUN}' AND doc_id = 0`,
      );
      expect(row).toMatchObject({
        task: 'arc_challenge',
        run_id: RUN,
        instance_id: 'Mercury_7170000',
        doc_id: 0,
        prediction: null,
        source_file: `${RUN}/arc_challenge-predictions.jsonl`,
        source_line: 1,
        // From the OLMES path, through DataDecide's name table: seed-14 is 'small aux 2', index 1.
        params: '150M',
        data: 'DCLM-Baseline',
        recipe: 'dclm-baseline',
        seed: 1,
        seed_name: 'small aux 2',
        training_seed: 14,
        step: 25000,
      });
      expect(row?.score_names).toContain('acc_raw');
      const names = (row?.score_names ?? []) as string[];
      const acc = ((row?.score_values ?? []) as number[])[names.indexOf('acc_raw')];
      // arc_challenge's primary metric (acc_uncond, DataDecide's table) is not in these records, and
      // no -metrics.json declares one: correctness falls back to acc_raw.
      expect(row?.correct).toBe(acc === 1);
      expect(row?.correct_from).toBe('acc_raw');
      expect(JSON.parse(row?.extra_json as string)).toMatchObject({ model_hash: expect.any(String) });
      expect(JSON.parse(row?.extra_json as string).model_output).toHaveLength(4);

      const [generic] = await lake.query("SELECT * FROM qa_outputs WHERE instance_id = 'tqa-1'");
      expect(generic).toMatchObject({
        task: 'trivia_qa',
        run_id: 'olmo-1b-sft',
        prediction: '5',
        label: '4',
        correct: false,
        score_names: ['f1', 'rouge.l'],
        score_values: [0, 0.1],
        params: null,
        seed: null,
        step: null,
      });
      expect(JSON.parse(generic?.extra_json as string)).toEqual({ question: '2+2' });
    });
  });

  it('summarises per task and run in qa_task_summary', async () => {
    const dir = tempDir();
    await withLake(dir, async (lake) => {
      await ingestQaOutputs(lake, [INSTANCES, GENERIC]);
      const rows = await lake.query(
        "SELECT task, run_id, n, n_judged, n_correct, accuracy, mean_scores['f1'] AS f1 FROM qa_task_summary WHERE task = 'trivia_qa'",
      );
      expect(rows).toEqual([
        {
          task: 'trivia_qa',
          run_id: 'olmo-1b-sft',
          n: 3,
          n_judged: 3,
          n_correct: 2,
          accuracy: 2 / 3,
          f1: 2 / 3,
        },
      ]);
      const [check] = await lake.query(`
        SELECT s.accuracy, (SELECT avg(correct::DOUBLE) FROM qa_outputs WHERE task = 'boolq' AND run_id = '${RUN}') AS expected
        FROM qa_task_summary s WHERE s.task = 'boolq' AND s.run_id = '${RUN}'`);
      expect(check?.accuracy).toBe(check?.expected);
      const [long] = await lake.query("SELECT count(*) AS n FROM qa_scores WHERE task = 'trivia_qa'");
      expect(long?.n).toBe(6);
      expect(lake.viewProblems).toEqual([]);
    });
  });

  it('re-ingesting is idempotent: a (task, run) replaces its earlier rows only', async () => {
    const dir = tempDir();
    await withLake(dir, (lake) => ingestQaOutputs(lake, [INSTANCES, GENERIC]));
    const count = () =>
      withLake(dir, async (lake) => (await lake.query('SELECT count(*) AS n FROM qa_outputs'))[0]?.n);
    expect(await count()).toBe(23);
    const again = await withLake(dir, (lake) => ingestQaOutputs(lake, [INSTANCES, GENERIC]));
    expect(again.replacedFiles).toBe(5); // one part file per (task, run)
    expect(await count()).toBe(23);
    expect(parquetFiles(dir)).toHaveLength(5);
    // A corrected export of one run's arc_challenge outputs replaces just those.
    const fixed = jsonl(
      [{ native_id: 'Mercury_1', label: 'A', prediction: 'A' }],
      'arc_challenge-predictions.jsonl',
    );
    await withLake(dir, (lake) => ingestQaOutputs(lake, [fixed], { run: RUN }));
    expect(await count()).toBe(23 - 6 + 1);
  });

  it('refuses bad input naming file, line and field, writing nothing', async () => {
    const dir = tempDir();
    const cases: Array<[string, RegExp]> = [
      [
        jsonl([{ id: 'q1', run_id: 'r', scores: { f1: 0.5 } }, '{"id": "q2", "run_id": broken']),
        /line 2: not valid JSON/,
      ],
      [
        jsonl([
          { id: 'q1', run_id: 'r', scores: { f1: 0.5 } },
          { id: 'q2', run_id: 'r', scores: { f1: 'n/a' } },
        ]),
        /line 2, field "scores\.f1": is text \("n\/a"\) but was a number at .*line 1/,
      ],
      [
        jsonl([
          { id: 'q1', run_id: 'r', correct: true },
          { id: 'q2', run_id: 'r', correct: 'yes' },
        ]),
        /line 2, field "correct": "yes" is not a correctness flag/,
      ],
      [
        jsonl([
          { id: 'q1', run_id: 'r', doc_id: 1 },
          { id: 'q2', run_id: 'r', doc_id: '2' },
        ]),
        /line 2, field "doc_id": "2" is not a whole number/,
      ],
      [jsonl([{ id: 'q1' }]), /line 1, field "run_id": no run: .*pass --run/],
      [jsonl([{ run_id: 'r', prediction: 'x' }]), /line 1, field "instance_id": no instance id/],
      [
        jsonl([
          { id: 'q1', run_id: 'r' },
          { id: 'q1', run_id: 'r' },
        ]),
        /line 2: instance "q1" of task "arc_easy" and run "r" is also at .*line 1/,
      ],
      [jsonl(['[1, 2]']), /line 1: not a JSON object/],
    ];
    for (const [file, message] of cases) {
      await expect(
        withLake(dir, (lake) => ingestQaOutputs(lake, [GENERIC, file])),
        String(message),
      ).rejects.toThrow(message);
      await expect(withLake(dir, (lake) => ingestQaOutputs(lake, [file]))).rejects.toThrow(
        new RegExp(path.basename(file).replaceAll('.', '\\.')),
      );
    }
    expect(parquetFiles(dir)).toEqual([]);
  });

  it('widens documented cases: numeric instance ids and labels become text', async () => {
    const dir = tempDir();
    const file = jsonl([
      { doc_id: 7, run_id: 'r', label: 2, prediction: 2 },
      { doc_id: 8, run_id: 'r', label: 'B', prediction: 'C' },
    ]);
    await withLake(dir, async (lake) => {
      await ingestQaOutputs(lake, [file]);
      expect(
        await lake.query('SELECT instance_id, label, correct FROM qa_outputs ORDER BY instance_id'),
      ).toEqual([
        { instance_id: '7', label: '2', correct: true },
        { instance_id: '8', label: 'B', correct: false },
      ]);
    });
  });

  it('runs from the CLI: runlake ingest qa <jsonl|dir> <lake>', () => {
    const dir = tempDir();
    const result = runlake('ingest', 'qa', INSTANCES, GENERIC, dir);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/ingested 23 qa_outputs rows from 5 files \(3 tasks, 3 runs\)/);
    const summary = runlake(
      'query',
      dir,
      '--sql',
      'SELECT count(*) AS n FROM qa_task_summary',
      '--format',
      'json',
    );
    expect(JSON.parse(summary.stdout)).toEqual([{ n: 5 }]);
    const bad = runlake('ingest', 'qa', jsonl([{ id: 'q1' }]), dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/line 1, field "run_id": no run/);
  });
});
