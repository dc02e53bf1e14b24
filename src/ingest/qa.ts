import { createHash } from 'node:crypto';
import path from 'node:path';
import {
  assertJsonDepth,
  InputFileError,
  type Lake,
  RowValidationError,
  RunlakeError,
  validateTypedRows,
} from '../lake/index.js';
import { type OlmesCheckpoint, olmesCheckpoint } from './olmes-path.js';
import { dataDecidePrimaryMetric } from './olmes-primary-metric.js';
import { type QaInputFile, walkQaInputs } from './olmes-tree.js';
import { parseWandbJson, toJsonText } from './wandb-json.js';

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
   * `correct`/`is_correct` field; it overrides the task's primary metric. Default: for an oe-eval
   * record, the task's primary metric (its `-metrics.json`, else DataDecide's table); then the
   * first of `correct`, `is_correct`, `exact_match`, `acc`, `acc_raw` the record's scores have.
   */
  readonly correctFrom?: string;
  /**
   * Longest JSONL line (and `-metrics.json` file) read, in bytes (default 64 MiB): a longer one
   * is refused, naming the file and line, rather than held in memory.
   */
  readonly maxLineBytes?: number;
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
  /** JSONL files (and archive members) whose records were read. */
  readonly files: number;
  /** `qa_outputs` rows written, one per record. */
  readonly rows: number;
  readonly tasks: readonly string[];
  readonly runs: number;
  /** Part files of earlier ingests of the same (task, run) that were replaced. */
  readonly replacedFiles: number;
  /** Tar archives read (`.tar.gz`, `.tgz`, `.tar`; archives inside archives included). */
  readonly archives: number;
  /** `<task>-metrics.json` files read for the tasks' primary metrics. */
  readonly metricsFiles: number;
  /**
   * Files and archive members not ingested: oe-eval's side files (`-requests.jsonl`,
   * `-recorded-inputs.jsonl`, `metrics.json`, `metrics-all.jsonl`), and archive members that
   * are not regular JSONL files.
   */
  readonly skipped: number;
  /** OLMES recipe directories DataDecide's table does not know (their rows have `data` null). */
  readonly unknownRecipes: readonly string[];
  /** OLMES `seed-N` training seeds DataDecide's table does not know (their rows have `seed` null). */
  readonly unknownSeeds: readonly number[];
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

/**
 * Loads per-question evaluation outputs (JSONL: one record per question, e.g. OLMES / DataDecide
 * `<task>-predictions.jsonl`) into the `qa_outputs` dataset. `inputs` are JSONL files,
 * directories (searched recursively for `*.jsonl` / `*.ndjson`, `<task>-metrics.json` and tar
 * archives) and `.tar.gz` / `.tgz` / `.tar` archives, whose members are streamed, never
 * extracted (see {@link walkQaInputs}). Each record gives its task, run, instance id, prediction,
 * label, correctness and numeric scores (`metrics` or `scores` dict); missing task and run come
 * from the options, then the file name and directory. An OLMES path
 * `<recipe>/<size>/seed-<N>/step-<N>/` fills params, data, recipe, seed and step through
 * DataDecide's name table, and an oe-eval record's correctness is its task's primary metric.
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
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;

  // Pass 1 checks everything, holding one file's rows at a time; pass 2 reads the inputs again and
  // writes each (task, run) as soon as its files are read. So a refused call writes nothing, and
  // memory is bounded by the largest file and (task, run), not by the whole tree.
  const survey = await surveyInputs(inputs, definition, options, maxLineBytes);
  if (survey.files === 0) {
    throw new RunlakeError(
      `ingest qa: no JSONL predictions in ${inputs.join(', ')}` +
        (survey.skipped || survey.metricsFiles
          ? ` (${survey.skipped + survey.metricsFiles} other files skipped)`
          : ''),
    );
  }
  await checkSharedGroups(inputs, survey, options, maxLineBytes);
  for (const row of survey.risky) decideCorrect(row, survey.primaryMetrics, options);

  let rows = 0;
  let replacedFiles = 0;
  const tasks = new Set<string>();
  const runs = new Set<string>();
  const open = new Map<string, QaRow[]>();
  const filesLeft = new Map([...survey.groupFiles].map(([key, files]) => [key, files.size]));
  let fileIndex = -1;
  for await (const file of walkQaInputs(inputs)) {
    if (!isRecordFile(file)) continue;
    fileIndex++;
    const touched = new Set<string>();
    let count = 0;
    const checkpoint = olmesCheckpoint(path.posix.dirname(file.absolute));
    for await (const row of readSource(file, checkpoint, options, new Map(), maxLineBytes)) {
      count++;
      decideCorrect(row, survey.primaryMetrics, options);
      const key = groupKey(row);
      touched.add(key);
      const group = open.get(key);
      if (group) group.push(row);
      else open.set(key, [row]);
    }
    if (count !== survey.fileRows[fileIndex]) {
      throw new InputFileError(
        file.label,
        `changed while being ingested (${survey.fileRows[fileIndex]} records, now ${count}); ingest it again`,
      );
    }
    for (const key of touched) {
      const left = (filesLeft.get(key) ?? 1) - 1;
      filesLeft.set(key, left);
      if (left > 0) continue;
      const group = open.get(key) as QaRow[];
      open.delete(key);
      validateGroup(definition, group);
      const first = group[0] as QaRow;
      const task = first.task as string;
      const run = first.run_id as string;
      const result = await lake.replace(DATASET, group, { partition: { task }, stem: qaStem(run) });
      rows += result.rowCount;
      replacedFiles += result.removedFiles;
      tasks.add(task);
      runs.add(run);
    }
  }
  return {
    files: survey.files,
    rows,
    tasks: [...tasks].sort(),
    runs: runs.size,
    replacedFiles,
    archives: survey.archives,
    metricsFiles: survey.metricsFiles,
    skipped: survey.skipped,
    unknownRecipes: [...survey.unknownRecipes].sort(),
    unknownSeeds: [...survey.unknownSeeds].sort((a, b) => a - b),
  };
}

/** What the checking pass learned, for the writing pass. */
interface Survey {
  files: number;
  metricsFiles: number;
  skipped: number;
  archives: number;
  readonly unknownRecipes: Set<string>;
  readonly unknownSeeds: Set<number>;
  /** directory \0 task → the primary metric its `-metrics.json` declares. */
  readonly primaryMetrics: Map<string, { metric: string; where: string }>;
  /** task \0 run → the record files (by walk index) holding its rows. */
  readonly groupFiles: Map<string, Set<number>>;
  /** Records per record file, by walk index. */
  readonly fileRows: number[];
  /** Rows whose correctness could fail to decide (a fallback score that is not 0/1). */
  readonly risky: QaRow[];
}

const groupKey = (row: QaRow) => `${String(row.task)}\0${String(row.run_id)}`;
const isRecordFile = (file: QaInputFile) => file.kind === 'jsonl' || file.kind === 'predictions';

async function surveyInputs(
  inputs: readonly string[],
  definition: ReturnType<Lake['definition']>,
  options: QaOptions,
  maxLineBytes: number,
): Promise<Survey> {
  const survey: Survey = {
    files: 0,
    metricsFiles: 0,
    skipped: 0,
    archives: 0,
    unknownRecipes: new Set(),
    unknownSeeds: new Set(),
    primaryMetrics: new Map(),
    groupFiles: new Map(),
    fileRows: [],
    risky: [],
  };
  const scoreKinds = new Map<string, { kind: 'number' | 'text'; where: string }>();
  const counts = { archives: 0 };
  for await (const file of walkQaInputs(inputs, counts)) {
    if (file.kind === 'skipped') {
      survey.skipped++;
      continue;
    }
    if (file.kind === 'metrics') {
      survey.metricsFiles++;
      const metric = await readPrimaryMetric(file, maxLineBytes);
      if (metric === undefined) continue;
      const key = `${path.posix.dirname(file.logical)}\0${file.task}`;
      const earlier = survey.primaryMetrics.get(key);
      if (earlier && earlier.metric !== metric) {
        throw new InputFileError(
          file.label,
          `field "task_config.primary_metric": "${metric}", but ${earlier.where} says "${earlier.metric}" for the same task and checkpoint`,
        );
      }
      survey.primaryMetrics.set(key, { metric, where: file.label });
      continue;
    }
    const fileIndex = survey.files++;
    const checkpoint = olmesCheckpoint(path.posix.dirname(file.absolute));
    if (checkpoint?.data === null) survey.unknownRecipes.add(checkpoint.recipe);
    if (checkpoint && checkpoint.seed === null) survey.unknownSeeds.add(checkpoint.trainingSeed);
    const rows: QaRow[] = [];
    const seen = new Map<string, number>();
    for await (const row of readSource(file, checkpoint, options, scoreKinds, maxLineBytes)) {
      const identity = JSON.stringify([row.task, row.run_id, row.instance_id]);
      const earlier = seen.get(identity);
      if (earlier !== undefined) {
        throw new InputFileError(
          file.label,
          `line ${String(row.source_line)}: instance "${String(row.instance_id)}" of task "${String(row.task)}" and run "${String(row.run_id)}" is also at ${file.label} line ${earlier}`,
        );
      }
      seen.set(identity, row.source_line as number);
      const key = groupKey(row);
      const files = survey.groupFiles.get(key);
      if (files) files.add(fileIndex);
      else survey.groupFiles.set(key, new Set([fileIndex]));
      if (fallbackMayFail(row, options)) survey.risky.push(row);
      rows.push(row);
    }
    survey.fileRows[fileIndex] = rows.length;
    validateGroup(definition, rows);
  }
  survey.archives = counts.archives;
  return survey;
}

/**
 * The same (task, run, instance) in two files (a checkpoint given packed and extracted, say) is
 * refused before anything is written: the files that share a (task, run) are read once more, and
 * only their identities are held.
 */
async function checkSharedGroups(
  inputs: readonly string[],
  survey: Survey,
  options: QaOptions,
  maxLineBytes: number,
): Promise<void> {
  const shared = new Set([...survey.groupFiles].filter(([, files]) => files.size > 1).map(([key]) => key));
  if (shared.size === 0) return;
  const sharedFiles = new Set([...shared].flatMap((key) => [...(survey.groupFiles.get(key) ?? [])]));
  const seen = new Map<string, string>();
  let fileIndex = -1;
  for await (const file of walkQaInputs(inputs)) {
    if (!isRecordFile(file)) continue;
    fileIndex++;
    if (!sharedFiles.has(fileIndex)) continue;
    const checkpoint = olmesCheckpoint(path.posix.dirname(file.absolute));
    for await (const row of readSource(file, checkpoint, options, new Map(), maxLineBytes)) {
      if (!shared.has(groupKey(row))) continue;
      const identity = JSON.stringify([row.task, row.run_id, row.instance_id]);
      const where = `${file.label} line ${String(row.source_line)}`;
      const earlier = seen.get(identity);
      // Duplicates within one file were refused by the first pass: this one is in another file.
      if (earlier !== undefined) {
        throw new InputFileError(
          file.label,
          `line ${String(row.source_line)}: instance "${String(row.instance_id)}" of task "${String(row.task)}" and run "${String(row.run_id)}" is also at ${earlier}`,
        );
      }
      seen.set(identity, where);
    }
  }
}

function validateGroup(definition: ReturnType<Lake['definition']>, rows: QaRow[]): void {
  try {
    validateTypedRows(definition, rows, new Map());
  } catch (error) {
    if (error instanceof RowValidationError) {
      const row = rows[error.rowIndex];
      throw new InputFileError(
        (row && ROW_FILE.get(row)) ?? String(row?.source_file),
        `line ${String(row?.source_line)}, column "${error.column}": ${error.reason}`,
      );
    }
    throw error;
  }
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

const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * The lines of a file's bytes, decoded as strict UTF-8 (a replaced byte would silently change a
 * run id or an answer), with 1-based numbers. A line longer than `maxLineBytes` is refused
 * before it is held whole.
 */
async function* jsonlLines(
  file: QaInputFile,
  maxLineBytes: number,
): AsyncGenerator<{ text: string; lineNo: number }> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lineNo = 0;
  const decode = (bytes: Buffer): string => {
    try {
      return decoder.decode(bytes);
    } catch {
      throw new InputFileError(
        file.label,
        `line ${lineNo}: invalid UTF-8 (is this a JSONL file?); re-encode it as UTF-8`,
      );
    }
  };
  const tooLong = (): never => {
    throw new InputFileError(
      file.label,
      `line ${lineNo + 1}: longer than ${maxLineBytes} bytes (is this a JSONL file?)`,
    );
  };
  for await (const chunk of file.bytes()) {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      if (newline < 0) break;
      if (pendingBytes + newline - start > maxLineBytes) tooLong();
      const piece = chunk.subarray(start, newline);
      const bytes = pending.length ? Buffer.concat([...pending, piece]) : piece;
      pending = [];
      pendingBytes = 0;
      lineNo++;
      yield { text: decode(bytes), lineNo };
      start = newline + 1;
    }
    if (start < chunk.length) {
      pendingBytes += chunk.length - start;
      if (pendingBytes > maxLineBytes) tooLong();
      pending.push(Buffer.from(chunk.subarray(start)));
    }
  }
  if (pendingBytes > 0) {
    lineNo++;
    yield { text: decode(Buffer.concat(pending)), lineNo };
  }
}

/** A `<task>-metrics.json` file's `task_config.primary_metric` (undefined when it has none). */
async function readPrimaryMetric(file: QaInputFile, maxBytes: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of file.bytes()) {
    size += chunk.length;
    if (size > maxBytes)
      throw new InputFileError(file.label, `larger than ${maxBytes} bytes; not a metrics file?`);
    chunks.push(chunk);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new InputFileError(file.label, 'invalid UTF-8; not a metrics file?');
  }
  assertJsonDepth(text, file.label);
  let payload: unknown;
  try {
    payload = parseWandbJson(text);
  } catch (error) {
    throw new InputFileError(file.label, `not valid JSON: ${(error as Error).message}`);
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new InputFileError(file.label, 'not a JSON object');
  }
  const config = (payload as Record<string, unknown>).task_config;
  if (config === undefined || config === null) return undefined;
  if (typeof config !== 'object' || Array.isArray(config)) {
    throw new InputFileError(file.label, 'field "task_config" is not an object');
  }
  const primary = (config as Record<string, unknown>).primary_metric;
  if (primary === undefined || primary === null) return undefined;
  if (typeof primary !== 'string' || primary.trim() === '') {
    throw new InputFileError(
      file.label,
      `field "task_config.primary_metric" is ${JSON.stringify(primary)}, expected a metric name`,
    );
  }
  return primary;
}

/** How a row's correctness is still to be decided, once every metrics file has been read. */
interface PendingCorrect {
  readonly scores: ReadonlyArray<[string, number]>;
  readonly key: string;
  readonly task: string;
  readonly fail: (field: string, reason: string) => never;
  readonly prediction: string | null;
  readonly label: string | null;
  /** The record has oe-eval's shape (a `metrics` object and a `model_output` list). */
  readonly olmes: boolean;
}
const PENDING = new WeakMap<object, PendingCorrect>();

/**
 * Sets `correct` and `correct_from` of a row whose record did not say. The task's primary metric
 * decides: the one its `-metrics.json` declares (for an OLMES record; a missing or non-0/1 score
 * leaves the question unjudged), else DataDecide's table when the record has that score. Then the
 * first of the default scores; then prediction = label. `--correct-from` overrides all of them.
 */
function decideCorrect(
  row: QaRow,
  primaryMetrics: ReadonlyMap<string, { metric: string; where: string }>,
  options: QaOptions,
): void {
  const pending = PENDING.get(row);
  if (!pending) return;
  const { scores, fail } = pending;
  // The task's -metrics.json is authoritative; DataDecide's table only when the record has the score.
  const declared = primaryMetrics.get(pending.key)?.metric;
  const primary = declared ?? dataDecidePrimaryMetric(pending.task);
  const score = primary === undefined ? undefined : scores.find(([name]) => name === primary);
  if (primary !== undefined && !options.correctFrom && ((declared && pending.olmes) || score)) {
    row.correct_from = primary;
    // A null primary score (acc_uncond of a task without unconditioned requests) leaves the
    // question unjudged; so does a score that is not 0/1 (an F1, say).
    row.correct = score && (score[1] === 0 || score[1] === 1) ? score[1] === 1 : null;
    return;
  }
  const names = options.correctFrom ? [options.correctFrom] : CORRECT_SCORES;
  const found = names.map((n) => scores.find(([s]) => s === n)).find((s) => s !== undefined);
  if (found) {
    row.correct = asBoolean(found[1], (why) => fail(`score ${found[0]}`, why));
    row.correct_from = found[0];
  } else if (pending.prediction !== null && pending.label !== null) {
    row.correct = pending.prediction.trim() === pending.label.trim();
    row.correct_from = 'prediction = label';
  }
}

/** Whether deciding a row's correctness by the fallback scores would fail (a score not 0/1). */
function fallbackMayFail(row: QaRow, options: QaOptions): boolean {
  const pending = PENDING.get(row);
  if (!pending) return false;
  const names = options.correctFrom ? [options.correctFrom] : CORRECT_SCORES;
  const found = names.map((n) => pending.scores.find(([s]) => s === n)).find((s) => s !== undefined);
  return found !== undefined && found[1] !== 0 && found[1] !== 1;
}

async function* readSource(
  source: QaInputFile,
  checkpoint: OlmesCheckpoint | undefined,
  options: QaOptions,
  scoreKinds: Map<string, { kind: 'number' | 'text'; where: string }>,
  maxLineBytes: number,
): AsyncGenerator<QaRow> {
  const file = source.label;
  const checkpointRun = checkpoint
    ? `${checkpoint.recipe}/${checkpoint.params}/seed-${checkpoint.trainingSeed}/step-${checkpoint.step}`
    : null;
  // The directory below the input names the run, as before, unless it is a strict tail of the
  // OLMES checkpoint (a tree given below its recipe directories): then the whole checkpoint does,
  // so `150M/seed-14/step-25000` of two recipes never share a run id (and replace each other).
  const runDirectory =
    checkpointRun && source.runDirectory && checkpointRun.endsWith(`/${source.runDirectory}`)
      ? checkpointRun
      : source.runDirectory;
  const fileTask = source.task ?? taskFromFileName(source.logical);
  const directory = path.posix.dirname(source.logical);
  for await (const { text: line, lineNo } of jsonlLines(source, maxLineBytes)) {
    if (line.trim() === '') continue;
    const fail = (field: string, reason: string): never => {
      throw new InputFileError(file, `line ${lineNo}${field ? `, field "${field}"` : ''}: ${reason}`);
    };
    let record: Record<string, unknown>;
    // Before parsing: the per-record checks and the row validation recurse into values.
    assertJsonDepth(line, `${file}: line ${lineNo}`);
    try {
      // Python's json.dumps (oe-eval's save_jsonl) writes NaN and Infinity as bare tokens.
      record = parseWandbJson(line) as Record<string, unknown>;
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

    const task = asText(pick(TASK_FIELDS), 'the task') ?? options.task ?? fileTask;
    const run = asText(pick(RUN_FIELDS), 'the run') ?? options.run ?? (runDirectory || checkpointRun || null);
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
    let correctFrom: string | null = null;
    let pending = false;
    const explicit = pick(CORRECT_FIELDS);
    if (explicit) {
      correct = asBoolean(explicit[1], (why) => fail(explicit[0], why));
      correctFrom = explicit[0];
    } else pending = true;

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
      params: checkpoint?.params ?? null,
      data: checkpoint?.data ?? null,
      recipe: checkpoint?.recipe ?? null,
      seed: checkpoint?.seed ?? null,
      seed_name: checkpoint?.seedName ?? null,
      training_seed: checkpoint?.trainingSeed ?? null,
      step: checkpoint?.step ?? null,
      instance_id: instance,
      doc_id: docId,
      prediction,
      label,
      correct,
      correct_from: correctFrom,
      score_names: scores.map(([n]) => n),
      score_values: scores.map(([, v]) => v),
      extra_json: Object.keys(extra).length > 0 ? toJsonText(extra) : null,
      source_file: source.name,
      source_line: lineNo,
    };
    ROW_FILE.set(row, file);
    if (pending) {
      const olmes =
        record.metrics !== null &&
        typeof record.metrics === 'object' &&
        !Array.isArray(record.metrics) &&
        Array.isArray(record.model_output);
      PENDING.set(row, { scores, key: `${directory}\0${task}`, task, fail, prediction, label, olmes });
    }
    yield row;
  }
}

function taskFromFileName(file: string): string {
  return path.posix
    .basename(file)
    .replace(/\.(jsonl|ndjson)$/i, '')
    .replace(/[-_]predictions$/i, '')
    .replace(/^task-\d+-/, '');
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
