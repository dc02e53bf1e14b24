/**
 * Reads the `signatures` dataset back as match candidates: each trajectory's resampled series
 * (method `z<points>`) joined with its PAA vector (method `paa<segments>-z`).
 */
import { type Lake, quoteLiteral } from '../lake/index.js';
import type { MatchCandidate } from './match.js';
import { DEFAULT_SIGNATURE_OPTIONS, type SignatureOptions } from './signatures.js';

/** A match candidate with the keys it was read with. */
export interface StoredSignature extends MatchCandidate {
  readonly sampleSet: string;
  readonly layer: number | null;
  readonly module: string | null;
  readonly sampleId: string | null;
  readonly descriptorSet: string;
}

/** Filters of {@link readSignaturePool}. */
export interface SignaturePoolFilter extends SignatureOptions {
  readonly runId?: string;
  readonly layer?: number;
  readonly module?: string;
  readonly descriptorSet?: string;
}

/**
 * The series + PAA signature pairs of a lake (optionally of one run, layer, module or descriptor
 * set), in signature-id order. Pairs are joined on their keys, grid and descriptor set; a series
 * without a PAA partner of the given lengths is left out.
 *
 * @example
 * ```ts
 * const pool = await readSignaturePool(lake, { descriptorSet: 'effective_rank' });
 * pool[0]?.series.length; // 128
 * ```
 */
export async function readSignaturePool(
  lake: Lake,
  filter: SignaturePoolFilter = {},
): Promise<StoredSignature[]> {
  const points = filter.points ?? DEFAULT_SIGNATURE_OPTIONS.points;
  const segments = filter.paaSegments ?? DEFAULT_SIGNATURE_OPTIONS.paaSegments;
  const grid = filter.grid ?? DEFAULT_SIGNATURE_OPTIONS.grid;
  const where = [
    `s.method = ${quoteLiteral(`z${points}`)}`,
    `s.grid = ${quoteLiteral(grid)}`,
    filter.runId !== undefined ? `s.run_id = ${quoteLiteral(filter.runId)}` : null,
    filter.layer !== undefined ? `s.layer = ${filter.layer}` : null,
    filter.module !== undefined ? `s.module = ${quoteLiteral(filter.module)}` : null,
    filter.descriptorSet !== undefined ? `s.descriptor_set = ${quoteLiteral(filter.descriptorSet)}` : null,
  ].filter((c) => c !== null);
  const rows = await lake.query(`
    SELECT s.run_id, s.signature_id, s.sample_set, s.layer, s.module, s.sample_id, s.descriptor_set,
           s.vector AS series, p.vector AS paa, s.event_tokens
    FROM signatures s
    JOIN signatures p
      ON p.run_id = s.run_id AND p.sample_set = s.sample_set AND p.grid = s.grid
     AND p.descriptor_set = s.descriptor_set
     AND p.layer IS NOT DISTINCT FROM s.layer AND p.module IS NOT DISTINCT FROM s.module
     AND p.sample_id IS NOT DISTINCT FROM s.sample_id
     AND p.method = ${quoteLiteral(`paa${segments}-z`)}
    WHERE ${where.join(' AND ')}
    ORDER BY s.signature_id`);
  return rows.map((row) => ({
    signatureId: row.signature_id as string,
    runId: row.run_id as string,
    series: Float64Array.from(row.series as number[]),
    paa: Float64Array.from(row.paa as number[]),
    eventTokens: row.event_tokens as string[],
    sampleSet: row.sample_set as string,
    layer: row.layer as number | null,
    module: row.module as string | null,
    sampleId: row.sample_id as string | null,
    descriptorSet: row.descriptor_set as string,
  }));
}
