"""Scale-out on Ray: read a lake dataset as a Ray Dataset, and fan ``runlake analyze`` out over a cluster.

Ray (``pip install 'ray[data]'``) does the scheduling; runlake adds the glue. docs/scale-out.md
explains running it on several machines, with the lake on a shared file system.

>>> import ray, runlake.ray  # doctest: +SKIP
>>> ray.init()  # doctest: +SKIP
>>> result = runlake.ray.analyze("squiggle-lake")  # one Ray task per run, then the cross-run stages
>>> ds = runlake.ray.read("squiggle-lake", "geometry_state", filters=[("run_id", "=", "tiny-s1")])

``read`` binds exactly the Parquet files of the dataset's current snapshot (from its commit log,
docs/commits.md), never a directory glob, so files a replace or compaction moved out, and files a
writer is still publishing, are never read. ``analyze`` runs one Ray task per run, each a
``runlake analyze <lake> --stage descriptors --run <run>`` process committing its
``geometry_state`` and ``geometry_dynamics`` rows through the commit protocol, then one task
running the cross-run stages (events, signatures, matches) once over the runs that changed: the
lake ends with the same rows as one ``runlake analyze``.

Ray and pyarrow are imported when these functions are called, not with ``runlake``.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import unquote

from ._sidecar import cli_command
from ._snapshot import DatasetSnapshot, arrow_type, read_snapshot
from ._transport import RunlakeError

__all__ = ["AnalyzeResult", "analyze", "read", "snapshot_partitions"]

_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_OPERATORS = ("=", "==", "!=", "<", "<=", ">", ">=", "in", "not in")

#: One filter term: (column, operator, value); a list of them is their conjunction.
Filter = tuple[str, str, Any]


def _import(name: str, purpose: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise RunlakeError(f"runlake.ray.{purpose} needs {name}: pip install 'ray[data]'") from error


# --------------------------------------------------------------------------------------------
# read


def _decode_partition(raw: str, column: str, type_text: str, file: str) -> Any:
    """One Hive path value as runlake wrote it (docs/lake.md, "Partition values"), typed."""
    if raw == _HIVE_NULL:
        return None
    try:
        text = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise RunlakeError(f"{file}: partition {column}={raw} is not percent-encoded UTF-8") from None
    try:
        if type_text == "string":
            return text
        if type_text in ("int16", "int32", "int64"):
            return int(text)
        if type_text in ("float32", "float64"):
            return float(text)
        if type_text == "bool":
            if text not in ("true", "false"):
                raise ValueError(text)
            return text == "true"
    except ValueError:
        raise RunlakeError(f"{file}: partition {column}={raw} is not a {type_text} value") from None
    raise RunlakeError(f"{file}: partition column {column} has type {type_text}, which runlake.ray.read cannot decode")


def snapshot_partitions(lake: str | os.PathLike[str], snapshot: DatasetSnapshot) -> list[dict[str, Any]]:
    """Per file of ``snapshot`` (same order), its partition values, decoded and typed from its path.

    >>> snap = read_snapshot("results", "events")  # doctest: +SKIP
    >>> snapshot_partitions("results", snap)[0]  # doctest: +SKIP
    {'grid_id': '3f9c2a1b', 'seed': 0}
    """
    root = os.path.abspath(os.fspath(lake))
    bases = [
        os.path.join(root, snapshot.name) + os.sep,
        os.path.join(root, ".runlake", "trash", snapshot.name) + os.sep,
    ]
    types = dict(snapshot.partition_by)
    out = []
    for f in snapshot.files:
        base = next((b for b in bases if f.path.startswith(b)), None)
        if base is None:
            raise RunlakeError(f"{f.path}: not under {bases[0]} (a snapshot file of {snapshot.name})")
        values: dict[str, Any] = {}
        for segment in f.path[len(base) :].split(os.sep)[:-1]:
            key, eq, raw = segment.partition("=")
            if not eq or not key:
                continue
            column = unquote(key)
            if column in types:
                values[column] = _decode_partition(raw, column, types[column], f.path)
        missing = [c for c in types if c not in values]
        if missing:
            raise RunlakeError(f"{f.path}: no {', '.join(missing)}=… directory for partition column(s) {missing}")
        out.append(values)
    return out


def _check_filters(filters: Sequence[Filter]) -> list[Filter]:
    checked = []
    for term in filters:
        if not isinstance(term, (tuple, list)) or len(term) != 3 or not isinstance(term[0], str):
            raise RunlakeError(f"filter {term!r} is not a (column, operator, value) tuple")
        column, op, value = term
        op = op.lower() if isinstance(op, str) else op
        if op not in _OPERATORS:
            raise RunlakeError(f"filter {term!r}: operator {op!r} is not one of {', '.join(_OPERATORS)}")
        if op in ("in", "not in") and (isinstance(value, (str, bytes)) or not isinstance(value, Iterable)):
            raise RunlakeError(f"filter {term!r}: {op} needs a list of values")
        checked.append((column, op, list(value) if op in ("in", "not in") else value))
    return checked


def _holds(actual: Any, op: str, value: Any) -> bool:
    """A filter term on one partition value, with SQL's NULL semantics (NULL matches nothing)."""
    if actual is None:
        return False
    if op in ("=", "=="):
        return bool(actual == value)
    if op == "!=":
        return bool(actual != value)
    if op == "in":
        return actual in value
    if op == "not in":
        return actual not in value
    try:
        if op == "<":
            return bool(actual < value)
        if op == "<=":
            return bool(actual <= value)
        if op == ">":
            return bool(actual > value)
        return bool(actual >= value)
    except TypeError:
        raise RunlakeError(f"filter {op} {value!r}: cannot compare with the partition value {actual!r}") from None


def _expression(terms: Sequence[Filter], library: ModuleType) -> Any:
    """The conjunction of filter terms as an expression of ``library``: ``pyarrow.compute`` (its
    ``field``) or ``ray.data.expressions`` (its ``col``, which Ray pushes into the Parquet scan)."""
    make = getattr(library, "col", None) or library.field
    expr: Any = None
    for column, op, value in terms:
        field = make(column)
        if op in ("=", "=="):
            term = field == value
        elif op == "!=":
            term = field != value
        elif op == "<":
            term = field < value
        elif op == "<=":
            term = field <= value
        elif op == ">":
            term = field > value
        elif op == ">=":
            term = field >= value
        elif op == "in":
            term = field.is_in(value) if hasattr(field, "is_in") else field.isin(value)
        else:
            term = field.not_in(value) if hasattr(field, "not_in") else ~field.isin(value)
        expr = term if expr is None else expr & term
    return expr


def read(
    lake: str | os.PathLike[str],
    dataset: str,
    filters: Sequence[Filter] | Any | None = None,
    **read_parquet_kwargs: Any,
) -> Any:
    """A ``ray.data.Dataset`` of ``dataset`` as of its latest commit: exactly the snapshot's files.

    Partition columns are added from each file's path, decoded as runlake encodes them and typed
    as the lake's manifest declares (``seed`` as int64, not a string).

    ``filters`` is a list of ``(column, operator, value)`` terms, all of which must hold; operators
    ``= == != < <= > >= in "not in"``. Terms on partition columns prune files before anything is
    read (a NULL partition value matches no term); the others are pushed into the Parquet scan as a
    pyarrow expression. A ``pyarrow.compute.Expression`` is also accepted: it is applied to every
    batch once the partition columns are added (no pruning). Other keyword arguments go to
    ``ray.data.read_parquet`` (``columns=…`` may name partition columns too;
    ``include_paths=True`` keeps each row's file path in a ``path`` column).

    >>> where = [("run_id", "in", ["a", "b"]), ("step", ">=", 100)]
    >>> ds = read("squiggle-lake", "geometry_state", filters=where)  # doctest: +SKIP
    >>> ds.count()  # doctest: +SKIP
    4096
    """
    ray = _import("ray", "read")
    pa = _import("pyarrow", "read")
    pc = _import("pyarrow.compute", "read")
    snapshot = read_snapshot(lake, dataset)
    partitions = snapshot_partitions(lake, snapshot)
    part_types = dict(snapshot.partition_by)
    row_terms: list[Filter] = []
    batch_filter: Any = None
    keep = list(range(len(snapshot.files)))
    if filters is not None and isinstance(filters, pc.Expression):
        batch_filter = filters
    elif filters is not None:
        terms = _check_filters(filters)
        row_terms = [t for t in terms if t[0] not in part_types]
        for column, op, value in (t for t in terms if t[0] in part_types):
            keep = [i for i in keep if _holds(partitions[i][column], op, value)]
    files = [snapshot.files[i].path for i in keep]
    values = {snapshot.files[i].path: partitions[i] for i in keep}
    keep_paths = bool(read_parquet_kwargs.pop("include_paths", False))
    columns = read_parquet_kwargs.pop("columns", None)
    wanted_parts = [c for c, _ in snapshot.partition_by if columns is None or c in columns]
    if columns is not None:
        read_parquet_kwargs["columns"] = [c for c in columns if c not in part_types]
    arrow_types = {c: arrow_type(t) for c, t in snapshot.partition_by}
    if not files:
        # No file matches: an empty dataset with the partition columns (the others are unknown
        # without a file to read them from).
        empty = pa.table({c: pa.array([], type=arrow_types[c]) for c in wanted_parts})
        return ray.data.from_arrow(empty)
    _settle_fsspec_http()
    ds = ray.data.read_parquet(files, partitioning=None, include_paths=True, **read_parquet_kwargs)
    if row_terms:
        try:
            expressions = importlib.import_module("ray.data.expressions")
        except ImportError:  # an older Ray: the terms are applied to each batch below
            batch_filter = _expression(row_terms, pc)
        else:
            ds = ds.filter(expr=_expression(row_terms, expressions))

    def add_partitions(batch: Any) -> Any:
        paths = batch.column("path").to_pylist()
        table = batch if keep_paths else batch.drop_columns(["path"])
        for column in wanted_parts:
            filled = [values[_local_path(p)][column] for p in paths]
            table = table.append_column(
                pa.field(column, arrow_types[column]), pa.array(filled, type=arrow_types[column])
            )
        if batch_filter is not None:
            table = table.filter(batch_filter)
        if columns is None:
            return table
        return table.select([*columns, "path"] if keep_paths else list(columns))

    return ds.map_batches(add_partitions, batch_format="pyarrow", zero_copy_batch=True)


def _settle_fsspec_http() -> None:
    """Marks fsspec's HTTP file system absent when it cannot be imported (aiohttp missing).

    Ray (2.58) asks, for each path, whether its file system is fsspec's HTTP one by importing
    ``fsspec.implementations.http`` and treating ModuleNotFoundError as "no"; it lists paths on
    several threads, and a thread that finds the module half-imported by another gets ImportError
    instead, which fails the whole read. With the module marked absent every import raises
    ModuleNotFoundError at once. Nothing changes when aiohttp is installed.
    """
    name = "fsspec.implementations.http"
    if name in sys.modules:
        return
    try:
        importlib.import_module(name)
    except ImportError:
        sys.modules[name] = None  # type: ignore[assignment]


def _local_path(path: str) -> str:
    """A path as Ray reports it in ``include_paths`` (sometimes without the leading ``/``)."""
    return path if path.startswith("/") else "/" + path


# --------------------------------------------------------------------------------------------
# analyze


@dataclass(frozen=True)
class AnalyzeResult:
    """What :func:`analyze` did."""

    runs: tuple[str, ...]
    """The runs fanned out, one Ray task each."""
    run_summaries: dict[str, dict[str, Any]]
    """Per run, the JSON summary of its ``runlake analyze --stage descriptors`` (docs/geometry.md)."""
    trajectories: dict[str, Any] | None
    """The summary of the cross-run stage (events, signatures, matches); None when no run changed."""
    seconds: float
    """Wall time of the whole fan-out, from the first task submitted to the last one done."""

    @property
    def runs_written(self) -> list[str]:
        """Runs that gained geometry_state or geometry_dynamics rows."""
        return sorted({r for s in self.run_summaries.values() for r in s.get("runsWritten", [])})

    @property
    def checkpoints(self) -> int:
        """(trajectory, step) checkpoints analysed, over every run."""
        return sum(int(s.get("checkpoints", 0)) for s in self.run_summaries.values())


def _run_cli(arguments: list[str], what: str, threads: int) -> dict[str, Any]:
    """Runs ``runlake <arguments> --json`` on this node; its summary, or a RunlakeError naming ``what``.

    ``threads`` is how many CPUs Ray reserved for the task: with one, the descriptor stage's helper
    thread (docs/geometry.md, "Eigen solver"; same results without it) is turned off, so the task
    uses the one CPU it holds.
    """
    command = cli_command()
    if command is None:
        raise RunlakeError(f"{what}: no runlake CLI on {os.uname().nodename} (set RUNLAKE_BIN, or put runlake on PATH)")
    done = subprocess.run(
        [*command, *arguments, "--json", "--no-progress"],
        env={**os.environ, "RUNLAKE_GEOMETRY_THREADS": "1"} if threads == 1 else None,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        cause = lines[-1] if lines else f"exit status {done.returncode}"
        raise RunlakeError(f"{what} failed on {os.uname().nodename}: {cause}")
    try:
        summary: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        raise RunlakeError(f"{what}: the CLI printed no JSON summary ({done.stdout[:200]!r})") from None
    return summary


def _analysis_options(descriptors: Sequence[str] | None, match_top: int | None) -> list[str]:
    options = []
    if descriptors is not None:
        options += ["--descriptors", ",".join(descriptors)]
    if match_top is not None:
        options += ["--match-top", str(match_top)]
    return options


def _runs_with_embeddings(lake: str) -> list[str]:
    snapshot = read_snapshot(lake, "embeddings")
    if "run_id" not in dict(snapshot.partition_by):
        raise RunlakeError(f"{lake}: embeddings is not partitioned by run_id; pass runs=[…]")
    return sorted({str(p["run_id"]) for p in snapshot_partitions(lake, snapshot) if p["run_id"] is not None})


def analyze(
    lake: str | os.PathLike[str],
    runs: Sequence[str] | None = None,
    *,
    workers_per_task: int = 1,
    final_workers: int | None = None,
    descriptors: Sequence[str] | None = None,
    match_top: int | None = None,
    ray_remote_args: dict[str, Any] | None = None,
) -> AnalyzeResult:
    """Fans ``runlake analyze`` out over the Ray cluster: the same rows as one ``runlake analyze``.

    One Ray task per run (``num_cpus=workers_per_task``) runs ``runlake analyze <lake> --stage
    descriptors --run <run> --workers <workers_per_task>`` on whichever node Ray picks: it takes
    that run's lock (several runs proceed at once, a second analysis of the same run is refused),
    computes geometry_state and geometry_dynamics of its new checkpoints and commits them through
    the commit protocol (appends from several processes never conflict). When every task is done,
    one more task runs ``--stage trajectories`` over the runs that gained rows (events and
    signatures of those runs and their grids' seeds, then every signature re-matched), on
    ``final_workers`` threads (default ``workers_per_task``).

    ``runs`` defaults to every run with embeddings. ``descriptors`` and ``match_top`` are
    ``runlake analyze``'s ``--descriptors`` and ``--match-top``. ``ray_remote_args`` go to every
    task (``resources``, ``scheduling_strategy``, ``runtime_env`` …; a ``num_cpus`` there overrides
    the CPUs reserved per task, not the threads it uses). The lake path must name the
    same lake on every node (a shared file system); the CLI is found on each node as the
    ``runlake`` package finds it (``$RUNLAKE_BIN``, ``runlake`` on PATH, ``npx --no-install
    runlake``).

    If some runs fail, the cross-run stage still runs over the runs that succeeded, then a
    :class:`RunlakeError` names each failed run and its cause; calling ``analyze`` again finishes
    them. If the driver dies between the two phases, ``runlake analyze <lake> --stage
    trajectories`` recomputes the cross-run stages of every analysed run.

    >>> result = analyze("squiggle-lake", workers_per_task=1)  # doctest: +SKIP
    >>> result.runs_written, result.trajectories["stages"]["matches"]  # doctest: +SKIP
    (['tiny-s0', 'tiny-s1'], 640)
    """
    ray = _import("ray", "analyze")
    if not isinstance(workers_per_task, int) or workers_per_task < 1:
        raise RunlakeError(f"workers_per_task must be a positive integer, got {workers_per_task!r}")
    final = workers_per_task if final_workers is None else final_workers
    if not isinstance(final, int) or final < 1:
        raise RunlakeError(f"final_workers must be a positive integer, got {final!r}")
    root = os.path.abspath(os.fspath(lake))
    if not os.path.isdir(root):
        raise RunlakeError(f"{root}: no such lake directory")
    selected = sorted(set(runs)) if runs is not None else _runs_with_embeddings(root)
    options = _analysis_options(descriptors, match_top)
    remote_args = dict(ray_remote_args or {})
    started = time.perf_counter()
    stage = ray.remote(_run_cli)
    pending = {
        stage.options(**{"num_cpus": workers_per_task, "name": f"runlake-analyze:{run}", **remote_args}).remote(
            ["analyze", root, "--stage", "descriptors", "--run", run, "--workers", str(workers_per_task), *options],
            f"runlake analyze {root} --stage descriptors --run {run}",
            workers_per_task,
        ): run
        for run in selected
    }
    summaries: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    waiting = list(pending)
    while waiting:
        ready, waiting = ray.wait(waiting, num_returns=1)
        for ref in ready:
            try:
                summaries[pending[ref]] = ray.get(ref)
            except Exception as error:  # a RunlakeError from the task, or Ray's wrapper of one
                cause = getattr(error, "cause", None) or error
                failures.append(f"{pending[ref]}: {str(cause).strip().splitlines()[-1]}")
    written = sorted({r for s in summaries.values() for r in s.get("runsWritten", [])})
    trajectories: dict[str, Any] | None = None
    if written:
        final_task = stage.options(**{"num_cpus": final, "name": "runlake-analyze:trajectories", **remote_args})
        try:
            trajectories = ray.get(
                final_task.remote(
                    ["analyze", root, "--stage", "trajectories", "--workers", str(final), *options, "--run", *written],
                    f"runlake analyze {root} --stage trajectories",
                    final,
                )
            )
        except Exception as error:
            cause = str(getattr(error, "cause", None) or error).strip().splitlines()[-1]
            raise RunlakeError(
                f"runlake.ray.analyze: the cross-run stage failed after {len(written)} runs were analysed "
                f"(run `runlake analyze {root} --stage trajectories` to finish): {cause}"
            ) from error
    seconds = time.perf_counter() - started
    if failures:
        raise RunlakeError(
            f"runlake.ray.analyze: {len(failures)} of {len(selected)} runs failed "
            f"(the others are analysed): {'; '.join(sorted(failures))}"
        )
    return AnalyzeResult(runs=tuple(selected), run_summaries=summaries, trajectories=trajectories, seconds=seconds)
