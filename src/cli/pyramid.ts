import type { Command } from 'commander';
import { buildMetricsPyramid, PYRAMID_WORTH_ROWS, type PyramidBuild } from '../lake/index.js';
import { existingLakeDirectory, writeStdout } from './common.js';
import { countOf } from './output.js';

/**
 * One line on what a pyramid build did, as `runlake pyramid` and `runlake compact` print it.
 *
 * @example
 * ```ts
 * pyramidLine({ action: 'added', sourceFiles: 2, rows: 96, version: 1 });
 * // 'metrics_pyramid: added 96 rows for 2 files of metrics_scalar, version 1'
 * ```
 */
export function pyramidLine(build: PyramidBuild): string {
  const rows = `${countOf(build.rows, 'row')} for ${countOf(build.sourceFiles, 'file')} of metrics_scalar`;
  const version = build.version !== undefined ? `, version ${build.version}` : '';
  switch (build.action) {
    case 'no-metrics':
      return 'metrics_pyramid: no metrics_scalar files written through the commit log; nothing to summarise';
    case 'current':
      return 'metrics_pyramid: up to date';
    case 'too-small':
      return `metrics_pyramid: not built, fewer than ${countOf(PYRAMID_WORTH_ROWS, 'metric row')}`;
    case 'added':
      return `metrics_pyramid: added ${rows}${version}`;
    case 'rebuilt':
      return `metrics_pyramid: rebuilt, ${rows}${version}`;
  }
}

/**
 * `runlake pyramid <lake>`: brings the downsampling pyramid of `metrics_scalar` up to date (see
 * {@link buildMetricsPyramid}), so `runlake serve` draws long runs from buckets, not points.
 *
 * @example
 * ```sh
 * runlake pyramid squiggle-lake
 * runlake pyramid squiggle-lake --rebuild
 * ```
 */
export function registerPyramidCommand(program: Command): void {
  program
    .command('pyramid')
    .description(
      'summarise metrics_scalar into step buckets (min/max at their steps, sums) that serve draws long runs from',
    )
    .argument('<lake>', 'lake directory')
    .option('--rebuild', 'write the whole pyramid anew instead of adding the files it lacks')
    .action(async (baseOut: string, options: { rebuild?: boolean }) => {
      existingLakeDirectory(baseOut);
      const build = await buildMetricsPyramid(baseOut, { rebuild: options.rebuild === true });
      await writeStdout(`${pyramidLine(build)}\n`);
    });
}
