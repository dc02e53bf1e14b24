import type { Command } from 'commander';
import { lakePaths, RunlakeError, readLakeEnumValues } from '../lake/index.js';
import { withLake, writeStdout } from './common.js';
import { renderTable } from './output.js';

interface EnumOptions {
  add?: string;
  description?: string;
}

/**
 * `runlake enum <lake> [domain]`: lists the enum domains of a lake's schema set with their
 * values (canonical and recorded), or records a new value of an extensible domain.
 *
 * @example
 * ```sh
 * runlake enum squiggle-lake event_type --add grokking --description "late generalisation"
 * ```
 */
export function registerEnumCommand(program: Command): void {
  program
    .command('enum')
    .description(
      'list enum domains and values (split, module, event_type), or add a value to an extensible one',
    )
    .argument('<lake>', 'lake directory')
    .argument('[domain]', 'only this domain')
    .option('--add <value>', 'record a new value of the domain in the lake')
    .option('--description <text>', 'what the new value means')
    .action(async (baseOut: string, domain: string | undefined, options: EnumOptions) => {
      await withLake(baseOut, async (lake) => {
        const domains = lake.schemaSet.enums.filter((d) => domain === undefined || d.name === domain);
        if (domains.length === 0) {
          throw new RunlakeError(
            domain === undefined
              ? `the ${lake.schemaSet.name} schema set has no enum domains`
              : `the ${lake.schemaSet.name} schema set has no enum domain "${domain}" (${lake.schemaSet.enums.map((d) => d.name).join(', ')})`,
          );
        }
        if (options.add !== undefined) {
          if (domain === undefined)
            throw new RunlakeError('--add needs a domain, e.g. `runlake enum <lake> event_type --add …`');
          if (!options.description)
            throw new RunlakeError('--add needs --description <text>: say what the value means');
          await lake.registerEnumValue(domain, options.add, options.description);
          await writeStdout(`recorded ${domain} value "${options.add}" in ${baseOut}\n`);
          return;
        }
        const rows: Record<string, unknown>[] = [];
        for (const d of domains) {
          for (const v of d.values()) {
            rows.push({
              domain: d.name,
              value: v.value,
              origin: v.canonical ? 'canonical' : 'registered',
              description: v.description,
            });
          }
          for (const [value, description] of await readLakeEnumValues(lakePaths(baseOut), d.name)) {
            if (!d.has(value)) rows.push({ domain: d.name, value, origin: 'lake', description });
          }
        }
        await writeStdout(`${renderTable(rows, ['domain', 'value', 'origin', 'description'])}\n`);
      });
    });
}
