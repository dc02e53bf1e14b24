import { describe, expect, it } from 'vitest';
import {
  compileFilter,
  type FilterColumn,
  FilterError,
  parseFilter,
} from '../web/src/dashboard/filter-language.js';

// The runs table's filter language (web/src/dashboard/filter-language.ts) over a small table:
// run_id, run_name, the parameter lr, seed, status, tags (a list) and a summary column.

const COLUMNS: FilterColumn[] = [
  { id: 'run_id', key: 'run_id', kind: 'text' },
  { id: 'run_name', key: 'run_name', kind: 'text' },
  { id: 'params.lr', key: 'lr', kind: 'number' },
  { id: 'seed', key: 'seed', kind: 'number' },
  { id: 'status', key: 'status', kind: 'text' },
  { id: 'tags', key: 'tags', kind: 'list' },
  { id: 'final:train/loss', key: 'final:train/loss', kind: 'number' },
];

interface Run {
  id: string;
  name: string;
  lr: number;
  seed: number;
  status: string | null;
  tags: string[];
  loss: number | null;
}

const RUNS: Run[] = [];
for (const lr of [0.0003, 0.001, 0.003])
  for (const seed of [0, 1, 2, 3])
    RUNS.push({
      id: `tiny-lr${lr}-s${seed}`,
      name: `tiny lr=${lr} seed-${seed}`,
      lr,
      seed,
      status: seed === 3 ? 'failed' : seed === 2 ? null : 'finished',
      tags: seed === 0 ? ['baseline', 'probed'] : ['sweep'],
      loss: seed === 3 ? null : 1 + lr * 100 + seed / 10,
    });

function row(run: Run) {
  const values = [run.id, run.name, run.lr, run.seed, run.status, run.tags, run.loss];
  const texts = values.map((v) => (v === null ? '' : Array.isArray(v) ? v.join(', ') : String(v)));
  return { values, texts, haystack: texts.join('\u0000').toLowerCase() };
}

/** The run ids `filter` keeps. */
function ids(filter: string): string[] {
  const compiled = compileFilter(filter, COLUMNS);
  return RUNS.filter((r) => compiled.test(row(r))).map((r) => r.id);
}
const where = (pass: (r: Run) => boolean) => RUNS.filter(pass).map((r) => r.id);

/** The FilterError `filter` throws. */
function errorOf(filter: string): FilterError {
  try {
    compileFilter(filter, COLUMNS);
  } catch (error) {
    if (error instanceof FilterError) return error;
    throw error;
  }
  throw new Error(`"${filter}" compiled without an error`);
}

describe('filter language: what passes', () => {
  it('compares numbers with = != > >= < <=, with or without spaces', () => {
    expect(ids('seed>=2')).toEqual(where((r) => r.seed >= 2));
    expect(ids('seed <= 1')).toEqual(where((r) => r.seed <= 1));
    expect(ids('seed>2')).toEqual(where((r) => r.seed > 2));
    expect(ids('seed<1')).toEqual(where((r) => r.seed < 1));
    expect(ids('seed!=0')).toEqual(where((r) => r.seed !== 0));
    expect(ids('lr=0.001')).toEqual(where((r) => r.lr === 0.001));
    expect(ids('params.lr = 3e-3')).toEqual(where((r) => r.lr === 0.003));
  });

  it('joins terms by juxtaposition (AND), AND, OR, NOT and parentheses with the usual precedence', () => {
    expect(ids('seed>=2 lr=0.001')).toEqual(where((r) => r.seed >= 2 && r.lr === 0.001));
    expect(ids('seed>=2 AND lr=0.001')).toEqual(ids('seed>=2 lr=0.001'));
    expect(ids('seed=0 OR seed=3 AND lr=0.003')).toEqual(
      where((r) => r.seed === 0 || (r.seed === 3 && r.lr === 0.003)),
    );
    expect(ids('(seed=0 OR seed=3) AND lr=0.003')).toEqual(
      where((r) => (r.seed === 0 || r.seed === 3) && r.lr === 0.003),
    );
    expect(ids('NOT seed=0')).toEqual(where((r) => r.seed !== 0));
    expect(ids('not (seed=0 or seed=1) lr<0.001')).toEqual(where((r) => r.seed >= 2 && r.lr < 0.001));
  });

  it('matches regexes on a column (~, !~) or on any cell', () => {
    expect(ids('name ~ /seed-[12]$/')).toEqual(where((r) => r.seed === 1 || r.seed === 2));
    expect(ids('name ~ /SEED-0$/i')).toEqual(where((r) => r.seed === 0));
    expect(ids('run_id !~ /s[0-2]$/')).toEqual(where((r) => r.seed === 3));
    expect(ids('/lr0\\.003-s[01]/')).toEqual(where((r) => r.lr === 0.003 && r.seed <= 1));
  });

  it('finds tags with tag:x and `tags has x`, and empty cells with `key=`', () => {
    expect(ids('tag:baseline')).toEqual(where((r) => r.tags.includes('baseline')));
    expect(ids('tags has sweep')).toEqual(where((r) => r.tags.includes('sweep')));
    expect(ids('NOT tag:baseline')).toEqual(where((r) => !r.tags.includes('baseline')));
    expect(ids('status=')).toEqual(where((r) => r.status === null));
    expect(ids('status!=failed')).toEqual(where((r) => r.status !== 'failed'));
  });

  it('compares summary columns, leaving runs without a value out of <, > and =', () => {
    expect(ids('final:train/loss<1.2')).toEqual(where((r) => r.loss !== null && r.loss < 1.2));
    expect(ids('final:train/loss>=1')).toEqual(where((r) => r.loss !== null));
  });

  it('keeps free text: words and quoted phrases, case-insensitive', () => {
    expect(ids('S3')).toEqual(where((r) => r.seed === 3));
    expect(ids('"lr=0.003 seed"')).toEqual(where((r) => r.lr === 0.003));
    expect(ids('')).toHaveLength(12);
    expect(parseFilter('   ')).toBeNull();
  });
});

describe('filter language: errors name the term and the cause', () => {
  it('refuses a value that is not a number on a numeric column', () => {
    const error = errorOf('seed>=1 lr>abc');
    expect(error.term).toBe('lr>abc');
    expect(error.message).toBe('lr>abc: "abc" is not a number (lr is a numeric column)');
    expect(error.position).toBe(8);
  });

  it('refuses an unknown column, suggesting close names, and a summary column not in the table', () => {
    expect(errorOf('seeds=1').message).toBe('seeds=1: no column "seeds" (did you mean "seed"?)');
    expect(errorOf('bogus>1').message).toBe('bogus>1: no column "bogus"');
    expect(errorOf('min:loss<2').message).toContain('add the min of loss with "+ column" first');
  });

  it('refuses a regex that does not compile, or is never closed', () => {
    expect(errorOf('name ~ /seed-[12$/').message).toMatch(/^name ~ \/seed-\[12\$\/: bad regex: /);
    expect(errorOf('name ~ /abc').reason).toBe('the regex is never closed with /');
  });

  it('refuses syntax errors: dangling operators, unbalanced parentheses, missing values', () => {
    expect(errorOf('(seed=1 OR seed=2').reason).toBe('the parenthesis is never closed');
    expect(errorOf('seed=1)').reason).toBe('a closing parenthesis without an opening one');
    expect(errorOf('seed=1 OR').reason).toBe('OR needs a term after it');
    expect(errorOf('NOT').reason).toBe('NOT needs a term after it');
    expect(errorOf('seed>').reason).toBe('">" needs a value after it');
    expect(errorOf('>2').reason).toBe('">" needs a column name before it');
    expect(errorOf('tags>a').reason).toBe('tags has no order (it is a list column)');
    expect(errorOf('seed=/1/').reason).toBe('"/1/" is not a number (seed is a numeric column)');
    expect(errorOf('"open').reason).toBe('the quote is never closed');
  });

  it('is never silently wrong: every random filter either compiles or names a term it contains', () => {
    const atoms = [
      'seed',
      'lr',
      '>=',
      '<',
      '=',
      '!=',
      '2',
      'abc',
      'AND',
      'OR',
      'NOT',
      '(',
      ')',
      '~',
      '/s[1/',
      'tag:x',
      'bogus',
    ];
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let n = 0; n < 2000; n++) {
      const length = 1 + (next() % 6);
      const filter = Array.from({ length }, () => atoms[next() % atoms.length]).join(' ');
      try {
        const compiled = compileFilter(filter, COLUMNS);
        for (const run of RUNS) expect(typeof compiled.test(row(run))).toBe('boolean');
      } catch (error) {
        expect(error).toBeInstanceOf(FilterError);
        const e = error as FilterError;
        expect(e.reason.length).toBeGreaterThan(0);
        // The term is taken from the filter (or is the whole filter from its position).
        expect(filter.includes(e.term) || e.term === '()').toBe(true);
      }
    }
  });
});
