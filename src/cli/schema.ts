import type { Command } from 'commander';
import { Option } from 'commander';
import { getSchemaSet, RunlakeError } from '../lake/index.js';
import { schemaSetJson, schemaSetMarkdown } from '../schema/index.js';
import { writeStdout } from './common.js';

const SCHEMA_FORMATS = ['markdown', 'json'] as const;

/**
 * `runlake schema [dataset]`: prints the typed dataset definitions of a schema set, as Markdown
 * (the text of docs/schemas.md) or JSON.
 *
 * @example
 * ```sh
 * runlake schema geometry_state --format json
 * ```
 */
export function registerSchemaCommand(program: Command): void {
  program
    .command('schema')
    .description('print dataset definitions: columns, types, nullability, enums, partitioning, checks')
    .argument('[dataset]', 'only this dataset')
    .option('--schema <set>', 'schema set (squiggle or sweep)', 'squiggle')
    .addOption(
      new Option('-f, --format <format>', 'output format').choices(SCHEMA_FORMATS).default('markdown'),
    )
    .action(
      async (
        dataset: string | undefined,
        options: { schema: string; format: (typeof SCHEMA_FORMATS)[number] },
      ) => {
        const set = getSchemaSet(options.schema);
        let datasets = set.registry.list();
        if (dataset !== undefined) {
          const definition = set.registry.get(dataset);
          if (!definition) {
            throw new RunlakeError(
              `the ${set.name} schema set has no dataset "${dataset}" (${datasets.map((d) => d.name).join(', ')})`,
            );
          }
          datasets = [definition];
        }
        await writeStdout(
          options.format === 'json'
            ? `${JSON.stringify(schemaSetJson(set, datasets), null, 2)}\n`
            : schemaSetMarkdown(set, datasets),
        );
      },
    );
}
