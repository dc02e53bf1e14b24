import type { ErrorResponse } from './errors.js';
import type { QueryLimits } from './query-runner.js';

/** The content type of Arrow IPC stream answers. */
export const ARROW_STREAM_TYPE = 'application/vnd.apache.arrow.stream';

/** What the query process can be asked: one entry per data endpoint. */
export type WorkerOp =
  | 'query'
  | 'lake'
  | 'runs'
  | 'metric-names'
  | 'metrics'
  | 'metric-groups'
  | 'geometry'
  | 'matches'
  | 'sweep'
  | 'sweep-curves'
  | 'sweep-grids';

/** A request to the query process; `args` are the endpoint's already-checked parameters. */
export interface WorkerCall {
  readonly id: number;
  readonly op: WorkerOp;
  readonly args: Readonly<Record<string, unknown>>;
}

/** An answer ready to send: the encoded body, its content type and extra headers. */
export interface WorkerAnswer {
  readonly body: string | Uint8Array;
  readonly contentType: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** The query process's reply to one {@link WorkerCall}. */
export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly answer: WorkerAnswer }
  | { readonly id: number; readonly ok: false; readonly error: ErrorResponse };

/** The first message of the query process: ready, or why it could not open the lake. */
export type WorkerHello = { readonly ready: true } | { readonly ready: false; readonly error: ErrorResponse };

/** How the query process opens the lake (passed as JSON in its first argument). */
export interface WorkerConfig {
  readonly lakeDir: string;
  readonly schema?: string;
  readonly threads?: number;
  /** Whether metric answers may read the downsampling pyramid (default true). */
  readonly pyramid?: boolean;
  /** DuckDB's memory limit in the query process, in bytes. */
  readonly memoryLimitBytes: number;
  readonly limits: QueryLimits;
}
