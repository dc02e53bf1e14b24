/**
 * The commit protocol of the lake (issue 14): every write, replace, delete and compaction is one
 * commit of its dataset's log; readers see snapshots; crashed writers are recovered; compaction,
 * vacuum, time travel, history, adopt and validate work over the log, from the library and the CLI.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import {
  CHECKPOINT_INTERVAL,
  CommitConflictError,
  cleanLog,
  commitToLog,
  compactDataset,
  type DatasetDefinition,
  datasetHistory,
  forgetLogCaches,
  ingestWandb,
  type Lake,
  LakeMetadataError,
  type LogFile,
  lakePaths,
  latestVersion,
  listCommitVersions,
  loadSnapshot,
  type OpenLakeOptions,
  openLake,
  RunlakeError,
  readCommit,
  sweepStaleStaging,
  VersionNotFoundError,
  vacuumLake,
  validateLake,
} from '../src/index.js';
import { copyToParquet, runlake, startServe } from './helpers/cli.js';
import { treeFingerprint } from './helpers/hostile.js';
import { listFiles, repoRoot, tempDir } from './helpers/lake-fixtures.js';

const DIST = pathToFileURL(path.join(repoRoot, 'dist', 'index.js')).href;
const DS = 'metrics_scalar';

type MetricRow = { run_id: string; step: number; metric_name: string; value: number };

/** `count` rows of one metric of one run, steps `from…`, value = step + 0.5. */
function metricRows(run: string, from: number, count: number, metric = 'loss'): MetricRow[] {
  return Array.from({ length: count }, (_, i) => ({
    run_id: run,
    step: from + i,
    metric_name: metric,
    value: from + i + 0.5,
  }));
}

function squiggle(dir: string, options: OpenLakeOptions = {}): Promise<Lake> {
  return openLake(dir, { schema: 'squiggle', ...options });
}

async function withSquiggle<T>(
  dir: string,
  use: (lake: Lake) => Promise<T>,
  options: OpenLakeOptions = {},
): Promise<T> {
  const lake = await squiggle(dir, options);
  try {
    return await use(lake);
  } finally {
    lake.close();
  }
}

async function countRows(lake: Lake, where = 'true', dataset = DS): Promise<number> {
  const [row] = await lake.query(`SELECT count(*)::INTEGER AS n FROM ${dataset} WHERE ${where}`);
  return Number(row?.n);
}

/** Runs SQL in a DuckDB of its own: a reader that knows nothing of runlake. */
async function external(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Rows a plain glob over the dataset's directory sees (what pandas, Spark, a bare DuckDB read). */
async function globCount(dir: string, where = 'true'): Promise<number> {
  if (parquetUnder(path.join(dir, DS)).length === 0) return 0;
  const [row] = await external(
    `SELECT count(*)::INTEGER AS n FROM read_parquet('${dir}/${DS}/**/*.parquet', hive_partitioning = true) WHERE ${where}`,
  );
  return Number(row?.n);
}

/** Parquet files under a directory, relative, sorted. */
function parquetUnder(dir: string): string[] {
  return listFiles(dir).filter((f) => f.endsWith('.parquet'));
}

/** The pid of a process that has exited: a writer known to be dead. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  expect(child.status).toBe(0);
  return child.pid as number;
}

/** Runs an ES module snippet against the built package (`lib` is its import) in a fresh process. */
function freshProcess(code: string): string {
  const result = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `import * as lib from ${JSON.stringify(DIST)};\n${code}`],
    { encoding: 'utf8', timeout: 120_000 },
  );
  if (result.status !== 0) throw new Error(`fresh process failed (${result.status}):\n${result.stderr}`);
  return result.stdout;
}

function csvQuery(dir: string, sql: string, ...extra: string[]): { code: number | null; out: string } {
  const result = runlake('query', dir, '--sql', sql, '-f', 'csv', ...extra);
  return { code: result.code, out: result.code === 0 ? result.stdout : result.stderr };
}

function snapshotSummary(files: ReadonlyMap<string, LogFile & { version: number }>): string[] {
  return [...files.values()].map((f) => `${f.path} ${f.rows} ${f.size} v${f.version}`).sort();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the commit log', () => {
  it('numbers the commits of a dataset 0, 1, 2, … one per write, each its own file', async () => {
    const dir = tempDir();
    await withSquiggle(dir, async (lake) => {
      const versions: Array<number | undefined> = [];
      for (let i = 0; i < 4; i++) versions.push((await lake.write(DS, metricRows('r1', i * 10, 10))).version);
      expect(versions).toEqual([0, 1, 2, 3]);
      // Another dataset has its own log.
      expect((await lake.write('runs', [{ run_id: 'r1' }])).version).toBe(0);
      // Nothing to write: no commit.
      expect((await lake.write(DS, [])).version).toBeUndefined();

      expect(await latestVersion(lake.paths, DS)).toBe(3);
      expect(await listCommitVersions(lake.paths, DS)).toEqual([0, 1, 2, 3]);
      const commit = await readCommit(lake.paths, DS, 2);
      expect(commit).toMatchObject({
        format: 1,
        dataset: DS,
        version: 2,
        operation: 'write',
        readVersion: 1,
        remove: [],
        writer: { tool: 'runlake', pid: process.pid, host: os.hostname() },
      });
      expect(commit?.add).toHaveLength(1);
      expect(commit?.add[0]).toMatchObject({ rows: 10 });
      expect(commit?.add[0]?.path).toMatch(/^run_id=r1\/part-[0-9a-f-]{36}\.parquet$/);
      // The first write recorded the dataset's schema; later ones did not change it.
      expect((await readCommit(lake.paths, DS, 0))?.schema?.dataset).toBe(DS);
      expect(commit?.schema).toBeUndefined();
      expect(lake.datasets.get(DS)).toMatchObject({ version: 3, rowCount: 40, fileCount: 4 });
      expect(await countRows(lake)).toBe(40);
    });
    expect(listFiles(path.join(dir, '.runlake', 'log', DS))).toEqual([
      '00000000000000000000.json',
      '00000000000000000001.json',
      '00000000000000000002.json',
      '00000000000000000003.json',
    ]);
  });

  it('lands 20 concurrent writes of one process as 20 contiguous versions, losing no row', async () => {
    const dir = tempDir();
    await withSquiggle(dir, async (lake) => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => lake.write(DS, metricRows(`r${i % 4}`, i * 100, 25))),
      );
      expect(results.map((r) => r.version).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(
        Array.from({ length: 20 }, (_, i) => i),
      );
      expect(await listCommitVersions(lake.paths, DS)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(await countRows(lake)).toBe(500);
      expect(
        await lake.query(`SELECT run_id, count(*)::INTEGER AS n FROM ${DS} GROUP BY 1 ORDER BY 1`),
      ).toEqual([
        { run_id: 'r0', n: 125 },
        { run_id: 'r1', n: 125 },
        { run_id: 'r2', n: 125 },
        { run_id: 'r3', n: 125 },
      ]);
      const snapshot = await loadSnapshot(lake.paths, DS);
      expect(snapshot.files.size).toBe(20);
      expect([...snapshot.files.values()].reduce((n, f) => n + f.rows, 0)).toBe(500);
    });
  });

  it('commitToLog: racing commits retry over the newer version; undefined commits nothing; a conflict commits nothing', async () => {
    const paths = lakePaths(tempDir());
    const log = 'scratch';
    let attempts = 0;
    const file = (i: number): LogFile => ({ path: `k=${i}/part-${i}.parquet`, size: 100 + i, rows: i });
    const commits = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        commitToLog(
          paths,
          log,
          async (base) => {
            attempts++;
            // The base is the snapshot of the version the attempt builds on.
            if (base.readVersion >= 0) expect((await base.snapshot()).version).toBe(base.readVersion);
            return { operation: 'write', add: [file(i)], remove: [] };
          },
          { txn: `t${i}` },
        ),
      ),
    );
    expect(commits.map((c) => c?.version).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
    expect(attempts).toBeGreaterThanOrEqual(20);
    const snapshot = await loadSnapshot(paths, log);
    expect(snapshot.version).toBe(19);
    expect([...snapshot.files.keys()].sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => file(i).path).sort(),
    );

    expect(await commitToLog(paths, log, async () => undefined, { txn: 'none' })).toBeUndefined();
    const conflict = await commitToLog(
      paths,
      log,
      async (base) => {
        throw new CommitConflictError(log, base.readVersion, 'an input was removed');
      },
      { txn: 'conflict' },
    ).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(CommitConflictError);
    expect((conflict as Error).message).toBe(
      `commit to ${log} conflicts with version 19: an input was removed`,
    );
    expect(await latestVersion(paths, log)).toBe(19);
  });

  it('checkpoints at version 100; a fresh process and a cleared cache read the same snapshot from it', async () => {
    const dir = tempDir();
    const paths = lakePaths(dir);
    const logDir = path.join(dir, '.runlake', 'log', DS);
    await withSquiggle(dir, async (lake) => {
      // 102 writes (versions 0…101), ten at a time.
      for (let batch = 0; batch < 102; batch += 10) {
        await Promise.all(
          Array.from({ length: Math.min(10, 102 - batch) }, (_, i) =>
            lake.write(DS, metricRows(`r${(batch + i) % 3}`, (batch + i) * 10, 2)),
          ),
        );
      }
      expect(await countRows(lake)).toBe(204);
    });
    expect(CHECKPOINT_INTERVAL).toBe(100);
    const logNames = listFiles(logDir);
    expect(logNames.filter((n) => n.endsWith('.checkpoint.json'))).toEqual([
      '00000000000000000100.checkpoint.json',
    ]);
    expect(JSON.parse(readFileSync(path.join(logDir, '_last_checkpoint'), 'utf8'))).toEqual({ version: 100 });
    const checkpoint = JSON.parse(
      readFileSync(path.join(logDir, '00000000000000000100.checkpoint.json'), 'utf8'),
    );
    expect(checkpoint).toMatchObject({ format: 1, dataset: DS, version: 100 });
    expect(checkpoint.files).toHaveLength(101);

    const before = await loadSnapshot(paths, DS);
    expect(before.version).toBe(101);
    // Without the commits before the checkpoint, only the checkpoint can tell what is live.
    const cleaned = await cleanLog(paths, DS, 100, false);
    expect(cleaned).toHaveLength(100);
    expect(listFiles(logDir)).toEqual([
      '00000000000000000100.checkpoint.json',
      '00000000000000000100.json',
      '00000000000000000101.json',
      '_last_checkpoint',
    ]);
    forgetLogCaches();
    expect(await latestVersion(paths, DS)).toBe(101);
    expect(snapshotSummary((await loadSnapshot(paths, DS)).files)).toEqual(snapshotSummary(before.files));

    const fresh = JSON.parse(
      freshProcess(`
        const paths = lib.lakePaths(${JSON.stringify(dir)});
        const s = await lib.loadSnapshot(paths, ${JSON.stringify(DS)});
        console.log(JSON.stringify({ version: s.version, files: [...s.files.values()].map((f) => f.path + ' ' + f.rows + ' ' + f.size + ' v' + f.version).sort() }));
      `),
    );
    expect(fresh).toEqual({ version: 101, files: snapshotSummary(before.files) });
    expect(csvQuery(dir, `SELECT count(*) AS n FROM ${DS}`)).toEqual({ code: 0, out: 'n\n204\n' });

    // A corrupt `_last_checkpoint` hint is ignored: the checkpoint files themselves are listed.
    for (const hint of ['{not json', '{"version": 7}', '[]', '{"version": "100"}']) {
      writeFileSync(path.join(logDir, '_last_checkpoint'), hint);
      forgetLogCaches();
      expect(await latestVersion(paths, DS)).toBe(101);
      expect(snapshotSummary((await loadSnapshot(paths, DS)).files)).toEqual(snapshotSummary(before.files));
    }
    // A fresh process with the last of them.
    expect(csvQuery(dir, `SELECT count(*) AS n FROM ${DS}`)).toEqual({ code: 0, out: 'n\n204\n' });
    // The versions before the checkpoint are gone for time travel.
    const gone = await loadSnapshot(paths, DS, { version: 99 }).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(VersionNotFoundError);
    expect((gone as Error).message).toBe(
      `${DS} version 99 is older than its log retains (vacuum removed it)`,
    );
    expect((await loadSnapshot(paths, DS, { version: 100 })).files.size).toBe(101);
  }, 60_000);

  it('a checkpoint that cannot be written does not undo the write whose commit is made', async () => {
    const dir = tempDir();
    const paths = lakePaths(dir);
    await withSquiggle(dir, async (lake) => {
      await lake.write(DS, metricRows('r1', 0, 5)); // v0
      // Versions 1…98: commits that change nothing, to reach the checkpoint cheaply.
      for (let v = 1; v < 99; v++)
        await commitToLog(paths, DS, async () => ({ operation: 'write', add: [], remove: [] }), {
          txn: `e${v}`,
        });
      expect((await lake.write(DS, metricRows('r1', 5, 5))).version).toBe(99);
      // The checkpoint hint cannot be written (a directory sits at its name).
      mkdirSync(path.join(dir, '.runlake', 'log', DS, '_last_checkpoint'));
      const result = await lake.write(DS, metricRows('r2', 0, 7));
      expect(result.version).toBe(100);
      expect(result.files).toHaveLength(1);
      expect(existsSync(result.files[0] as string)).toBe(true);
      expect(await countRows(lake)).toBe(17);
      expect((await lake.write(DS, metricRows('r2', 7, 1))).version).toBe(101);
    });
    forgetLogCaches();
    expect(await latestVersion(paths, DS)).toBe(101);
    expect(csvQuery(dir, `SELECT count(*) AS n FROM ${DS}`)).toEqual({ code: 0, out: 'n\n18\n' });
    expect((await validateLake(dir)).violations).toEqual([]);
  });

  it('refuses a commit file with the wrong content, naming the file', async () => {
    const dir = tempDir();
    const paths = lakePaths(dir);
    await withSquiggle(dir, async (lake) => {
      for (let i = 0; i < 3; i++) await lake.write(DS, metricRows('r1', i * 10, 10));
    });
    const file = path.join(dir, '.runlake', 'log', DS, '00000000000000000001.json');
    const commit = JSON.parse(readFileSync(file, 'utf8'));
    const cases: Array<[string, RegExp]> = [
      [JSON.stringify({ ...commit, version: 5 }), /holds version 5, not 1$/],
      [JSON.stringify({ ...commit, dataset: 'runs' }), /not a commit of metrics_scalar \(dataset runs\)$/],
      [
        JSON.stringify({ ...commit, add: [{ path: '../escape.parquet', size: 1, rows: 1 }] }),
        /"add" lacks a relative "path"/,
      ],
      [JSON.stringify({ ...commit, format: 2 }), /not a commit of format 1 \(format 2\)$/],
      ['[1, 2]', /not a commit: the file holds an array, not an object$/],
    ];
    for (const [text, reason] of cases) {
      writeFileSync(file, text);
      forgetLogCaches();
      const error = await loadSnapshot(paths, DS).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LakeMetadataError);
      expect((error as LakeMetadataError).file).toBe(file);
      expect((error as LakeMetadataError).reason).toMatch(reason);
      const opened = await squiggle(dir).catch((e: unknown) => e);
      expect(opened).toBeInstanceOf(LakeMetadataError);
      const cli = runlake('query', dir, DS);
      expect(cli.code).not.toBe(0);
      expect(cli.stderr).toContain(file);
    }
    // Not JSON at all: also named.
    writeFileSync(file, '{"format": 1, "dat');
    forgetLogCaches();
    const error = await loadSnapshot(paths, DS).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunlakeError);
    expect((error as Error).message.startsWith(`${file}: `)).toBe(true);
  });
});

describe('replace: one commit', () => {
  it('swaps a generation atomically: the old one goes to the trash, plain readers see the new one, time travel the old', async () => {
    const dir = tempDir();
    const trash = path.join(dir, '.runlake', 'trash', DS);
    await withSquiggle(dir, async (lake) => {
      await lake.write(DS, metricRows('r1', 0, 5)); // accepted data, v0
      await lake.write(DS, metricRows('r2', 0, 6, 'derived')); // another run, v1
      const first = await lake.replace(DS, metricRows('r1', 0, 3, 'derived'), {
        partition: { run_id: 'r1' },
        stem: 'derive',
      });
      expect(first).toMatchObject({ version: 2, removedFiles: 0, rowCount: 3 });
      const generation1 = parquetUnder(path.join(dir, DS)).filter((f) => f.includes('part-derive-'));
      expect(generation1).toHaveLength(1);
      const second = await lake.replace(DS, metricRows('r1', 100, 4, 'derived'), {
        partition: { run_id: 'r1' },
        stem: 'derive',
      });
      expect(second).toMatchObject({ version: 3, removedFiles: 1, rowCount: 4 });

      const commit = await readCommit(lake.paths, DS, 3);
      expect(commit).toMatchObject({
        operation: 'replace',
        readVersion: 2,
        info: { partition: 'run_id=r1', stem: 'derive' },
      });
      expect(commit?.add).toHaveLength(1);
      expect(commit?.remove.map((f) => f.path)).toEqual(generation1);
      // The old generation sits in the trash under its relative path, and only there.
      expect(parquetUnder(trash)).toEqual(generation1);
      expect(existsSync(path.join(dir, DS, generation1[0] as string))).toBe(false);

      expect(await countRows(lake, "run_id = 'r1' AND metric_name = 'derived'")).toBe(4);
      expect(await countRows(lake)).toBe(15);
      // An external reader globbing the directory sees exactly the new generation.
      expect(await globCount(dir)).toBe(15);
      expect(
        await external(
          `SELECT min(step)::INTEGER AS lo, max(step)::INTEGER AS hi, count(*)::INTEGER AS n FROM read_parquet('${dir}/${DS}/**/*.parquet', hive_partitioning = true) WHERE run_id = 'r1' AND metric_name = 'derived'`,
        ),
      ).toEqual([{ lo: 100, hi: 103, n: 4 }]);

      // Zero rows: the stem's files go, in one commit that adds nothing.
      const emptied = await lake.replace(DS, [], { partition: { run_id: 'r1' }, stem: 'derive' });
      expect(emptied).toMatchObject({ version: 4, removedFiles: 1, rowCount: 0 });
      expect(await readCommit(lake.paths, DS, 4)).toMatchObject({ operation: 'replace', add: [] });
      expect((await readCommit(lake.paths, DS, 4))?.remove).toHaveLength(1);
      expect(await countRows(lake, "run_id = 'r1' AND metric_name = 'derived'")).toBe(0);
      expect(await countRows(lake)).toBe(11);
      expect(await globCount(dir)).toBe(11);
      expect(parquetUnder(trash)).toHaveLength(2);
      // Nothing left to replace: nothing committed.
      expect(
        (await lake.replace(DS, [], { partition: { run_id: 'r1' }, stem: 'derive' })).version,
      ).toBeUndefined();
      expect(await latestVersion(lake.paths, DS)).toBe(4);
    });

    // Time travel reads the removed generations from the trash.
    const at = async (version: number) =>
      withSquiggle(
        dir,
        (lake) =>
          lake.query(
            `SELECT count(*)::INTEGER AS n, min(step)::INTEGER AS lo FROM ${DS} WHERE run_id = 'r1' AND metric_name = 'derived'`,
          ),
        { version: { [DS]: version } },
      );
    expect(await at(2)).toEqual([{ n: 3, lo: 0 }]);
    expect(await at(3)).toEqual([{ n: 4, lo: 100 }]);
    expect(await at(4)).toEqual([{ n: 0, lo: null }]);
    expect(await at(1)).toEqual([{ n: 0, lo: null }]);
  });

  it('deletes a partition in one commit (library and CLI); time travel still reads it', async () => {
    const dir = tempDir();
    await withSquiggle(dir, async (lake) => {
      await lake.write(DS, [...metricRows('r1', 0, 5), ...metricRows('r2', 0, 7)]);
      await lake.write(DS, metricRows('r1', 5, 5));
      const deleted = await lake.deletePartition(DS, { run_id: 'r1' });
      expect(deleted).toMatchObject({ version: 2, removedFiles: 2 });
      expect(await readCommit(lake.paths, DS, 2)).toMatchObject({ operation: 'delete', add: [] });
      expect(await countRows(lake)).toBe(7);
      expect(await globCount(dir)).toBe(7);
    });
    const cli = runlake('delete', dir, DS, '--partition', 'run_id=r2');
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toBe(`${DS}: deleted 1 file, version 3\n`);
    const again = runlake('delete', dir, DS, '--partition', 'run_id=r2');
    expect(again.stdout).toBe(`${DS}: the partition holds no files; nothing deleted\n`);
    expect(await globCount(dir)).toBe(0);
    expect(csvQuery(dir, `SELECT count(*) AS n FROM ${DS}`, '--at-version', `${DS}=1`)).toEqual({
      code: 0,
      out: 'n\n17\n',
    });
  });
});

describe('crash recovery (a writer that died, fabricated)', () => {
  /** A lake with one committed write, and a dead writer's staging entry. */
  async function lakeWithDeadWriter(intent: { adds: string[]; removes: string[] }) {
    const dir = tempDir();
    await withSquiggle(dir, (lake) => lake.write(DS, metricRows('r1', 0, 10)));
    const committed = parquetUnder(path.join(dir, DS));
    expect(committed).toHaveLength(1);
    const pid = deadPid();
    const txn = `${pid}-${randomUUID()}`;
    const entry = path.join(dir, '.runlake', 'staging', txn);
    mkdirSync(entry, { recursive: true });
    writeFileSync(
      path.join(entry, 'intent.json'),
      `${JSON.stringify({ txn, dataset: DS, host: os.hostname(), pid, ...intent })}\n`,
    );
    return { dir, entry, committed: committed[0] as string, pid, txn };
  }

  it('a published but uncommitted part file is invisible, and the next write (in a fresh process) deletes it', async () => {
    const orphan = 'run_id=r1/part-0badc0de-dead-4dea-8dea-000000000001.parquet';
    const { dir, entry, committed } = await lakeWithDeadWriter({ adds: [orphan], removes: [] });
    copyFileSync(path.join(dir, DS, committed), path.join(dir, DS, orphan));
    await withSquiggle(dir, async (lake) => expect(await countRows(lake)).toBe(10));
    expect(csvQuery(dir, `SELECT count(*) AS n FROM ${DS}`)).toEqual({ code: 0, out: 'n\n10\n' });
    // A dead writer's leftover is reported at once (engines reading by path see it until recovery).
    const leftovers = (await validateLake(dir)).violations.filter((v) => v.kind === 'unreferenced');
    expect(leftovers.map((v) => v.file)).toEqual([path.join(DS, orphan)]);
    expect(leftovers[0]?.message).toMatch(/a writer that died left this file/);

    const input = path.join(tempDir(), 'more.jsonl');
    writeFileSync(
      input,
      metricRows('r2', 0, 3)
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    const imported = runlake('import', dir, DS, input);
    expect(imported.code, imported.stderr).toBe(0);
    expect(existsSync(path.join(dir, DS, orphan))).toBe(false);
    expect(existsSync(entry)).toBe(false);
    expect(listFiles(path.join(dir, '.runlake', 'staging'))).toEqual([]);
    expect(await globCount(dir)).toBe(13);
    expect(csvQuery(dir, `SELECT count(*) AS n FROM ${DS}`)).toEqual({ code: 0, out: 'n\n13\n' });
  });

  it('sweepStaleStaging({ force }) recovers dead writers now, leaves live ones and keeps intent-less entries an hour', async () => {
    const orphan = 'run_id=r1/part-0badc0de-dead-4dea-8dea-000000000002.parquet';
    const { dir, entry, committed } = await lakeWithDeadWriter({ adds: [orphan], removes: [] });
    copyFileSync(path.join(dir, DS, committed), path.join(dir, DS, orphan));
    const paths = lakePaths(dir);
    // A live writer (this process) publishing a file: never touched.
    const liveOrphan = 'run_id=r1/part-0badc0de-11fe-4dea-8dea-000000000003.parquet';
    const live = path.join(paths.staging, `${process.pid}-${randomUUID()}`);
    mkdirSync(live, { recursive: true });
    writeFileSync(
      path.join(live, 'intent.json'),
      JSON.stringify({
        txn: path.basename(live),
        dataset: DS,
        host: os.hostname(),
        pid: process.pid,
        adds: [liveOrphan],
        removes: [],
      }),
    );
    copyFileSync(path.join(dir, DS, committed), path.join(dir, DS, liveOrphan));
    // A dead writer that died before writing its intent: its host is unknown, so it waits an hour.
    const early = path.join(paths.staging, `${deadPid()}-${randomUUID()}`);
    mkdirSync(early, { recursive: true });

    const found: string[] = [];
    expect(await sweepStaleStaging(paths, Date.now(), { force: true, found: (e) => found.push(e) })).toBe(1);
    expect(found).toEqual([entry]);
    expect(existsSync(path.join(dir, DS, orphan))).toBe(false);
    expect(existsSync(entry)).toBe(false);
    expect(existsSync(path.join(dir, DS, liveOrphan))).toBe(true);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(early)).toBe(true);
    expect(await sweepStaleStaging(paths, Date.now() + 2 * 3600_000, { force: true })).toBe(1);
    expect(existsSync(early)).toBe(false);
    expect(existsSync(live)).toBe(true);
    rmSync(live, { recursive: true });
    rmSync(path.join(dir, DS, liveOrphan));
    expect(await globCount(dir)).toBe(10);
  });

  it('a writer that died after its commit, before moving what it removed: recovery moves the files to the trash', async () => {
    const dir0 = await lakeWithDeadWriter({ adds: [], removes: [] });
    const { dir, entry, committed, txn, pid } = dir0;
    const paths = lakePaths(dir);
    await withSquiggle(dir, (lake) => lake.write(DS, metricRows('r2', 0, 4)));
    writeFileSync(
      path.join(entry, 'intent.json'),
      JSON.stringify({ txn, dataset: DS, host: os.hostname(), pid, adds: [], removes: [committed] }),
    );
    // The dead writer's commit (it died right after creating the commit file).
    const removed = (await loadSnapshot(paths, DS)).files.get(committed) as LogFile;
    const commit = await commitToLog(
      paths,
      DS,
      async () => ({ operation: 'delete', add: [], remove: [removed] }),
      { txn },
    );
    expect(commit?.version).toBe(2);
    // Readers follow the log; only a plain glob still sees the file.
    await withSquiggle(dir, async (lake) => expect(await countRows(lake)).toBe(4));
    expect(await globCount(dir)).toBe(14);
    expect(await sweepStaleStaging(paths, Date.now(), { force: true })).toBe(1);
    expect(existsSync(path.join(dir, DS, committed))).toBe(false);
    expect(parquetUnder(path.join(dir, '.runlake', 'trash', DS))).toEqual([committed]);
    expect(existsSync(entry)).toBe(false);
    expect(await globCount(dir)).toBe(4);
    await withSquiggle(dir, async (lake) => expect(await countRows(lake)).toBe(10), { version: { [DS]: 0 } });
    expect((await validateLake(dir)).ok).toBe(true);
  });
});

describe('compaction', () => {
  /** Rows of two metrics, in an order that is not (metric_name, step). */
  function shuffled(run: string, write: number): MetricRow[] {
    const rows = [...metricRows(run, write * 10, 10, 'loss'), ...metricRows(run, write * 10, 10, 'acc')];
    return rows.map((r, i) => ({ ...r, value: r.value * (i % 3 === 0 ? -1 : 1) })).reverse();
  }

  it('merges small files into one sorted file per partition in one commit, rows and sums unchanged', async () => {
    const dir = tempDir();
    const all: MetricRow[] = [];
    await withSquiggle(dir, async (lake) => {
      for (let w = 0; w < 6; w++) {
        const rows = shuffled('r1', w);
        all.push(...rows);
        await lake.write(DS, rows);
      }
      for (let w = 0; w < 2; w++) {
        const rows = shuffled('r2', w);
        all.push(...rows);
        await lake.write(DS, rows);
      }
      const summary = `SELECT run_id, count(*)::INTEGER AS n, sum(value) AS total, sum(step)::INTEGER AS steps FROM ${DS} GROUP BY 1 ORDER BY 1`;
      const before = await lake.query(summary);
      const expected = ['r1', 'r2'].map((run) => {
        const rows = all.filter((r) => r.run_id === run);
        return {
          run_id: run,
          n: rows.length,
          total: rows.reduce((s, r) => s + r.value, 0),
          steps: rows.reduce((s, r) => s + r.step, 0),
        };
      });
      expect(before).toEqual(expected);
      expect(parquetUnder(path.join(dir, DS))).toHaveLength(8);

      const result = await lake.compact(DS);
      expect(result).toMatchObject({
        dataset: DS,
        partitions: 2,
        filesBefore: 8,
        filesAfter: 2,
        rows: 160,
        version: 8,
      });
      expect(await lake.query(summary)).toEqual(expected);
      const files = parquetUnder(path.join(dir, DS));
      expect(files).toHaveLength(2);
      for (const file of files) expect(file).toMatch(/^run_id=r[12]\/part-compact-[0-9a-f-]{36}\.parquet$/);
      expect(parquetUnder(path.join(dir, '.runlake', 'trash', DS))).toHaveLength(8);
      expect(await globCount(dir)).toBe(160);

      // Within the merged file, rows are in (metric_name, step) order.
      const r1 = path.join(dir, DS, files.find((f) => f.startsWith('run_id=r1/')) as string);
      const stored = await external(
        `SELECT metric_name, step::INTEGER AS step FROM read_parquet('${r1}', file_row_number = true) ORDER BY file_row_number`,
      );
      const sorted = all
        .filter((r) => r.run_id === 'r1')
        .map((r) => ({ metric_name: r.metric_name, step: r.step }))
        .sort((a, b) =>
          a.metric_name === b.metric_name ? a.step - b.step : a.metric_name < b.metric_name ? -1 : 1,
        );
      expect(stored).toEqual(sorted);
      expect(stored[0]).toEqual({ metric_name: 'acc', step: 0 });

      const history = await datasetHistory(lake.paths, DS);
      expect(history.filter((h) => h.operation === 'compact')).toHaveLength(1);
      expect(history[0]).toMatchObject({
        version: 8,
        operation: 'compact',
        filesAdded: 2,
        filesRemoved: 8,
        rowsAdded: 160,
        rowsRemoved: 160,
      });
      // Nothing left to merge.
      expect(await lake.compact(DS)).toMatchObject({ partitions: 0, filesBefore: 0 });
      expect(await latestVersion(lake.paths, DS)).toBe(8);
    });
    // Before the compaction, from the trash.
    await withSquiggle(
      dir,
      async (lake) => {
        expect(lake.datasets.get(DS)).toMatchObject({ fileCount: 8, rowCount: 160 });
        expect(await countRows(lake)).toBe(160);
      },
      { version: { [DS]: 7 } },
    );
  });

  it('CLI: --dry-run changes nothing, --partition merges one partition, --target-size leaves big files alone', async () => {
    const dir = tempDir();
    await withSquiggle(dir, async (lake) => {
      for (let w = 0; w < 4; w++) await lake.write(DS, metricRows('r1', w * 10, 10));
      for (let w = 0; w < 3; w++) await lake.write(DS, metricRows('r2', w * 10, 10));
      // One big file in r2 (distinct values do not compress away).
      await lake.write(
        DS,
        Array.from({ length: 4000 }, (_, i) => ({
          run_id: 'r2',
          step: 1000 + i,
          metric_name: 'big',
          value: Math.sin(i),
        })),
      );
    });
    const r1 = path.join(dir, DS, 'run_id=r1');
    const r2 = path.join(dir, DS, 'run_id=r2');
    const big = parquetUnder(r2).find((f) => statSync(path.join(r2, f)).size > 16 * 1024);
    expect(big).toBeDefined();

    const before = treeFingerprint(dir);
    const dry = runlake('compact', dir, DS, '--partition', 'run_id=r1', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^metrics_scalar: would merge 4 files \([^)]+, 40 rows\) in 1 partition\n$/);
    expect(treeFingerprint(dir)).toEqual(before);

    const merged = runlake('compact', dir, DS, '--partition', 'run_id=r1');
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stdout).toMatch(
      /^metrics_scalar: merged 4 files \([^)]+\) into 1 \([^)]+\) in 1 partition, 40 rows, version 8\n$/,
    );
    expect(parquetUnder(r1)).toHaveLength(1);
    expect(parquetUnder(r2)).toHaveLength(4);

    const sized = runlake('compact', dir, DS, '--partition', 'run_id=r2', '--target-size', '16KiB');
    expect(sized.code, sized.stderr).toBe(0);
    expect(sized.stdout).toMatch(/merged 3 files .* into 1 .* in 1 partition, 30 rows, version 9\n$/);
    const after = parquetUnder(r2);
    expect(after).toHaveLength(2);
    expect(after).toContain(big);

    const tooSmall = runlake('compact', dir, DS, '--target-size', '100');
    expect(tooSmall.code).not.toBe(0);
    expect(tooSmall.stderr).toContain('compaction target size must be at least 1 KiB, got 100');
    // Every dataset, default target size: r2's big file and its merged one are small now.
    const everything = runlake('compact', dir);
    expect(everything.code, everything.stderr).toBe(0);
    expect(everything.stdout).toMatch(
      /^metrics_scalar: merged 2 files .* into 1 .* in 1 partition, 4,030 rows, version 10\n$/,
    );
    expect(runlake('compact', dir, DS).stdout).toBe(`${DS}: nothing to compact\n`);
    expect(csvQuery(dir, `SELECT count(*) AS n, sum(step) AS s FROM ${DS}`).out).toBe(
      // steps: r1 0…39, r2 0…29, big 1000…4999
      'n,s\n4070,11999215\n',
    );
    const history = runlake('history', dir, DS, '-f', 'json');
    const entries = JSON.parse(history.stdout) as Array<{
      operation: string;
      filesAdded: number;
      filesRemoved: number;
    }>;
    expect(entries.map((e) => e.operation)).toEqual([
      'compact',
      'compact',
      'compact',
      ...Array(8).fill('write'),
    ]);
    expect(entries.slice(0, 3).map((e) => [e.filesAdded, e.filesRemoved])).toEqual([
      [1, 2],
      [1, 3],
      [1, 4],
    ]);
  });

  it('a commit that removes an input while the compaction reads or merges makes it retry, or throw CommitConflictError', async () => {
    const dir = tempDir();
    await withSquiggle(dir, async (lake) => {
      for (const run of ['r1', 'r2', 'r3', 'r4'])
        for (let w = 0; w < 3; w++) await lake.write(DS, metricRows(run, w * 10, 10));
    });
    const base = await squiggle(dir).then((lake) => {
      const d = lake.definition(DS);
      lake.close();
      return d;
    });
    // The compaction reads the dataset's sort key once per planned partition, after planning
    // and before merging that partition: a getter lets another process commit right then.
    let reads = 0;
    const racing = (deleteAt: Readonly<Record<number, string>>): DatasetDefinition => {
      reads = 0;
      return {
        ...base,
        get sortBy() {
          reads++;
          const run = deleteAt[reads];
          if (run) {
            const out = runlake('delete', dir, DS, '--partition', `run_id=${run}`);
            expect(out.code, out.stderr).toBe(0);
          }
          return base.sortBy;
        },
      };
    };
    const inputGone = (run: string, version: number) =>
      new RegExp(
        `^commit to metrics_scalar conflicts with version ${version}: input run_id=${run}/part-[0-9a-f-]{36}\\.parquet was removed meanwhile$`,
      );

    // r1 is merged already when a delete removes it (at reading r2's sort key): the commit
    // finds its input gone. One attempt: the conflict is thrown.
    const atCommit = await compactDataset(dir, racing({ 2: 'r1' }), { attempts: 1 }).catch((e: unknown) => e);
    expect(atCommit).toBeInstanceOf(CommitConflictError);
    expect((atCommit as Error).message).toMatch(inputGone('r1', 12));
    // r2 is deleted before it is read: the merge finds its input gone.
    const atRead = await compactDataset(dir, racing({ 1: 'r2' }), { attempts: 1 }).catch((e: unknown) => e);
    expect(atRead).toBeInstanceOf(CommitConflictError);
    expect((atRead as Error).message).toMatch(inputGone('r2', 13));
    // Nothing of either compaction is visible.
    expect(await latestVersion(lakePaths(dir), DS)).toBe(13);
    expect(parquetUnder(path.join(dir, DS)).filter((f) => f.includes('compact'))).toEqual([]);
    expect(listFiles(path.join(dir, '.runlake', 'staging'))).toEqual([]);
    expect(await globCount(dir)).toBe(60);

    // With retries (default 3): the second attempt plans over the new snapshot and merges r4.
    const retried = await compactDataset(dir, racing({ 1: 'r3' }));
    expect(reads).toBe(2);
    expect(retried).toMatchObject({ partitions: 1, filesBefore: 3, filesAfter: 1, rows: 30, version: 15 });
    expect(parquetUnder(path.join(dir, DS))).toEqual([expect.stringMatching(/^run_id=r4\/part-compact-/)]);
    expect(await globCount(dir)).toBe(30);
    expect((await datasetHistory(lakePaths(dir), DS)).map((h) => h.operation).slice(0, 4)).toEqual([
      'compact',
      'delete',
      'delete',
      'delete',
    ]);
  });

  it('two compactions racing: one commits, the other retries and finds nothing left to merge', async () => {
    const dir = tempDir();
    await withSquiggle(dir, async (lake) => {
      for (let w = 0; w < 5; w++) await lake.write(DS, metricRows('r1', w * 10, 10));
    });
    const base = await squiggle(dir).then((lake) => {
      const d = lake.definition(DS);
      lake.close();
      return d;
    });
    let raced = false;
    const racing: DatasetDefinition = {
      ...base,
      get sortBy() {
        if (!raced) {
          raced = true;
          const out = runlake('compact', dir, DS);
          expect(out.stdout).toMatch(/merged 5 files .* version 5\n$/);
        }
        return base.sortBy;
      },
    };
    const result = await compactDataset(dir, racing);
    expect(result).toMatchObject({ partitions: 0 });
    expect(await latestVersion(lakePaths(dir), DS)).toBe(5);
    expect(parquetUnder(path.join(dir, DS))).toHaveLength(1);
    expect(await globCount(dir)).toBe(50);
  });

  it('keeps replace idempotent: files a replace stem owns are not merged away from it', async () => {
    const dir = tempDir();
    const history = path.join(repoRoot, 'test', 'fixtures', 'wandb', 'runs_history.jsonl');
    await withSquiggle(dir, async (lake) => {
      const first = await ingestWandb(lake, [history]);
      const total = await countRows(lake);
      expect(total).toBe(first.metricRows);
      // Data other writers logged for the same runs.
      const runs = (await lake.query(`SELECT DISTINCT run_id FROM ${DS} ORDER BY 1`)).map((r) =>
        String(r.run_id),
      );
      for (const run of runs) {
        await lake.write(DS, metricRows(run, 0, 3, 'extra'));
        await lake.write(DS, metricRows(run, 3, 3, 'extra'));
      }
      expect(await countRows(lake)).toBe(total + runs.length * 6);
      await lake.compact(DS);
      expect(await countRows(lake)).toBe(total + runs.length * 6);
      // Re-ingesting the same export replaces the runs' wandb rows: no duplicates.
      await ingestWandb(lake, [history]);
      expect(await countRows(lake)).toBe(total + runs.length * 6);
      expect(await countRows(lake, "metric_name = 'extra'")).toBe(runs.length * 6);
      const report = await validateLake(dir);
      expect(report.violations.filter((v) => v.kind === 'duplicate_key')).toEqual([]);
    });
  });

  it('autoCompact keeps a partition at no more than 5 small files over 30 writes', async () => {
    const dir = tempDir();
    await withSquiggle(
      dir,
      async (lake) => {
        const counts: number[] = [];
        for (let w = 0; w < 30; w++) {
          await lake.write(DS, metricRows('r1', w * 10, 10));
          counts.push(parquetUnder(path.join(dir, DS, 'run_id=r1')).length);
        }
        expect(Math.max(...counts)).toBeLessThanOrEqual(5);
        // 5 files → compacted to 1 after writes 5, 9, 13, …, 29; write 30 adds a second.
        expect(counts.slice(0, 10)).toEqual([1, 2, 3, 4, 1, 2, 3, 4, 1, 2]);
        expect(counts.at(-1)).toBe(2);
        expect(await countRows(lake)).toBe(300);
        const history = await datasetHistory(lake.paths, DS);
        expect(history.filter((h) => h.operation === 'compact')).toHaveLength(7);
        expect(history.filter((h) => h.operation === 'write')).toHaveLength(30);
        expect(await latestVersion(lake.paths, DS)).toBe(36);
      },
      { autoCompact: { maxSmallFiles: 4 } },
    );
  });
});

describe('vacuum', () => {
  /** A lake whose metrics went through a write, a replace and a delete: three files in the trash. */
  async function lakeWithTrash(): Promise<string> {
    const dir = tempDir();
    await withSquiggle(dir, async (lake) => {
      await lake.write(DS, metricRows('r1', 0, 10)); // v0
      await lake.replace(DS, metricRows('r2', 0, 5, 'derived'), { partition: { run_id: 'r2' }, stem: 'd' }); // v1
      await lake.replace(DS, metricRows('r2', 0, 6, 'derived'), { partition: { run_id: 'r2' }, stem: 'd' }); // v2
      await lake.write(DS, metricRows('r3', 0, 7)); // v3
      await lake.deletePartition(DS, { run_id: 'r3' }); // v4
      await lake.write(DS, metricRows('r4', 0, 8)); // v5
    });
    expect(parquetUnder(path.join(dir, '.runlake', 'trash', DS))).toHaveLength(2);
    return dir;
  }

  it('--retain 0 --dry-run lists and deletes nothing; the real run deletes the trash and old log files', async () => {
    const dir = await lakeWithTrash();
    const before = treeFingerprint(dir);
    const dry = runlake('vacuum', dir, '--retain', '0', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    const trashed = parquetUnder(path.join(dir, '.runlake', 'trash', DS));
    const lines = dry.stdout.trim().split('\n');
    expect(lines.slice(0, 2).sort()).toEqual(
      trashed
        .map((f) => `would delete ${path.join('.runlake', 'trash', DS, f)} (removed by a commit)`)
        .sort(),
    );
    expect(lines.at(-1)).toMatch(
      /^would delete 2 removed files \([^)]+\), 5 log files, 0 dead writers' staging entries$/,
    );
    expect(lines).toHaveLength(3);
    expect(treeFingerprint(dir)).toEqual(before);

    const real = runlake('vacuum', dir, '--retain', '0');
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout.trim().split('\n').at(-1)).toMatch(
      /^deleted 2 removed files \([^)]+\), 5 log files, 0 dead writers' staging entries$/,
    );
    expect(parquetUnder(path.join(dir, '.runlake', 'trash'))).toEqual([]);
    expect(listFiles(path.join(dir, '.runlake', 'log', DS))).toEqual([
      '00000000000000000005.checkpoint.json',
      '00000000000000000005.json',
      '_last_checkpoint',
    ]);
    expect(csvQuery(dir, `SELECT count(*) AS n FROM ${DS}`)).toEqual({ code: 0, out: 'n\n24\n' });
    const again = runlake('vacuum', dir, '--retain', '0');
    expect(again.stdout).toBe(
      "deleted 0 removed files (0 B), 0 log files, 0 dead writers' staging entries\n",
    );

    // Time travel beyond the retention: a clear refusal.
    forgetLogCaches();
    const error = await squiggle(dir, { version: { [DS]: 2 } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VersionNotFoundError);
    expect((error as Error).message).toBe(
      `${DS} version 2 is older than its log retains (vacuum removed it)`,
    );
    const cli = csvQuery(dir, `SELECT count(*) AS n FROM ${DS}`, '--at-version', `${DS}=2`);
    expect(cli.code).not.toBe(0);
    expect(cli.out).toContain(`${DS} version 2 is older than its log retains (vacuum removed it)`);
    const past = runlake('query', dir, DS, '--as-of', '2000-01-01T00:00:00Z');
    expect(past.code).not.toBe(0);
    expect(past.stderr).toContain(
      `${DS} has no version committed at or before 2000-01-01T00:00:00.000Z that the log retains`,
    );
    // The retained version still reads, and writes continue from it.
    await withSquiggle(dir, async (lake) => {
      expect(await countRows(lake)).toBe(24);
      expect((await lake.write(DS, metricRows('r5', 0, 1))).version).toBe(6);
      expect(await countRows(lake)).toBe(25);
    });
  });

  it('the 7-day default leaves fresh trash alone', async () => {
    const dir = await lakeWithTrash();
    const before = treeFingerprint(dir);
    const result = runlake('vacuum', dir);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(
      "deleted 0 removed files (0 B), 0 log files, 0 dead writers' staging entries\n",
    );
    expect(treeFingerprint(dir)).toEqual(before);
    // A week later the same files go.
    const later = await vacuumLake(dir, { now: Date.now() + 8 * 24 * 3600_000, dryRun: true });
    expect(later.trashFiles).toHaveLength(2);
    expect(later.logFiles).toHaveLength(5);
  });

  it('keeps and reports files no commit references; runlake adopt takes them in', async () => {
    const dir = await lakeWithTrash();
    const foreign = path.join(dir, DS, 'run_id=r9', 'from-pandas.parquet');
    mkdirSync(path.dirname(foreign), { recursive: true });
    await copyToParquet(
      "SELECT i::BIGINT AS step, 'loss' AS metric_name, (i * 1.5)::DOUBLE AS value FROM range(12) t(i)",
      foreign,
    );
    const result = runlake('vacuum', dir, '--retain', '0');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      `kept ${path.join(DS, 'run_id=r9', 'from-pandas.parquet')}: no commit references it (runlake adopt takes it in)\n`,
    );
    expect(result.stdout).toMatch(/; 1 unreferenced files kept\n$/);
    expect(existsSync(foreign)).toBe(true);
    expect(csvQuery(dir, `SELECT count(*) AS n FROM ${DS}`).out).toBe('n\n24\n');

    const adopted = runlake('adopt', dir, DS);
    expect(adopted.code, adopted.stderr).toBe(0);
    expect(adopted.stdout).toBe(`${DS}: adopted 1 file, 12 rows\n`);
    expect(runlake('adopt', dir, DS).stdout).toBe(`${DS}: nothing to adopt\n`);
    expect(csvQuery(dir, `SELECT count(*) AS n, sum(value) AS v FROM ${DS} WHERE run_id = 'r9'`).out).toBe(
      'n,v\n12,99\n',
    );
    const entries = await datasetHistory(lakePaths(dir), DS);
    expect(entries[0]).toMatchObject({ version: 6, operation: 'adopt', filesAdded: 1, rowsAdded: 12 });
    expect(runlake('vacuum', dir, '--retain', '0').stdout).not.toContain('unreferenced');
    // Deleting the partition deletes the adopted file too, whatever its name.
    const deleted = runlake('delete', dir, DS, '--partition', 'run_id=r9');
    expect(deleted.stdout).toBe(`${DS}: deleted 1 file, version 7\n`);
    expect(existsSync(foreign)).toBe(false);
    expect(existsSync(path.join(dir, '.runlake', 'trash', DS, 'run_id=r9', 'from-pandas.parquet'))).toBe(
      true,
    );
    expect(csvQuery(dir, `SELECT count(*) AS n FROM ${DS}`).out).toBe('n\n24\n');
  });
});

describe('time travel and history', () => {
  it('pins versions with openLake({ version }) and { asOf }, and from the CLI; refuses writes while pinned', async () => {
    const dir = tempDir();
    const times: string[] = [];
    await withSquiggle(dir, async (lake) => {
      await lake.write('runs', [{ run_id: 'r1' }]);
      for (let w = 0; w < 4; w++) {
        await lake.write(DS, metricRows('r1', w * 10, w + 1));
        // Distinct commit times (asOf resolves to the millisecond).
        await sleep(15);
        times.push(new Date().toISOString());
        await sleep(15);
      }
    });
    // Cumulative rows after versions 0…3: 1, 3, 6, 10.
    for (const [version, n] of [
      [0, 1],
      [1, 3],
      [2, 6],
      [3, 10],
    ] as const) {
      await withSquiggle(
        dir,
        async (lake) => {
          expect(lake.datasets.get(DS)).toMatchObject({ version, rowCount: n });
          expect(await countRows(lake)).toBe(n);
          // Datasets not named follow the latest version.
          expect(await countRows(lake, 'true', 'runs')).toBe(1);
        },
        { version: { [DS]: version } },
      );
      await withSquiggle(dir, async (lake) => expect(await countRows(lake)).toBe(n), {
        asOf: new Date(times[version] as string),
      });
      if (version % 2 === 0) continue; // the CLI, for versions 1 and 3
      expect(csvQuery(dir, `SELECT count(*) AS n FROM ${DS}`, '--as-of', times[version] as string).out).toBe(
        `n\n${n}\n`,
      );
      const atVersion = runlake(
        'query',
        dir,
        DS,
        '--at-version',
        String(version),
        '-f',
        'csv',
        '--columns',
        'step',
      );
      expect(atVersion.code, atVersion.stderr).toBe(0);
      expect(atVersion.stdout.trim().split('\n')).toHaveLength(n + 1);
    }
    expect(
      csvQuery(
        dir,
        `SELECT (SELECT count(*) FROM ${DS}) AS m, (SELECT count(*) FROM runs) AS r`,
        '--at-version',
        `${DS}=1,runs=0`,
      ).out,
    ).toBe('m,r\n3,1\n');
    expect(runlake('query', dir, '--sql', 'SELECT 1', '--at-version', '1').stderr).toContain(
      'with --sql, name the dataset to pin: --at-version <dataset>=<n>',
    );
    const future = await squiggle(dir, { version: { [DS]: 9 } }).catch((e: unknown) => e);
    expect(future).toBeInstanceOf(VersionNotFoundError);
    expect((future as Error).message).toBe(`${DS} has no version 9 (latest 3)`);

    const pinned = await squiggle(dir, { version: { [DS]: 1 } });
    try {
      const refusal = /metrics_scalar is opened at version 1 \(time travel\) and cannot be written/;
      await expect(pinned.write(DS, metricRows('r1', 99, 1))).rejects.toThrow(refusal);
      await expect(pinned.replace(DS, [], { partition: { run_id: 'r1' }, stem: 'x' })).rejects.toThrow(
        refusal,
      );
      await expect(pinned.deletePartition(DS, { run_id: 'r1' })).rejects.toThrow(refusal);
      await expect(pinned.compact(DS)).rejects.toThrow(refusal);
      // The unpinned dataset still takes writes.
      expect((await pinned.write('runs', [{ run_id: 'r2' }])).version).toBe(1);
    } finally {
      pinned.close();
    }
    expect(await latestVersion(lakePaths(dir), DS)).toBe(3);
  });

  it('asOf before a dataset was first written reads that dataset as empty', async () => {
    const dir = tempDir();
    let between = '';
    await withSquiggle(dir, async (lake) => {
      await lake.write(DS, metricRows('r1', 0, 4));
      await sleep(15);
      between = new Date().toISOString();
      await sleep(15);
      await lake.write('runs', [{ run_id: 'r1' }]);
      await lake.write(DS, metricRows('r1', 4, 4));
    });
    await withSquiggle(
      dir,
      async (lake) => {
        expect(await countRows(lake)).toBe(4);
        expect(await countRows(lake, 'true', 'runs')).toBe(0);
      },
      { asOf: new Date(between) },
    );
    expect(
      csvQuery(
        dir,
        `SELECT (SELECT count(*) FROM ${DS}) AS m, (SELECT count(*) FROM runs) AS r`,
        '--as-of',
        between,
      ).out,
    ).toBe('m,r\n4,0\n');
    // Before anything was written: every logged dataset is empty.
    const early = runlake('query', dir, DS, '--as-of', '2000-01-01T00:00:00Z', '-f', 'csv');
    expect(early.code, early.stderr).toBe(0);
    // Only the header: no rows.
    expect(early.stdout).toMatch(/^run_id,step,metric_name,value[^\n]*\n$/);
  });

  it('history lists operations with files and rows added and removed', async () => {
    const dir = tempDir();
    await withSquiggle(dir, async (lake) => {
      await lake.write(DS, metricRows('r1', 0, 10));
      await lake.write(DS, metricRows('r1', 10, 5));
      await lake.replace(DS, metricRows('r2', 0, 4), { partition: { run_id: 'r2' }, stem: 'derive' });
      await lake.replace(DS, metricRows('r2', 0, 3), { partition: { run_id: 'r2' }, stem: 'derive' });
      await lake.compact(DS);
      await lake.deletePartition(DS, { run_id: 'r2' });
    });
    const json = runlake('history', dir, DS, '-f', 'json');
    expect(json.code, json.stderr).toBe(0);
    const entries = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(
      entries.map((e) => [
        e.version,
        e.operation,
        e.filesAdded,
        e.filesRemoved,
        e.rowsAdded,
        e.rowsRemoved,
        e.details,
      ]),
    ).toEqual([
      [5, 'delete', 0, 1, 0, 3, 'partition=run_id=r2'],
      [4, 'compact', 1, 2, 15, 15, `targetSize=${128 * 1024 * 1024}`],
      [3, 'replace', 1, 1, 3, 4, 'partition=run_id=r2 stem=derive'],
      [2, 'replace', 1, 0, 4, 0, 'partition=run_id=r2 stem=derive'],
      [1, 'write', 1, 0, 5, 0, ''],
      [0, 'write', 1, 0, 10, 0, 'schema changed'],
    ]);
    expect(entries[0]?.writer).toMatch(new RegExp(`^runlake \\d+@${os.hostname()}$`));
    const table = runlake('history', dir, DS, '--limit', '2');
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/\b5\b.*\bdelete\b.*\+0 -1.*\+0 -3/);
    expect(table.stdout).toMatch(/\b4\b.*\bcompact\b.*\+1 -2.*\+15 -15/);
    expect(table.stdout).not.toContain('replace');
    const all = runlake('history', dir, '-f', 'json');
    expect((JSON.parse(all.stdout) as unknown[]).length).toBe(6);
  });
});

describe('validate checks the log', () => {
  async function cleanLake(): Promise<string> {
    const dir = tempDir();
    await withSquiggle(dir, async (lake) => {
      await lake.write('runs', [{ run_id: 'r1' }, { run_id: 'r2' }]);
      await lake.write(DS, metricRows('r1', 0, 10));
      await lake.write(DS, metricRows('r2', 0, 10));
    });
    return dir;
  }

  it('a clean lake is ok', async () => {
    const report = await validateLake(await cleanLake());
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('reports a referenced file that is missing or changed size, as log violations', async () => {
    const dir = await cleanLake();
    const [r1, r2] = ['r1', 'r2'].map(
      (run) => `run_id=${run}/${parquetUnder(path.join(dir, DS, `run_id=${run}`))[0]}`,
    );
    rmSync(path.join(dir, DS, r1 as string));
    appendFileSync(path.join(dir, DS, r2 as string), Buffer.alloc(10));
    const report = await validateLake(dir);
    expect(report.ok).toBe(false);
    const log = report.violations.filter((v) => v.kind === 'log');
    expect(log).toHaveLength(2);
    expect(log[0]).toMatchObject({ dataset: DS, file: path.join(DS, r1 as string) });
    expect(log[0]?.message).toBe('version 0 of the log added this file (10 rows), but it is missing');
    expect(log[1]).toMatchObject({ dataset: DS, file: path.join(DS, r2 as string) });
    expect(log[1]?.message).toMatch(/^the file has (\d+) bytes, version 1 of the log recorded (\d+)$/);
    const [, now, was] = /has (\d+) bytes, .* recorded (\d+)$/.exec(log[1]?.message ?? '') ?? [];
    expect(Number(now) - Number(was)).toBe(10);
    // Its footer is no longer at the end: it is read, and reported unreadable too.
    expect(report.violations.filter((v) => v.kind !== 'log').map((v) => [v.kind, v.file, v.message])).toEqual(
      [['unreadable', path.join(DS, r2 as string), expect.stringMatching(/^cannot read the file: /)]],
    );
    const cli = runlake('validate', dir);
    expect(cli.code).not.toBe(0);
    expect(cli.stdout + cli.stderr).toContain('but it is missing');
  });

  it('reports unreferenced files older than an hour, not fresh ones', async () => {
    const dir = await cleanLake();
    const old = path.join(dir, DS, 'run_id=r1', 'part-left-behind.parquet');
    const fresh = path.join(dir, DS, 'run_id=r2', 'part-being-written.parquet');
    const committed = path.join(
      dir,
      DS,
      'run_id=r1',
      parquetUnder(path.join(dir, DS, 'run_id=r1'))[0] as string,
    );
    copyFileSync(committed, old);
    copyFileSync(committed, fresh);
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(old, twoHoursAgo, twoHoursAgo);
    const report = await validateLake(dir);
    expect(report.violations.map((v) => [v.kind, v.file])).toEqual([
      ['unreferenced', path.join(DS, 'run_id=r1', 'part-left-behind.parquet')],
    ]);
    expect(report.violations[0]?.message).toMatch(/^no commit of the log references this file/);
    // Readers never saw either file.
    await withSquiggle(dir, async (lake) => expect(await countRows(lake)).toBe(20));
  });

  it('reports rows sharing a (run_id, metric_name, step) key in metrics_scalar', async () => {
    const dir = await cleanLake();
    await withSquiggle(dir, (lake) => lake.write(DS, [...metricRows('r1', 3, 2), ...metricRows('r2', 9, 1)]));
    const report = await validateLake(dir);
    const duplicates = report.violations.filter((v) => v.kind === 'duplicate_key');
    const key = await withSquiggle(dir, async (lake) => lake.definition(DS).key ?? []);
    expect(key.slice(0, 3)).toEqual(['run_id', 'metric_name', 'step']);
    const values = (run: string, step: number): string =>
      key
        .map(
          (k) =>
            `${k}=${({ run_id: run, metric_name: 'loss', step: String(step) } as Record<string, string>)[k] ?? 'null'}`,
        )
        .join(', ');
    expect(duplicates.map((v) => [v.dataset, v.column, v.rowsAffected])).toEqual(
      Array(3).fill([DS, key.join(', '), 1]),
    );
    expect(duplicates.map((v) => v.message).sort()).toEqual([
      `2 rows share the key ${values('r1', 3)} (3 keys are duplicated in all)`,
      `2 rows share the key ${values('r1', 4)} (3 keys are duplicated in all)`,
      `2 rows share the key ${values('r2', 9)} (3 keys are duplicated in all)`,
    ]);
    expect(report.ok).toBe(false);
    expect(report.violations.filter((v) => v.kind !== 'duplicate_key')).toEqual([]);
  });

  it('counts a single duplicated key as "1 key is duplicated"', async () => {
    const dir = await cleanLake();
    await withSquiggle(dir, (lake) => lake.write(DS, metricRows('r2', 9, 1)));
    const report = await validateLake(dir);
    expect(report.violations.map((v) => [v.kind, v.message])).toEqual([
      [
        'duplicate_key',
        expect.stringMatching(/^2 rows share the key run_id=r2, .* \(1 key is duplicated in all\)$/),
      ],
    ]);
  });
});

describe('runlake serve follows new commits', () => {
  it('answers with the new count after a write, without a restart', async () => {
    const dir = tempDir();
    await withSquiggle(dir, (lake) => lake.write(DS, metricRows('r1', 0, 10)));
    const served = await startServe(dir);
    const url = served.url;
    try {
      const count = async () => {
        const response = await fetch(
          new URL(`/api/query?sql=${encodeURIComponent(`SELECT count(*)::INTEGER AS n FROM ${DS}`)}`, url),
        );
        expect(response.status).toBe(200);
        return ((await response.json()) as { rows: Array<{ n: number }> }).rows[0]?.n;
      };
      expect(await count()).toBe(10);
      await withSquiggle(dir, (lake) => lake.write(DS, metricRows('r2', 0, 7)));
      expect(await count()).toBe(17);
      // A commit that moves files to the trash (a replace of everything in r1).
      await withSquiggle(dir, (lake) => lake.deletePartition(DS, { run_id: 'r1' }));
      expect(await count()).toBe(7);
      await withSquiggle(dir, (lake) => lake.compact(DS));
      expect(await count()).toBe(7);
      expect(await served.stop()).toBe(0);
    } finally {
      served.kill();
    }
  }, 60_000);
});
