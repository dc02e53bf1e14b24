// The runs table's filter language (docs/web.md, "Filter language"): a tokenizer, a recursive
// descent parser to an expression tree, and a compiler that resolves column names against the
// table and checks every value before a single row is tested, so a bad filter is an error naming
// its term, never a silently empty (or silently full) table.
//
//   filter  := or?
//   or      := and ( "OR" and )*
//   and     := unary ( "AND"? unary )*          juxtaposition is AND
//   unary   := "NOT" unary | primary
//   primary := "(" or ")" | term
//   term    := column op value                  op: = != > >= < <=
//            | column ("~" | "!~") regex        regex: /…/flags, or a quoted or bare pattern
//            | column "has" value               a list cell (tags) holds the value
//            | "tag:" value                     the run's tags hold the value
//            | regex                            any cell matches the regex
//            | word | "quoted text"             any cell contains the text (case-insensitive)
//
// Keywords (AND, OR, NOT, has) are case-insensitive; quote them ("and") to search for the word.

/** A column the filter may name. */
export interface FilterColumn {
  /** The column id (`run_id`, `params.lr`, `final:loss`). */
  readonly id: string;
  /** Another name it answers to (the parameter key `lr`, the header label). */
  readonly key: string;
  /** What the header shows; a filter may name the column by it too (after id and key). */
  readonly label?: string;
  /** `number` when every non-empty cell is a number, `list` when cells are arrays. */
  readonly kind: 'number' | 'text' | 'list' | 'boolean' | 'empty';
}

/** A row the compiled filter tests: cell values and texts in column order, and all texts joined. */
export interface FilterRow {
  readonly values: readonly unknown[];
  readonly texts: readonly string[];
  /** Every cell text, lower-cased, joined by NUL. */
  readonly haystack: string;
}

/** A filter that cannot be used: the term at fault and why. */
export class FilterError extends Error {
  constructor(
    /** The offending term as typed (`lr>abc`), or the whole filter for a syntax error. */
    readonly term: string,
    /** What is wrong with it. */
    readonly reason: string,
    /** Where the term starts in the filter text. */
    readonly position: number,
  ) {
    super(`${term}: ${reason}`);
    this.name = 'FilterError';
  }
}

/** A comparison operator of the language. */
export type CompareOp = '=' | '!=' | '>' | '>=' | '<' | '<=';

/** A parsed filter: the expression tree before column names are resolved. */
export type FilterNode =
  | { readonly kind: 'and' | 'or'; readonly items: readonly FilterNode[] }
  | { readonly kind: 'not'; readonly item: FilterNode }
  | { readonly kind: 'text'; readonly text: string; readonly source: string; readonly at: number }
  | {
      readonly kind: 'regex';
      readonly key: string | null;
      readonly negate: boolean;
      readonly pattern: string;
      readonly flags: string;
      readonly source: string;
      readonly at: number;
    }
  | {
      readonly kind: 'compare';
      readonly key: string;
      readonly op: CompareOp;
      readonly value: string;
      readonly source: string;
      readonly at: number;
    }
  | {
      readonly kind: 'has';
      readonly key: string;
      readonly value: string;
      readonly source: string;
      readonly at: number;
    };

type TokenKind = 'word' | 'string' | 'regex' | 'op' | 'lparen' | 'rparen';
interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** The regex flags, for a regex token. */
  readonly flags?: string;
  readonly start: number;
  readonly end: number;
}

const OPS = ['>=', '<=', '!=', '!~', '=', '>', '<', '~'] as const;
const WORD_STOP = /[\s()"=!<>~]/;

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === '(' || c === ')') {
      tokens.push({ kind: c === '(' ? 'lparen' : 'rparen', text: c, start, end: ++i });
      continue;
    }
    if (c === '"') {
      let text = '';
      i++;
      while (i < input.length && input[i] !== '"') {
        if (input[i] === '\\' && i + 1 < input.length) i++;
        text += input[i];
        i++;
      }
      if (i >= input.length) throw new FilterError(input.slice(start), 'the quote is never closed', start);
      tokens.push({ kind: 'string', text, start, end: ++i });
      continue;
    }
    const op = OPS.find((o) => input.startsWith(o, i));
    if (op) {
      i += op.length;
      tokens.push({ kind: 'op', text: op, start, end: i });
      continue;
    }
    // A regex literal: a term of its own, or the value after ~ / !~.
    // A regex literal: a term of its own, or the value after ~ / !~ (never after = or >).
    const previous = tokens.at(-1);
    if (c === '/' && !(previous?.kind === 'op' && !previous.text.endsWith('~'))) {
      // The closing / is the first one outside a [class]; when a class is never closed, the first
      // unescaped / (so RegExp names the real mistake: the unterminated class).
      const close = (classes: boolean): number => {
        let inClass = false;
        for (let j = start + 1; j < input.length; j++) {
          const d = input[j];
          if (d === '\\') j++;
          else if (classes && d === '[') inClass = true;
          else if (classes && d === ']') inClass = false;
          else if (d === '/' && !inClass) return j;
        }
        return -1;
      };
      let end = close(true);
      if (end < 0) end = close(false);
      if (end < 0) throw new FilterError(input.slice(start), 'the regex is never closed with /', start);
      const pattern = input.slice(start + 1, end);
      i = end;
      i++;
      const flags = /^[a-z]*/.exec(input.slice(i))?.[0] ?? '';
      i += flags.length;
      tokens.push({ kind: 'regex', text: pattern, flags, start, end: i });
      continue;
    }
    while (i < input.length && !WORD_STOP.test(input[i] as string)) i++;
    tokens.push({ kind: 'word', text: input.slice(start, i), start, end: i });
  }
  return tokens;
}

function isKeyword(word: string, ...which: string[]): boolean {
  const upper = word.toUpperCase();
  return (which.length > 0 ? which : ['AND', 'OR', 'NOT']).includes(upper);
}

/**
 * Parses a filter into its expression tree; throws {@link FilterError} on a syntax error. An
 * empty filter is `null` (every row passes).
 *
 * @example
 * ```ts
 * parseFilter('lr>=0.001 AND NOT status=failed');
 * // { kind: 'and', items: [{ kind: 'compare', key: 'lr', op: '>=', … }, { kind: 'not', … }] }
 * ```
 */
export function parseFilter(input: string): FilterNode | null {
  const tokens = tokenize(input);
  let pos = 0;
  const peek = () => tokens[pos];
  const sourceOf = (from: Token, to: Token) => input.slice(from.start, to.end);

  const parseOr = (): FilterNode => {
    const items = [parseAnd()];
    while (peek()?.kind === 'word' && isKeyword(peek()?.text ?? '', 'OR')) {
      const or = tokens[pos++] as Token;
      if (!startsTerm(peek())) throw new FilterError(sourceOf(or, or), 'OR needs a term after it', or.start);
      items.push(parseAnd());
    }
    return items.length === 1 ? (items[0] as FilterNode) : { kind: 'or', items };
  };
  const startsTerm = (t: Token | undefined) =>
    t !== undefined &&
    t.kind !== 'rparen' &&
    t.kind !== 'op' &&
    !(t.kind === 'word' && isKeyword(t.text, 'OR', 'AND'));
  const parseAnd = (): FilterNode => {
    const items = [parseUnary()];
    for (;;) {
      const t = peek();
      if (t?.kind === 'word' && isKeyword(t.text, 'AND')) {
        pos++;
        if (!startsTerm(peek())) throw new FilterError(t.text, 'AND needs a term after it', t.start);
        items.push(parseUnary());
      } else if (startsTerm(t)) items.push(parseUnary());
      else break;
    }
    return items.length === 1 ? (items[0] as FilterNode) : { kind: 'and', items };
  };
  const parseUnary = (): FilterNode => {
    const t = peek();
    if (t?.kind === 'word' && isKeyword(t.text, 'NOT')) {
      pos++;
      if (!startsTerm(peek())) throw new FilterError(t.text, 'NOT needs a term after it', t.start);
      return { kind: 'not', item: parseUnary() };
    }
    return parsePrimary();
  };
  const parsePrimary = (): FilterNode => {
    const t = tokens[pos++];
    if (!t) throw new FilterError(input, 'the filter ends where a term was expected', input.length);
    if (t.kind === 'lparen') {
      if (peek()?.kind === 'rparen') throw new FilterError('()', 'empty parentheses', t.start);
      const inner = parseOr();
      const close = tokens[pos++];
      if (close?.kind !== 'rparen')
        throw new FilterError(input.slice(t.start), 'the parenthesis is never closed', t.start);
      return inner;
    }
    if (t.kind === 'rparen')
      throw new FilterError(')', 'a closing parenthesis without an opening one', t.start);
    if (t.kind === 'op') throw new FilterError(t.text, `"${t.text}" needs a column name before it`, t.start);
    if (t.kind === 'regex') {
      return {
        kind: 'regex',
        key: null,
        negate: false,
        pattern: t.text,
        flags: t.flags ?? '',
        source: sourceOf(t, t),
        at: t.start,
      };
    }
    if (t.kind === 'string') return { kind: 'text', text: t.text, source: sourceOf(t, t), at: t.start };
    // A word: a column comparison when an operator follows, `tag:x`, `col has x`, or free text.
    const next = peek();
    if (next?.kind === 'op') {
      pos++;
      const value = tokens[pos];
      const valueOk =
        value !== undefined &&
        (value.kind === 'word' || value.kind === 'string' || value.kind === 'regex') &&
        !(value.kind === 'word' && isKeyword(value.text) && value.start !== next.end);
      if (!valueOk) {
        // `status=` (nothing after the operator) compares with the empty cell.
        if (next.text === '=' || next.text === '!=') {
          return {
            kind: 'compare',
            key: t.text,
            op: next.text,
            value: '',
            source: sourceOf(t, next),
            at: t.start,
          };
        }
        throw new FilterError(sourceOf(t, next), `"${next.text}" needs a value after it`, t.start);
      }
      pos++;
      const source = sourceOf(t, value);
      if (next.text === '~' || next.text === '!~') {
        return {
          kind: 'regex',
          key: t.text,
          negate: next.text === '!~',
          pattern: value.text,
          flags: value.kind === 'regex' ? (value.flags ?? '') : '',
          source,
          at: t.start,
        };
      }
      if (value.kind === 'regex')
        throw new FilterError(source, `a /regex/ goes with ~ or !~, not ${next.text}`, t.start);
      return {
        kind: 'compare',
        key: t.text,
        op: next.text as CompareOp,
        value: value.text,
        source,
        at: t.start,
      };
    }
    if (next?.kind === 'word' && isKeyword(next.text, 'HAS')) {
      pos++;
      const value = tokens[pos++];
      if (!value || (value.kind !== 'word' && value.kind !== 'string'))
        throw new FilterError(sourceOf(t, next), '"has" needs a value after it', t.start);
      return { kind: 'has', key: t.text, value: value.text, source: sourceOf(t, value), at: t.start };
    }
    const tag = /^tags?:(.*)$/i.exec(t.text);
    if (tag) {
      let value = tag[1] ?? '';
      let end = t;
      if (value === '' && next?.kind === 'string' && next.start === t.end) {
        value = next.text;
        end = next;
        pos++;
      }
      if (value === '') throw new FilterError(t.text, 'name a tag after "tag:"', t.start);
      return { kind: 'has', key: 'tags', value, source: sourceOf(t, end), at: t.start };
    }
    return { kind: 'text', text: t.text, source: t.text, at: t.start };
  };

  if (tokens.length === 0) return null;
  const tree = parseOr();
  const rest = tokens[pos];
  if (rest) {
    throw new FilterError(
      rest.text,
      rest.kind === 'rparen' ? 'a closing parenthesis without an opening one' : 'unexpected here',
      rest.start,
    );
  }
  return tree;
}

/** A compiled filter: `test(row)` says whether a row passes. */
export interface CompiledFilter {
  readonly test: (row: FilterRow) => boolean;
  /** The filter text it was compiled from (trimmed). */
  readonly source: string;
}

// Names that stand for a run field without being its column name.
const ALIASES: Record<string, readonly string[]> = {
  name: ['run_name', 'run_id'],
  id: ['run_id'],
  run: ['run_id'],
  tag: ['tags'],
};

/** The indexes of the columns `key` names: an id, a key, or an alias, case-insensitively. */
function resolveColumns(columns: readonly FilterColumn[], key: string): number[] {
  const k = key.toLowerCase();
  const found: number[] = [];
  columns.forEach((c, i) => {
    if (c.id.toLowerCase() === k || c.key.toLowerCase() === k) found.push(i);
  });
  if (found.length > 0) return found;
  columns.forEach((c, i) => {
    if (c.label?.toLowerCase() === k) found.push(i);
  });
  if (found.length > 0) return found;
  for (const alias of ALIASES[k] ?? []) {
    const i = columns.findIndex((c) => c.id === alias);
    if (i >= 0) return [i];
  }
  return [];
}

function unknownColumn(
  node: { key: string; source: string; at: number },
  columns: readonly FilterColumn[],
): FilterError {
  const summary = /^(final|min|max):(.+)$/.exec(node.key);
  if (summary) {
    return new FilterError(
      node.source,
      `no column "${node.key}": add the ${summary[1]} of ${summary[2]} with "+ column" first`,
      node.at,
    );
  }
  const near = columns
    .map((c) => c.key)
    .filter(
      (k) =>
        k.toLowerCase().includes(node.key.toLowerCase()) || node.key.toLowerCase().includes(k.toLowerCase()),
    )
    .slice(0, 3);
  return new FilterError(
    node.source,
    `no column "${node.key}"${near.length > 0 ? ` (did you mean ${near.map((n) => `"${n}"`).join(', ')}?)` : ''}`,
    node.at,
  );
}

const isEmpty = (v: unknown) => v === null || v === undefined || v === '';

/**
 * Parses and compiles `filter` against `columns`. Throws {@link FilterError} naming the term for a
 * syntax error, an unknown column, a value that is not a number where the column is numeric, and
 * a regex that does not compile.
 *
 * @example
 * ```ts
 * const f = compileFilter('seed>=2 OR name ~ /s0$/', [
 *   { id: 'run_id', key: 'run_id', kind: 'text' },
 *   { id: 'seed', key: 'seed', kind: 'number' },
 * ]);
 * f.test({ values: ['a-s0', 1], texts: ['a-s0', '1'], haystack: 'a-s0\u00001' }); // true
 * ```
 */
export function compileFilter(filter: string, columns: readonly FilterColumn[]): CompiledFilter {
  const tree = parseFilter(filter);
  const source = filter.trim();
  if (!tree) return { test: () => true, source };
  return { test: compileNode(tree, columns), source };
}

type Test = (row: FilterRow) => boolean;

function compileNode(node: FilterNode, columns: readonly FilterColumn[]): Test {
  switch (node.kind) {
    case 'and': {
      const items = node.items.map((n) => compileNode(n, columns));
      return (row) => items.every((t) => t(row));
    }
    case 'or': {
      const items = node.items.map((n) => compileNode(n, columns));
      return (row) => items.some((t) => t(row));
    }
    case 'not': {
      const item = compileNode(node.item, columns);
      return (row) => !item(row);
    }
    case 'text': {
      const text = node.text.toLowerCase();
      return (row) => row.haystack.includes(text);
    }
    case 'regex': {
      let regex: RegExp;
      try {
        regex = new RegExp(node.pattern, node.flags);
      } catch (error) {
        const why = (error as Error).message.replace(/^Invalid regular expression: /, '');
        throw new FilterError(node.source, `bad regex: ${why}`, node.at);
      }
      if (node.key === null) return (row) => row.texts.some((t) => regex.test(t));
      const indexes = resolveColumns(columns, node.key);
      if (indexes.length === 0) throw unknownColumn({ ...node, key: node.key }, columns);
      const negate = node.negate;
      return (row) => indexes.some((i) => regex.test(row.texts[i] ?? '')) !== negate;
    }
    case 'has': {
      const indexes = resolveColumns(columns, node.key);
      if (indexes.length === 0) {
        if (node.key === 'tags')
          throw new FilterError(node.source, 'this lake\u2019s runs have no tags column', node.at);
        throw unknownColumn(node, columns);
      }
      const wanted = node.value.toLowerCase();
      return (row) =>
        indexes.some((i) => {
          const v = row.values[i];
          if (Array.isArray(v)) return v.some((x) => String(x).toLowerCase() === wanted);
          return (row.texts[i] ?? '').toLowerCase() === wanted;
        });
    }
    case 'compare':
      return compileCompare(node, columns);
  }
}

function compileCompare(
  node: Extract<FilterNode, { kind: 'compare' }>,
  columns: readonly FilterColumn[],
): Test {
  const indexes = resolveColumns(columns, node.key);
  if (indexes.length === 0) throw unknownColumn(node, columns);
  const numericColumn = indexes.some((i) => columns[i]?.kind === 'number');
  const wantedText = node.value.toLowerCase();
  const wantedNumber = node.value.trim() === '' ? Number.NaN : Number(node.value);
  const isNumber = Number.isFinite(wantedNumber);
  const ordering = node.op !== '=' && node.op !== '!=';
  if (node.value === '' && ordering)
    throw new FilterError(node.source, `"${node.op}" needs a value after it`, node.at);
  if (numericColumn && !isNumber && node.value !== '') {
    const name = columns[indexes[0] as number]?.key ?? node.key;
    throw new FilterError(
      node.source,
      `"${node.value}" is not a number (${name} is a numeric column)`,
      node.at,
    );
  }
  if (ordering && !numericColumn && !isNumber) {
    // Text ordering (`status>f`) is allowed but only on text columns; lists and booleans have no order.
    const bad = indexes.map((i) => columns[i]).find((c) => c?.kind === 'list' || c?.kind === 'boolean');
    if (bad)
      throw new FilterError(node.source, `${bad.key} has no order (it is a ${bad.kind} column)`, node.at);
  }
  const op = node.op;
  const one = (value: unknown, text: string): boolean => {
    if (node.value === '') return op === '=' ? isEmpty(value) : !isEmpty(value);
    if (isEmpty(value)) return op === '!=';
    const n =
      typeof value === 'number' ? value : typeof value === 'string' && isNumber ? Number(value) : Number.NaN;
    if (isNumber && Number.isFinite(n)) {
      // Equality as the cell reads: 0.30000000000000004 is the 0.3 the table shows.
      const a = op === '=' || op === '!=' ? Number(n.toPrecision(12)) : n;
      return compareNumbers(a, wantedNumber, op);
    }
    if (Array.isArray(value)) {
      const has = value.some((x) => String(x).toLowerCase() === wantedText);
      return op === '=' ? has : op === '!=' ? !has : false;
    }
    const t = text.toLowerCase();
    if (op === '=') return t === wantedText;
    if (op === '!=') return t !== wantedText;
    return compareNumbers(t.localeCompare(wantedText, undefined, { numeric: true }), 0, op);
  };
  // `!=` holds when no named column equals the value; the others when any column satisfies it.
  if (op === '!=') return (row) => indexes.every((i) => one(row.values[i], row.texts[i] ?? ''));
  return (row) => indexes.some((i) => one(row.values[i], row.texts[i] ?? ''));
}

function compareNumbers(a: number, b: number, op: CompareOp): boolean {
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
  }
}
