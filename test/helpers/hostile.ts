import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { runlake } from './cli.js';

/**
 * A fingerprint of everything below `dir`: every entry's relative path, type, mode and content
 * hash (symlinks by their target, never followed). Two equal fingerprints mean the tree is
 * byte-identical, hidden bookkeeping (`.runlake/`, lock files, SQLite -wal/-shm) included.
 */
export function treeFingerprint(dir: string): string[] {
  const out: string[] = [];
  const walk = (relative: string) => {
    const full = path.join(dir, relative);
    let entries: string[];
    try {
      entries = readdirSync(full).sort();
    } catch {
      return;
    }
    for (const name of entries) {
      const rel = path.join(relative, name);
      const stat = lstatSync(path.join(dir, rel));
      if (stat.isSymbolicLink()) out.push(`${rel} -> ${readlinkSync(path.join(dir, rel))}`);
      else if (stat.isDirectory()) {
        out.push(`${rel}/ ${stat.mode.toString(8)}`);
        walk(rel);
      } else {
        const hash = createHash('sha256')
          .update(readFileSync(path.join(dir, rel)))
          .digest('hex');
        out.push(`${rel} ${stat.mode.toString(8)} ${stat.size} ${hash}`);
      }
    }
  };
  walk('');
  return out;
}

/** What {@link expectRefused} checks a failed command against. */
export interface Refusal {
  /** Text the one error line must contain (the file name, a line number, the cause…). */
  readonly mentions: readonly (string | RegExp)[];
  /** Directories that must be byte-identical before and after (usually the lake). */
  readonly unchanged?: readonly string[];
}

/**
 * Runs `runlake …args` and asserts the hostile-input contract: a non-zero exit (not a signal,
 * not a crash), exactly one line on stderr that contains every `mentions` item and no stack
 * trace, and every `unchanged` directory byte-identical before and after.
 *
 * @example
 * ```ts
 * expectRefused(['convert', csvDir, lake], { mentions: ['ragged.csv', 'line 3'], unchanged: [lake] });
 * ```
 */
export function expectRefused(args: readonly string[], refusal: Refusal): string {
  const before = (refusal.unchanged ?? []).map(treeFingerprint);
  const result = runlake(...args);
  const after = (refusal.unchanged ?? []).map(treeFingerprint);
  const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
  const context = `runlake ${args.join(' ')}\nexit ${result.code}\nstderr:\n${result.stderr}`;
  expect(result.code, context).not.toBe(0);
  expect(result.code, context).not.toBeNull();
  expect(lines, context).toHaveLength(1);
  const line = lines[0] ?? '';
  expect(line, context).not.toMatch(/^\s+at |Segmentation|Maximum call stack|unexpected error/i);
  for (const mention of refusal.mentions) {
    if (typeof mention === 'string') expect(line, context).toContain(mention);
    else expect(line, context).toMatch(mention);
  }
  after.forEach((tree, i) => {
    expect(tree, `${context}\n${refusal.unchanged?.[i]} changed`).toEqual(before[i]);
  });
  return line;
}
