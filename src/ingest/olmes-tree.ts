/**
 * Walks what `runlake ingest qa` is given, files, directories and tar archives alike, as one
 * stream of files: a directory is searched recursively for JSONL files, `<task>-metrics.json`
 * files and archives (`.tar.gz`, `.tgz`, `.tar`); an archive's members are streamed (never
 * extracted), and an archive inside an archive (DataDecide's recipe archive of checkpoint
 * tarballs) is streamed in turn. Each file is named by the path it would have if every archive
 * were extracted where it lies, so a packed checkpoint and its extracted directory give the same
 * run id and task.
 */
import { createReadStream, existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputFileError } from '../lake/index.js';
import { olmesFileKind } from './olmes-path.js';
import { isTarArchiveName, readTarArchive, safeMemberPath, type TarStreamEntry } from './tar-gz-stream.js';

/**
 * What a file found by {@link walkQaInputs} is for: `jsonl` records to ingest (`predictions` when
 * named `<task>-predictions.jsonl`), a task's `metrics` file, or a `skipped` one (an oe-eval side
 * file, or an archive member that is not a regular file or not JSONL).
 *
 * @example
 * ```ts
 * if (file.kind === 'metrics') primary.set(file.task, …);
 * ```
 */
export type QaFileKind = 'jsonl' | 'predictions' | 'metrics' | 'skipped';

/**
 * One file of the inputs, plain or an archive member. Read its bytes before asking for the next.
 *
 * @example
 * ```ts
 * for await (const file of walkQaInputs(['tree/'])) if (file.kind === 'predictions') read(file.bytes());
 * ```
 */
export interface QaInputFile {
  readonly kind: QaFileKind;
  /** How errors name it: the path, or `<archive>: member "<name>"` (outer archives first). */
  readonly label: string;
  /** `source_file`: the path below the directory given (or as given), `!` before each member. */
  readonly name: string;
  /** The path it would have if archives were extracted, below the directory given ('/'-separated). */
  readonly logical: string;
  /** {@link logical} made absolute (through the directory given), for reading the checkpoint from. */
  readonly absolute: string;
  /** The directory part of {@link logical} ('' at the top). */
  readonly runDirectory: string;
  /** The task the file name gives (`<task>-predictions.jsonl`, `task-<idx>-<task>-metrics.json`). */
  readonly task?: string;
  /** The file's bytes, in chunks; callable once. */
  bytes(): AsyncIterable<Buffer>;
}

/**
 * Counts of what a walk met besides the files it yields.
 *
 * @example
 * ```ts
 * const counts: QaWalkCounts = { archives: 0 };
 * ```
 */
export interface QaWalkCounts {
  /** Archives opened (nested ones included). */
  archives: number;
}

const toPosix = (p: string) => p.split(path.sep).join('/');

function classify(baseName: string): { kind: QaFileKind | 'archive' | 'ignored'; task?: string } {
  if (isTarArchiveName(baseName)) return { kind: 'archive' };
  const olmes = olmesFileKind(baseName);
  if (olmes.kind === 'predictions') return { kind: 'predictions', task: olmes.task };
  if (olmes.kind === 'metrics') return { kind: 'metrics', task: olmes.task };
  if (olmes.kind === 'side') return { kind: 'skipped', task: olmes.task };
  if (/\.(jsonl|ndjson)$/i.test(baseName)) return { kind: 'jsonl' };
  return { kind: 'ignored' };
}

/**
 * Yields every file of `inputs` to read (see {@link QaInputFile}); `counts` gathers the archives
 * opened. Directories are walked in name order. Missing inputs, unreadable archives and unsafe
 * member paths throw, naming the file (and member).
 *
 * @example
 * ```ts
 * const counts = { archives: 0 };
 * for await (const file of walkQaInputs(['tree/', 'dolma1.7.tar.gz'], counts)) console.log(file.kind, file.name);
 * ```
 */
export async function* walkQaInputs(
  inputs: readonly string[],
  counts: QaWalkCounts = { archives: 0 },
): AsyncGenerator<QaInputFile> {
  const seen = new Set<string>();
  for (const input of inputs) {
    if (!existsSync(input)) throw new InputFileError(input, 'no such file or directory');
    if ((await stat(input)).isDirectory()) {
      for (const relative of await walkDirectory(input, '')) {
        const file = path.join(input, relative);
        if (seen.has(path.resolve(file))) continue;
        seen.add(path.resolve(file));
        yield* plainFile(file, relative, path.resolve(input), counts);
      }
    } else {
      if (seen.has(path.resolve(input))) continue;
      seen.add(path.resolve(input));
      const given = toPosix(path.normalize(input));
      yield* plainFile(input, given, path.resolve(path.dirname(input)), counts, true);
    }
  }
}

async function walkDirectory(root: string, relative: string): Promise<string[]> {
  const entries = await readdir(path.join(root, relative), { withFileTypes: true });
  const found: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const child = relative ? `${relative}/${entry.name}` : entry.name;
    if (entry.isDirectory()) found.push(...(await walkDirectory(root, child)));
    else if (classify(entry.name).kind === 'ignored') continue;
    // A symbolic link to a file is read; links to directories are not followed (no cycles).
    else if (entry.isFile() || (entry.isSymbolicLink() && (await isFile(path.join(root, child))))) {
      found.push(child);
    }
  }
  return found;
}

async function isFile(file: string): Promise<boolean> {
  return stat(file).then(
    (info) => info.isFile(),
    () => false,
  );
}

async function* plainFile(
  file: string,
  relative: string,
  base: string,
  counts: QaWalkCounts,
  givenDirectly = false,
): AsyncGenerator<QaInputFile> {
  const baseName = path.basename(file);
  const { kind, task } = classify(baseName);
  // A file given directly keeps its name as given; its run directory is '' (the run then comes
  // from the record, --run, or an OLMES path).
  const logical = relative;
  const absolute = givenDirectly ? toPosix(path.resolve(file)) : `${toPosix(base)}/${relative}`;
  const runDirectory = givenDirectly
    ? ''
    : path.posix.dirname(relative) === '.'
      ? ''
      : path.posix.dirname(relative);
  if (kind === 'archive') {
    counts.archives++;
    yield* archiveMembers(
      readTarArchive(createReadStream(file), baseName, file),
      { label: file, name: relative, logical, absolute, runDirectory, givenDirectly },
      counts,
    );
    return;
  }
  if (kind === 'ignored') {
    // Given directly: read as JSONL whatever the extension, as before.
    yield {
      kind: 'jsonl',
      label: file,
      name: relative,
      logical,
      absolute,
      runDirectory,
      bytes: () => fileChunks(file),
    };
    return;
  }
  yield {
    kind,
    task,
    label: file,
    name: relative,
    logical,
    absolute,
    runDirectory,
    bytes: () => fileChunks(file),
  };
}

async function* fileChunks(file: string): AsyncIterable<Buffer> {
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 16 })) yield chunk as Buffer;
}

interface Container {
  readonly label: string;
  readonly name: string;
  readonly logical: string;
  readonly absolute: string;
  readonly runDirectory: string;
  readonly givenDirectly: boolean;
}

/** Where a member would land if its archive were extracted next to it. */
function memberPath(containerPath: string, member: string): string {
  const directory = path.posix.dirname(containerPath);
  const stem = path.posix.basename(containerPath).replace(/\.(tar\.gz|tgz|tar)$/i, '');
  // `step-N.tar.gz` holds `step-N/<file>`; a member without a directory lands in one named
  // after the archive, so both spellings give the same path.
  const placed = member.includes('/') ? member : `${stem}/${member}`;
  return directory === '.' || directory === '' ? placed : `${directory}/${placed}`;
}

async function* archiveMembers(
  entries: AsyncGenerator<TarStreamEntry>,
  container: Container,
  counts: QaWalkCounts,
): AsyncGenerator<QaInputFile> {
  for await (const entry of entries) {
    if (entry.type === 'directory') continue;
    const member = safeMemberPath(entry.name, container.label);
    const label = `${container.label}: member ${JSON.stringify(member)}`;
    const archiveStep = /(?:^|\/)step-?(\d+)\.(?:tar\.gz|tgz|tar)$/i.exec(container.logical)?.[1];
    const memberStep = /^step-?(\d+)\//i.exec(member)?.[1];
    if (archiveStep !== undefined && memberStep !== undefined && Number(archiveStep) !== Number(memberStep)) {
      // DataDecide's step-N.tar.gz holds step-N/…: a different step means a mislabelled archive.
      throw new InputFileError(label, `is in step-${memberStep}/ but the archive is step-${archiveStep}`);
    }
    const name = `${container.name}!${member}`;
    const logical = memberPath(container.logical, member);
    const absolute = memberPath(container.absolute, member);
    const directory = path.posix.dirname(logical);
    // A run directory for members of an archive given directly comes from the member path only
    // when the archive itself was found in a directory; given directly, the OLMES path decides.
    const runDirectory = container.givenDirectly ? '' : directory === '.' ? '' : directory;
    const baseName = path.posix.basename(member);
    const { kind, task } = classify(baseName);
    if (entry.type !== 'file' || kind === 'ignored') {
      yield { kind: 'skipped', label, name, logical, absolute, runDirectory, bytes: () => entry.chunks() };
      continue;
    }
    if (kind === 'archive') {
      counts.archives++;
      yield* archiveMembers(
        readTarArchive(entry.chunks(), baseName, label),
        { label, name, logical, absolute, runDirectory, givenDirectly: container.givenDirectly },
        counts,
      );
      continue;
    }
    yield { kind, task, label, name, logical, absolute, runDirectory, bytes: () => entry.chunks() };
  }
}
