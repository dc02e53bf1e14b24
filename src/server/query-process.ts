import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { QueryTimeoutError, RemoteError, ServiceUnavailableError } from './errors.js';
import type { WorkerAnswer, WorkerConfig, WorkerHello, WorkerOp, WorkerReply } from './worker-protocol.js';

/** Options of {@link QueryProcess.start}. */
export interface QueryProcessOptions extends WorkerConfig {
  /** Bytes of memory the query process may map (its `RLIMIT_DATA`): the server's memory budget. */
  readonly memoryBudgetBytes: number;
  /** Milliseconds after a request's time limit before a process that ignored its interrupt is killed. */
  readonly killGraceMs?: number;
}

/** The compiled query-process script, next to this module (or in dist/ when running from src/). */
function workerScript(): string {
  const here = fileURLToPath(import.meta.url);
  const beside = path.join(path.dirname(here), 'query-worker.js');
  // Tests import the TypeScript sources; the child process runs the build (made before the tests).
  return existsSync(beside)
    ? beside
    : path.resolve(path.dirname(here), '..', '..', 'dist', 'server', 'query-worker.js');
}

interface Pending {
  readonly resolve: (answer: WorkerAnswer) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** The query process stopped while a request was in it (the request did not cause it). */
class ProcessStoppedError extends Error {}

/** One running query process. */
class Child {
  readonly #process: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #stopped = false;
  /** Why the process stopped, once it has. */
  stopReason = '';

  private constructor(child: ChildProcess) {
    this.#process = child;
    child.on('message', (message: WorkerReply) => this.#settle(message));
    child.on('exit', (code, signal) => {
      this.#stopped = true;
      this.stopReason = signal ? `signal ${signal}` : `exit code ${code}`;
      for (const pending of this.#pending.values()) {
        clearTimeout(pending.timer);
        pending.reject(new ProcessStoppedError(this.stopReason));
      }
      this.#pending.clear();
    });
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  static async start(options: QueryProcessOptions): Promise<Child> {
    const { memoryBudgetBytes, killGraceMs: _grace, ...config } = options;
    // The budget is an operating-system limit on the process's data segment (RLIMIT_DATA: the
    // heap and private mappings, which is where DuckDB's and V8's allocations live), set by the
    // shell before it becomes Node. An allocation past it fails inside the query process.
    const kib = Math.max(1, Math.floor(memoryBudgetBytes / 1024));
    const heapMiB = Math.max(64, Math.min(4096, Math.floor(memoryBudgetBytes / 2 / 1024 / 1024)));
    const child = spawn(
      '/bin/sh',
      [
        '-c',
        'ulimit -d "$1" || exit 97; shift; exec "$@"',
        'sh',
        String(kib),
        process.execPath,
        `--max-old-space-size=${heapMiB}`,
        workerScript(),
        JSON.stringify(config),
      ],
      { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' },
    );
    const started = new Child(child);
    const hello = await new Promise<WorkerHello>((resolve) => {
      child.once('message', (message: WorkerHello) => resolve(message));
      child.once('exit', (code, signal) =>
        resolve({
          ready: false,
          error: {
            status: 500,
            body: {
              error: `the query process did not start (${signal ? `signal ${signal}` : `exit code ${code}`}${code === 97 ? ': cannot set the memory limit' : ''})`,
              kind: 'internal',
            },
          },
        }),
      );
    });
    if (!hello.ready) {
      child.kill('SIGKILL');
      throw new RemoteError(hello.error);
    }
    return started;
  }

  call(op: WorkerOp, args: Record<string, unknown>, killAfterMs: number): Promise<WorkerAnswer> {
    if (this.#stopped) return Promise.reject(new ProcessStoppedError(this.stopReason));
    const id = this.#nextId++;
    return new Promise<WorkerAnswer>((resolve, reject) => {
      // DuckDB is interrupted at the time limit inside the process; a query that does not stop
      // (some operators only check for interrupts between vectors) is ended by killing the process.
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new QueryTimeoutError(killAfterMs));
        this.kill();
      }, killAfterMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#process.send({ id, op, args });
    });
  }

  kill(): void {
    if (!this.#stopped) this.#process.kill('SIGKILL');
  }

  close(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.#process.once('exit', () => resolve());
      this.#process.disconnect();
      // A process stuck in a query does not read its channel; it is killed after a moment.
      setTimeout(() => this.kill(), 2_000).unref();
    });
  }

  #settle(reply: WorkerReply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    clearTimeout(pending.timer);
    if (reply.ok) pending.resolve(reply.answer);
    else pending.reject(new RemoteError(reply.error));
  }
}

/**
 * The server's query process: one child Node process that opens the lake sandboxed and runs every
 * query, under an operating-system memory limit (the server's budget). The HTTP process never
 * runs DuckDB, so a query that exhausts its budget, or ignores its interrupt and is killed, costs
 * only that query: the process is restarted, and requests that were in it when it stopped are
 * sent once more to the new one.
 *
 * @example
 * ```ts
 * const queries = await QueryProcess.start({ lakeDir: 'results', memoryBudgetBytes: 2 ** 31, memoryLimitBytes: 2 ** 30, limits });
 * const answer = await queries.call('query', { sql: 'SELECT count(*) FROM runs' });
 * await queries.close();
 * ```
 */
export class QueryProcess {
  #child: Promise<Child>;
  #closed = false;
  readonly #retired = new WeakSet<Child>();
  readonly #options: QueryProcessOptions;
  /** How many times the process was restarted (a killed or crashed one). */
  restarts = 0;

  private constructor(options: QueryProcessOptions, first: Child) {
    this.#options = options;
    this.#child = Promise.resolve(first);
  }

  /** Starts the query process and resolves once it has opened the lake. */
  static async start(options: QueryProcessOptions): Promise<QueryProcess> {
    return new QueryProcess(options, await Child.start(options));
  }

  /** The process id of the current query process (for tests and diagnostics). */
  async pid(): Promise<number | undefined> {
    return (await this.#child).pid;
  }

  /**
   * Runs `op` in the query process. Errors come back as {@link RemoteError}s carrying the status
   * and body to answer with; a request that outlives its time limit plus the grace is a
   * {@link QueryTimeoutError} and its process is killed and restarted.
   */
  async call(op: WorkerOp, args: Record<string, unknown> = {}): Promise<WorkerAnswer> {
    const killAfter = this.#options.limits.timeoutMs + (this.#options.killGraceMs ?? 1_000);
    for (let attempt = 0; ; attempt++) {
      let child: Child;
      try {
        child = await this.#child;
      } catch {
        // The last restart failed (the lake was unreadable for a moment): try once more now.
        this.#child = Child.start(this.#options);
        child = await this.#child;
      }
      try {
        return await child.call(op, args, killAfter);
      } catch (error) {
        if (error instanceof QueryTimeoutError) {
          this.#restart(child);
          throw new QueryTimeoutError(this.#options.limits.timeoutMs);
        }
        // A query refused for memory leaves the process's heap grown and fragmented, and DuckDB's
        // buffers full; a fresh process gives the next queries the whole budget again.
        if (error instanceof RemoteError && error.response.body.kind === 'memory') this.#recycle(child);
        if (!(error instanceof ProcessStoppedError)) throw error;
        this.#restart(child);
        if (attempt > 0) {
          throw new ServiceUnavailableError(
            `the query process stopped twice while answering this request (${child.stopReason}); the query may need more than the ${this.#options.memoryBudgetBytes}-byte memory budget (--memory-budget)`,
          );
        }
      }
    }
  }

  /** Stops the query process. */
  async close(): Promise<void> {
    this.#closed = true;
    await (await this.#child.catch(() => undefined))?.close();
  }

  // Replaces a process that still works (but should not be kept): the old one answers until the
  // new one is ready, so nobody waits for the start; what is still in the old one when it closes is
  // sent again to the new one.
  #recycle(child: Child): void {
    if (this.#closed || this.#retired.has(child)) return;
    this.#retired.add(child);
    this.restarts++;
    Child.start(this.#options).then(
      (next) => {
        if (this.#closed) {
          void next.close();
          return;
        }
        this.#child = Promise.resolve(next);
        void child.close();
      },
      // The old process keeps serving; the next refusal for memory tries again.
      () => this.#retired.delete(child),
    );
  }

  // Replaces a stopped (or to-be-killed) process once; concurrent callers share the replacement.
  #restart(child: Child): void {
    child.kill();
    if (this.#closed || this.#retired.has(child)) return;
    this.#retired.add(child);
    this.restarts++;
    const next = Child.start(this.#options);
    // A failed start is seen (and retried) by the next call; it must not be an unhandled rejection.
    next.catch(() => undefined);
    this.#child = next;
  }
}
