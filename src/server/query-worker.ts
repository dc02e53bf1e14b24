/**
 * The query process of `runlake serve`: it opens the lake sandboxed and answers the server's
 * {@link WorkerCall}s over the IPC channel. It runs under an operating-system memory limit
 * (see query-process.ts), so a query that allocates past the budget fails here, or stops this
 * process, and never takes the server or the machine with it.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { isVanishedFileError, latestVersion, METRICS_PYRAMID } from '../lake/index.js';
import { geometryOfRun, lakeSummary, listRuns, matchesOf } from './dashboard-queries.js';
import { AnswerTooLargeError, errorResponse, QueryTimeoutError } from './errors.js';
import {
  type MetricGroupRequest,
  type MetricRequest,
  metricGroups,
  metricNames,
  metricSeries,
} from './metric-queries.js';
import { type QueryLimits, runReadOnlyQuery } from './query-runner.js';
import { metricSeriesToArrow, resultToArrow, resultToJson } from './result-encoding.js';
import { warmRuns } from './runs-cache.js';
import { openSandboxedLake, type SandboxedLake } from './sandbox.js';
import {
  type SweepCurveRequest,
  type SweepGridsRequest,
  sweepCurves,
  sweepGrids,
  sweepSummary,
} from './sweep-queries.js';
import {
  ARROW_STREAM_TYPE,
  type WorkerAnswer,
  type WorkerCall,
  type WorkerConfig,
  type WorkerHello,
  type WorkerOp,
  type WorkerReply,
} from './worker-protocol.js';

const JSON_TYPE = 'application/json; charset=utf-8';
/** Rows encoded between two turns of the event loop, so one large answer does not stall the others. */
const ROWS_PER_TURN = 2_000;

type Handler = (
  served: SandboxedLake,
  args: Readonly<Record<string, unknown>>,
  limits: QueryLimits,
) => Promise<WorkerAnswer>;

// One handler per endpoint: the type dispatch of the query process in one table.
const HANDLERS: Readonly<Record<WorkerOp, Handler>> = {
  query: async (served, args, limits) => {
    const started = Date.now();
    const result = await runReadOnlyQuery(served, String(args.sql), limits);
    if (args.arrow !== true) {
      return {
        body: await encodeRowsStreamed(resultToJson(result), started, limits),
        contentType: JSON_TYPE,
      };
    }
    return arrowAnswer(resultToArrow(result), limits, {
      'X-Runlake-Truncated': String(result.truncated),
      'X-Runlake-Row-Count': String(result.rowCount),
    });
  },
  lake: async (served, _args, limits) => jsonAnswer(await lakeSummary(served), limits),
  runs: async (served, _args, limits) => jsonAnswer(await listRuns(served, limits), limits),
  'metric-names': async (served, _args, limits) => jsonAnswer(await metricNames(served, limits), limits),
  metrics: async (served, args, limits) => {
    const answer = await metricSeries(served, args.request as MetricRequest, limits);
    return args.arrow === true
      ? arrowAnswer(metricSeriesToArrow(answer), limits)
      : jsonAnswer(
          // An aligned answer's typed arrays become JSON arrays (NaN gaps become null).
          {
            ...answer,
            series: answer.series.map((s) => ({
              ...s,
              step: Array.from(s.step),
              value: Array.from(s.value),
            })),
          },
          limits,
        );
  },
  'metric-groups': async (served, args, limits) =>
    jsonAnswer(await metricGroups(served, args.request as MetricGroupRequest, limits), limits),
  geometry: async (served, args, limits) => {
    const request = {
      run: String(args.run),
      layer: typeof args.layer === 'number' ? args.layer : undefined,
      module: typeof args.module === 'string' ? args.module : undefined,
    };
    return jsonAnswer(await geometryOfRun(served, request, limits), limits);
  },
  matches: async (served, args, limits) =>
    jsonAnswer(await matchesOf(served, String(args.signature), limits), limits),
  sweep: async (served, _args, limits) => jsonAnswer(await sweepSummary(served, limits), limits),
  'sweep-curves': async (served, args, limits) =>
    jsonAnswer(await sweepCurves(served, args.request as SweepCurveRequest, limits), limits),
  'sweep-grids': async (served, args, limits) =>
    jsonAnswer(await sweepGrids(served, args.request as SweepGridsRequest, limits), limits),
};

/** `value` as JSON text, refused past the answer limit. */
function jsonAnswer(value: unknown, limits: QueryLimits): WorkerAnswer {
  const body = JSON.stringify(value);
  if (body.length > limits.maxAnswerBytes) throw new AnswerTooLargeError(limits.maxAnswerBytes);
  return { body, contentType: JSON_TYPE };
}

/** An Arrow IPC stream, refused past the answer limit. */
function arrowAnswer(body: Uint8Array, limits: QueryLimits, headers?: Record<string, string>): WorkerAnswer {
  if (body.byteLength > limits.maxAnswerBytes) throw new AnswerTooLargeError(limits.maxAnswerBytes);
  return { body, contentType: ARROW_STREAM_TYPE, headers };
}

/**
 * A query answer as JSON text, encoded a slice of rows at a time with a turn of the event loop in
 * between, under the request's time limit and the answer limit.
 */
async function encodeRowsStreamed(
  answer: ReturnType<typeof resultToJson>,
  started: number,
  limits: QueryLimits,
): Promise<string> {
  const { rows, ...rest } = answer;
  const head = JSON.stringify(rest);
  const pieces: string[] = [`${head.slice(0, -1)},"rows":[`];
  let size = pieces[0]?.length ?? 0;
  for (let from = 0; from < rows.length; from += ROWS_PER_TURN) {
    const slice = JSON.stringify(rows.slice(from, from + ROWS_PER_TURN)).slice(1, -1);
    pieces.push(from === 0 ? slice : `,${slice}`);
    size += slice.length + 1;
    if (size > limits.maxAnswerBytes) throw new AnswerTooLargeError(limits.maxAnswerBytes);
    if (Date.now() - started > limits.timeoutMs) throw new QueryTimeoutError(limits.timeoutMs);
    await nextTurn();
  }
  pieces.push(']}');
  return pieces.join('');
}

/**
 * The sandboxed lake the calls run against, reopened when a writer commits a new version of a
 * dataset (the sandbox's views read the file lists of one snapshot). A sandbox is closed once the
 * calls that started on it are done.
 */
class ServedSnapshots {
  #current: { served: SandboxedLake; calls: number; retired: boolean };
  #reopening: Promise<void> | undefined;

  constructor(
    served: SandboxedLake,
    readonly open: () => Promise<SandboxedLake>,
    /** Work started on each sandbox once it serves (warming the runs cache), run like a call. */
    readonly opened: (served: SandboxedLake) => Promise<unknown> = async () => {},
  ) {
    this.#current = { served, calls: 0, retired: false };
    this.#warm();
  }

  #warm(): void {
    // A failure here is met again, and answered, by the call that needs what was being warmed.
    this.#withCurrent(this.opened).catch(() => {});
  }

  /** Runs `use` on an up-to-date sandbox; once more on a fresh one if a file vanished under it. */
  async run<T>(use: (served: SandboxedLake) => Promise<T>): Promise<T> {
    await this.#refresh(false);
    try {
      return await this.#withCurrent(use);
    } catch (error) {
      if (!isVanishedFileError(error)) throw error;
    }
    await this.#refresh(true);
    return this.#withCurrent(use);
  }

  async #withCurrent<T>(use: (served: SandboxedLake) => Promise<T>): Promise<T> {
    const entry = this.#current;
    entry.calls++;
    try {
      return await use(entry.served);
    } finally {
      entry.calls--;
      if (entry.retired && entry.calls === 0) entry.served.close();
    }
  }

  async #refresh(force: boolean): Promise<void> {
    if (!this.#reopening) {
      const stale = force || (await datasetsAdvanced(this.#current.served));
      if (!stale) return;
      this.#reopening = this.open().then(
        (served) => {
          const old = this.#current;
          this.#current = { served, calls: 0, retired: false };
          old.retired = true;
          if (old.calls === 0) old.served.close();
          this.#warm();
        },
        () => {}, // keep serving the snapshot we have; the next call tries again
      );
      this.#reopening.finally(() => {
        this.#reopening = undefined;
      });
    }
    await this.#reopening;
  }

  close(): void {
    this.#current.served.close();
  }
}

/** Whether any dataset's log has a version newer than the one the sandbox's view reads. */
async function datasetsAdvanced(served: SandboxedLake): Promise<boolean> {
  for (const [name, dataset] of served.lake.datasets) {
    if ((await latestVersion(served.lake.paths, name)) !== dataset.version) return true;
  }
  // A pyramid built since the sandbox opened is news too, though the sandbox has no such dataset.
  if (!served.lake.datasets.has(METRICS_PYRAMID)) {
    return (await latestVersion(served.lake.paths, METRICS_PYRAMID)) >= 0;
  }
  return false;
}

async function main(): Promise<void> {
  const send = (message: WorkerReply | WorkerHello) => process.send?.(message);
  const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
  const open = () =>
    openSandboxedLake(config.lakeDir, {
      schema: config.schema,
      threads: config.threads,
      memoryLimitBytes: config.memoryLimitBytes,
      pyramid: config.pyramid,
    });
  let snapshots: ServedSnapshots;
  try {
    // The runs table is read as soon as a snapshot is open (at start: all of it; after a commit:
    // only its new files), and the lake's summary worked out, so the dashboard's first
    // GET /api/lake and /api/runs find them in memory.
    snapshots = new ServedSnapshots(await open(), open, async (served) => {
      try {
        await lakeSummary(served);
      } finally {
        if (served.lake.datasets.has('runs')) await warmRuns(served, config.limits);
      }
    });
  } catch (error) {
    send({ ready: false, error: errorResponse(error) });
    process.disconnect?.();
    return;
  }
  process.on('message', (call: WorkerCall) => {
    const handler = HANDLERS[call.op];
    snapshots
      .run((served) => handler(served, call.args, config.limits))
      .then(
        (answer) => send({ id: call.id, ok: true, answer }),
        (error: unknown) => send({ id: call.id, ok: false, error: errorResponse(error) }),
      );
  });
  // The server closing the channel (or dying) ends this process.
  process.on('disconnect', () => {
    snapshots.close();
    process.exit(0);
  });
  send({ ready: true });
}

await main();
