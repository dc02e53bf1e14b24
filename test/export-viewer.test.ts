import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runlake } from './helpers/cli.js';
import { tempDir } from './helpers/lake-fixtures.js';

describe('runlake export-viewer', () => {
  const dir = tempDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the packaged standalone viewer, one self-contained HTML file', () => {
    const { code, stdout } = runlake('export-viewer');
    expect(code).toBe(0);
    const file = stdout.trim();
    expect(file).toMatch(/web[/\\]dist[/\\]viewer\.html$/);
    const html = readFileSync(file, 'utf8');
    expect(html).toMatch(/<title>[^<]*viewer/i);
    // Opened from file://, a page cannot load module scripts or styles next to it: all is inline.
    expect(html).not.toMatch(/<script[^>]*\ssrc=/);
    expect(html).not.toMatch(/<link[^>]*rel="stylesheet"[^>]*href=/);
  });

  it('copies it to --out, and refuses to overwrite without --force', () => {
    const out = path.join(dir, 'visualize_results.html');
    const first = runlake('export-viewer', '--out', out);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('visualize_results.html');
    const packaged = readFileSync(runlake('export-viewer').stdout.trim());
    expect(readFileSync(out).equals(packaged)).toBe(true);

    writeFileSync(out, 'mine');
    const refused = runlake('export-viewer', '--out', out);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/exists; pass --force/);
    expect(readFileSync(out, 'utf8')).toBe('mine');
    expect(runlake('export-viewer', '--out', out, '--force').code).toBe(0);
    expect(readFileSync(out).equals(packaged)).toBe(true);

    const directory = runlake('export-viewer', '--out', dir);
    expect(directory.code).toBe(1);
    expect(directory.stderr).toMatch(/is a directory/);
  });
});
