// The header: which lake this is (schema set, grids) and how many rows each dataset holds, so a
// reader sees at a glance what the lake contains and which views are empty.
import type { LakeResponse } from './api.js';
import { h } from './dom.js';

/** Formats a row count compactly: 1234 → 1.2k, 2_000_000 → 2M. */
export function compactCount(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1e6) return `${Number((n / 1e3).toPrecision(n < 1e4 ? 2 : 3))}k`;
  if (n < 1e9) return `${Number((n / 1e6).toPrecision(n < 1e7 ? 2 : 3))}M`;
  return `${Number((n / 1e9).toPrecision(3))}G`;
}

/** The lake summary line: schema set, grid count, and a chip per dataset with its row count. */
export function lakeSummary(lake: LakeResponse): HTMLElement {
  const datasets = [...lake.datasets].sort(
    (a, b) => Number(b.rows > 0) - Number(a.rows > 0) || a.name.localeCompare(b.name),
  );
  return h(
    'div',
    { class: 'lake-summary', 'data-testid': 'lake-summary', 'data-schema-set': lake.schemaSet },
    h('span', { class: 'lake-schema', title: 'schema set' }, lake.schemaSet),
    h('span', { class: 'lake-grids' }, `${lake.grids} grid${lake.grids === 1 ? '' : 's'}`),
    ...datasets.map((d) =>
      h(
        'span',
        {
          class: `dataset-chip${d.rows === 0 ? ' empty' : ''}`,
          title: `${d.name}: ${d.rows.toLocaleString()} rows in ${d.files} file${d.files === 1 ? '' : 's'}`,
          'data-testid': 'dataset-chip',
          'data-dataset': d.name,
          'data-rows': d.rows,
        },
        d.name,
        h('b', {}, compactCount(d.rows)),
      ),
    ),
    lake.viewProblems.length
      ? h(
          'span',
          {
            class: 'dataset-chip warn',
            title: lake.viewProblems.map((p) => `${p.view}: ${p.reason}`).join('\n'),
          },
          `${lake.viewProblems.length} view${lake.viewProblems.length === 1 ? '' : 's'} failed`,
        )
      : null,
  );
}
