import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file lives in `<repo>/test/helpers/`). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where the Python helper scripts of the test suite live. */
export const PYTHON_SCRIPTS_DIR = path.join(REPO_ROOT, 'test', 'python');

const DEFAULT_TIMEOUT_MS = 120_000;

/**
 * The Python interpreter the interop tests use: `$RUNLAKE_PYTHON`, else the repository's
 * `.venv` (created by `python3 -m venv .venv && .venv/bin/pip install pyarrow pandas polars`),
 * else `python3` from the PATH.
 */
export function resolvePython(): string {
  const fromEnv = process.env.RUNLAKE_PYTHON?.trim();
  if (fromEnv) return fromEnv;
  const candidates = [
    path.join(REPO_ROOT, '.venv', 'bin', 'python'),
    path.join(REPO_ROOT, '.venv', 'Scripts', 'python.exe'),
  ];
  return candidates.find((candidate) => fs.existsSync(candidate)) ?? 'python3';
}

/** Options for {@link runPython}. */
export interface RunPythonOptions {
  /** The interpreter; defaults to {@link resolvePython}. */
  readonly python?: string;
  /** Kill the process after this long (default 120 s). */
  readonly timeoutMs?: number;
}

/**
 * Runs a Python script (a path, or a file name inside `test/python/`) and returns its stdout.
 * Throws with the exit status and stderr when the script fails or times out.
 */
export function runPython(
  script: string,
  args: readonly string[] = [],
  stdin?: string,
  options: RunPythonOptions = {},
): string {
  const python = options.python ?? resolvePython();
  const file = path.isAbsolute(script) ? script : path.join(PYTHON_SCRIPTS_DIR, script);
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const result = spawnSync(python, [file, ...args], {
    input: stdin ?? '',
    encoding: 'utf8',
    timeout,
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, PYTHONIOENCODING: 'utf-8', PYTHONUTF8: '1', PYTHONDONTWRITEBYTECODE: '1' },
  });
  const command = `${python} ${[file, ...args].map((a) => JSON.stringify(a)).join(' ')}`;
  if (result.error) {
    const timedOut = (result.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    throw new Error(
      `${command} ${timedOut ? `timed out after ${timeout} ms` : `could not run: ${result.error.message}`}\n${result.stderr ?? ''}`,
    );
  }
  if (result.status !== 0) {
    const how = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.status}`;
    throw new Error(`${command} ${how}\n--- stderr ---\n${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** A Python interpreter checked for a set of modules. */
export interface PythonEnvironment {
  readonly python: string;
  readonly modules: readonly string[];
  /** True when the interpreter runs and every module imports. */
  readonly available: boolean;
  /** Module name → `__version__` (or `''`) for the modules that imported. */
  readonly versions: Readonly<Record<string, string>>;
  readonly missing: readonly string[];
  /** Why the environment is unavailable (`''` when it is available). */
  readonly reason: string;
  /**
   * True when tests needing these modules should be skipped: they are missing and `$CI` is not
   * set. On CI a missing module is a failure, never a skip.
   */
  readonly skip: boolean;
  /** {@link runPython} with this interpreter. */
  runPython(script: string, args?: readonly string[], stdin?: string, timeoutMs?: number): string;
}

const PROBE = `
import importlib, json, sys
found = {}
for name in sys.argv[1:]:
    try:
        module = importlib.import_module(name)
    except Exception as error:
        found[name] = None
        print(f"{name}: {type(error).__name__}: {error}", file=sys.stderr)
    else:
        found[name] = str(getattr(module, "__version__", ""))
print(json.dumps(found))
`;

/**
 * Resolves the interpreter (see {@link resolvePython}) and checks that `modules` import. Call it at
 * module load and feed `skip` to `describe.skipIf`; tests should still assert `available` so that
 * CI, where `skip` is false, fails loudly when the venv is missing.
 *
 * @example
 * ```ts
 * const py = pythonWith(['pyarrow', 'polars']);
 * describe.skipIf(py.skip)('interop', () => { … });
 * ```
 */
export function pythonWith(modules: readonly string[]): PythonEnvironment {
  const python = resolvePython();
  const result = spawnSync(python, ['-c', PROBE, ...modules], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, PYTHONIOENCODING: 'utf-8', PYTHONDONTWRITEBYTECODE: '1' },
  });
  let versions: Record<string, string> = {};
  let missing: string[] = [...modules];
  let reason = '';
  if (result.error || result.status !== 0) {
    reason = `cannot run ${python}: ${result.error?.message ?? result.stderr.trim()}`;
  } else {
    const found = JSON.parse(result.stdout) as Record<string, string | null>;
    versions = Object.fromEntries(Object.entries(found).filter((e): e is [string, string] => e[1] !== null));
    missing = modules.filter((m) => found[m] === null || found[m] === undefined);
    if (missing.length) reason = `${python} cannot import ${missing.join(', ')}: ${result.stderr.trim()}`;
  }
  if (reason) {
    reason +=
      '\n(set RUNLAKE_PYTHON, or create the venv: python3 -m venv .venv && .venv/bin/pip install pyarrow pandas polars)';
  }
  const available = reason === '';
  return {
    python,
    modules,
    available,
    versions,
    missing,
    reason,
    skip: !available && !process.env.CI,
    runPython: (script, args = [], stdin, timeoutMs) => runPython(script, args, stdin, { python, timeoutMs }),
  };
}

/**
 * Runs a tracking client script (a file of `test/python/`, or an absolute path) with the
 * repository's `runlake` package (python/src) and CLI, a private runtime directory for the
 * sidecar socket and a spool beside it, plus `env`. Resolves with its stdout; rejects with the end
 * of its stderr when it exits non-zero.
 */
export function runTrackingClient(
  python: string,
  script: string,
  args: readonly string[],
  runtimeDir: string,
  env: Readonly<Record<string, string>> = {},
): Promise<string> {
  const child = spawn(python, [path.resolve(PYTHON_SCRIPTS_DIR, script), ...args], {
    env: {
      ...process.env,
      PYTHONPATH: path.join(REPO_ROOT, 'python', 'src'),
      RUNLAKE_BIN: path.join(REPO_ROOT, 'dist', 'cli', 'main.js'),
      XDG_RUNTIME_DIR: runtimeDir,
      RUNLAKE_SPOOL: path.join(runtimeDir, 'spool'),
      ...env,
    },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  return new Promise((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${path.basename(script)} ${args.join(' ')} exited ${code}: ${err.slice(-3000)}`)),
    ),
  );
}
