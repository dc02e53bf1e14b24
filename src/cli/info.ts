import type { Command } from 'commander';
import { lakeInfo } from '../lake/index.js';
import { exactlyOne, withLake, writeStdout } from './common.js';
import { formatBytes } from './output.js';

/**
 * `runlake info <lake>`: per dataset its grids, seeds, rows, files, bytes, columns and partitions.
 *
 * @example
 * ```sh
 * runlake info results --json
 * ```
 */
export function registerInfoCommand(program: Command): void {
  program
    .command('info')
    .description('show each dataset: grids, seeds, rows, files, bytes, columns with types, partition columns')
    .argument('[lake]', 'lake directory (or --base-out)')
    .option('--base-out <dir>', "exp_engine's name for the lake directory argument")
    .option('--json', 'print machine-readable JSON')
    .action(async (lakeArg: string | undefined, options: { json?: boolean; baseOut?: string }) => {
      const baseOut = exactlyOne('the lake directory', lakeArg, options.baseOut, '--base-out');
      await withLake(baseOut, async (lake) => {
        const info = await lakeInfo(lake);
        if (options.json) {
          await writeStdout(`${JSON.stringify(info, null, 2)}\n`);
          return;
        }
        const lines = [`lake ${info.baseOut}`, `grids: ${info.grids} parameter sets (grids/)`];
        const scheme = info.gridIdScheme;
        if (scheme) lines.push(`grid ids: ${scheme.scheme} (${scheme.source}: ${scheme.evidence})`);
        if (info.views.length > 0) lines.push(`views: ${info.views.join(', ')} (runlake view ${baseOut})`);
        for (const d of info.datasets) {
          lines.push('', `${d.name}/`);
          if (d.files === 0) {
            lines.push('  (no files yet)');
          } else {
            const distinct = Object.entries(d.distinct).map(([k, n]) => `${n} ${k}`);
            lines.push(
              `  rows: ${d.rows.toLocaleString('en-US')}   files: ${d.files}   size: ${formatBytes(d.bytes)}` +
                (d.version >= 0 ? `   version: ${d.version}` : '   (no commit log yet)'),
              `  partitions: ${d.partitions} (${distinct.join(', ')})`,
            );
          }
          lines.push(
            `  partition columns: ${d.partitionBy.map((k) => `${k.name} ${k.type}`).join(', ') || '(none)'}`,
          );
          const partitionNames = new Set(d.partitionBy.map((k) => k.name));
          const dataColumns = d.columns.filter((c) => !partitionNames.has(c.name));
          lines.push(`  columns (${dataColumns.length}):`);
          for (const c of dataColumns) lines.push(`    ${c.name.padEnd(24)} ${c.type}`);
        }
        await writeStdout(`${lines.join('\n')}\n`);
      });
    });
}
