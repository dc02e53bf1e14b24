import { readdir, readFile, rmdir, unlink } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { RunlakeError } from '../../lake/errors.js';
import { fileSystemError } from '../../lake/fs-errors.js';
import { IngestLockedError, readIngestLock } from './ingest-lock.js';
import { IngestService, openTrackingLake } from './ingest-service.js';

/** Where `runlake sync` uploads a spool: a lake directory, or a remote server's URL. */
export type SyncTarget = { readonly lake: string } | { readonly url: string; readonly token?: string };

/** What {@link syncSpool} did. */
export interface SyncResult {
  readonly clients: number;
  /** Frames the target stored. */
  readonly stored: number;
  /** Frames it had already (an earlier, interrupted sync, or the client's own reconnect). */
  readonly duplicates: number;
  /** One line per client whose frames could not all be uploaded. */
  readonly problems: readonly string[];
}

/** One answer to an uploaded frame: the HTTP status and the JSON body. */
type Answer = { readonly status: number; readonly body: Record<string, unknown> };
type Upload = (frame: Uint8Array) => Promise<Answer>;

const FRAME_FILE = /^(\d+)\.rlb$/;

/**
 * Uploads a client spool (docs/tracking.md, "The spool") to a lake or a server, every client's
 * frames in sequence order. Deduplication on the server side makes it idempotent: frames
 * already stored are acknowledged again and not stored twice. Uploaded frames are deleted unless
 * `keep` is set. A lake another live server ingests is written through that server (its socket
 * or URL); otherwise the lake's ingest service runs in this process for the upload and folds
 * before returning.
 *
 * @example
 * ```ts
 * const result = await syncSpool('~/.cache/runlake/spool', { lake: 'results' });
 * result.stored; // 12
 * ```
 */
export async function syncSpool(
  spool: string,
  target: SyncTarget,
  options: { readonly keep?: boolean } = {},
): Promise<SyncResult> {
  if ('url' in target)
    return uploadAll(await listSpool(spool), httpUpload(target.url, target.token), options);
  const lockFile = path.join(target.lake, '.runlake', 'ingest', 'server.lock');
  const lake = await openTrackingLake(target.lake);
  let service: IngestService | undefined;
  // A live server holding the lake takes the upload through its socket; one that dies meanwhile
  // (its socket refuses) leaves the lock to be taken over here, so try again a few times.
  for (let attempt = 0; service === undefined; attempt++) {
    try {
      service = await IngestService.open(lake, { foldIntervalMs: 0 });
    } catch (error) {
      const holder = await readIngestLock(lockFile);
      if (!(error instanceof IngestLockedError) || !holder) {
        lake.close();
        throw error;
      }
      if (holder.address.startsWith('http')) {
        lake.close();
        throw new RunlakeError(
          `${target.lake} is served by ${holder.address}; sync to that URL with --to ${holder.address} --token <write token>`,
        );
      }
      try {
        // Listed again on every attempt: an interrupted one deleted what it had uploaded.
        const result = await uploadAll(await listSpool(spool), socketUpload(holder.address), options);
        lake.close();
        return result;
      } catch (uploadError) {
        const code = (uploadError as NodeJS.ErrnoException).code;
        if ((code !== 'ECONNREFUSED' && code !== 'ENOENT') || attempt >= 20) {
          lake.close();
          throw uploadError;
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }
  try {
    const local: Upload = async (frame) => {
      try {
        return { status: 200, body: { ...(await service.accept(frame)) } };
      } catch (error) {
        return { status: 400, body: { error: (error as Error).message } };
      }
    };
    return await uploadAll(await listSpool(spool), local, options);
  } finally {
    await service.close();
    lake.close();
  }
}

interface SpoolClient {
  readonly client: string;
  readonly directory: string;
  readonly frames: readonly { readonly seq: number; readonly file: string }[];
}

async function listSpool(spool: string): Promise<SpoolClient[]> {
  let names: string[];
  try {
    names = await readdir(spool);
  } catch (error) {
    throw fileSystemError(error, spool, 'read');
  }
  const clients: SpoolClient[] = [];
  for (const client of names.sort()) {
    const directory = path.join(spool, client);
    let files: string[];
    try {
      files = await readdir(directory);
    } catch {
      continue; // not a client directory
    }
    const frames = files
      .map((name) => ({
        seq: Number(FRAME_FILE.exec(name)?.[1] ?? Number.NaN),
        file: path.join(directory, name),
      }))
      .filter((f) => Number.isSafeInteger(f.seq))
      .sort((a, b) => a.seq - b.seq);
    if (frames.length > 0) clients.push({ client, directory, frames });
  }
  return clients;
}

async function uploadAll(
  clients: readonly SpoolClient[],
  upload: Upload,
  options: { readonly keep?: boolean },
): Promise<SyncResult> {
  let stored = 0;
  let duplicates = 0;
  const problems: string[] = [];
  for (const { directory, frames } of clients) {
    let failed = false;
    for (const { file } of frames) {
      const answer = await upload(await readFile(file));
      if (answer.status !== 200) {
        problems.push(`${file}: ${String(answer.body.error ?? `HTTP ${answer.status}`)}`);
        failed = true;
        break;
      }
      if (answer.body.stored === true) stored++;
      else duplicates++;
      if (!options.keep) await unlink(file);
    }
    if (!failed && !options.keep) await rmdir(directory).catch(() => {});
  }
  return { clients: clients.length, stored, duplicates, problems };
}

function httpUpload(url: string, token: string | undefined): Upload {
  const endpoint = new URL('api/ingest/v1/batches', url.endsWith('/') ? url : `${url}/`);
  return async (frame) => {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-runlake-batch',
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      body: frame,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
}

function socketUpload(socketPath: string): Upload {
  return (frame) =>
    new Promise<Answer>((resolve, reject) => {
      const request = http.request(
        {
          socketPath,
          method: 'POST',
          path: '/api/ingest/v1/batches',
          headers: { 'Content-Type': 'application/x-runlake-batch', 'Content-Length': frame.byteLength },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            try {
              resolve({
                status: response.statusCode ?? 0,
                body: JSON.parse(Buffer.concat(chunks).toString()),
              });
            } catch (error) {
              reject(error);
            }
          });
        },
      );
      request.on('error', reject);
      request.end(frame);
    });
}
