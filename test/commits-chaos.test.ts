import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  watch,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CommitRecord,
  type Lake,
  lakePaths,
  latestVersion,
  listParquetFiles,
  loadSnapshot,
  logDirectory,
  openLake,
  readIntents,
  sweepStaleStaging,
  vacuumLake,
  validateLake,
} from '../src/index.js';
import { RUNLAKE_BIN } from './helpers/cli.js';
import { listFiles, repoRoot, tempDir } from './helpers/lake-fixtures.js';

// Chaos tests of the commit protocol: processes that write, replace and compact one lake are
// killed with SIGKILL at random moments and restarted, while a reader checks at every observation
// what the protocol promises: no key twice, a replaced partition holds exactly one generation,
// every acknowledged write is there in full and every other write is whole or absent. Only the
// number of kills varies between runs; every invariant must hold on every run.

const script = (name: string) => path.join(repoRoot, 'test', 'scripts', name);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const uniform = (low: number, high: number) => low + Math.random() * (high - low);

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface Proc {
  readonly child: ChildProcess;
  /** Resolves true on the process's `ready` line, false when it exited first. */
  readonly ready: Promise<boolean>;
  readonly exited: Promise<Exit>;
  readonly stderr: () => string;
}

// Children still running when a test ends (it failed or timed out) are killed, not left behind.
const running = new Set<ChildProcess>();
afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts `node <file> …args`, calling `onLine` for each line it prints. */
function start(file: string, args: readonly string[], onLine: (line: string) => void = () => {}): Proc {
  const child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stderr = '';
  let pending = '';
  let markReady: (ready: boolean) => void = () => {};
  const ready = new Promise<boolean>((resolve) => {
    markReady = resolve;
  });
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'ready') markReady(true);
      onLine(line);
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const exited = new Promise<Exit>((resolve) =>
    child.on('exit', (code, signal) => {
      running.delete(child);
      markReady(false);
      resolve({ code, signal });
    }),
  );
  return { child, ready, exited, stderr: () => stderr };
}

/** Runs `node <file> …args` to its end. */
async function runToEnd(file: string, args: readonly string[]): Promise<Exit & { stderr: string }> {
  const proc = start(file, args);
  const exit = await proc.exited;
  return { ...exit, stderr: proc.stderr() };
}

/** SIGKILLs a process (if it still runs) and waits for its exit. */
async function kill(proc: Proc): Promise<Exit> {
  proc.child.kill('SIGKILL');
  return proc.exited;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A kill at a moment a file-system event picks (see `watchFor`). */
interface Trigger {
  /** Resolves when the watched event happened (and the process was killed). */
  readonly fired: Promise<void>;
  readonly hit: () => boolean;
  readonly close: () => void;
  /** Looks at what the kill left behind. */
  readonly after: () => Promise<void>;
}

/**
 * Watches directories until `matches` accepts an entry that appeared or changed in one of them
 * (`matches` kills the process itself, synchronously, so the kill lands as close to the event as
 * possible).
 */
function watchFor(
  directories: readonly string[],
  matches: (directory: string, name: string) => boolean,
): Omit<Trigger, 'after'> {
  let fire: () => void = () => {};
  const fired = new Promise<void>((resolve) => {
    fire = resolve;
  });
  let hit = false;
  const close = () => {
    for (const watcher of watchers) watcher.close();
  };
  const watchers = directories.map((directory) => {
    const watcher = watch(directory, (_event, name) => {
      if (hit || !name || !matches(directory, name)) return;
      hit = true;
      close();
      fire();
    });
    watcher.on('error', () => {});
    return watcher;
  });
  return { fired, hit: () => hit, close };
}

/**
 * Kills `proc` the moment its `nth` commit file appears in one of the log directories; returns
 * the trigger and, once it fired, the files that commit removed (dataset-relative, by log dir).
 */
function killOnNthCommit(
  proc: Proc,
  logDirs: readonly string[],
  nth: number,
): Omit<Trigger, 'after'> & { removed: () => Array<{ logDir: string; path: string }> } {
  let seen = 0;
  let removed: Array<{ logDir: string; path: string }> = [];
  const trigger = watchFor(logDirs, (logDir, name) => {
    if (!/^\d{20}\.json$/.test(name)) return false;
    let commit: CommitRecord;
    try {
      commit = JSON.parse(readFileSync(path.join(logDir, name), 'utf8'));
    } catch {
      return false;
    }
    if (commit.writer.pid !== proc.child.pid || ++seen < nth) return false;
    proc.child.kill('SIGKILL');
    removed = commit.remove.map((f) => ({ logDir, path: f.path }));
    return true;
  });
  return { ...trigger, removed: () => removed };
}

/** What a plain `read_parquet` glob of a dataset's directory returns: what an external engine sees. */
async function globQuery(dir: string, dataset: string, select: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const glob = path.join(dir, dataset, '**', '*.parquet').replaceAll("'", "''");
    const source = `read_parquet('${glob}', hive_partitioning = true, union_by_name = true)`;
    const reader = await connection.runAndReadAll(select.replaceAll('$source', source));
    return reader.getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Files in a logged dataset's directory that its latest snapshot does not list, and the reverse. */
async function logMismatch(dir: string, dataset: string): Promise<{ unlisted: string[]; missing: string[] }> {
  const paths = lakePaths(dir);
  const live = (await loadSnapshot(paths, dataset)).files;
  const present = (await listParquetFiles(paths.dataset(dataset))).map((f) => f.split(path.sep).join('/'));
  return {
    unlisted: present.filter((f) => !live.has(f)),
    missing: [...live.keys()].filter((f) => !present.includes(f)),
  };
}

describe('commit chaos: writers, a replacer and two compactors killed at random', () => {
  const WRITERS = 4;
  const COMPACTORS = 2;
  const ROWS_PER_BATCH = 7;
  const GENERATION_ROWS = 50;
  const TARGET_KILLS = 200;
  // Larger than the whole dataset: every compaction merges the previous one's output again.
  const TARGET_SIZE = 1 << 20;

  // One observation: rows grouped by write. A writer's batch is (metric w<id>, step // 1000); a
  // replace generation is (metric gen, value). `d` counts distinct steps, `r` distinct runs.
  const OBSERVE = `SELECT metric_name AS m,
      CASE WHEN metric_name = 'gen' THEN CAST(value AS BIGINT) ELSE step // 1000 END AS b,
      count(*)::INT AS n, count(DISTINCT step)::INT AS d, count(DISTINCT run_id)::INT AS r,
      min(run_id) AS run
    FROM $source GROUP BY ALL`;

  type Group = { m: string; b: number; n: number; d: number; r: number; run: string };

  /**
   * The invariants one observation must satisfy, given what was acknowledged before it started;
   * returns the problems found (none expected, ever).
   */
  function check(
    groups: readonly Group[],
    acked: ReadonlySet<string>,
    ackedGeneration: number,
  ): { problems: string[]; batches: Map<string, number>; generation?: number } {
    const problems: string[] = [];
    const batches = new Map<string, number>();
    const generations: Group[] = [];
    for (const g of groups) {
      const b = Number(g.b);
      if (g.d !== g.n) problems.push(`duplicate keys: ${g.m}/${b} has ${g.n} rows, ${g.d} distinct steps`);
      if (g.r !== 1) problems.push(`${g.m}/${b} spans ${g.r} partitions`);
      if (g.m === 'gen') {
        generations.push(g);
        if (g.run !== 'derived') problems.push(`generation ${b} outside run_id=derived (${g.run})`);
        if (g.n !== GENERATION_ROWS) problems.push(`generation ${b} has ${g.n} rows, not ${GENERATION_ROWS}`);
        continue;
      }
      batches.set(`${g.m}/${b}`, g.n);
      // A batch is one write call: all of its rows or none.
      if (g.n !== ROWS_PER_BATCH)
        problems.push(`batch ${g.m}/${b} is partial: ${g.n} of ${ROWS_PER_BATCH} rows`);
    }
    if (generations.length > 1)
      problems.push(
        `${generations.length} generations visible: ${generations.map((g) => Number(g.b)).join(', ')}`,
      );
    const generation = generations[0] ? Number(generations[0].b) : undefined;
    if (ackedGeneration >= 0) {
      if (generation === undefined)
        problems.push(`no generation visible after ${ackedGeneration} was acknowledged`);
      else if (generation < ackedGeneration)
        problems.push(`generation ${generation} visible after ${ackedGeneration} was acknowledged`);
    }
    for (const batch of acked) {
      if (!batches.has(batch)) problems.push(`acknowledged batch ${batch} is missing`);
    }
    return { problems, batches, generation };
  }

  it(`${TARGET_KILLS}+ SIGKILLs: no duplicate key, one generation, every acknowledged batch whole`, {
    timeout: 240_000,
  }, async () => {
    const started = performance.now();
    const cpuSeconds = () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1e6;
    };
    const cpuAtStart = cpuSeconds();
    const dir = tempDir('commits-chaos-');
    const paths = lakePaths(dir);
    const acked = new Set<string>();
    let ackedGeneration = -1;
    const kills = { writer: 0, replacer: 0, compactor: 0 };
    const stats = {
      observations: 0,
      reopens: 0,
      compactions: 0,
      conflicts: 0,
      generations: 0,
      incarnations: 0,
      recoveredEntries: 0,
      recoveredFiles: 0,
    };
    const failures: string[] = [];
    // Staging entries with an intent whose process was dead when the reader saw them (killed
    // between writing its intent and cleaning up), and whether they were removing files.
    const deadIntents = new Map<string, boolean>();
    const targeted = { onCommit: 0, beforeTrash: 0, globTwoGenerations: 0, onPublish: 0, beforeCommit: 0 };
    let stopping = false;
    let stop: () => void = () => {};
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
    const fail = (message: string) => {
      failures.push(message);
      stopping = true;
      stop();
    };
    const totalKills = () => kills.writer + kills.replacer + kills.compactor;

    // Targeted kills: the moment a process's commit file appears in the log (so the kill lands
    // between its commit and moving what it removed to the trash, the window of the issue), or
    // the moment the replacer's new file appears in the dataset (published, not yet committed).
    // `after` records what the kill left behind.
    const logDir = logDirectory(paths, 'metrics_scalar');
    const derivedDir = path.join(paths.dataset('metrics_scalar'), 'run_id=derived');
    function killOnCommit(proc: Proc): Trigger | undefined {
      if (!existsSync(logDir)) return undefined;
      const trigger = killOnNthCommit(proc, [logDir], 1);
      return {
        ...trigger,
        after: async () => {
          targeted.onCommit++;
          const left = trigger
            .removed()
            .map((f) => f.path)
            .filter((f) => existsSync(path.join(paths.dataset('metrics_scalar'), f)));
          if (left.length > 0) targeted.beforeTrash++;
          if (left.some((f) => f.startsWith('run_id=derived/part-chaos-'))) {
            // What an engine reading the directory sees until recovery: both generations.
            const [gens] = await globQuery(
              dir,
              'metrics_scalar',
              "SELECT count(DISTINCT value)::INT AS g FROM $source WHERE metric_name = 'gen'",
            );
            if (gens?.g === 2) targeted.globTwoGenerations++;
          }
        },
      };
    }
    function killOnPublish(proc: Proc): Trigger | undefined {
      if (!existsSync(derivedDir)) return undefined;
      const before = new Set(readdirSync(derivedDir));
      let published = '';
      const trigger = watchFor([derivedDir], (_directory, name) => {
        if (!name.startsWith('part-chaos-') || before.has(name) || !existsSync(path.join(derivedDir, name)))
          return false;
        proc.child.kill('SIGKILL');
        published = `run_id=derived/${name}`;
        return true;
      });
      return {
        ...trigger,
        after: async () => {
          targeted.onPublish++;
          const live = (await loadSnapshot(paths, 'metrics_scalar')).files;
          if (!live.has(published) && existsSync(path.join(paths.dataset('metrics_scalar'), published)))
            targeted.beforeCommit++;
        },
      };
    }

    // Each role runs one process at a time: start it, let it finish a random number of
    // operations (0 to `most`), kill it a random fraction of one operation's duration later
    // (or at the moment `target` picks), start the next incarnation. Kills so land inside
    // writes, replaces and compactions rather than in process start-up. A process that ends on
    // its own (an error) is a failure.
    async function role(
      name: keyof typeof kills,
      most: number,
      spec: (incarnation: number) => { file: string; args: string[] },
      onLine: (line: string) => boolean,
      target: (proc: Proc, incarnation: number) => Trigger | undefined = () => undefined,
    ): Promise<void> {
      let duration = 150; // running mean of one operation, ms
      for (let incarnation = 0; !stopping && failures.length === 0; incarnation++) {
        const { file, args } = spec(incarnation);
        let done = 0;
        let last = 0;
        let reached: () => void = () => {};
        // The first incarnation always finishes one operation, so every run acknowledges some.
        const first = incarnation === 0;
        const wanted = Math.max(first ? 1 : 0, Math.floor(Math.random() * (most + 1)));
        const enough = new Promise<void>((resolve) => {
          reached = resolve;
        });
        const proc = start(file, args, (line) => {
          if (line === 'ready') last = performance.now();
          else if (onLine(line)) {
            const now = performance.now();
            duration = 0.8 * duration + 0.2 * (now - last);
            last = now;
            if (++done >= wanted) reached();
          }
        });
        stats.incarnations++;
        const trigger = first ? undefined : target(proc, incarnation);
        if (await proc.ready) {
          if (wanted === 0) reached();
          // A compactor with nothing to merge reports nothing: it is killed after a while.
          await Promise.race([
            trigger ? trigger.fired : enough.then(() => sleep(uniform(0, 1.2 * duration))),
            proc.exited,
            stopped,
            sleep(first ? 60_000 : trigger ? 5000 : 3000),
          ]);
        }
        const exit = await kill(proc);
        trigger?.close();
        if (exit.signal !== 'SIGKILL') {
          fail(`${name} ${incarnation} exited on its own (${exit.code}): ${proc.stderr()}`);
          return;
        }
        kills[name]++;
        // Only counted: a glob read can fail while other processes move files.
        if (trigger?.hit()) await trigger.after().catch(() => {});
        if (totalKills() >= TARGET_KILLS) {
          stopping = true;
          stop();
        }
      }
    }

    const roles = [
      ...Array.from({ length: WRITERS }, (_, writer) =>
        role(
          'writer',
          1,
          (incarnation) => ({
            file: script('chaos-writer.mjs'),
            args: [dir, String(writer), String(incarnation), String(ROWS_PER_BATCH)],
          }),
          (line) => {
            const recovered = /^recovered (\d+)$/.exec(line);
            if (recovered) {
              stats.recoveredEntries++;
              stats.recoveredFiles += Number(recovered[1]);
            }
            const ack = /^ack (\d+)$/.exec(line);
            if (ack) acked.add(`w${writer}/${ack[1]}`);
            return ack !== null;
          },
        ),
      ),
      role(
        'replacer',
        2,
        (incarnation) => ({
          file: script('chaos-replacer.mjs'),
          args: [dir, String(incarnation), String(GENERATION_ROWS)],
        }),
        (line) => {
          const ack = /^ack gen (\d+)$/.exec(line);
          if (ack) {
            ackedGeneration = Math.max(ackedGeneration, Number(ack[1]));
            stats.generations++;
          }
          return ack !== null;
        },
        (proc, incarnation) =>
          incarnation % 3 === 1
            ? killOnCommit(proc)
            : incarnation % 3 === 2
              ? killOnPublish(proc)
              : undefined,
      ),
      // Two compactors: each one's commit removes the other's inputs (a conflict, retried).
      ...Array.from({ length: COMPACTORS }, () =>
        role(
          'compactor',
          2,
          () => ({ file: script('chaos-compactor.mjs'), args: [dir, String(TARGET_SIZE)] }),
          (line) => {
            if (/^compacted \d+$/.test(line)) stats.compactions++;
            if (line === 'conflict') stats.conflicts++;
            return /^(compacted \d+|conflict)$/.test(line);
          },
          (proc, incarnation) => (incarnation % 2 === 1 ? killOnCommit(proc) : undefined),
        ),
      ),
    ];

    // The reader: one connection that follows the log, reopened now and then (opening binds
    // every view while files move), checking every observation.
    const reader = (async () => {
      let lake: Lake | undefined;
      try {
        while (!stopping && failures.length === 0) {
          if (!lake || stats.observations % 20 === 19) {
            lake?.close();
            lake = await openLake(dir, { schema: 'squiggle', threads: 1 });
            stats.reopens++;
          }
          const ackedBefore = new Set(acked);
          const generationBefore = ackedGeneration;
          if (!existsSync(paths.dataset('metrics_scalar'))) {
            await sleep(20);
            continue;
          }
          const groups = (await lake.query(
            OBSERVE.replace('$source', 'metrics_scalar'),
          )) as unknown as Group[];
          stats.observations++;
          const { problems } = check(groups, ackedBefore, generationBefore);
          // What the kills leave for recovery: staging entries of dead processes.
          for (const intent of await readIntents(paths)) {
            if (deadIntents.has(intent.entry) || isAlive(intent.pid)) continue;
            deadIntents.set(intent.entry, intent.removes.length > 0);
          }
          if (problems.length > 0)
            fail(`observation ${stats.observations}: ${problems.slice(0, 5).join('; ')}`);
          await sleep(50);
        }
      } catch (error) {
        fail(`reader: ${(error as Error).stack ?? String(error)}`);
      } finally {
        lake?.close();
      }
    })();

    await Promise.all(roles);
    stopping = true;
    await reader;
    const chaosSeconds = (performance.now() - started) / 1000;
    expect(failures).toEqual([]);
    expect(totalKills()).toBeGreaterThanOrEqual(TARGET_KILLS);
    expect(acked.size).toBeGreaterThan(0);
    expect(ackedGeneration).toBeGreaterThanOrEqual(0);

    // Everything is dead now. What the dead left behind before anyone recovered it:
    const leftover = {
      intents: (await readIntents(paths)).length,
      unlisted: (await logMismatch(dir, 'metrics_scalar')).unlisted.length,
    };

    const final = await openLake(dir, { schema: 'squiggle' });
    try {
      // Before any recovery, runlake's readers already see exactly what was committed.
      const unrecovered = (await final.query(
        OBSERVE.replace('$source', 'metrics_scalar'),
      )) as unknown as Group[];
      expect(check(unrecovered, acked, ackedGeneration).problems).toEqual([]);

      // Recovery: a forced sweep (what vacuum and the next write of any process do), then one
      // more write, which also finishes anything the sweep left.
      const recovered = await sweepStaleStaging(paths, Date.now(), { force: true });
      await final.write(
        'metrics_scalar',
        Array.from({ length: ROWS_PER_BATCH }, (_, i) => ({
          run_id: 'r0',
          metric_name: 'final',
          step: i,
          value: i,
        })),
      );
      acked.add('final/0');

      expect(await readIntents(paths)).toEqual([]);
      expect(await logMismatch(dir, 'metrics_scalar')).toEqual({ unlisted: [], missing: [] });

      const expectCounts = async (when: string) => {
        await final.advance();
        const groups = (await final.query(
          OBSERVE.replace('$source', 'metrics_scalar'),
        )) as unknown as Group[];
        const seen = check(groups, acked, ackedGeneration);
        expect(seen.problems, when).toEqual([]);
        // What an engine reading the directory by glob sees is the same, row for row.
        const globbed = (await globQuery(dir, 'metrics_scalar', OBSERVE)) as unknown as Group[];
        const key = (g: Group) => `${g.m}/${g.b}/${g.n}/${g.d}/${g.run}`;
        expect(globbed.map(key).sort(), when).toEqual(groups.map(key).sort());
        const [totals] = await globQuery(
          dir,
          'metrics_scalar',
          'SELECT count(*)::INT AS n, count(DISTINCT (run_id, metric_name, step))::INT AS k FROM $source',
        );
        expect(totals?.n, when).toBe(totals?.k);
        return seen;
      };
      const before = await expectCounts('after recovery');
      const report = await validateLake(dir);
      expect(report.violations).toEqual([]);
      expect(report.ok).toBe(true);

      const vacuumed = await vacuumLake(dir, { retainMs: 0 });
      expect(vacuumed.unreferenced).toEqual([]);
      const after = await expectCounts('after vacuum');
      expect(after.batches).toEqual(before.batches);
      expect(after.generation).toBe(before.generation);
      expect(listFiles(paths.trash('metrics_scalar')).filter((f) => f.endsWith('.parquet'))).toEqual([]);
      expect((await validateLake(dir)).ok).toBe(true);

      const unacked = [...before.batches.keys()].filter((b) => !acked.has(b)).length;
      console.log(
        `commit chaos: ${totalKills()} kills (${kills.writer} writers, ${kills.replacer} replacer, ` +
          `${kills.compactor} compactor) in ${chaosSeconds.toFixed(1)} s over ${stats.incarnations} processes; ` +
          `${stats.observations} observations (${stats.reopens} opens), ${acked.size} batches acknowledged, ` +
          `${unacked} more committed unacknowledged, ${stats.generations} generations acknowledged, ` +
          `${stats.compactions} compactions (${stats.conflicts} gave up on conflicts); ${deadIntents.size} dead processes' staging entries seen ` +
          `(${[...deadIntents.values()].filter(Boolean).length} removing files), ${stats.recoveredEntries} recovered by writers ` +
          `(${stats.recoveredFiles} files named); killed on their commit: ${targeted.onCommit} ` +
          `(${targeted.beforeTrash} before moving removed files to the trash, ${targeted.globTwoGenerations} of them ` +
          `leaving a glob reader two generations until recovery), on publishing: ${targeted.onPublish} ` +
          `(${targeted.beforeCommit} before their commit); at the end, left by the dead: ${leftover.intents} intents, ` +
          `${leftover.unlisted} uncommitted or untrashed files; ${recovered} staging entries recovered; ` +
          `total ${((performance.now() - started) / 1000).toFixed(1)} s (this process: ${(cpuSeconds() - cpuAtStart).toFixed(1)} CPU s)`,
      );
    } finally {
      final.close();
    }
  });
});

describe('killed re-ingests: a reader sees every key exactly once, every time', () => {
  const KILLS = 20;

  /** `count(*)` and the number of distinct keys of each keyed dataset, in one query. */
  function countsSql(
    keys: ReadonlyMap<string, readonly string[]>,
    source: (dataset: string) => string,
  ): string {
    return `SELECT ${[...keys]
      .map(
        ([dataset, key]) =>
          `(SELECT count(*) FROM ${source(dataset)})::INT AS "${dataset}.rows", ` +
          `(SELECT count(DISTINCT (${key.map((k) => `"${k}"`).join(', ')})) FROM ${source(dataset)})::INT AS "${dataset}.keys"`,
      )
      .join(', ')}`;
  }

  async function killedReingests(args: readonly string[], dir: string): Promise<void> {
    const paths = lakePaths(dir);
    const ingest = () => start(RUNLAKE_BIN, args);
    const first = await runToEnd(RUNLAKE_BIN, args);
    expect(first.code, first.stderr).toBe(0);

    const lake0 = await openLake(dir);
    const keys = new Map<string, readonly string[]>();
    for (const [name, dataset] of lake0.datasets) {
      const key = lake0.registry.get(name)?.key;
      if (key && dataset.fileCount > 0) keys.set(name, key);
    }
    const datasets = [...keys.keys()];
    const baseline = (await lake0.query(countsSql(keys, (d) => `"${d}"`)))[0] as Record<string, number>;
    lake0.close();
    expect(datasets.length).toBeGreaterThan(0);
    for (const dataset of datasets) {
      expect(baseline[`${dataset}.rows`]).toBeGreaterThan(0);
      expect(baseline[`${dataset}.keys`], dataset).toBe(baseline[`${dataset}.rows`]);
    }
    const versions = async () => {
      let sum = 0;
      for (const dataset of datasets) sum += await latestVersion(paths, dataset);
      return sum;
    };

    // One uninterrupted re-ingest, timed: from its start to its first commit, and from its first
    // commit to its end (the phase where a kill falls between or inside its replaces).
    let toFirstCommit = 0;
    let commitPhase = 0;
    let commits = 0;
    {
      const before = await versions();
      const t0 = performance.now();
      const proc = ingest();
      let exited = false;
      void proc.exited.then(() => {
        exited = true;
      });
      while (!exited && (await versions()) === before) await sleep(2);
      toFirstCommit = performance.now() - t0;
      const exit = await proc.exited;
      expect(exit.code, proc.stderr()).toBe(0);
      commitPhase = Math.max(performance.now() - t0 - toFirstCommit, 20);
      commits = (await versions()) - before;
    }

    let stopping = false;
    const failures: string[] = [];
    let observations = 0;
    const reader = (async () => {
      let lake: Lake | undefined;
      try {
        while (!stopping) {
          if (!lake || observations % 10 === 9) {
            lake?.close();
            lake = await openLake(dir);
          }
          const seen = (await lake.query(countsSql(keys, (d) => `"${d}"`)))[0] as Record<string, number>;
          observations++;
          for (const [column, n] of Object.entries(baseline)) {
            if (seen[column] !== n)
              failures.push(`observation ${observations}: ${column} is ${seen[column]}, not ${n}`);
          }
          await sleep(5);
        }
      } catch (error) {
        failures.push(`reader: ${(error as Error).stack ?? String(error)}`);
      } finally {
        lake?.close();
      }
    })();

    // Kills of three kinds in turn: anywhere before the first commit; at a random moment of the
    // commit phase; the moment the ingest's n-th commit file appears (n random), which lands
    // between a replace's commit and moving the old generation to the trash: the issue's window.
    let kills = 0;
    let afterFirstCommit = 0;
    let onCommit = 0;
    let beforeTrash = 0;
    let completed = 0;
    const logDirs = datasets.map((d) => logDirectory(paths, d));
    for (let attempt = 0; kills < KILLS && attempt < 4 * KILLS && failures.length === 0; attempt++) {
      const before = await versions();
      const proc = ingest();
      let exited = false;
      void proc.exited.then(() => {
        exited = true;
      });
      const kind = attempt % 3;
      const trigger =
        kind === 2 ? killOnNthCommit(proc, logDirs, 1 + Math.floor(Math.random() * commits)) : undefined;
      if (trigger) await Promise.race([trigger.fired, proc.exited, sleep(20_000)]);
      else if (kind === 0) await sleep(uniform(0, toFirstCommit));
      else {
        while (!exited && (await versions()) === before) await sleep(1);
        await sleep(uniform(0, commitPhase));
      }
      const committed = (await versions()) !== before;
      const exit = await kill(proc);
      trigger?.close();
      if (exit.signal === 'SIGKILL') {
        kills++;
        if (committed) afterFirstCommit++;
        if (trigger?.hit()) {
          onCommit++;
          const left = trigger
            .removed()
            .filter((f) => existsSync(path.join(dir, path.basename(f.logDir), f.path)));
          if (left.length > 0) beforeTrash++;
        }
      } else {
        const exit = await proc.exited;
        if (exit.code !== 0) failures.push(`ingest exited with ${exit.code}: ${proc.stderr()}`);
        completed++;
      }
    }
    stopping = true;
    await reader;
    expect(failures).toEqual([]);
    expect(kills).toBeGreaterThanOrEqual(KILLS);

    // What the kills left for recovery, then recovery: one more ingest run to its end (its first
    // write recovers the dead ones' staging entries).
    const leftover = (await readIntents(paths)).length;
    const last = await runToEnd(RUNLAKE_BIN, args);
    expect(last.code, last.stderr).toBe(0);
    expect(await readIntents(paths)).toEqual([]);
    for (const dataset of datasets) {
      expect(await logMismatch(dir, dataset), dataset).toEqual({ unlisted: [], missing: [] });
    }
    const validate = await runToEnd(RUNLAKE_BIN, ['validate', dir]);
    expect(validate.code, validate.stderr).toBe(0);
    const report = await validateLake(dir);
    expect(report.violations).toEqual([]);
    // An engine reading the directories by glob sees each key once, as runlake's readers do.
    for (const dataset of datasets) {
      const [globbed] = await globQuery(
        dir,
        dataset,
        countsSql(new Map([[dataset, keys.get(dataset) ?? []]]), () => '$source'),
      );
      expect(globbed?.[`${dataset}.rows`], dataset).toBe(baseline[`${dataset}.rows`]);
      expect(globbed?.[`${dataset}.keys`], dataset).toBe(baseline[`${dataset}.keys`]);
    }
    console.log(
      `${args.slice(0, 2).join(' ')}: ${kills} kills (${afterFirstCommit} after the first commit; ${onCommit} on a ` +
        `commit, ${beforeTrash} of them before the replaced files moved to the trash), ` +
        `${completed} re-ingests completed, ${observations} observations, ${leftover} dead staging entries ` +
        `before recovery; first commit after ${toFirstCommit.toFixed(0)} ms, commits for ${commitPhase.toFixed(0)} ms`,
    );
  }

  it(`runlake ingest wandb killed ${KILLS}+ times`, { timeout: 180_000 }, async () => {
    const dir = path.join(tempDir('commits-chaos-wandb-'), 'lake');
    await killedReingests(['ingest', 'wandb', path.join(repoRoot, 'test', 'fixtures', 'wandb'), dir], dir);
  });

  it(`runlake ingest qa killed ${KILLS}+ times, after a compaction`, { timeout: 180_000 }, async () => {
    const fixtures = path.join(repoRoot, 'test', 'fixtures', 'qa');
    const dir = path.join(tempDir('commits-chaos-qa-'), 'lake');
    const args = [
      'ingest',
      'qa',
      path.join(fixtures, 'instances'),
      path.join(fixtures, 'generic-outputs.jsonl'),
      dir,
    ];
    // Two runs' replaces share a task partition: a compaction must leave their files apart, or
    // the next ingest's replace would keep the merged rows beside the new ones.
    const first = await runToEnd(RUNLAKE_BIN, args);
    expect(first.code, first.stderr).toBe(0);
    const compact = await runToEnd(RUNLAKE_BIN, ['compact', dir, '--target-size', '1MiB']);
    expect(compact.code, compact.stderr).toBe(0);
    await killedReingests(args, dir);
  });
});

describe('recovery beside live writers', () => {
  it("leaves a dead writer's uncommitted file alone while a live writer publishes the same name", async () => {
    // A deterministic write (a fileStem, as `runlake convert` uses) repeated after a crash names
    // its file as the dead attempt did. A sweep by a third process between the live writer's
    // publish and its commit must not delete the file the live commit is about to reference.
    const dir = tempDir('commits-chaos-same-name-');
    const paths = lakePaths(dir);
    const lake = await openLake(dir, { schema: 'squiggle' });
    try {
      await lake.write('metrics_scalar', [{ run_id: 'r1', metric_name: 'loss', step: 0, value: 1 }]);
    } finally {
      lake.close();
    }
    const [committed] = [...(await loadSnapshot(paths, 'metrics_scalar')).files.keys()];
    const name = 'run_id=r1/part-same-name-0.parquet';
    const file = path.join(paths.dataset('metrics_scalar'), name);
    copyFileSync(path.join(paths.dataset('metrics_scalar'), committed as string), file);
    const entry = (pid: number) => {
      const txn = `${pid}-${randomUUID()}`;
      const directory = path.join(paths.staging, txn);
      mkdirSync(directory, { recursive: true });
      const intent = { txn, dataset: 'metrics_scalar', host: os.hostname(), pid, adds: [name], removes: [] };
      writeFileSync(path.join(directory, 'intent.json'), `${JSON.stringify(intent)}\n`);
      return directory;
    };
    const dead = entry(spawnSync(process.execPath, ['-e', '']).pid);
    const live = entry(process.pid);

    expect(await sweepStaleStaging(paths, Date.now(), { force: true })).toBe(1);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(file)).toBe(true);
  });
});
