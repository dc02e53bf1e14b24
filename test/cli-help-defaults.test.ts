/**
 * Help texts and counts in CLI messages: no option of any command shows its default twice (a
 * hand-written "(default 20)" in the description and commander's own "(default: 20)"), and
 * counts read "1 row", not "1 rows". Runs the built CLI.
 */
import { describe, expect, it } from 'vitest';
import { countOf } from '../src/cli/output.js';
import { runlake } from './helpers/cli.js';

/** Command names listed under "Commands:" of a help text. */
function commandsOf(help: string): string[] {
  const at = help.indexOf('Commands:');
  if (at < 0) return [];
  return [...help.slice(at).matchAll(/^ {2}([a-z][a-z0-9-]*)/gm)]
    .map((m) => m[1] as string)
    .filter((name) => name !== 'help');
}

describe('CLI help texts', () => {
  it('show each default once, in every command and subcommand', () => {
    const twice: string[] = [];
    const visit = (path: string[]) => {
      const { stdout } = runlake(...path, '--help');
      const flat = stdout.replace(/\s+/g, ' ');
      for (const m of flat.matchAll(/\(default[^()]*\)\s*\(default[^()]*\)/g))
        twice.push(`${path.join(' ')}: ${m[0]}`);
      if (path.length < 2) for (const sub of commandsOf(stdout)) visit([...path, sub]);
    };
    visit([]);
    expect(twice).toEqual([]);
    const compact = runlake('compact', '--help').stdout.replace(/\s+/g, ' ');
    expect(compact).toContain('size of the merged files (default: 128.0 MiB)');
    const wandb = runlake('ingest', 'wandb', '--help').stdout.replace(/\s+/g, ' ');
    expect(wandb).toContain('--wide auto picks (default: 20)');
  });

  it('pluralise counts', () => {
    expect(countOf(1, 'row')).toBe('1 row');
    expect(countOf(0, 'row')).toBe('0 rows');
    expect(countOf(12_000, 'full_eval row')).toBe('12,000 full_eval rows');
  });
});
