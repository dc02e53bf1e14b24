import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openLake, writeEventRows } from '../src/index.js';
import { runlake } from './helpers/cli.js';
import { tempDir } from './helpers/lake-fixtures.js';

const SQUIGGLE_NAMES = [
  'runs',
  'checkpoints',
  'samples',
  'metrics_scalar',
  'geometry_state',
  'geometry_dynamics',
  'events',
  'signatures',
  'matches',
  'embeddings',
  'attention_summary',
];
/** The squiggle set also holds the ingested evaluation tables, and their views. */
const SET_NAMES = [...SQUIGGLE_NAMES, 'full_eval', 'qa_outputs'];
const SET_VIEWS = ['mean_eval', 'std_eval', 'full_eval_wide', 'qa_scores', 'qa_task_summary'];

interface SchemaJson {
  schema_set: string;
  enums: Array<{ name: string; extensible: boolean; values: Array<{ value: string }> }>;
  datasets: Array<{
    name: string;
    partition_by: string[];
    columns: Array<{ name: string; type: string; nullable: boolean; partition: boolean; enum?: string }>;
  }>;
}

/** A squiggle lake with one small write, so the CLI opens it as squiggle. */
async function squiggleLake(): Promise<string> {
  const dir = path.join(tempDir('runlake-sq-cli-'), 'lake');
  const lake = await openLake(dir, { schema: 'squiggle' });
  try {
    await lake.write('geometry_state', [
      {
        run_id: 'r1',
        sample_set: 'fixed_v1',
        module: 'resid_post',
        step: 100,
        sample_id: '*',
        layer: 3,
        n_samples: 64,
        dim: 32,
        effective_rank: 12.5,
        top_eigenvalues: [4, 2.5],
      },
      {
        run_id: 'r1',
        sample_set: 'fixed_v1',
        module: 'resid_post',
        step: 200,
        sample_id: '*',
        layer: 3,
        n_samples: 64,
        dim: 32,
        effective_rank: 9.25,
      },
    ]);
  } finally {
    lake.close();
  }
  return dir;
}

describe('runlake schema', () => {
  it('prints Markdown by default, naming the eleven datasets, the ingested tables and the three enum domains', () => {
    const result = runlake('schema');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('# The squiggle datasets');
    const headings = [...result.stdout.matchAll(/^### `([a-z_]+)`$/gm)].map((m) => m[1]);
    expect(headings).toEqual(['split', 'module', 'event_type', ...SET_NAMES, ...SET_VIEWS]);
    for (const name of SET_NAMES) expect(result.stdout).toContain(`\`${name}\``);
    expect(result.stdout).toMatch(/\| `layer` \| `SMALLINT` \| no \|/);
  });

  it('prints JSON with the eleven datasets plus the ingested tables, and their declared types', () => {
    const result = runlake('schema', '--format', 'json');
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as SchemaJson;
    expect(json.schema_set).toBe('squiggle');
    expect(json.datasets.map((d) => d.name)).toEqual(SET_NAMES);
    expect(json.enums.map((e) => [e.name, e.extensible])).toEqual([
      ['split', false],
      ['module', true],
      ['event_type', true],
    ]);
    const withLayer = json.datasets.filter((d) => d.columns.some((c) => c.name === 'layer'));
    expect(withLayer.map((d) => d.name).sort()).toEqual(
      [
        'attention_summary',
        'embeddings',
        'events',
        'geometry_dynamics',
        'geometry_state',
        'signatures',
      ].sort(),
    );
    for (const d of withLayer) {
      expect(d.columns.find((c) => c.name === 'layer')?.type, d.name).toBe('SMALLINT');
    }
    const events = json.datasets.find((d) => d.name === 'events');
    expect(events?.partition_by).toEqual(['run_id', 'event_type']);
    expect(events?.columns.find((c) => c.name === 'event_type')).toMatchObject({
      partition: true,
      nullable: false,
      enum: 'event_type',
    });
    expect(events?.columns.find((c) => c.name === 'layer')?.nullable).toBe(true);
    const signatures = json.datasets.find((d) => d.name === 'signatures');
    expect(signatures?.columns.find((c) => c.name === 'vector')?.type).toBe('FLOAT[]');
  });

  it('prints one dataset when asked', () => {
    const result = runlake('schema', 'geometry_state', '--format', 'json');
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as SchemaJson;
    expect(json.datasets).toHaveLength(1);
    expect(json.datasets[0]?.name).toBe('geometry_state');
    expect(json.datasets[0]?.partition_by).toEqual(['run_id', 'sample_set', 'module']);
    const markdown = runlake('schema', 'geometry_state');
    expect(markdown.code).toBe(0);
    expect(markdown.stdout).toContain('### `geometry_state`');
    expect(markdown.stdout).not.toContain('### `events`');
  });

  it('refuses an unknown dataset, naming the known ones', () => {
    const result = runlake('schema', 'nope');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `runlake: the squiggle schema set has no dataset "nope" (${SET_NAMES.join(', ')})\n`,
    );
  });

  it('prints the sweep set with --schema sweep', () => {
    const result = runlake('schema', '--schema', 'sweep');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('# The sweep datasets');
    const headings = [...result.stdout.matchAll(/^### `([a-z_]+)`$/gm)].map((m) => m[1]);
    expect(headings).toEqual(['events', 'seeds']);
    const json = JSON.parse(runlake('schema', '--schema', 'sweep', '--format', 'json').stdout) as SchemaJson;
    expect(json.datasets.map((d) => d.name)).toEqual(['events', 'seeds']);
    expect(json.datasets[0]?.partition_by).toEqual(['grid_id', 'seed']);
  });

  it('refuses an unknown schema set and an unknown format', () => {
    const set = runlake('schema', '--schema', 'nope');
    expect(set.code).toBe(1);
    expect(set.stderr).toMatch(/^runlake: unknown schema set "nope" \(known: .*squiggle.*\)\n$/);
    const format = runlake('schema', '--format', 'yaml');
    expect(format.code).not.toBe(0);
    expect(format.stderr).toContain("argument 'yaml' is invalid");
  });
});

describe('runlake enum', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await squiggleLake();
  });

  function table(stdout: string): string[][] {
    return stdout
      .trim()
      .split('\n')
      .slice(2) // header and rule
      .map((line) => line.split('|').map((cell) => cell.trim()));
  }

  it('lists the three domains with their canonical values', () => {
    const result = runlake('enum', dir);
    expect(result.code, result.stderr).toBe(0);
    const rows = table(result.stdout);
    expect([...new Set(rows.map((r) => r[0]))]).toEqual(['split', 'module', 'event_type']);
    expect(rows.filter((r) => r[0] === 'split').map((r) => r[1])).toEqual(['train', 'val', 'probe']);
    expect(rows.filter((r) => r[0] === 'module').map((r) => r[1])).toEqual([
      'resid_pre',
      'attn_out',
      'mlp_out',
      'resid_post',
      'logits',
    ]);
    expect(rows.filter((r) => r[0] === 'event_type')).toHaveLength(5);
    expect(rows.every((r) => r[2] === 'canonical')).toBe(true);
    const only = runlake('enum', dir, 'split');
    expect(table(only.stdout).map((r) => r[0])).toEqual(['split', 'split', 'split']);
  });

  it('records a new event_type value that later commands list and accept', () => {
    const add = runlake(
      'enum',
      dir,
      'event_type',
      '--add',
      'grokking',
      '--description',
      'late generalisation',
    );
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toBe(`recorded event_type value "grokking" in ${dir}\n`);
    const recorded = JSON.parse(readFileSync(path.join(dir, '.runlake/enums/event_type.json'), 'utf8'));
    expect(recorded.values).toEqual([{ value: 'grokking', description: 'late generalisation' }]);

    const rows = table(runlake('enum', dir, 'event_type').stdout);
    expect(rows.at(-1)).toEqual(['event_type', 'grokking', 'lake', 'late generalisation']);
    expect(rows).toHaveLength(6);

    // A later import in another process takes the value.
    const file = path.join(path.dirname(dir), 'grok.jsonl');
    writeFileSync(
      file,
      `${JSON.stringify({
        run_id: 'r1',
        event_type: 'grokking',
        event_id: 'g1',
        step: 5000,
        sample_set: 'fixed_v1',
        detector: 'grok/v1',
        magnitude: 0.5,
        confidence: 0.75,
      })}\n`,
    );
    const imported = runlake('import', dir, 'events', file);
    expect(imported.code, imported.stderr).toBe(0);
    expect(existsSync(path.join(dir, 'events', 'run_id=r1', 'event_type=grokking'))).toBe(true);
    const validated = runlake('validate', dir);
    expect(validated.code, validated.stdout).toBe(0);
    // Adding it again changes nothing.
    expect(runlake('enum', dir, 'event_type', '--add', 'grokking', '--description', 'other').code).toBe(0);
    expect(table(runlake('enum', dir, 'event_type').stdout).at(-1)).toEqual([
      'event_type',
      'grokking',
      'lake',
      'late generalisation',
    ]);
  });

  it('refuses to add to the closed split domain', () => {
    const result = runlake('enum', dir, 'split', '--add', 'test', '--description', 'test data');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'runlake: split value "test": the split domain is closed (train, val, probe)\n',
    );
    expect(existsSync(path.join(dir, '.runlake/enums/split.json'))).toBe(false);
    expect(table(runlake('enum', dir, 'split').stdout).map((r) => r[1])).toEqual(['train', 'val', 'probe']);
  });

  it('refuses an unknown domain, a badly spelled value and an --add without description', () => {
    const domain = runlake('enum', dir, 'nope');
    expect(domain.code).toBe(1);
    expect(domain.stderr).toBe(
      'runlake: the squiggle schema set has no enum domain "nope" (split, module, event_type)\n',
    );
    const spelling = runlake('enum', dir, 'module', '--add', 'Attn-Q', '--description', 'queries');
    expect(spelling.code).toBe(1);
    expect(spelling.stderr).toMatch(
      /^runlake: module value "Attn-Q": enum values are lower-case identifiers/,
    );
    const bare = runlake('enum', dir, 'module', '--add', 'attn_q');
    expect(bare.code).toBe(1);
    expect(bare.stderr).toBe('runlake: --add needs --description <text>: say what the value means\n');
    const noDomain = runlake('enum', dir, '--add', 'attn_q', '--description', 'queries');
    expect(noDomain.code).toBe(1);
    expect(noDomain.stderr).toMatch(/^runlake: --add needs a domain/);
    expect(existsSync(path.join(dir, '.runlake/enums/module.json'))).toBe(false);
  });

  it('reports that a sweep lake has no enum domains', async () => {
    const sweep = path.join(tempDir(), 'sweep');
    await writeEventRows([{ seed: 1, event_id: 0, regret: 0.5 }], sweep, { algo: 'sgd' });
    const result = runlake('enum', sweep);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('runlake: the sweep schema set has no enum domains\n');
  });
});

describe('runlake query over a squiggle lake', () => {
  it('reads a typed dataset as JSON', async () => {
    const dir = await squiggleLake();
    const result = runlake('query', dir, 'geometry_state', '--limit', '1', '--format', 'json');
    expect(result.code, result.stderr).toBe(0);
    const rows = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(Object.keys(rows[0] as object).slice(0, 8)).toEqual([
      'run_id',
      'sample_set',
      'module',
      'step',
      'sample_id',
      'layer',
      'n_samples',
      'dim',
    ]);
    const all = JSON.parse(
      runlake('query', dir, 'geometry_state', '--format', 'json', '--columns', 'step,layer,top_eigenvalues')
        .stdout,
    );
    expect(all.sort((a: { step: number }, b: { step: number }) => a.step - b.step)).toEqual([
      { step: 100, layer: 3, top_eigenvalues: [4, 2.5] },
      { step: 200, layer: 3, top_eigenvalues: null },
    ]);
    const typed = JSON.parse(
      runlake(
        'query',
        dir,
        '--sql',
        'SELECT typeof(layer) AS layer, typeof(n_samples) AS n FROM geometry_state LIMIT 1',
        '--format',
        'json',
      ).stdout,
    );
    expect(typed).toEqual([{ layer: 'SMALLINT', n: 'INTEGER' }]);
  });
});

describe('runlake demo', () => {
  let root: string;
  let stdout: string;
  beforeAll(() => {
    root = tempDir('runlake-sq-demo-');
    const result = runlake('demo', '--out', path.join(root, 'demo'), '--seeds', '1', '--events', '100');
    expect(result.code, result.stderr).toBe(0);
    stdout = result.stdout;
  });

  it('writes a squiggle lake beside the sweep lake, with every dataset non-empty', async () => {
    const squiggle = path.join(root, 'demo-squiggle');
    expect(JSON.parse(readFileSync(path.join(squiggle, '.runlake/lake.json'), 'utf8'))).toMatchObject({
      schema: 'squiggle',
    });
    expect(JSON.parse(readFileSync(path.join(root, 'demo', '.runlake/lake.json'), 'utf8'))).toMatchObject({
      schema: 'sweep',
    });
    const lake = await openLake(squiggle);
    try {
      expect(lake.schemaSet.name).toBe('squiggle');
      for (const name of SQUIGGLE_NAMES) {
        const [row] = await lake.query(`SELECT count(*) AS n FROM ${name}`);
        expect(row?.n, name).toBeGreaterThan(0);
      }
    } finally {
      lake.close();
    }
    expect(stdout).toMatch(
      /wrote the inputs of a synthetic Squiggle lake to .*demo-squiggle\/ \([\d,]+ rows in 6 datasets/,
    );
    for (const name of [
      'runs',
      'samples',
      'checkpoints',
      'metrics_scalar',
      'embeddings',
      'attention_summary',
    ])
      expect(stdout).toMatch(new RegExp(`^ {2}${name}/: [\\d,]+ rows$`, 'm'));
    // The rest is derived by the analysis, and the planted events are found.
    expect(stdout).toMatch(/runlake analyze .*: 672 checkpoints of 32 trajectories/);
    expect(stdout).toMatch(/^bifurcation\s+\|\s+8 \|\s+8 \|\s+8 \|\s+1 \|\s+1$/m);
    expect(stdout).toMatch(/^rank_collapse\s+\|\s+40 \|\s+40 \|\s+40 \|\s+1 \|\s+1$/m);
  });

  it('prints that the squiggle lake validates, and it does', () => {
    const squiggle = path.join(root, 'demo-squiggle');
    expect(stdout).toContain(
      `runlake validate ${squiggle}: ok (13 datasets, every file matches its schema, every shard_ref resolves)`,
    );
    const result = runlake('validate', squiggle);
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toMatch(
      /^ok: 13 datasets \(squiggle schema\), \d+ files, [\d,]+ rows, no violations\n$/,
    );
  });

  it('honours --squiggle-out', () => {
    const out = path.join(root, 'elsewhere');
    const result = runlake(
      'demo',
      '--out',
      path.join(root, 'demo2'),
      '--squiggle-out',
      out,
      '--seeds',
      '1',
      '--events',
      '50',
    );
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(path.join(out, '.runlake/lake.json'))).toBe(true);
    expect(existsSync(path.join(root, 'demo2-squiggle'))).toBe(false);
    expect(result.stdout).toContain(`runlake validate ${out}: ok`);
  });
});
