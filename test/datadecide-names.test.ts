import { describe, expect, it } from 'vitest';
import {
  DATADECIDE_RECIPES,
  DATADECIDE_SEEDS,
  dataDecideRecipe,
  dataDecideSeed,
} from '../src/ingest/index.js';

describe('DataDecide names: one table for every source', () => {
  it('resolves each seed from its result-file name, its OLMES directory and its checkpoint number', () => {
    // The pairs as danielle-rothermel/datadec configs/olmes.toml [seed_map] (098d35b) and
    // allenai/DataDecide checkpoints/README.md SEED_MAPPING (68abc49) give them.
    const cases: [string, number, string][] = [
      ['seed-2', 0, 'default'],
      ['6198', 0, 'default'],
      ['seed-14', 1, 'small aux 2'],
      ['seed_15', 2, 'small aux 3'],
      ['4', 3, 'large aux 2'],
      ['seed 5', 4, 'large aux 3'],
      ['Small Aux 2', 1, 'small aux 2'],
      [' default ', 0, 'default'],
    ];
    for (const [text, index, name] of cases) {
      expect(dataDecideSeed(text), text).toMatchObject({ index, name });
    }
    for (const text of ['seed-3', '0', 'small aux 4', 'seed-14x', '']) {
      expect(dataDecideSeed(text), text).toBeUndefined();
    }
    expect(DATADECIDE_SEEDS.map((s) => s.index)).toEqual([0, 1, 2, 3, 4]);
  });

  it('maps the 25 OLMES recipe slugs to distinct display names, and display names to themselves', () => {
    const names = Object.values(DATADECIDE_RECIPES);
    expect(names).toHaveLength(25);
    expect(new Set(names).size).toBe(25);
    expect(dataDecideRecipe('DCLM-Baseline-Top-10p')).toBe('DCLM-Baseline (QC 10%)');
    expect(dataDecideRecipe('Dolma1.7 (no Reddit)')).toBe('Dolma1.7 (no Reddit)');
    expect(dataDecideRecipe('my-recipe')).toBeUndefined();
  });
});
