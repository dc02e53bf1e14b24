// Profiling aid for the convert-csv scenario: runs ONE convertCsvSweep over the CSV sweep that
// `node bench/run.mjs --only convert-csv` leaves in bench/out/csv-sweep, into a fresh lake, so a
// CPU profile holds nothing else. Also reports how busy the main thread was (event-loop
// utilization): near 100% means the run is bound by JS on the main thread, which `jobs` cannot
// spread over cores.
//
//   node --cpu-prof --cpu-prof-dir=bench/out/prof bench/profile-convert.mjs --jobs 2
//   node bench/cpuprofile-summary.mjs bench/out/prof/<file>.cpuprofile 30
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { convertCsvSweep } from '../dist/index.js';
import { fmt, secondsSince } from './lib.mjs';

const OUT_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'out');
const CSV_DIR = path.join(OUT_DIR, 'csv-sweep');
const LAKE = path.join(OUT_DIR, 'profile-convert-lake');
const args = process.argv.slice(2);
const i = args.indexOf('--jobs');
const jobs = i >= 0 ? Number(args[i + 1]) : 2;

if (!existsSync(CSV_DIR)) {
  console.error('no bench/out/csv-sweep: run `node bench/run.mjs --only convert-csv` first');
  process.exit(1);
}
await rm(LAKE, { recursive: true, force: true });
const cpuBefore = process.cpuUsage();
const eluBefore = performance.eventLoopUtilization();
const start = process.hrtime.bigint();
const summary = await convertCsvSweep(CSV_DIR, LAKE, { granularity: 'event', jobs });
const seconds = secondsSince(start);
const elu = performance.eventLoopUtilization(eluBefore);
const cpu = process.cpuUsage(cpuBefore);
console.log(
  `jobs ${jobs}: ${summary.converted} inputs, ${fmt.int(summary.rows)} rows in ${fmt.seconds(seconds)}; ` +
    `main thread busy ${(100 * elu.utilization).toFixed(0)}%; process CPU ` +
    `${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (${((cpu.user + cpu.system) / 1e6 / seconds).toFixed(2)} cores)`,
);
await rm(LAKE, { recursive: true, force: true });
