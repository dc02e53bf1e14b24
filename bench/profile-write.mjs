// Profiling aid for the write-events scenario: generates the rows, then runs ONE write path, so a
// CPU profile holds nothing else. Prints a self-time summary of the profile when run with
// --cpu-prof (see bench/cpuprofile-summary.mjs).
//
//   node --max-old-space-size=12000 --cpu-prof --cpu-prof-dir=bench/out/prof \
//     bench/profile-write.mjs --rows 10_000_000 --path runlake
//   node bench/cpuprofile-summary.mjs bench/out/prof/<file>.cpuprofile
//
// --path: runlake (writeEventRows per grid, from rows), columns (the same from column objects),
// arrow (from Arrow tables), raw (DuckDB appender + COPY), validate (runlake's buildRowBatch pass
// alone). The column objects and Arrow tables are built from the rows before the timed part.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { t } from '../dist/index.js';
import { buildRowBatch } from '../dist/lake/row-batch.js';
import { generateSweep, makeGrids } from './data.mjs';
import { fmt, secondsSince } from './lib.mjs';
import { columnsToArrow, rowsToColumns, writeRawDuckDB, writeRunlake } from './write-peers.mjs';

const OUT_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'out');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const rows = Number(String(flag('--rows', '2000000')).replaceAll('_', ''));
const which = flag('--path', 'runlake');

const grids = makeGrids();
const rowsByGrid = generateSweep(rows, grids);
const columnsByGrid = which === 'columns' || which === 'arrow' ? rowsByGrid.map(rowsToColumns) : undefined;
const inputs = {
  runlake: rowsByGrid,
  columns: columnsByGrid,
  arrow: which === 'arrow' ? columnsByGrid?.map(columnsToArrow) : undefined,
}[which];
const start = process.hrtime.bigint();
if (inputs) {
  const result = await writeRunlake(grids, inputs, path.join(OUT_DIR, 'profile-lake'));
  for (const call of result.calls)
    console.log(`  writeEventRows ${call.gridId}: ${fmt.seconds(call.seconds)}`);
} else if (which === 'raw') {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const result = await writeRawDuckDB(connection, grids, rowsByGrid, path.join(OUT_DIR, 'profile-raw'));
  console.log(`  append ${fmt.seconds(result.appendSeconds)}, COPY ${fmt.seconds(result.copySeconds)}`);
  connection.closeSync();
  instance.closeSync();
} else if (which === 'validate') {
  for (const grid of grids) {
    buildRowBatch('events', rowsByGrid[grid.index], [
      { name: 'grid_id', type: t.string, fixedValue: grid.gridId },
      { name: 'seed', type: t.int64 },
    ]);
  }
} else {
  console.error(`unknown --path ${which} (runlake, columns, arrow, raw, validate)`);
  process.exit(2);
}
console.log(`${which}: ${fmt.int(rows)} rows in ${fmt.seconds(secondsSince(start))}`);
await rm(path.join(OUT_DIR, 'profile-lake'), { recursive: true, force: true });
await rm(path.join(OUT_DIR, 'profile-raw'), { recursive: true, force: true });
