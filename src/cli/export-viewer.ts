import { copyFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { RunlakeError } from '../lake/index.js';
import { defaultWebRoot } from '../server/index.js';

/**
 * The standalone file viewer of the installed package: one self-contained HTML page that opens
 * Parquet, CSV and JSON files client-side, with no server.
 *
 * @example
 * ```ts
 * standaloneViewerPath(); // '/…/node_modules/runlake/web/dist/viewer.html'
 * ```
 */
export function standaloneViewerPath(): string {
  const file = path.join(defaultWebRoot(), 'viewer.html');
  if (!existsSync(file)) {
    throw new RunlakeError(`the web app is not built (no ${file}): run npm run build in the runlake package`);
  }
  return file;
}

/**
 * `runlake export-viewer [--out FILE]`: copy the standalone file viewer somewhere to open or share
 * it (like the seed's `visualize_results.html`), or print where it is.
 *
 * @example
 * ```sh
 * runlake export-viewer --out visualize_results.html   # then open it and drop a .parquet on it
 * ```
 */
export function registerExportViewerCommand(program: Command): void {
  program
    .command('export-viewer')
    .description('write the standalone Parquet/CSV/JSON file viewer (one HTML file, no server needed)')
    .option('-o, --out <file>', 'where to write it (default: print the packaged copy’s path)')
    .option('--force', 'overwrite --out when it exists')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  runlake export-viewer --out visualize_results.html\n' +
        '  chromium "$(runlake export-viewer)"',
    )
    .action((options: { out?: string; force?: boolean }) => {
      const source = standaloneViewerPath();
      if (options.out === undefined) {
        process.stdout.write(`${source}\n`);
        return;
      }
      const target = path.resolve(options.out);
      if (existsSync(target)) {
        if (statSync(target).isDirectory())
          throw new RunlakeError(`--out ${options.out} is a directory; name a file`);
        if (!options.force)
          throw new RunlakeError(`--out ${options.out} exists; pass --force to overwrite it`);
      }
      copyFileSync(source, target);
      process.stdout.write(
        `wrote the standalone viewer to ${options.out}: open it in a browser and drop a Parquet, CSV or JSON file on it\n`,
      );
    });
}
