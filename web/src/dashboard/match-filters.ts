// The matches view's text logic, without the DOM (so Node tests can import it): the token-based
// signature filter and the explanation of tied matches.

/** What {@link tieExplanation} reads of a match row. */
export interface TieRow {
  readonly distance: number;
  readonly candidate_event_tokens?: readonly string[] | null;
}

/** A number with at most 4 significant digits (integers as they are). */
function shortNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}

/** A row of the signature list (what the picker and the filter read). */
export interface SignatureRow {
  readonly signature_id: string;
  readonly run_id: string;
  readonly layer: number | null;
  readonly module: string | null;
  readonly sample_id: string | null;
  readonly descriptor_set: string;
  readonly method: string;
  readonly grid: string;
  readonly dim: number;
  readonly n_matches: number;
}

/**
 * Whether signature `s` matches the filter `text`: every whitespace-separated token (case-insensitive)
 * must be a substring of some field (run, `L<layer>`/`layer <n>`, module, sample, descriptor set,
 * method, grid, signature id). An empty filter matches everything.
 *
 * @example
 * ```ts
 * signatureMatches(sig, 's2 resid_post'); // true for run tiny-…-s2, module resid_post
 * ```
 */
export function signatureMatches(s: SignatureRow, text: string): boolean {
  const tokens = text.toLowerCase().split(/\s+/).filter(Boolean);
  if (tokens.length === 0) return true;
  const fields = [
    s.run_id,
    s.layer === null ? 'all layers' : `L${s.layer}`,
    s.layer === null ? '' : `layer ${s.layer}`,
    s.module ?? 'all modules',
    s.sample_id ?? '',
    s.descriptor_set,
    s.method,
    s.grid,
    s.signature_id,
  ].map((f) => f.toLowerCase());
  return tokens.every((t) => fields.some((f) => f.includes(t)));
}

/**
 * Why some of the `shown` matches tie: the largest group of at least two with the same distance,
 * and a reason (undefined when no two tie). For `edit` the reason compares event tokens:
 * no events on either side, the same sequence as the query, or equally many edits away.
 *
 * @example
 * ```ts
 * tieExplanation(rows, ['rank_collapse'], 'edit'); // "7 candidates tie at distance 0: …"
 * ```
 */
export function tieExplanation(
  shown: readonly TieRow[],
  queryTokens: readonly string[],
  method: string,
): string | undefined {
  const byDistance = new Map<number, TieRow[]>();
  for (const m of shown) {
    const list = byDistance.get(m.distance) ?? [];
    list.push(m);
    byDistance.set(m.distance, list);
  }
  const tied = [...byDistance.values()].filter((l) => l.length > 1).sort((a, b) => b.length - a.length)[0];
  if (!tied) return undefined;
  const head = `${tied.length} candidates tie at distance ${shortNumber(tied[0]?.distance ?? 0)}`;
  if (method !== 'edit') return `${head}: the ranks among them follow the candidate signature id.`;
  const same = (tokens: readonly string[]) =>
    tokens.length === queryTokens.length && tokens.every((t, i) => t === queryTokens[i]);
  const tokensOf = (m: TieRow) => m.candidate_event_tokens ?? [];
  if (queryTokens.length === 0 && tied.every((m) => tokensOf(m).length === 0))
    return `${head}: no events on either side, so the edit method cannot tell them apart.`;
  if (tied.every((m) => same(tokensOf(m))))
    return `${head}: each has exactly the query’s event sequence (${queryTokens.length} events), so the edit method cannot tell them apart; ranks among them follow the signature id. Use dtw or combined to rank by shape.`;
  return `${head}: their event sequences are equally many edits from the query’s; ranks among them follow the signature id.`;
}
