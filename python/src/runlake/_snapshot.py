"""Reading a dataset's commit log: which Parquet files make up a version of it (standard library only).

docs/commits.md is the specification this follows; ``src/lake/commit-log.ts`` is the TypeScript
implementation. A snapshot of version *v* is the file set left after applying commits 0…*v* in
order, starting from the newest checkpoint at or below *v*. A dataset without a log (written by
pandas, pyarrow or exp_engine) is read as TypeScript reads it: every ``.parquet`` file under its
directory, with version -1. Nothing here ever writes to the lake.

>>> snap = read_snapshot("results", "metrics_scalar")  # doctest: +SKIP
>>> snap.version, len(snap.files), snap.partition_by  # doctest: +SKIP
(12, 42, (('run_id', 'string'),))

Column types are spelled as runlake's manifests spell them: the ``kind`` of a scalar type
(``int64``, ``float32``, ``string``, ``timestamp``, …), and the compact JSON of the manifest's
type object for nested and foreign types (``{"kind":"list","element":{"kind":"float32"}}``,
``{"kind":"other","sql":"DECIMAL(10,2)"}``). :func:`duckdb_type` and :func:`arrow_type` map
either spelling to an engine's type.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from ._transport import RunlakeError

__all__ = [
    "DatasetSnapshot",
    "LakeFormatError",
    "SnapshotFile",
    "VersionNotFoundError",
    "arrow_type",
    "duckdb_type",
    "lake_datasets",
    "read_snapshot",
]

LOG_FORMAT = 1
_COMMIT_NAME = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT_NAME = re.compile(r"^(\d{20})\.checkpoint\.json$")
_DATASET_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_RESERVED_DIRECTORIES = frozenset({"grids"})
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_CANONICAL_INTEGER = re.compile(r"^-?(0|[1-9][0-9]{0,17})$")
_DECIMAL_NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")
_MAX_DEPTH = 32


class LakeFormatError(RunlakeError):
    """A lake metadata file (commit, checkpoint, manifest) that runlake cannot read.

    The message is one line: the file, then what is wrong with it.
    """

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


class VersionNotFoundError(RunlakeError):
    """A version the log does not hold (newer than the latest, or removed by ``vacuum``)."""


@dataclass(frozen=True)
class SnapshotFile:
    """One Parquet file of a snapshot."""

    path: str
    """Absolute path of the Parquet file."""
    size: int
    """Size in bytes, as the log records it (from the file system for a dataset without a log)."""
    rows: int
    """Row count, as the log records it; -1 for a dataset without a log (the log is what knows)."""


@dataclass(frozen=True)
class DatasetSnapshot:
    """A dataset as of one version of its commit log."""

    name: str
    version: int
    """The log version read; -1 when the dataset has no log (read by listing its directory)."""
    files: tuple[SnapshotFile, ...]
    """Exactly the files of the snapshot, sorted by path."""
    partition_by: tuple[tuple[str, str], ...]
    """Partition columns in path order: (column, runlake type)."""
    columns: tuple[tuple[str, str], ...]
    """Columns (not partition columns) the snapshot's schema or manifest records: (column, runlake type)."""
    schema_fingerprints: tuple[str | None, ...] = ()
    """Per file (same order as ``files``): the Parquet schema fingerprint the log recorded, if any."""
    timestamp: str | None = None
    """Time of the commit that made this version (ISO-8601 UTC), if any."""

    @property
    def rows(self) -> int:
        """Total rows of the snapshot (-1 when unknown: a dataset without a log)."""
        if self.version < 0:
            return -1
        return sum(f.rows for f in self.files)


# --------------------------------------------------------------------------------------------
# Types: one table from runlake's scalar kinds to DuckDB's SQL spelling and pyarrow's factory.

_SCALAR_TYPES: dict[str, tuple[str, str]] = {
    # kind: (DuckDB SQL, pyarrow factory name)
    "int16": ("SMALLINT", "int16"),
    "int32": ("INTEGER", "int32"),
    "int64": ("BIGINT", "int64"),
    "float64": ("DOUBLE", "float64"),
    "float32": ("FLOAT", "float32"),
    "bool": ("BOOLEAN", "bool_"),
    "string": ("VARCHAR", "string"),
    "timestamp": ("TIMESTAMP WITH TIME ZONE", "timestamp"),
    # A column all null when it first appeared: DuckDB types a NULL literal as INTEGER.
    "null": ("INTEGER", "null"),
}


def _type_spelling(value: Any, file: str, where: str, depth: int = 0) -> str:
    """The text spelling of a manifest type object (checked), see the module docstring."""
    problem = _type_problem(value, depth)
    if problem is not None:
        raise LakeFormatError(file, f"not a runlake dataset manifest: {where}: {problem}")
    kind = value["kind"]
    if kind in _SCALAR_TYPES:
        return str(kind)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _type_problem(value: Any, depth: int = 0) -> str | None:
    if depth > _MAX_DEPTH:
        return f"type nested more than {_MAX_DEPTH} levels deep"
    if not isinstance(value, dict):
        return "type is not an object"
    kind = value.get("kind")
    if not isinstance(kind, str):
        return 'type has no "kind"'
    if kind in _SCALAR_TYPES:
        return None
    if kind == "list":
        return _type_problem(value.get("element"), depth + 1)
    if kind == "struct":
        fields = value.get("fields")
        if not isinstance(fields, list):
            return 'struct type has no "fields" list'
        for field in fields:
            if not isinstance(field, list) or len(field) != 2 or not isinstance(field[0], str):
                return "struct field is not a [name, type] pair"
            inner = _type_problem(field[1], depth + 1)
            if inner is not None:
                return inner
        return None
    if kind == "other":
        sql = value.get("sql")
        if not isinstance(sql, str) or not sql.strip():
            return '"other" type has no "sql"'
        if len(sql) > 1000 or ";" in sql or "--" in sql or "/*" in sql:
            return f'"other" type {json.dumps(sql[:40])} is not a SQL type'
        return None
    return f"unknown type kind {json.dumps(kind)}"


def _type_object(type_text: str) -> dict[str, Any]:
    if type_text in _SCALAR_TYPES:
        return {"kind": type_text}
    try:
        value = json.loads(type_text)
    except ValueError:
        value = None
    problem = _type_problem(value)
    if problem is not None:
        raise ValueError(f"not a runlake column type: {type_text!r} ({problem})")
    assert isinstance(value, dict)
    return value


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _duckdb_sql(value: dict[str, Any]) -> str:
    kind = value["kind"]
    if kind == "list":
        return f"{_duckdb_sql(value['element'])}[]"
    if kind == "struct":
        inner = ", ".join(f"{_quote_identifier(name)} {_duckdb_sql(t)}" for name, t in value["fields"])
        return f"STRUCT({inner})"
    if kind == "other":
        return str(value["sql"])
    return _SCALAR_TYPES[kind][0]


def duckdb_type(type_text: str) -> str:
    """DuckDB's SQL spelling of a runlake column type (what TypeScript's ``columnTypeSql`` gives).

    >>> duckdb_type("int64")
    'BIGINT'
    >>> duckdb_type('{"kind":"list","element":{"kind":"float32"}}')
    'FLOAT[]'
    """
    return _duckdb_sql(_type_object(type_text))


def arrow_type(type_text: str) -> Any:
    """The ``pyarrow.DataType`` of a runlake column type (pyarrow is imported here, lazily).

    Timestamps are microseconds in UTC; an ``other`` type (written by another tool) has no
    fixed Arrow type and raises ``ValueError``.

    >>> arrow_type("string")  # doctest: +SKIP
    DataType(string)
    """
    try:
        import pyarrow as pa  # type: ignore[import-untyped]
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise RunlakeError("runlake.arrow_type needs pyarrow: pip install pyarrow") from error

    def convert(value: dict[str, Any]) -> Any:
        kind = value["kind"]
        if kind == "list":
            return pa.list_(convert(value["element"]))
        if kind == "struct":
            return pa.struct([(name, convert(t)) for name, t in value["fields"]])
        if kind == "other":
            raise ValueError(f"runlake type other ({value['sql']}) has no fixed Arrow type")
        if kind == "timestamp":
            return pa.timestamp("us", tz="UTC")
        return getattr(pa, _SCALAR_TYPES[kind][1])()

    return convert(_type_object(type_text))


# --------------------------------------------------------------------------------------------
# Metadata files


def _read_json(file: str) -> Any | None:
    """The parsed JSON of a metadata file; None when it does not exist."""
    try:
        with open(file, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise LakeFormatError(file, f"cannot be read ({error.strerror or error})") from error
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise LakeFormatError(file, f"is not UTF-8 text (byte {error.start})") from None
    try:
        return json.loads(text)
    except ValueError as error:
        first = str(error).splitlines()[0] if str(error) else "invalid"
        raise LakeFormatError(file, f"is not valid JSON ({first})") from None
    except RecursionError:
        raise LakeFormatError(file, "is not valid JSON (nested too deep)") from None


def _object_problem(value: Any) -> str | None:
    if value is None:
        return "holds null, not an object"
    if isinstance(value, list):
        return "holds an array, not an object"
    if not isinstance(value, dict):
        return f"holds a {type(value).__name__}, not an object"
    return None


def _safe_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= 2**53 - 1


def _file_list_problem(value: Any, field: str, what: str) -> str | None:
    if not isinstance(value, list):
        return f'not a {what}: "{field}" is not a list'
    for entry in value:
        path = entry.get("path") if isinstance(entry, dict) else None
        if (
            not isinstance(path, str)
            or not path
            or path.startswith("/")
            or any(segment in ("", ".", "..") for segment in path.split("/"))
            or not _safe_int(entry.get("size"))
            or not _safe_int(entry.get("rows"))
        ):
            return f'not a {what}: an entry of "{field}" lacks a relative "path", "size" or "rows"'
    return None


@dataclass
class _LiveFile:
    path: str
    size: int
    rows: int
    schema: str | None


@dataclass
class _State:
    version: int
    timestamp: str | None
    schema: dict[str, Any] | None
    files: dict[str, _LiveFile]


def _version_name(version: int) -> str:
    return f"{version:020d}"


def _commit_file(log: str, version: int) -> str:
    return os.path.join(log, f"{_version_name(version)}.json")


def _checkpoint_file(log: str, version: int) -> str:
    return os.path.join(log, f"{_version_name(version)}.checkpoint.json")


def _list_log(log: str) -> list[str]:
    try:
        return os.listdir(log)
    except FileNotFoundError:
        return []
    except OSError as error:
        raise LakeFormatError(log, f"cannot be listed ({error.strerror or error})") from error


def _checkpoints(log: str) -> list[int]:
    found = []
    for name in _list_log(log):
        match = _CHECKPOINT_NAME.match(name)
        if match:
            found.append(int(match.group(1)))
    return sorted(found)


def _last_checkpoint(log: str) -> int:
    """The `_last_checkpoint` hint when it names a checkpoint that exists, else the highest one."""
    try:
        hint = _read_json(os.path.join(log, "_last_checkpoint"))
    except LakeFormatError:
        hint = None  # only a hint: a reader that cannot read it lists the folder
    if isinstance(hint, dict) and _safe_int(hint.get("version")):
        version = int(hint["version"])
        if version >= 0 and os.path.exists(_checkpoint_file(log, version)):
            return version
    checkpoints = _checkpoints(log)
    return checkpoints[-1] if checkpoints else -1


def _latest_version(log: str) -> int:
    if not os.path.isdir(log):
        return -1
    version = _last_checkpoint(log)
    if (
        version >= 0
        and not os.path.exists(_commit_file(log, version))
        and not os.path.exists(_checkpoint_file(log, version))
    ):
        version = -1
    while os.path.exists(_commit_file(log, version + 1)):
        version += 1
    return version


def _manifest_columns(
    value: Any, file: str, dataset: str
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """(partition_by, columns) of a manifest object, checked as TypeScript's manifestProblem does."""
    problem = _object_problem(value)
    if problem is not None:
        raise LakeFormatError(file, f"not a runlake dataset manifest: the file {problem}")
    if "format" not in value:
        raise LakeFormatError(file, 'not a runlake dataset manifest: "format" is missing')
    if value["format"] != 1 or isinstance(value["format"], bool):
        raise LakeFormatError(file, f"not a runlake dataset manifest: format {json.dumps(value['format'])} is not 1")
    if value.get("dataset") != dataset:
        raise LakeFormatError(
            file,
            f'not a runlake dataset manifest: it names dataset {json.dumps(value.get("dataset"))}, not "{dataset}"',
        )
    out: list[tuple[tuple[str, str], ...]] = []
    for key in ("partitionBy", "columns"):
        entries = value.get(key)
        if not isinstance(entries, list):
            raise LakeFormatError(file, f'not a runlake dataset manifest: "{key}" is not a list')
        pairs = []
        for i, column in enumerate(entries):
            if not isinstance(column, dict) or not isinstance(column.get("name"), str):
                raise LakeFormatError(file, f'not a runlake dataset manifest: {key}[{i}] has no "name"')
            name = column["name"]
            pairs.append((name, _type_spelling(column.get("type"), file, f"{key}[{i}] ({name})")))
        out.append(tuple(pairs))
    return out[0], out[1]


def _read_commit(log: str, dataset: str, version: int) -> dict[str, Any] | None:
    file = _commit_file(log, version)
    value = _read_json(file)
    if value is None:
        return None
    problem = _object_problem(value)
    if problem is not None:
        raise LakeFormatError(file, f"not a commit: the file {problem}")
    if value.get("format") != LOG_FORMAT or isinstance(value.get("format"), bool):
        raise LakeFormatError(file, f"not a commit of format {LOG_FORMAT} (format {value.get('format')!r})")
    if value.get("dataset") != dataset:
        raise LakeFormatError(file, f"not a commit of {dataset} (dataset {value.get('dataset')!r})")
    if value.get("version") != version or isinstance(value.get("version"), bool):
        raise LakeFormatError(file, f"holds version {value.get('version')!r}, not {version}")
    if not isinstance(value.get("operation"), str) or not isinstance(value.get("timestamp"), str):
        raise LakeFormatError(file, 'not a commit: "operation" or "timestamp" is missing')
    problem = _file_list_problem(value.get("add"), "add", "commit") or _file_list_problem(
        value.get("remove"), "remove", "commit"
    )
    if problem is not None:
        raise LakeFormatError(file, problem)
    schema = value.get("schema")
    if schema is not None:
        _manifest_columns(schema, file, dataset)
    record: dict[str, Any] = value
    return record


def _live(entry: dict[str, Any]) -> _LiveFile:
    schema = entry.get("schema")
    return _LiveFile(
        path=entry["path"],
        size=int(entry["size"]),
        rows=int(entry["rows"]),
        schema=schema if isinstance(schema, str) else None,
    )


def _read_checkpoint(log: str, dataset: str, version: int) -> _State:
    file = _checkpoint_file(log, version)
    value = _read_json(file)
    if value is None:
        raise VersionNotFoundError(f"{file}: the checkpoint disappeared")
    problem = _object_problem(value)
    if problem is None and (
        value.get("format") != LOG_FORMAT or value.get("dataset") != dataset or value.get("version") != version
    ):
        problem = f"not a checkpoint of {dataset} at version {version}"
    if problem is None:
        problem = _file_list_problem(value.get("files"), "files", "checkpoint")
    if problem is not None:
        raise LakeFormatError(file, problem)
    schema = value.get("schema")
    if schema is not None:
        _manifest_columns(schema, file, dataset)
    timestamp = value.get("timestamp")
    return _State(
        version=version,
        timestamp=timestamp if isinstance(timestamp, str) else None,
        schema=schema,
        files={entry["path"]: _live(entry) for entry in value["files"]},
    )


def _load_state(log: str, dataset: str, version: int) -> _State:
    """The snapshot of `version`: the newest checkpoint at or below it, then the commits after."""
    at_or_below = [v for v in _checkpoints(log) if v <= version]
    if at_or_below:
        state = _read_checkpoint(log, dataset, at_or_below[-1])
    elif os.path.exists(_commit_file(log, 0)):
        state = _State(version=-1, timestamp=None, schema=None, files={})
    else:
        raise VersionNotFoundError(f"{dataset} version {version} is older than its log retains (vacuum removed it)")
    for v in range(state.version + 1, version + 1):
        commit = _read_commit(log, dataset, v)
        if commit is None:
            raise VersionNotFoundError(f"{dataset}: commit {v} of the log is missing ({_commit_file(log, v)})")
        for removed in commit["remove"]:
            state.files.pop(removed["path"], None)
        for added in commit["add"]:
            state.files[added["path"]] = _live(added)
        state.version = v
        state.timestamp = commit["timestamp"]
        if commit.get("schema") is not None:
            state.schema = commit["schema"]
    return state


# --------------------------------------------------------------------------------------------
# Datasets without a log: the files on disk, the partition layout from the directory names.


def _list_parquet(directory: str) -> list[str]:
    """Relative paths of the `.parquet` files under `directory`, not following directory links."""
    found: list[str] = []
    pending = [""]
    while pending:
        relative = pending.pop()
        full = os.path.join(directory, relative) if relative else directory
        try:
            entries = list(os.scandir(full))
        except FileNotFoundError:
            if relative == "":
                return []
            raise
        for entry in entries:
            child = f"{relative}/{entry.name}" if relative else entry.name
            if entry.is_dir(follow_symlinks=False):
                pending.append(child)
            elif entry.name.endswith(".parquet") and entry.is_file(follow_symlinks=True):
                found.append(child)
    return sorted(found)


def _partition_keys(directory: str) -> tuple[list[str], dict[str, set[str]]] | None:
    """Keys (path order, from the first branch) and encoded values seen; None without Parquet files."""
    keys: list[str] = []
    values: dict[str, set[str]] = {}

    def walk(folder: str, depth: int) -> bool:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except FileNotFoundError:
            return False
        saw_file = any(e.name.endswith(".parquet") and e.is_file(follow_symlinks=False) for e in entries)
        for entry in entries:
            eq = entry.name.find("=")
            if eq <= 0 or not entry.is_dir(follow_symlinks=False):
                continue
            key = unquote(entry.name[:eq])
            if len(keys) <= depth:
                keys.append(key)
            if keys[depth] != key:
                continue
            values.setdefault(key, set()).add(entry.name[eq + 1 :])
            if walk(entry.path, depth + 1):
                saw_file = True
        return saw_file

    if not walk(directory, 0):
        return None
    return keys, values


def _infer_partition_type(name: str, encoded: set[str] | None) -> str:
    if name == "grid_id" or not encoded:
        return "string"
    decoded = [unquote(v) for v in encoded if v != _HIVE_NULL]
    if not decoded:
        return "string"
    if all(_CANONICAL_INTEGER.match(v) for v in decoded):
        return "int64"
    if all(_DECIMAL_NUMBER.match(v) for v in decoded):
        return "float64"
    if all(v in ("true", "false") for v in decoded):
        return "bool"
    return "string"


def _discovered_partitions(directory: str) -> tuple[tuple[str, str], ...]:
    """The partition columns the directory names show (path order), typed from their values."""
    layout = _partition_keys(directory)
    keys, values = layout if layout is not None else ([], {})
    return tuple((k, _infer_partition_type(k, values.get(k))) for k in keys)


# --------------------------------------------------------------------------------------------
# Public entry points


def _manifest_path(root: str, dataset: str) -> str:
    return os.path.join(root, ".runlake", "datasets", f"{dataset}.json")


def _check_dataset_name(dataset: str) -> None:
    if not _DATASET_NAME.match(dataset):
        raise RunlakeError(
            f"{dataset!r} is not a dataset name (lowercase letters, digits and _, starting with a letter)"
        )


def read_snapshot(
    lake: str | os.PathLike[str],
    dataset: str,
    *,
    version: int | None = None,
) -> DatasetSnapshot:
    """The files and schema of a dataset at its latest log version (or ``version``, time travel).

    Follows docs/commits.md: the newest checkpoint (``_last_checkpoint`` is only a hint), then the
    commits after it, in order. A file a later commit removed is found in the lake's trash. A
    dataset without a log gives version -1 and every ``.parquet`` file under its directory, as
    runlake's TypeScript readers do. A malformed commit, checkpoint or manifest raises
    :class:`LakeFormatError` naming the file; a version the log does not hold,
    :class:`VersionNotFoundError`.

    >>> read_snapshot("results", "metrics_scalar").version  # doctest: +SKIP
    12
    """
    return _read_snapshot_ordered(lake, dataset, version=version)[0]


def _read_snapshot_ordered(
    lake: str | os.PathLike[str],
    dataset: str,
    *,
    version: int | None = None,
) -> tuple[DatasetSnapshot, tuple[int, ...]]:
    """:func:`read_snapshot`, and the files' indices in log order (the order TypeScript binds them in)."""
    _check_dataset_name(dataset)
    root = os.path.abspath(os.fspath(lake))
    directory = os.path.join(root, dataset)
    log = os.path.join(root, ".runlake", "log", dataset)
    manifest_file = _manifest_path(root, dataset)
    manifest = _read_json(manifest_file)
    latest = _latest_version(log)
    if version is not None and (version < 0 or version > latest):
        have = "none: it has no log" if latest < 0 else str(latest)
        raise VersionNotFoundError(f"{dataset} has no version {version} (latest {have})")
    target = latest if version is None else version

    if target < 0:
        if manifest is not None:
            partition_by, columns = _manifest_columns(manifest, manifest_file, dataset)
        else:
            partition_by, columns = _discovered_partitions(directory), ()
        files = []
        for relative in _list_parquet(directory):
            full = os.path.join(directory, relative)
            files.append(SnapshotFile(path=full, size=os.stat(full).st_size, rows=-1))
        snapshot = DatasetSnapshot(
            name=dataset,
            version=-1,
            files=tuple(files),
            partition_by=partition_by,
            columns=columns,
            schema_fingerprints=tuple(None for _ in files),
        )
        return snapshot, tuple(range(len(files)))

    state = _load_state(log, dataset, target)
    # As TypeScript's readers: the latest version reads with the manifest file (the schema the
    # writers reconcile), an earlier one with the schema its commits recorded.
    if manifest is not None and (version is None or state.schema is None):
        partition_by, columns = _manifest_columns(manifest, manifest_file, dataset)
    elif state.schema is not None:
        partition_by, columns = _manifest_columns(state.schema, _commit_file(log, target), dataset)
    else:
        partition_by, columns = _discovered_partitions(directory), ()
    # Files a later commit removed have moved to the trash (or are about to).
    removed_since: set[str] = set()
    if target < latest:
        removed_since = set(state.files) - set(_load_state(log, dataset, latest).files)
    trash = os.path.join(root, ".runlake", "trash", dataset)
    resolved: list[tuple[str, _LiveFile, int]] = []
    for position, (relative, live) in enumerate(state.files.items()):
        full = os.path.join(directory, *relative.split("/"))
        if relative in removed_since:
            trashed = os.path.join(trash, *relative.split("/"))
            if os.path.exists(trashed):
                full = trashed
        resolved.append((full, live, position))
    resolved.sort(key=lambda item: item[0])
    snapshot = DatasetSnapshot(
        name=dataset,
        version=target,
        files=tuple(SnapshotFile(path=full, size=live.size, rows=live.rows) for full, live, _ in resolved),
        partition_by=partition_by,
        columns=columns,
        schema_fingerprints=tuple(live.schema for _, live, _ in resolved),
        timestamp=state.timestamp,
    )
    by_position = sorted(range(len(resolved)), key=lambda i: resolved[i][2])
    return snapshot, tuple(by_position)


def lake_datasets(lake: str | os.PathLike[str]) -> list[str]:
    """The datasets of a lake directory, sorted: top-level directories runlake wrote (they have a
    manifest) or that hold Parquet files, named like datasets (``[a-z][a-z0-9_]*``, not ``grids``).

    Datasets a schema set declares but nothing has written yet are not listed (TypeScript's
    ``openLake`` shows them as empty views; their definitions live in the TypeScript package).

    >>> lake_datasets("results")  # doctest: +SKIP
    ['events', 'seeds']
    """
    root = os.path.abspath(os.fspath(lake))
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except FileNotFoundError:
        raise RunlakeError(f"{root}: no such lake directory") from None
    names = []
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False) or entry.name in _RESERVED_DIRECTORIES:
            continue
        if not _DATASET_NAME.match(entry.name):
            continue
        if os.path.exists(_manifest_path(root, entry.name)) or _list_parquet(entry.path):
            names.append(entry.name)
    return names
