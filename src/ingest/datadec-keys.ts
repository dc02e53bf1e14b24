/**
 * The `full_eval` key of every row a DataDecide ingest is about to write, gathered in DuckDB
 * before anything is written, so that one call can refuse a key that two of its inputs give, or
 * that rows of another source file already hold in the lake (the seed views would count it
 * twice), and can take from a datadec folder's raw downloads only what its `full_eval.parquet`
 * lacks.
 *
 * A key is (params, data, task, step, seed, metric_name). To keep millions of keys small and
 * cheap to gather, each is stored as where it comes from — input, source row `r`, metric column
 * `i` (for a results file, `i` is the metric id) — and two small tables resolve them: `rowmap`
 * gives each source row's checkpoint id (params, data, step, seed), `colmap` each column's metric
 * id (task, metric_name), both numbered here. The tables are TEMP tables on the lake's
 * connection, so the check against the lake is one join with the `full_eval` view.
 */
import { randomUUID } from 'node:crypto';
import { appendColumns } from '../lake/appender.js';
import { type Lake, quoteLiteral, t } from '../lake/index.js';

/**
 * Where a key came from: the input (its index in the call), the 0-based source row and the
 * metric column (its index in the wide layout; for a results file, the metric id).
 *
 * @example
 * ```ts
 * const at: KeyOrigin = { input: 0, row: 5, column: 12 };
 * ```
 */
export interface KeyOrigin {
  readonly input: number;
  readonly row: number;
  readonly column: number;
}

/**
 * One key, spelled out.
 *
 * @example
 * ```ts
 * describeKey({ params: '4M', data: 'Dolma1.7', task: 'arc_easy', step: 0, seed: 0, metric_name: 'acc_raw' });
 * ```
 */
export interface EvalKey {
  readonly params: string;
  readonly data: string;
  readonly task: string;
  readonly step: number | bigint;
  readonly seed: number;
  readonly metric_name: string;
}

/**
 * A key as messages print it: `(params 4M, data Dolma1.7, task arc_easy, step 0, seed 0,
 * metric_name acc_raw)`.
 *
 * @example
 * ```ts
 * describeKey(key); // '(params 4M, data Dolma1.7, task arc_easy, step 0, seed 0, metric_name acc_raw)'
 * ```
 */
export function describeKey(key: EvalKey): string {
  return (
    `(params ${key.params}, data ${key.data}, task ${key.task}, step ${String(key.step)}, ` +
    `seed ${key.seed}, metric_name ${key.metric_name})`
  );
}

interface CheckpointRow {
  readonly params: string;
  readonly data: string;
  readonly step: number | bigint;
  readonly seed: number;
}
interface MetricRow {
  readonly task: string;
  readonly metric_name: string;
}

/**
 * The keys of one ingest call, in TEMP tables of the lake's connection (dropped by
 * {@link EvalKeys.drop}).
 *
 * @example
 * ```ts
 * const keys = await EvalKeys.create(lake);
 * try { await keys.addRows(0, rows); await keys.duplicate(); } finally { await keys.drop(); }
 * ```
 */
export class EvalKeys {
  readonly #lake: Lake;
  readonly #table: string;
  readonly #checkpoints = new Map<string, number>();
  readonly #checkpointRows: CheckpointRow[] = [];
  readonly #metrics = new Map<string, number>();
  readonly #metricRows: MetricRow[] = [];
  /** Inputs whose metric columns (or one source row's metrics) do not map one-to-one to metric ids. */
  readonly #collidingColumns = new Set<number>();
  #ids = false;

  private constructor(lake: Lake, table: string) {
    this.#lake = lake;
    this.#table = table;
  }

  /**
   * Creates the key tables on the lake's connection.
   *
   * @example
   * ```ts
   * const keys = await EvalKeys.create(lake);
   * ```
   */
  static async create(lake: Lake): Promise<EvalKeys> {
    const keys = new EvalKeys(lake, `runlake_datadecide_${randomUUID().replaceAll('-', '').slice(0, 12)}`);
    await lake.run(
      `CREATE TEMP TABLE ${keys.#name('keys')} (input INTEGER, r INTEGER, i INTEGER, cell BIGINT); ` +
        `CREATE TEMP TABLE ${keys.#name('rowmap')} (input INTEGER, r INTEGER, cid INTEGER); ` +
        `CREATE TEMP TABLE ${keys.#name('colmap')} (input INTEGER, i INTEGER, mid INTEGER)`,
    );
    return keys;
  }

  #name(table: string): string {
    return `${this.#table}_${table}`;
  }

  /**
   * The checkpoint id of (params, data, step, seed), numbered on first sight.
   *
   * @example
   * ```ts
   * keys.checkpoint('4M', 'Dolma1.7', 2500, 0); // 0 for the first checkpoint seen
   * ```
   */
  checkpoint(params: string, data: string, step: number | bigint, seed: number): number {
    const text = `${params}\u0000${data}\u0000${String(step)}\u0000${seed}`;
    let id = this.#checkpoints.get(text);
    if (id === undefined) {
      id = this.#checkpointRows.length;
      this.#checkpoints.set(text, id);
      this.#checkpointRows.push({ params, data, step, seed });
    }
    return id;
  }

  /**
   * The metric id of (task, metric_name), numbered on first sight.
   *
   * @example
   * ```ts
   * keys.metric('arc_easy', 'acc_raw'); // 0 for the first metric seen
   * ```
   */
  metric(task: string, metricName: string): number {
    const text = `${task}\u0000${metricName}`;
    let id = this.#metrics.get(text);
    if (id === undefined) {
      id = this.#metricRows.length;
      this.#metrics.set(text, id);
      this.#metricRows.push({ task, metric_name: metricName });
    }
    return id;
  }

  /**
   * Adds the keys of rows built in JS (a results file); `cell` is the row's index in `rows`.
   *
   * @example
   * ```ts
   * await keys.addRows(0, converted.rows);
   * ```
   */
  async addRows(input: number, rows: ReadonlyArray<Record<string, unknown>>): Promise<void> {
    const mids = new Int32Array(rows.length);
    const sourceRows: number[] = [];
    const cids: number[] = [];
    const seen = new Set<number>();
    const inRow = new Set<number>();
    let last = -1;
    for (let k = 0; k < rows.length; k++) {
      const row = rows[k] as Record<string, unknown>;
      const mid = this.metric(row.task as string, row.metric_name as string);
      mids[k] = mid;
      seen.add(mid);
      const r = row.source_row as number;
      if (r !== last) {
        last = r;
        inRow.clear();
        sourceRows.push(r);
        cids.push(
          this.checkpoint(
            row.params as string,
            row.data as string,
            row.step as number | bigint,
            row.seed as number,
          ),
        );
      }
      // A flattened dict can repeat a name ({'a.b': 1, 'a': {'b': 2}}): group this input's keys.
      if (inRow.has(mid)) this.#collidingColumns.add(input);
      inRow.add(mid);
    }
    await appendColumns(this.#lake.connection, this.#name('keys'), rows.length, [
      { type: t.int32, valueAt: () => input },
      { type: t.int32, valueAt: (k) => rows[k]?.source_row },
      { type: t.int32, valueAt: (k) => mids[k] },
      { type: t.int64, valueAt: (k) => k },
    ]);
    await this.#appendRowmap(input, sourceRows, cids);
    const metricIds = [...seen];
    await appendColumns(this.#lake.connection, this.#name('colmap'), metricIds.length, [
      { type: t.int32, valueAt: () => input },
      { type: t.int32, valueAt: (k) => metricIds[k] },
      { type: t.int32, valueAt: (k) => metricIds[k] },
    ]);
  }

  async #appendRowmap(input: number, sourceRows: readonly number[], cids: readonly number[]): Promise<void> {
    await appendColumns(this.#lake.connection, this.#name('rowmap'), sourceRows.length, [
      { type: t.int32, valueAt: () => input },
      { type: t.int32, valueAt: (k) => sourceRows[k] },
      { type: t.int32, valueAt: (k) => cids[k] },
    ]);
  }

  /**
   * Declares the metric columns of a wide input (call once per input, before
   * {@link EvalKeys.addWide}): column `i` gives the key's task and metric.
   *
   * @example
   * ```ts
   * await keys.addColumns(0, layout.metrics);
   * ```
   */
  async addColumns(
    input: number,
    columns: ReadonlyArray<{ readonly task: string; readonly metricName: string }>,
  ): Promise<void> {
    const mids = columns.map((c) => this.metric(c.task, c.metricName));
    if (new Set(mids).size !== mids.length) this.#collidingColumns.add(input);
    await appendColumns(this.#lake.connection, this.#name('colmap'), mids.length, [
      { type: t.int32, valueAt: () => input },
      { type: t.int32, valueAt: (k) => k },
      { type: t.int32, valueAt: (k) => mids[k] },
    ]);
  }

  /**
   * Adds the keys of a wide file's cells: `present` is a query of (r, i, v) — source row, metric
   * column index, value — for the cells that give a row, `bases` gives each source row's
   * checkpoint; `cell` is `r × width + i`. Returns the number of keys added.
   *
   * @example
   * ```ts
   * await keys.addWide(0, presentSql, bases, layout.metrics.length);
   * ```
   */
  async addWide(
    input: number,
    present: string,
    bases: ReadonlyArray<{
      readonly params: string;
      readonly data: string;
      readonly step: number | bigint;
      readonly seed: number;
      readonly source_row: number;
    }>,
    width: number,
  ): Promise<number> {
    await this.#appendRowmap(
      input,
      bases.map((b) => b.source_row),
      bases.map((b) => this.checkpoint(b.params, b.data, b.step, b.seed)),
    );
    const [inserted] = await this.#lake.query(
      `INSERT INTO ${this.#name('keys')} SELECT ${input}, r, i, r::BIGINT * ${width} + i FROM (${present})`,
    );
    return Number(Object.values(inserted ?? {})[0] ?? 0);
  }

  /** The keys with their checkpoint and metric ids, as a FROM item. */
  #resolved(where: string): string {
    return (
      `(SELECT k.input, k.r, k.i, k.cell, rm.cid, cm.mid FROM ${this.#name('keys')} k ` +
      `JOIN ${this.#name('rowmap')} rm ON rm.input = k.input AND rm.r = k.r ` +
      `JOIN ${this.#name('colmap')} cm ON cm.input = k.input AND cm.i = k.i WHERE ${where})`
    );
  }

  /**
   * Removes the keys of input `supplement` that one of `primaries` also gives, and returns the
   * cells of `supplement` left (the rows to write), the number removed and the metric names left.
   *
   * @example
   * ```ts
   * const { cells, shadowed } = await keys.takeUnshadowed(1, [0]);
   * ```
   */
  async takeUnshadowed(
    supplement: number,
    primaries: readonly number[],
  ): Promise<{ cells: Set<number>; shadowed: number; metrics: string[] }> {
    const shadowed = this.#name('shadowed');
    const inPrimaries = `input IN (${primaries.join(', ') || '-1'})`;
    await this.#lake.run(
      `CREATE OR REPLACE TEMP TABLE ${shadowed} AS SELECT s.cell FROM ${this.#resolved(`k.input = ${supplement}`)} s ` +
        `SEMI JOIN ${this.#resolved(`k.${inPrimaries}`)} p ON p.cid = s.cid AND p.mid = s.mid`,
    );
    const [deleted] = await this.#lake.query(
      `DELETE FROM ${this.#name('keys')} WHERE input = ${supplement} AND cell IN (SELECT cell FROM ${shadowed})`,
    );
    await this.#lake.run(`DROP TABLE ${shadowed}`);
    const reader = await this.#lake.read(
      `SELECT cell::DOUBLE AS cell, mid FROM ${this.#resolved(`k.input = ${supplement}`)}`,
    );
    const [cells = [], mids = []] = reader.getColumnsJS() as [number[], number[]];
    const names = new Set(mids.map((m) => (this.#metricRows[m] as MetricRow).metric_name));
    return {
      cells: new Set(cells),
      shadowed: Number(Object.values(deleted ?? {})[0] ?? 0),
      metrics: [...names].sort(),
    };
  }

  /**
   * The first key two rows of the call give, with where each came from. Only source rows whose
   * checkpoint another source row shares (or of an input whose columns collide) can repeat a
   * key, so only their keys are grouped.
   *
   * @example
   * ```ts
   * const dup = await keys.duplicate(); // { key, first: { input: 0, row: 3, column: 40 }, second: … }
   * ```
   */
  async duplicate(): Promise<{ key: EvalKey; first: KeyOrigin; second: KeyOrigin } | undefined> {
    const rowmap = this.#name('rowmap');
    const colliding = [...this.#collidingColumns];
    const candidates =
      `(rm.cid IN (SELECT cid FROM ${rowmap} GROUP BY cid HAVING count(*) > 1)` +
      (colliding.length > 0 ? ` OR k.input IN (${colliding.join(', ')})` : '') +
      ')';
    const [found] = await this.#lake.query(
      `SELECT cid, mid FROM ${this.#resolved(candidates)} GROUP BY cid, mid HAVING count(*) > 1 ` +
        'ORDER BY min(input), min(r), cid, mid LIMIT 1',
    );
    if (!found) return undefined;
    const origins = await this.#lake.query(
      `SELECT input, r, i FROM ${this.#resolved(`true`)} WHERE cid = ${Number(found.cid)} AND mid = ${Number(found.mid)} ` +
        'ORDER BY input, r, cell LIMIT 2',
    );
    const origin = (o: Record<string, unknown> | undefined): KeyOrigin => ({
      input: Number(o?.input),
      row: Number(o?.r),
      column: Number(o?.i),
    });
    return {
      key: this.#key(Number(found.cid), Number(found.mid)),
      first: origin(origins[0]),
      second: origin(origins[1]),
    };
  }

  /**
   * The first key of the call that a `full_eval` row of another source file already holds:
   * rows whose `source_file` is in `replaced` are left out (the call replaces or removes them).
   *
   * @example
   * ```ts
   * const clash = await keys.lakeConflict(['full_eval.parquet']); // { key, at, sourceFile }
   * ```
   */
  async lakeConflict(
    replaced: readonly string[],
  ): Promise<{ key: EvalKey; at: KeyOrigin; sourceFile: string } | undefined> {
    const dataset = this.#lake.datasets.get('full_eval');
    if (!dataset || dataset.fileCount === 0) return undefined;
    const checkpoints = this.#name('checkpoints');
    const metrics = this.#name('metrics');
    if (!this.#ids) {
      this.#ids = true;
      await this.#lake.run(
        `CREATE TEMP TABLE ${checkpoints} (cid INTEGER, params VARCHAR, data VARCHAR, step BIGINT, seed INTEGER); ` +
          `CREATE TEMP TABLE ${metrics} (mid INTEGER, task VARCHAR, metric_name VARCHAR)`,
      );
      const c = this.#checkpointRows;
      await appendColumns(this.#lake.connection, checkpoints, c.length, [
        { type: t.int32, valueAt: (k) => k },
        { type: t.string, valueAt: (k) => c[k]?.params },
        { type: t.string, valueAt: (k) => c[k]?.data },
        { type: t.int64, valueAt: (k) => c[k]?.step },
        { type: t.int32, valueAt: (k) => c[k]?.seed },
      ]);
      const m = this.#metricRows;
      await appendColumns(this.#lake.connection, metrics, m.length, [
        { type: t.int32, valueAt: (k) => k },
        { type: t.string, valueAt: (k) => m[k]?.task },
        { type: t.string, valueAt: (k) => m[k]?.metric_name },
      ]);
    }
    const others =
      replaced.length > 0 ? `f.source_file NOT IN (${replaced.map(quoteLiteral).join(', ')})` : 'true';
    // Lake rows of other files at the call's checkpoints and metrics, then the call's keys among them.
    const [found] = await this.#lake.query(
      `SELECT c.cid, m.mid, k.input, k.r, k.i, f.source_file FROM full_eval f ` +
        `JOIN ${checkpoints} c ON f.params = c.params AND f.data = c.data AND f.step = c.step AND f.seed = c.seed ` +
        `JOIN ${metrics} m ON f.task = m.task AND f.metric_name = m.metric_name ` +
        `JOIN ${this.#name('rowmap')} rm ON rm.cid = c.cid ` +
        `JOIN ${this.#name('colmap')} cm ON cm.input = rm.input AND cm.mid = m.mid ` +
        `JOIN ${this.#name('keys')} k ON k.input = rm.input AND k.r = rm.r AND k.i = cm.i ` +
        `WHERE ${others} ORDER BY k.input, k.r, k.cell, f.source_file LIMIT 1`,
    );
    if (!found) return undefined;
    return {
      key: this.#key(Number(found.cid), Number(found.mid)),
      at: { input: Number(found.input), row: Number(found.r), column: Number(found.i) },
      sourceFile: String(found.source_file),
    };
  }

  /**
   * Drops the TEMP tables.
   *
   * @example
   * ```ts
   * await keys.drop();
   * ```
   */
  async drop(): Promise<void> {
    for (const table of ['keys', 'rowmap', 'colmap', 'shadowed', 'checkpoints', 'metrics']) {
      await this.#lake.run(`DROP TABLE IF EXISTS ${this.#name(table)}`);
    }
  }

  #key(cid: number, mid: number): EvalKey {
    const c = this.#checkpointRows[cid] as CheckpointRow;
    const m = this.#metricRows[mid] as MetricRow;
    return {
      params: c.params,
      data: c.data,
      task: m.task,
      step: c.step,
      seed: c.seed,
      metric_name: m.metric_name,
    };
  }
}
