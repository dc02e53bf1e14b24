/**
 * Help texts and counts in CLI messages: no option of any command shows its default twice (a
 * hand-written "(default 20)" in the description and commander's own "(default: 20)"), and
 * counts read "1 row", not "1 rows". Runs the built CLI.
 */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { countOf } from '../src/cli/output.js';
import { RUNLAKE_BIN } from './helpers/cli.js';

/** Command names listed under "Commands:" of a help text. */
function commandsOf(help: string): string[] {
  const at = help.indexOf('Commands:');
  if (at < 0) return [];
  return [...help.slice(at).matchAll(/^ {2}([a-z][a-z0-9-]*)/gm)]
    .map((m) => m[1] as string)
    .filter((name) => name !== 'help');
}

/** `runlake …args --help`, without blocking the other spawns (they run two at a time or more). */
function help(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [RUNLAKE_BIN, ...args, '--help'], { timeout: 120_000 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    );
  });
}

describe('CLI help texts', () => {
  it('show each default once, in every command and subcommand', async () => {
    const top = await help();
    const commands = commandsOf(top);
    const pages = new Map<string, string>([['', top]]);
    await Promise.all(commands.map(async (c) => pages.set(c, await help(c))));
    const subs = commands.flatMap((c) => commandsOf(pages.get(c) ?? '').map((s) => `${c} ${s}`));
    await Promise.all(subs.map(async (path) => pages.set(path, await help(...path.split(' ')))));
    expect(pages.size).toBeGreaterThan(30);
    const twice: string[] = [];
    for (const [path, page] of pages) {
      const flat = page.replace(/\s+/g, ' ');
      for (const m of flat.matchAll(/\(default[^()]*\)\s*\(default[^()]*\)/g)) twice.push(`${path}: ${m[0]}`);
    }
    expect(twice).toEqual([]);
    expect(pages.get('compact')?.replace(/\s+/g, ' ')).toContain(
      'size of the merged files (default: 128.0 MiB)',
    );
    expect(pages.get('ingest wandb')?.replace(/\s+/g, ' ')).toContain('--wide auto picks (default: 20)');
  }, 300_000);

  it('pluralise counts', () => {
    expect(countOf(1, 'row')).toBe('1 row');
    expect(countOf(0, 'row')).toBe('0 rows');
    expect(countOf(12_000, 'full_eval row')).toBe('12,000 full_eval rows');
  });
});
