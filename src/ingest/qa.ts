import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  assertJsonDepth,
  decodeUtf8Strict,
  InputFileError,
  type Lake,
  RowValidationError,
  RunlakeError,
  validateTypedRows,
} from '../lake/index.js';

/**
 * Options for {@link ingestQaOutputs}.
 *
 * @example
 * ```ts
 * await ingestQaOutputs(lake, ['outputs.jsonl'], { run: 'olmo-1b-sft', correctFrom: 'exact_match' });
 * ```
 */
export interface QaOptions {
  /** Run id for records that name none (no `run_id`, `run`, `model` or `model_name` field). */
  readonly run?: string;
  /** Task for records that name none (default: from the file name, `<task>-predictions.jsonl`). */
  readonly task?: string;
  /**
   * The score that says whether an answer was correct (0/1 or true/false), for records without a
   * `correct`/`is_correct` field. Default: the first of `correct`, `is_correct`, `exact_match`,
   * `acc`, `acc_raw` the record's scores have.
   */
  readonly correctFrom?: string;
}

/**
 * What {@link ingestQaOutputs} did.
 *
 * @example
 * ```ts
 * const { rows, tasks, runs } = await ingestQaOutputs(lake, ['instances/']);
 * ```
 */
export interface QaSummary {
  readonly files: number;
  /** `qa_outputs` rows written, one per record. */
  readonly rows: number;
  readonly tasks: readonly string[];
  readonly runs: number;
  /** Part files of earlier ingests of the same (task, run) that were replaced. */
  readonly replacedFiles: number;
}

const RUN_FIELDS = ['run_id', 'run', 'model', 'model_name'];
const TASK_FIELDS = ['task', 'task_name'];
const INSTANCE_FIELDS = ['instance_id', 'native_id', 'id', 'question_id', 'doc_id'];
const PREDICTION_FIELDS = ['prediction', 'pred', 'predicted', 'model_answer', 'output'];
const LABEL_FIELDS = ['label', 'gold', 'answer', 'target', 'reference'];
const CORRECT_FIELDS = ['correct', 'is_correct'];
const SCORE_FIELDS = ['metrics', 'scores'];
const CORRECT_SCORES = ['correct', 'is_correct', 'exact_match', 'acc', 'acc_raw'];
const CONSUMED = new Set([
  ...RUN_FIELDS,
  ...TASK_FIELDS,
  ...INSTANCE_FIELDS,
  ...PREDICTION_FIELDS,
  ...LABEL_FIELDS,
  ...CORRECT_FIELDS,
  ...SCORE_FIELDS,
]);
const DATASET = 'qa_outputs';
/** The file each row was read from, for error messages. */
const ROW_FILE = new WeakMap<object, string>();

type QaRow = Record<string, unknown>;
interface Source {
  readonly file: string;
  /** Name recorded in `source_file`: relative to the directory given, or the path as given. */
  readonly name: string;
  /** Directory of the file relative to the directory given ('' for a file given directly). */
  readonly runDirectory: string;
}

/**
 * Loads per-question evaluation outputs (JSONL: one record per question, e.g. OLMES / DataDecide
 * `<task>-predictions.jsonl`) into the `qa_outputs` dataset. `inputs` are JSONL files or
 * directories, searched recursively for `*.jsonl` / `*.ndjson`. Each record gives its task, run,
 * instance id, prediction, label, correctness and numeric scores (`metrics` or `scores` dict);
 * missing task and run come from the options, then the file name and directory.
 *
 * Every record is checked before anything is written, so a refused call writes nothing; errors
 * name the file, the 1-based line and the field. Re-ingesting outputs of a (task, run) replaces
 * the rows an earlier ingest wrote for that (task, run).
 *
 * @example
 * ```ts
 * const lake = await openLake('lake', { schema: 'squiggle' });
 * await ingestQaOutputs(lake, ['instances_extracted/dclm-baseline/150M'], {});
 * await lake.query('SELECT * FROM qa_task_summary');
 * ```
 */
export async function ingestQaOutputs(
  lake: Lake,
  inputs: readonly string[],
  options: QaOptions = {},
): Promise<QaSummary> {
  const definition = lake.definition(DATASET);
  if (inputs.length === 0) throw new RunlakeError('ingest qa: no inputs given');
  const sources = await listSources(inputs);
  if (sources.length === 0) throw new RunlakeError(`ingest qa: no .jsonl files in ${inputs.join(', ')}`);

  const scoreKinds = new Map<string, { kind: 'number' | 'text'; where: string }>();
  const seen = new Map<string, string>();
  const groups = new Map<string, QaRow[]>(); // key: task \0 run
  for (const source of sources) {
    const rows = await readSource(source, options, scoreKinds);
    for (const row of rows) {
      const where = `${source.file} line ${String(row.source_line)}`;
      const identity = JSON.stringify([row.task, row.run_id, row.instance_id]);
      const earlier = seen.get(identity);
      if (earlier !== undefined) {
        throw new InputFileError(
          source.file,
          `line ${String(row.source_line)}: instance "${String(row.instance_id)}" of task "${String(row.task)}" and run "${String(row.run_id)}" is also at ${earlier}`,
        );
      }
      seen.set(identity, where);
      const key = `${String(row.task)}\0${String(row.run_id)}`;
      const group = groups.get(key);
      if (group) group.push(row);
      else groups.set(key, [row]);
    }
  }
  for (const group of groups.values()) {
    try {
      validateTypedRows(definition, group, new Map());
    } catch (error) {
      if (error instanceof RowValidationError) {
        const row = group[error.rowIndex];
        throw new InputFileError(
          (row && ROW_FILE.get(row)) ?? String(row?.source_file),
          `line ${String(row?.source_line)}, column "${error.column}": ${error.reason}`,
        );
      }
      throw error;
    }
  }

  let rows = 0;
  let replacedFiles = 0;
  const tasks = new Set<string>();
  const runs = new Set<string>();
  for (const group of groups.values()) {
    const first = group[0] as QaRow;
    const task = first.task as string;
    const run = first.run_id as string;
    const result = await lake.replace(DATASET, group, { partition: { task }, stem: qaStem(run) });
    rows += result.rowCount;
    replacedFiles += result.removedFiles;
    tasks.add(task);
    runs.add(run);
  }
  return { files: sources.length, rows, tasks: [...tasks].sort(), runs: runs.size, replacedFiles };
}

/**
 * The `replace` stem of a run's QA outputs: `qa_` and 16 hex digits of SHA-256 over the run id.
 * Within a task partition, each run's rows replace only that run's earlier rows.
 *
 * @example
 * ```ts
 * qaStem('dclm-baseline/150M/seed-14/step-25000'); // 'qa_…'
 * ```
 */
export function qaStem(runId: string): string {
  return `qa_${createHash('sha256').update(runId).digest('hex').slice(0, 16)}`;
}

async function listSources(inputs: readonly string[]): Promise<Source[]> {
  const sources: Source[] = [];
  for (const input of inputs) {
    if (!existsSync(input)) throw new InputFileError(input, 'no such file or directory');
    if ((await stat(input)).isDirectory()) {
      for (const relative of await walk(input, '')) {
        sources.push({
          file: path.join(input, relative),
          name: relative,
          runDirectory: path.posix.dirname(relative) === '.' ? '' : path.posix.dirname(relative),
        });
      }
    } else {
      sources.push({ file: input, name: path.normalize(input).split(path.sep).join('/'), runDirectory: '' });
    }
  }
  const unique = new Map(sources.map((s) => [path.resolve(s.file), s]));
  return [...unique.values()];
}

async function walk(root: string, relative: string): Promise<string[]> {
  const entries = await readdir(path.join(root, relative), { withFileTypes: true });
  const found: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const child = relative ? `${relative}/${entry.name}` : entry.name;
    if (entry.isDirectory()) found.push(...(await walk(root, child)));
    else if (/\.(jsonl|ndjson)$/i.test(entry.name)) found.push(child);
  }
  return found;
}

function taskFromFileName(file: string): string {
  return path
    .basename(file)
    .replace(/\.(jsonl|ndjson)$/i, '')
    .replace(/[-_]predictions$/i, '');
}

async function readSource(
  source: Source,
  options: QaOptions,
  scoreKinds: Map<string, { kind: 'number' | 'text'; where: string }>,
): Promise<QaRow[]> {
  const { file } = source;
  const rows: QaRow[] = [];
  // Strict UTF-8: a replaced byte would silently change a run id or an answer.
  const lines = decodeUtf8Strict(await readFile(file), file).split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] as string;
    if (line.trim() === '') continue;
    const lineNo = index + 1;
    const fail = (field: string, reason: string): never => {
      throw new InputFileError(file, `line ${lineNo}${field ? `, field "${field}"` : ''}: ${reason}`);
    };
    let record: Record<string, unknown>;
    // Before parsing: the per-record checks and the row validation recurse into values.
    assertJsonDepth(line, `${file}: line ${lineNo}`);
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch (error) {
      return fail('', `not valid JSON: ${(error as Error).message}`);
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) fail('', 'not a JSON object');

    const pick = (fields: readonly string[]): [string, unknown] | undefined => {
      for (const f of fields) if (record[f] !== undefined && record[f] !== null) return [f, record[f]];
      return undefined;
    };
    const asText = (entry: [string, unknown] | undefined, what: string): string | null => {
      if (!entry) return null;
      const [field, v] = entry;
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'boolean') return String(v);
      return fail(field, `${what} is ${JSON.stringify(v)}, expected text or a number`);
    };

    const task = asText(pick(TASK_FIELDS), 'the task') ?? options.task ?? taskFromFileName(file);
    const run = asText(pick(RUN_FIELDS), 'the run') ?? options.run ?? (source.runDirectory || null);
    if (run === null) {
      fail('run_id', `no run: the record has none of ${RUN_FIELDS.join(', ')}; pass --run <id>`);
    }
    const instance = asText(pick(INSTANCE_FIELDS), 'the instance id');
    if (instance === null)
      fail('instance_id', `no instance id: the record has none of ${INSTANCE_FIELDS.join(', ')}`);
    let docId: number | null = null;
    if (record.doc_id !== undefined && record.doc_id !== null) {
      if (typeof record.doc_id !== 'number' || !Number.isSafeInteger(record.doc_id)) {
        fail(
          'doc_id',
          `${JSON.stringify(record.doc_id)} is not a whole number (earlier lines may have had numbers)`,
        );
      }
      docId = record.doc_id as number;
    }

    const scores: Array<[string, number]> = [];
    const textScores: Record<string, unknown> = {};
    for (const field of SCORE_FIELDS) {
      const value = record[field];
      if (value === undefined || value === null) continue;
      if (typeof value !== 'object' || Array.isArray(value)) {
        fail(field, `${JSON.stringify(value).slice(0, 60)} is not an object of scores`);
      }
      for (const [name, leaf] of flattenJson(value, '')) {
        if (leaf === null) continue;
        const kind = typeof leaf === 'number' || typeof leaf === 'boolean' ? 'number' : 'text';
        const earlier = scoreKinds.get(name);
        if (!earlier) scoreKinds.set(name, { kind, where: `${file} line ${lineNo}` });
        else if (earlier.kind !== kind) {
          fail(
            `${field}.${name}`,
            `is ${kind === 'text' ? `text (${JSON.stringify(leaf)})` : 'a number'} but was ${earlier.kind === 'text' ? 'text' : 'a number'} at ${earlier.where}`,
          );
        }
        if (kind === 'number')
          scores.push([name, typeof leaf === 'boolean' ? (leaf ? 1 : 0) : (leaf as number)]);
        else textScores[name] = leaf;
      }
    }

    const prediction = jsonText(pick(PREDICTION_FIELDS)?.[1]);
    const label = jsonText(pick(LABEL_FIELDS)?.[1]);
    let correct: boolean | null = null;
    const explicit = pick(CORRECT_FIELDS);
    if (explicit) correct = asBoolean(explicit[1], (why) => fail(explicit[0], why));
    else {
      const names = options.correctFrom ? [options.correctFrom] : CORRECT_SCORES;
      const found = names.map((n) => scores.find(([s]) => s === n)).find((s) => s !== undefined);
      if (found) correct = asBoolean(found[1], (why) => fail(`score ${found[0]}`, why));
      else if (prediction !== null && label !== null) correct = prediction.trim() === label.trim();
    }

    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(record)) if (!CONSUMED.has(k)) extra[k] = v;
    // Fields that lost to an earlier synonym, and text scores, are kept too.
    for (const fields of [
      RUN_FIELDS,
      TASK_FIELDS,
      INSTANCE_FIELDS,
      PREDICTION_FIELDS,
      LABEL_FIELDS,
      CORRECT_FIELDS,
    ]) {
      const used = pick(fields)?.[0];
      for (const f of fields)
        if (f !== used && record[f] !== undefined && f !== 'doc_id') extra[f] = record[f];
    }
    if (Object.keys(textScores).length > 0) extra.text_scores = textScores;

    const row: QaRow = {
      task,
      run_id: run,
      instance_id: instance,
      doc_id: docId,
      prediction,
      label,
      correct,
      score_names: scores.map(([n]) => n),
      score_values: scores.map(([, v]) => v),
      extra_json: Object.keys(extra).length > 0 ? JSON.stringify(extra) : null,
      source_file: source.name,
      source_line: lineNo,
    };
    ROW_FILE.set(row, file);
    rows.push(row);
  }
  return rows;
}

function flattenJson(value: unknown, prefix: string): Array<[string, unknown]> {
  if (value !== null && typeof value === 'object') {
    const entries: Array<[string, unknown]> = Array.isArray(value)
      ? value.map((v, i) => [String(i), v])
      : Object.entries(value as Record<string, unknown>);
    return entries.flatMap(([k, v]) => flattenJson(v, prefix ? `${prefix}.${k}` : k));
  }
  return [[prefix, value]];
}

function jsonText(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function asBoolean(value: unknown, fail: (why: string) => never): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 0 || value === 1) return value === 1;
  return fail(`${JSON.stringify(value)} is not a correctness flag (true/false or 0/1)`);
}
