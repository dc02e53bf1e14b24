/**
 * OLMES / oe-eval prediction trees and tarballs through `runlake ingest qa`: the fixtures come from
 * test/python/olmes_predictions.py (which cites the sources each format follows), and per-task
 * accuracy is compared with the one that script computes on its own.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ingestQaOutputs, type Lake, openLake } from '../src/index.js';
import { memberHeader } from '../src/shards/tar.js';
import { runlake } from './helpers/cli.js';
import { repoRoot, tempDir, visibleFiles } from './helpers/lake-fixtures.js';
import { pythonWith } from './helpers/python.js';

const py = pythonWith([]);
const GENERATOR = path.join(repoRoot, 'test', 'python', 'olmes_predictions.py');

interface Expected {
  recipe: string;
  params: string;
  seed: number;
  step: number;
  task: string;
  n: number;
  primary_metric: string;
  accuracy: number;
}

let fixtures: string;
let expected: Expected[];

async function withLake<T>(dir: string, use: (lake: Lake) => Promise<T>): Promise<T> {
  const lake = await openLake(dir, { schema: 'squiggle' });
  try {
    return await use(lake);
  } finally {
    lake.close();
  }
}

/** Every file under a directory with its SHA-256, to show a failed call changed nothing. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (relative: string) => {
    const full = path.join(dir, relative);
    for (const name of readdirSync(full)) {
      const child = path.join(relative, name);
      if (statSync(path.join(dir, child)).isDirectory()) walk(child);
      else
        out[child] = createHash('sha256')
          .update(readFileSync(path.join(dir, child)))
          .digest('hex');
    }
  };
  walk('');
  return out;
}

/** A tar archive of (name, bytes) members, written with the shard code's ustar/pax headers. */
function tarOf(members: ReadonlyArray<[string, Buffer | string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, data] of members) {
    const bytes = Buffer.from(data);
    parts.push(Buffer.from(memberHeader(name, bytes.length, 1734610567)));
    parts.push(bytes, Buffer.alloc((512 - (bytes.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const SEEDS: Record<number, number> = { 2: 0, 14: 1, 15: 2, 4: 3, 5: 4 };
const RECIPES: Record<string, string | null> = {
  'dclm-baseline': 'DCLM-Baseline',
  'dolma1.7': 'Dolma1.7',
  'my-recipe': null,
};

beforeAll(() => {
  fixtures = tempDir();
  expected = (JSON.parse(py.runPython(GENERATOR, [fixtures])) as { accuracy: Expected[] }).accuracy;
});

describe('ingest qa: OLMES trees and tarballs', () => {
  it('has a Python to generate the fixtures', () => {
    expect(py.available, py.reason).toBe(true);
    expect(expected.length).toBeGreaterThan(10);
  });

  it('ingests a tree with its tarballs, and a recipe archive, with per-task accuracy equal to the generator’s', async () => {
    const dir = tempDir();
    await withLake(dir, async (lake) => {
      const summary = await ingestQaOutputs(lake, [
        path.join(fixtures, 'tree'),
        path.join(fixtures, 'archives', 'dolma1.7.tar.gz'),
      ]);
      expect(summary).toMatchObject({
        files: expected.length,
        rows: expected.reduce((n, e) => n + e.n, 0),
        runs: 6,
        archives: 5, // two checkpoint tarballs in the tree, the recipe archive and its two
        metricsFiles: expected.length,
        unknownRecipes: ['my-recipe'],
        unknownSeeds: [3],
        replacedFiles: 0,
      });
      // Per checkpoint: 4 side files per task, plus metrics.json and metrics-all.jsonl.
      const checkpoints = new Map<string, number>();
      for (const e of expected) {
        const key = `${e.recipe}/${e.params}/seed-${e.seed}/step-${e.step}`;
        checkpoints.set(key, (checkpoints.get(key) ?? 0) + 1);
      }
      expect(summary.skipped).toBe([...checkpoints.values()].reduce((n, tasks) => n + 2 * tasks + 2, 0));

      const rows = await lake.query(
        'SELECT task, run_id, params, data, recipe, seed, step, n, n_judged, accuracy FROM qa_task_summary',
      );
      expect(rows).toHaveLength(expected.length);
      for (const e of expected) {
        const run = `${e.recipe}/${e.params}/seed-${e.seed}/step-${e.step}`;
        const row = rows.find((r) => r.task === e.task && r.run_id === run);
        expect(row, `${run} ${e.task}`).toBeDefined();
        expect(row).toMatchObject({
          params: e.params,
          data: RECIPES[e.recipe],
          recipe: e.recipe,
          seed: e.recipe === 'my-recipe' ? null : SEEDS[e.seed],
          step: e.step,
          n: e.n,
          n_judged: e.n,
        });
        expect(row?.accuracy, `${run} ${e.task} (${e.primary_metric})`).toBeCloseTo(e.accuracy, 12);
      }
      // correct follows each task's declared primary metric.
      const decided = await lake.query(
        'SELECT task, list(DISTINCT correct_from) AS how FROM qa_outputs GROUP BY task ORDER BY task',
      );
      expect(Object.fromEntries(decided.map((r) => [r.task, r.how]))).toMatchObject({
        arc_challenge: ['acc_uncond'],
        arc_easy: ['acc_per_char'],
        boolq: ['acc_raw'],
        gsm8k: ['exact_match'],
        hellaswag: ['acc_per_char'],
        mmlu_abstract_algebra: ['acc_raw'],
      });
    });
  });

  it('keeps the record: native ids as text (int, string, null → doc_id), model_output and hashes in extra_json', async () => {
    const dir = tempDir();
    await withLake(dir, async (lake) => {
      await ingestQaOutputs(lake, [path.join(fixtures, 'tree', 'dclm-baseline', '150M', 'seed-14')]);
      const byTask = await lake.query(
        `SELECT task, instance_id, doc_id, label, source_file, extra_json, score_names FROM qa_outputs
         WHERE doc_id = 1 AND step = 25000 ORDER BY task`,
      );
      const get = (task: string) => byTask.find((r) => r.task === task);
      expect(get('arc_challenge')?.instance_id).toBe('Mercury_7170037');
      expect(get('boolq')?.instance_id).toBe('1001');
      expect(get('mmlu_abstract_algebra')?.instance_id).toBe('1'); // native_id null: the doc_id
      expect(get('arc_easy')?.source_file).toBe('step-25000/arc_easy-predictions.jsonl');
      const extra = JSON.parse(get('arc_easy')?.extra_json as string);
      expect(Object.keys(extra)).toEqual(['model_output', 'task_hash', 'model_hash']);
      expect(Object.keys(extra.model_output[0])).toEqual([
        'sum_logits',
        'num_tokens',
        'num_tokens_all',
        'is_greedy',
        'logits_per_token',
        'logits_per_char',
        'logits_per_byte',
        'num_chars',
      ]);
      expect(get('arc_challenge')?.score_names).toContain('acc_uncond');
      expect(get('arc_easy')?.score_names).not.toContain('acc_uncond'); // null in the record
      // The generative task keeps its text score.
      expect(JSON.parse(get('gsm8k')?.extra_json as string).text_scores).toHaveProperty('model_answer');
      // Members of an archive are named <archive>!<member>.
      const [packed] = await lake.query(
        "SELECT source_file, run_id FROM qa_outputs WHERE step = 12500 AND task = 'boolq' LIMIT 1",
      );
      // Given below the recipe directory, the run id is still the whole checkpoint.
      expect(packed).toEqual({
        source_file: 'step-12500.tar.gz!step-12500/boolq-predictions.jsonl',
        run_id: 'dclm-baseline/150M/seed-14/step-12500',
      });
    });
  });

  it('re-ingesting the tree is idempotent, and a packed checkpoint replaces its extracted copy', async () => {
    const dir = tempDir();
    const tree = path.join(fixtures, 'tree');
    const snapshot = () =>
      withLake(dir, (lake) =>
        lake.query(
          'SELECT task, run_id, instance_id, correct, score_values, extra_json FROM qa_outputs ORDER BY ALL',
        ),
      );
    await withLake(dir, (lake) => ingestQaOutputs(lake, [tree]));
    const first = await snapshot();
    const files = visibleFiles(dir).filter((f) => f.endsWith('.parquet')).length;
    const again = await withLake(dir, (lake) => ingestQaOutputs(lake, [tree]));
    expect(again.replacedFiles).toBe(files);
    expect(await snapshot()).toEqual(first);
    expect(visibleFiles(dir).filter((f) => f.endsWith('.parquet'))).toHaveLength(files);

    // The seed-2 checkpoint extracted elsewhere: same run id, same rows, its parts replaced.
    const extracted = path.join(tempDir(), 'dclm-baseline', '150M', 'seed-2', 'step-25000');
    mkdirSync(extracted, { recursive: true });
    const source = path.join(tree, 'dclm-baseline', '150M', 'seed-2', 'step-25000.tar.gz');
    // Unpacked by the system's tar, as a user would.
    execFileSync('tar', ['-xzf', source, '-C', path.dirname(extracted)]);
    const root = path.dirname(path.dirname(path.dirname(path.dirname(extracted))));
    const result = await withLake(dir, (lake) => ingestQaOutputs(lake, [root]));
    expect(result.replacedFiles).toBe(5); // its five tasks' parts
    const after = await snapshot();
    expect(after.length).toBe(first.length);
  });

  it('runs as one command on a tree: runlake ingest qa <tree> <lake>', () => {
    const dir = tempDir();
    const result = runlake('ingest', 'qa', path.join(fixtures, 'tree'), dir);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(
      /ingested \d+ qa_outputs rows from 14 files \(6 tasks, 4 runs\); read 2 archives, 14 metrics files for primary metrics, skipped 36 side files/,
    );
    expect(result.stdout).toMatch(/recipe not in DataDecide's table \(data left null\): my-recipe/);
    const again = runlake('ingest', 'qa', path.join(fixtures, 'tree'), dir);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/replacing \d+ part files/);
  });

  it('joins full_eval on params, data, seed, step and task', async () => {
    const dir = tempDir();
    await withLake(dir, async (lake) => {
      await ingestQaOutputs(lake, [path.join(fixtures, 'tree')]);
      const e = expected.find(
        (x) => x.recipe === 'dclm-baseline' && x.seed === 14 && x.task === 'arc_easy' && x.step === 25000,
      );
      await lake.replace(
        'full_eval',
        [
          {
            data: 'DCLM-Baseline',
            task: 'arc_easy',
            step: 25000,
            seed: 1,
            seed_name: 'small aux 2',
            metric_name: 'acc_per_char',
            value: e?.accuracy,
            source_file: 'fixture.parquet',
            source_row: 0,
          },
        ],
        { partition: { params: '150M' }, stem: 'fixture' },
      );
      const joined = await lake.query(`
        SELECT q.accuracy, f.value FROM qa_task_summary q
        JOIN full_eval f USING (params, data, seed, step, task)
        WHERE f.metric_name = 'acc_per_char'`);
      expect(joined).toHaveLength(1);
      expect(joined[0]?.accuracy).toBeCloseTo(joined[0]?.value as number, 12);
    });
  });

  it('reads a lake written before qa_outputs had the OLMES columns, and adds to it', async () => {
    const dir = tempDir();
    cpSync(path.join(repoRoot, 'test', 'fixtures', 'qa', 'lake-v1'), dir, { recursive: true });
    await withLake(dir, async (lake) => {
      const old = await lake.query('SELECT run_id, params, seed, step, correct_from FROM qa_outputs LIMIT 1');
      expect(old[0]).toMatchObject({ params: null, seed: null, step: null, correct_from: null });
      const summary = await lake.query('SELECT count(*) AS n FROM qa_task_summary');
      expect(summary[0]?.n).toBe(4);
      await ingestQaOutputs(lake, [path.join(fixtures, 'tree')]);
    });
    await withLake(dir, async (lake) => {
      const runs = await lake.query(
        'SELECT run_id, count(*) AS n, count(params) AS with_params FROM qa_outputs GROUP BY 1 ORDER BY 1',
      );
      // The old dclm-baseline rows were replaced by the tree's; the old dolma17 rows stay, without params.
      expect(runs.find((r) => r.run_id === 'dolma17/150M/seed-14/step-25000')).toMatchObject({
        with_params: 0,
      });
      expect(runs.find((r) => r.run_id === 'dclm-baseline/150M/seed-14/step-25000')).toMatchObject({
        n: 60,
        with_params: 60,
      });
      expect(lake.viewProblems).toEqual([]);
    });
    expect(runlake('validate', dir).code).toBe(0);
  });
});

describe('ingest qa: hostile archives', () => {
  const predictions = () =>
    `${JSON.stringify({ doc_id: 0, native_id: 'q0', metrics: { acc_raw: 1 }, model_output: [], label: 0 })}\n`;

  async function refuses(files: string[], message: RegExp): Promise<void> {
    const dir = tempDir();
    await withLake(dir, (lake) => ingestQaOutputs(lake, [path.join(fixtures, 'tree', 'my-recipe')]));
    const before = fingerprint(dir);
    await expect(
      withLake(dir, (lake) => ingestQaOutputs(lake, files, { maxLineBytes: 4096 })),
    ).rejects.toThrow(message);
    expect(fingerprint(dir)).toEqual(before);
  }

  function archive(name: string, bytes: Buffer): string {
    const dir = path.join(tempDir(), 'dclm-baseline', '150M', 'seed-14');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, name);
    writeFileSync(file, bytes);
    return file;
  }

  it('refuses a truncated gzip, naming the tarball', async () => {
    const whole = readFileSync(
      path.join(fixtures, 'tree', 'dclm-baseline', '150M', 'seed-2', 'step-25000.tar.gz'),
    );
    const file = archive('step-25000.tar.gz', whole.subarray(0, Math.floor(whole.length / 2)));
    await refuses([file], /step-25000\.tar\.gz.*gzip stream is truncated/);
  });

  it('refuses corrupt gzip data, naming the tarball', async () => {
    const bytes = Buffer.from(gzipSync(tarOf([['step-1/arc_easy-predictions.jsonl', predictions()]])));
    for (let i = 20; i < bytes.length - 8; i++) bytes[i] = (bytes[i] as number) ^ 0x5a;
    await refuses([archive('step-1.tar.gz', bytes)], /step-1\.tar\.gz.*gzip data is corrupt/);
    await refuses(
      [archive('step-2.tar.gz', Buffer.from('not gzip at all'))],
      /step-2\.tar\.gz.*gzip data is corrupt/,
    );
  });

  it('refuses a member that is not UTF-8 JSONL, naming tarball, member and line', async () => {
    const binary = Buffer.concat([Buffer.from(predictions()), Buffer.from([0xff, 0xfe, 0x00, 0x0a])]);
    const file = archive('step-1.tar.gz', gzipSync(tarOf([['step-1/arc_easy-predictions.jsonl', binary]])));
    await refuses(
      [file],
      /step-1\.tar\.gz: member "step-1\/arc_easy-predictions\.jsonl": line 2: invalid UTF-8/,
    );
    const text = archive('step-2.tar.gz', gzipSync(tarOf([['step-2/boolq-predictions.jsonl', 'hello\n']])));
    await refuses(
      [text],
      /step-2\.tar\.gz: member "step-2\/boolq-predictions\.jsonl": line 1: not valid JSON/,
    );
  });

  it('refuses absolute and .. member paths', async () => {
    const absolute = archive(
      'step-1.tar.gz',
      gzipSync(tarOf([['/etc/arc_easy-predictions.jsonl', predictions()]])),
    );
    await refuses(
      [absolute],
      /member "\/etc\/arc_easy-predictions\.jsonl": unsafe member path: it is absolute/,
    );
    const parent = archive(
      'step-2.tar.gz',
      gzipSync(tarOf([['step-2/../../x-predictions.jsonl', predictions()]])),
    );
    await refuses([parent], /unsafe member path: it has a "\.\." component/);
  });

  it('refuses huge members: a line over the limit, and a size the archive does not hold', async () => {
    const long = `${'x'.repeat(10_000)}\n`;
    const file = archive('step-1.tar.gz', gzipSync(tarOf([['step-1/arc_easy-predictions.jsonl', long]])));
    await refuses([file], /member "step-1\/arc_easy-predictions\.jsonl": line 1: longer than 4096 bytes/);
    // A header declaring 8 GiB (pax size record) with a few bytes after it.
    const header = Buffer.from(memberHeader('step-3/arc_easy-predictions.jsonl', 8 * 1024 ** 3, 0));
    const lying = archive('step-3.tar.gz', gzipSync(Buffer.concat([header, Buffer.from(predictions())])));
    await refuses(
      [lying],
      /step-3\.tar\.gz: member "step-3\/arc_easy-predictions\.jsonl": archive ends inside the data/,
    );
  });

  it('refuses a bad tar header checksum, and a tar cut inside a header', async () => {
    const tar = tarOf([['step-1/arc_easy-predictions.jsonl', predictions()]]);
    tar[10] = 0x41;
    await refuses([archive('step-1.tar.gz', gzipSync(tar))], /step-1\.tar\.gz: tar header checksum mismatch/);
    const cut = archive(
      'step-2.tar.gz',
      gzipSync(tarOf([['step-2/a-predictions.jsonl', predictions()]]).subarray(0, 300)),
    );
    await refuses([cut], /step-2\.tar\.gz: archive ends inside a tar header/);
  });

  it('skips (and counts) links and non-JSONL members; reads bare members of a step tarball', async () => {
    const file = archive(
      'step-7.tar.gz',
      gzipSync(
        tarOf([
          ['arc_easy-predictions.jsonl', predictions()],
          ['notes.txt', 'hello'],
          ['step-7/arc_easy-requests.jsonl', '{}\n'],
        ]),
      ),
    );
    const dir = tempDir();
    await withLake(dir, async (lake) => {
      const summary = await ingestQaOutputs(lake, [file]);
      expect(summary).toMatchObject({ files: 1, rows: 1, skipped: 2, archives: 1 });
      const [row] = await lake.query('SELECT run_id, source_file, step, seed FROM qa_outputs');
      expect(row).toMatchObject({ run_id: 'dclm-baseline/150M/seed-14/step-7', step: 7, seed: 1 });
      expect(row?.source_file).toMatch(/step-7\.tar\.gz!arc_easy-predictions\.jsonl$/);
    });
  });
});

describe('ingest qa: hostile recipe archives', () => {
  async function refusesNested(bytes: Buffer, name: string, message: RegExp): Promise<void> {
    const dir = tempDir();
    const file = path.join(tempDir(), name);
    writeFileSync(file, bytes);
    await expect(withLake(dir, (lake) => ingestQaOutputs(lake, [file]))).rejects.toThrow(message);
    expect(visibleFiles(dir).filter((f) => f.endsWith('.parquet'))).toEqual([]);
  }

  it('names the outer archive and the checkpoint tarball when either is cut or corrupt', async () => {
    const tar = gunzipSync(readFileSync(path.join(fixtures, 'archives', 'dolma1.7.tar.gz')));
    await refusesNested(
      tar.subarray(0, 10_240),
      'dolma1.7.tar',
      /dolma1\.7\.tar: member "dolma1\.7\/150M\/seed-5\/step-25000\.tar\.gz": archive ends inside the data of this member/,
    );
    const bad = Buffer.from(tar);
    for (let i = 2000; i < 2010; i++) bad[i] = (bad[i] as number) ^ 0xff;
    await refusesNested(
      bad,
      'dolma1.7.tar',
      /dolma1\.7\.tar: member "dolma1\.7\/150M\/seed-4\/step-25000\.tar\.gz": gzip data is corrupt/,
    );
  });

  it('refuses a checkpoint tarball whose members are in another step directory', async () => {
    const inner = gzipSync(
      tarOf([['step-12500/arc_easy-predictions.jsonl', '{"doc_id": 0, "native_id": 1, "metrics": {}}\n']]),
    );
    await refusesNested(
      gzipSync(tarOf([['dclm-baseline/150M/seed-14/step-25000.tar.gz', inner]])),
      'dclm-baseline.tar.gz',
      /member "step-12500\/arc_easy-predictions\.jsonl": is in step-12500\/ but the archive is step-25000/,
    );
  });
});

describe('ingest qa: what Python json.dumps writes', () => {
  it('reads NaN and Infinity tokens as numbers, keeping them in extra_json as text', async () => {
    const dir = tempDir();
    const step = path.join(tempDir(), 'dclm-baseline', '1B', 'seed-15', 'step-69369');
    mkdirSync(step, { recursive: true });
    writeFileSync(
      path.join(step, 'task-003-csqa-predictions.jsonl'),
      '{"doc_id": 0, "native_id": "q0", "metrics": {"acc_uncond": 1, "sum_logits_corr": NaN}, ' +
        '"model_output": [{"sum_logits": -Infinity, "num_tokens": 1}], "label": 0, "task_hash": "t", "model_hash": "m"}\n',
    );
    await withLake(dir, async (lake) => {
      await ingestQaOutputs(lake, [path.dirname(path.dirname(path.dirname(path.dirname(step))))]);
      const [row] = await lake.query(
        'SELECT task, run_id, seed, seed_name, correct, correct_from, score_names, score_values, extra_json FROM qa_outputs',
      );
      expect(row).toMatchObject({
        task: 'csqa', // oe-eval's task-<idx>- prefix dropped
        run_id: 'dclm-baseline/1B/seed-15/step-69369',
        seed: 2,
        seed_name: 'small aux 3',
        correct: true,
        correct_from: 'acc_uncond', // csqa's primary metric in DataDecide's table
        score_names: ['acc_uncond', 'sum_logits_corr'],
      });
      expect(((row?.score_values ?? []) as number[])[1]).toBeNaN();
      expect(JSON.parse(row?.extra_json as string).model_output[0].sum_logits).toBe('-Infinity');
    });
  });
});

describe('ingest qa: metrics files', () => {
  it('refuses two metrics files that disagree on a task’s primary metric, and a metrics file that is not JSON', async () => {
    const step = path.join(tempDir(), 'c4', '150M', 'seed-2', 'step-500');
    mkdirSync(step, { recursive: true });
    const record =
      '{"doc_id": 0, "native_id": 0, "metrics": {"acc_raw": 1}, "model_output": [], "label": 0}\n';
    writeFileSync(path.join(step, 'boolq-predictions.jsonl'), record);
    const metrics = (primary: string) =>
      JSON.stringify({ task_name: 'boolq', task_config: { primary_metric: primary } });
    writeFileSync(path.join(step, 'boolq-metrics.json'), metrics('acc_raw'));
    writeFileSync(path.join(step, 'task-002-boolq-metrics.json'), metrics('acc_per_char'));
    const root = path.dirname(path.dirname(path.dirname(path.dirname(step))));
    const dir = tempDir();
    await expect(withLake(dir, (lake) => ingestQaOutputs(lake, [root]))).rejects.toThrow(
      /task-002-boolq-metrics\.json: field "task_config\.primary_metric": "acc_per_char", but .*boolq-metrics\.json says "acc_raw"/,
    );
    writeFileSync(path.join(step, 'task-002-boolq-metrics.json'), '{"task_config": ');
    await expect(withLake(dir, (lake) => ingestQaOutputs(lake, [root]))).rejects.toThrow(
      /task-002-boolq-metrics\.json: not valid JSON/,
    );
    expect(visibleFiles(dir).filter((f) => f.endsWith('.parquet'))).toEqual([]);
  });
});

describe('ingest qa: two passes (check everything, then write (task, run) by (task, run))', () => {
  const line = (id: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ run_id: 'r1', id, prediction: 'a', label: 'a', ...extra });

  it('refuses a checkpoint given both packed and extracted, writing nothing', async () => {
    const root = tempDir();
    const seed = path.join(root, 'dclm-baseline', '150M', 'seed-2');
    mkdirSync(seed, { recursive: true });
    const tarball = path.join(fixtures, 'tree', 'dclm-baseline', '150M', 'seed-2', 'step-25000.tar.gz');
    cpSync(tarball, path.join(seed, 'step-25000.tar.gz'));
    execFileSync('tar', ['-xzf', tarball, '-C', seed]);
    const dir = tempDir();
    await expect(withLake(dir, (lake) => ingestQaOutputs(lake, [root]))).rejects.toThrow(
      /step-25000\.tar\.gz: member "step-25000\/arc_challenge-predictions\.jsonl": line 1: instance "Mercury_7170000" of task "arc_challenge" and run "dclm-baseline\/150M\/seed-2\/step-25000" is also at .*seed-2\/step-25000\/arc_challenge-predictions\.jsonl line 1/,
    );
    expect(visibleFiles(dir).filter((f) => f.endsWith('.parquet'))).toEqual([]);
  });

  it('writes a (task, run) spread over several files as one group', async () => {
    const root = tempDir();
    writeFileSync(path.join(root, 'a-predictions.jsonl'), `${line('q1')}\n${line('q2')}\n`);
    writeFileSync(
      path.join(root, 'b.jsonl'),
      `${line('q3', { task: 'a' })}\n${line('q1', { run_id: 'r2', task: 'a' })}\n`,
    );
    const dir = tempDir();
    await withLake(dir, async (lake) => {
      const summary = await ingestQaOutputs(lake, [root]);
      expect(summary).toMatchObject({ files: 2, rows: 4, runs: 2, tasks: ['a'] });
      expect(await lake.query('SELECT run_id, instance_id FROM qa_outputs ORDER BY 1, 2')).toEqual([
        { run_id: 'r1', instance_id: 'q1' },
        { run_id: 'r1', instance_id: 'q2' },
        { run_id: 'r1', instance_id: 'q3' },
        { run_id: 'r2', instance_id: 'q1' },
      ]);
    });
    expect(visibleFiles(dir).filter((f) => f.endsWith('.parquet'))).toHaveLength(2);
  });

  it('refuses a correctness score that is not 0/1 in a later file before writing the earlier ones', async () => {
    const root = tempDir();
    writeFileSync(path.join(root, 'a-predictions.jsonl'), `${line('q1', { scores: { exact_match: 1 } })}\n`);
    writeFileSync(
      path.join(root, 'b-predictions.jsonl'),
      `${line('q1', { run_id: 'r2', prediction: 'x', scores: { exact_match: 0.5 } })}\n`,
    );
    const dir = tempDir();
    await expect(withLake(dir, (lake) => ingestQaOutputs(lake, [root]))).rejects.toThrow(
      /b-predictions\.jsonl: line 1, field "score exact_match": 0\.5 is not a correctness flag/,
    );
    expect(visibleFiles(dir).filter((f) => f.endsWith('.parquet'))).toEqual([]);
  });
});

describe('ingest qa: run ids of trees given below their recipe directory', () => {
  it('names the whole checkpoint, so two recipes’ 150M/seed-14/step-25000 do not replace each other', async () => {
    const other = path.join(tempDir(), 'c4');
    cpSync(
      path.join(fixtures, 'tree', 'dclm-baseline', '150M', 'seed-14', 'step-25000'),
      path.join(other, '150M', 'seed-14', 'step-25000'),
      { recursive: true },
    );
    const dir = tempDir();
    await withLake(dir, async (lake) => {
      await ingestQaOutputs(lake, [path.join(fixtures, 'tree', 'dclm-baseline')]);
      const second = await ingestQaOutputs(lake, [other]);
      expect(second.replacedFiles).toBe(0);
      const runs = await lake.query(
        'SELECT run_id, data, count(*) AS n FROM qa_outputs WHERE step = 25000 AND seed = 1 GROUP BY ALL ORDER BY 1',
      );
      expect(runs).toEqual([
        { run_id: 'c4/150M/seed-14/step-25000', data: 'C4', n: 60 },
        { run_id: 'dclm-baseline/150M/seed-14/step-25000', data: 'DCLM-Baseline', n: 60 },
      ]);
    });
  });
});
