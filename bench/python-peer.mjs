// Locates the Python that has pandas + pyarrow and runs bench/pandas_write.py in a subprocess.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const SCRIPT = path.join(BENCH_DIR, 'pandas_write.py');

/** `RUNLAKE_PYTHON`, else `<repo>/.venv/bin/python`; `undefined` with a reason when neither exists. */
export function locatePython() {
  const fromEnv = process.env.RUNLAKE_PYTHON;
  if (fromEnv) return { python: fromEnv, source: 'RUNLAKE_PYTHON' };
  const venv = path.join(BENCH_DIR, '..', '.venv', 'bin', 'python');
  if (existsSync(venv)) return { python: venv, source: '.venv' };
  return { reason: 'no Python: set RUNLAKE_PYTHON or create .venv (see docs/benchmarks.md)' };
}

function runPython(python, payload) {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(python, [SCRIPT, JSON.stringify(payload)], { stdio: ['ignore', 'pipe', 'pipe'] });
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

/** Runs the pandas peer; returns its JSON report or `{ skipped: reason }` if it fails. */
export async function runPandasPeer(python, payload) {
  const result = await runPython(python, payload);
  if (result.code !== 0) {
    const why = result.signal
      ? `killed by ${result.signal}`
      : lastLine(result.stderr) || `exit code ${result.code}`;
    return { skipped: `pandas peer failed: ${why}` };
  }
  return JSON.parse(lastLine(result.stdout));
}
