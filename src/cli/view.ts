import type { Command } from 'commander';
import { RunlakeError, readSavedViews } from '../lake/index.js';
import { withLake, writeStdout } from './common.js';
import { renderTable } from './output.js';

interface ViewCliOptions {
  sql?: string;
  description?: string;
  drop?: boolean;
}

/**
 * `runlake view <lake> [name]`: lists a lake's named views, or saves (`--sql`) or drops
 * (`--drop`) one.
 *
 * @example
 * ```sh
 * runlake view squiggle-lake best_loss --sql "SELECT run_id, min(value) AS loss FROM metrics_scalar WHERE metric_name = 'loss' GROUP BY 1"
 * ```
 */
export function registerViewCommand(program: Command): void {
  program
    .command('view')
    .description(
      "list a lake's named SQL views, or save or drop one (saved views are recreated on every open)",
    )
    .argument('<lake>', 'lake directory')
    .argument('[name]', 'view to save, drop or show')
    .option('--sql <select>', 'save the view as this SELECT (replaces a saved view of that name)')
    .option('--description <text>', 'what the view shows')
    .option('--drop', 'remove the saved view')
    .action(async (baseOut: string, name: string | undefined, options: ViewCliOptions) => {
      await withLake(baseOut, async (lake) => {
        if (options.sql !== undefined || options.drop) {
          if (!name) throw new RunlakeError('name the view to save or drop');
          if (options.drop) {
            if (!(await lake.dropView(name)))
              throw new RunlakeError(`${baseOut} has no saved view "${name}"`);
            await writeStdout(`dropped view ${name}\n`);
            return;
          }
          await lake.saveView(name, options.sql as string, options.description ?? '');
          await writeStdout(
            `saved view ${name}; query it with: runlake query ${baseOut} --sql "SELECT * FROM ${name}"\n`,
          );
          return;
        }
        const setViews = new Set((lake.schemaSet.views ?? []).map((v) => v.name));
        const savedNames = new Set((await readSavedViews(lake.paths)).map((v) => v.name));
        const problems = new Map(lake.viewProblems.map((p) => [p.view, p.reason]));
        const views = (await lake.views()).filter((v) => name === undefined || v.name === name);
        if (name !== undefined && views.length === 0)
          throw new RunlakeError(`${baseOut} has no view "${name}"`);
        const rows = views.map((v) => ({
          view: v.name,
          from: setViews.has(v.name)
            ? `${lake.schemaSet.name} schema`
            : savedNames.has(v.name)
              ? 'saved'
              : "exp_engine's (from the columns)",
          description: v.description,
          status: problems.has(v.name) ? `broken: ${problems.get(v.name)}` : 'ok',
          ...(name !== undefined ? { sql: v.sql } : {}),
        }));
        await writeStdout(rows.length > 0 ? `${renderTable(rows)}\n` : `${baseOut} has no named views\n`);
      });
    });
}
