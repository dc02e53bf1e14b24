// Locates the Python that has pandas + pyarrow and runs the Python peers in a subprocess:
// bench/pandas_write.py (write-events) and bench/csv_convert.py (convert-csv).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const PANDAS_WRITE = path.join(BENCH_DIR, 'pandas_write.py');
const CSV_CONVERT = path.join(BENCH_DIR, 'csv_convert.py');

/** `RUNLAKE_PYTHON`, else `<repo>/.venv/bin/python`; `undefined` with a reason when neither exists. */
export function locatePython() {
  const fromEnv = process.env.RUNLAKE_PYTHON;
  if (fromEnv) return { python: fromEnv, source: 'RUNLAKE_PYTHON' };
  const venv = path.join(BENCH_DIR, '..', '.venv', 'bin', 'python');
  if (existsSync(venv)) return { python: venv, source: '.venv' };
  return { reason: 'no Python: set RUNLAKE_PYTHON or create .venv (see docs/benchmarks.md)' };
}

function runPython(python, payload, script = PANDAS_WRITE) {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(python, [script, JSON.stringify(payload)], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      resolve({ code: -1, stdout: '', stderr: String(error) });
      return;
    }
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', (error) => resolve({ code: -1, stdout, stderr: `${stderr}${error.message}` }));
    child.on('close', (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr }));
  });
}

function lastLine(text) {
  return (
    text
      .trim()
      .split('\n')
      .filter((l) => l.trim())
      .at(-1) ?? ''
  );
}

/**
 * Checks that the Python imports numpy, pandas and pyarrow. Returns `{ python, versions }` or
 * `{ skipped: reason }`.
 */
export async function checkPython() {
  const located = locatePython();
  if (!located.python) return { skipped: located.reason };
  const result = await runPython(located.python, { check_only: true });
  if (result.code !== 0) {
    return { skipped: `${located.python}: ${lastLine(result.stderr) || `exit code ${result.code}`}` };
  }
  return { python: located.python, versions: JSON.parse(lastLine(result.stdout)).versions };
}

async function runPeer(python, payload, script, name) {
  const result = await runPython(python, payload, script);
  if (result.code !== 0) {
    const why = result.signal
      ? `killed by ${result.signal}`
      : lastLine(result.stderr) || `exit code ${result.code}`;
    return { skipped: `${name} failed: ${why}` };
  }
  return JSON.parse(lastLine(result.stdout));
}

/** Runs the pandas peer; returns its JSON report or `{ skipped: reason }` if it fails. */
export function runPandasPeer(python, payload) {
  return runPeer(python, payload, PANDAS_WRITE, 'pandas peer');
}

/**
 * Runs the exp_engine-style CSV converter (bench/csv_convert.py); returns its JSON report or
 * `{ skipped: reason }` if it fails.
 */
export function runCsvConvertPeer(python, payload) {
  return runPeer(python, payload, CSV_CONVERT, 'csv_convert.py');
}
