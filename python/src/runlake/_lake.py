"""Reading a lake from Python: DuckDB views over the snapshots of its commit logs.

:func:`open_lake` gives a ``duckdb.DuckDBPyConnection`` with the views runlake's TypeScript
readers (``openLake``, ``runlake query``) create: one per dataset — the same names, columns,
types and rows — a ``grids`` table of the flattened params, exp_engine's analysis views for
sweep lakes, the schema set's views and the views saved in the lake. Each dataset's view reads
exactly the files of the snapshot current when the lake was opened (no glob), so later commits
do not change what the connection sees.

>>> import runlake
>>> con = runlake.open_lake("results")  # doctest: +SKIP
>>> con.sql("SELECT grid_id, avg(regret) FROM events GROUP BY 1").df()  # doctest: +SKIP
>>> runlake.to_pandas("results", "seeds", where="final_acc > 0.9")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ._snapshot import (
    DatasetSnapshot,
    LakeFormatError,
    _discovered_partitions,
    _partition_keys,
    _read_json,
    _read_snapshot_ordered,
    duckdb_type,
    lake_datasets,
)
from ._transport import RunlakeError

if TYPE_CHECKING:
    import duckdb

__all__ = ["open_lake", "read_dataset", "to_arrow", "to_pandas", "to_polars"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SQL_TYPE_OF_NULL = "INTEGER"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _import_duckdb() -> Any:
    try:
        import duckdb
    except ImportError as error:
        raise RunlakeError(
            "runlake.open_lake needs the duckdb package: pip install 'runlake[read]' (or pip install duckdb)"
        ) from error
    return duckdb


# --------------------------------------------------------------------------------------------
# Schema sets: the dataset definitions and views TypeScript registers, as `runlake schema
# --format json` prints them (python/src/runlake/_schema_sets/, checked against the CLI by tests).


@dataclass(frozen=True)
class _Definition:
    name: str
    partition_by: tuple[tuple[str, str], ...]  # (column, DuckDB SQL type)
    columns: tuple[tuple[str, str], ...] | None  # declared non-partition columns; None: open schema


@dataclass(frozen=True)
class _SchemaSet:
    name: str
    definitions: dict[str, _Definition]
    views: tuple[tuple[str, str], ...]  # (name, sql)


def _schema_set(name: str, lake: str) -> _SchemaSet:
    try:
        if not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
            raise FileNotFoundError(name)
        text = resources.files("runlake").joinpath("_schema_sets").joinpath(f"{name}.json").read_text("utf-8")
    except FileNotFoundError:
        raise RunlakeError(
            f'{lake}: unknown schema set "{name}" (this runlake Python package knows: squiggle, sweep)'
        ) from None
    data = json.loads(text)
    definitions = {}
    for entry in data["datasets"]:
        partitions = set(entry["partition_by"])
        by_name = {c["name"]: c["type"] for c in entry["columns"]}
        declared = tuple((c["name"], c["type"]) for c in entry["columns"] if not c["partition"])
        definitions[entry["name"]] = _Definition(
            name=entry["name"],
            partition_by=tuple((k, by_name[k]) for k in entry["partition_by"] if k in partitions),
            # A definition that declares only its partition columns is an open schema (sweep's events, seeds).
            columns=declared or None,
        )
    views = tuple((v["name"], v["sql"]) for v in data.get("views", []))
    return _SchemaSet(name=name, definitions=definitions, views=views)


def _lake_schema_name(root: str) -> str:
    file = os.path.join(root, ".runlake", "lake.json")
    config = _read_json(file)
    if config is None:
        return "sweep"
    if not isinstance(config, dict) or config.get("format") != 1 or not isinstance(config.get("schema"), str):
        raise LakeFormatError(file, 'not a runlake lake configuration ({"format": 1, "schema": "<set>"})')
    return str(config["schema"])


# --------------------------------------------------------------------------------------------
# Dataset views


def _read_parquet(source: str | Sequence[str], partition_by: Sequence[tuple[str, str]], union_by_name: bool) -> str:
    if partition_by:
        types = ", ".join(f"{_literal(name)}: {_literal(sql)}" for name, sql in partition_by)
        hive = f"hive_partitioning = true, hive_types = {{{types}}}"
    else:
        hive = "hive_partitioning = false"
    files = _literal(source) if isinstance(source, str) else "[" + ", ".join(_literal(f) for f in source) + "]"
    return f"read_parquet({files}, {hive}{', union_by_name = true' if union_by_name else ''})"


def _snapshot_source(files: Sequence[tuple[str, str | None]], partition_by: Sequence[tuple[str, str]]) -> str:
    """One read_parquet per schema fingerprint (in log order), joined UNION ALL BY NAME."""
    groups: dict[str, list[str]] = {}
    for path, fingerprint in files:
        groups.setdefault(fingerprint or "", []).append(path)
    reads = [_read_parquet(paths, partition_by, fingerprint == "") for fingerprint, paths in groups.items()]
    if len(reads) == 1:
        return reads[0]
    return "(" + " UNION ALL BY NAME ".join(f"SELECT * FROM {r}" for r in reads) + ")"


def _column_names(con: Any, source: str) -> list[str]:
    return [d[0] for d in con.execute(f"SELECT * FROM {source} LIMIT 0").description]


def _snapshot_columns(
    con: Any, files: Sequence[tuple[str, str | None]], partition_by: Sequence[tuple[str, str]]
) -> list[str]:
    probes: dict[str, list[tuple[str, str | None]]] = {}
    for path, fingerprint in files:
        key = fingerprint or ""
        if key not in probes:
            probes[key] = [(path, fingerprint)]
        elif key == "":
            probes[key].append((path, fingerprint))
    names: list[str] = []
    for group in probes.values():
        for name in _column_names(con, _snapshot_source(group, partition_by)):
            if name not in names:
                names.append(name)
    return names


def _typed_null(name: str, sql: str) -> str:
    return f"CAST(NULL AS {sql}) AS {_quote(name)}"


def _sql_of(runlake_type: str) -> str:
    return _SQL_TYPE_OF_NULL if runlake_type == "null" else duckdb_type(runlake_type)


@dataclass(frozen=True)
class _View:
    name: str
    file_count: int


def _dataset_view(
    con: Any,
    root: str,
    name: str,
    definition: _Definition | None,
    version: int | None,
) -> _View:
    snapshot, log_order = _read_snapshot_ordered(root, name, version=version)
    partition_by, columns = _view_schema(root, snapshot, definition, pinned=version is not None)
    declared = [*definition.partition_by, *definition.columns] if definition and definition.columns else None
    view = _quote(name)
    if not snapshot.files:
        select_list = [_typed_null(c, t) for c, t in (declared or [*columns, *partition_by])]
        select = ", ".join(select_list) if select_list else "NULL AS _empty"
        con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT {select} WHERE false")
        return _View(name, 0)
    if snapshot.version >= 0:
        ordered = [(snapshot.files[i].path, snapshot.schema_fingerprints[i]) for i in log_order]
        source = _snapshot_source(ordered, partition_by)
        present = _snapshot_columns(con, ordered, partition_by)
    else:
        # A dataset without a log: read by glob, as TypeScript does (every file in its directory).
        if re.search(r"[*?\[\]]", root):
            raise RunlakeError(
                f"lake path {root} contains a glob character (*, ? or [ ]) that DuckDB would expand; "
                "rename or move the lake directory"
            )
        source = _read_parquet(os.path.join(root, name, "**", "*.parquet"), partition_by, True)
        present = _column_names(con, source)
    present_set = set(present)
    if declared:
        names = {c for c, _ in declared}
        parts = [
            f"CAST({_quote(c)} AS {t}) AS {_quote(c)}" if c in present_set else _typed_null(c, t) for c, t in declared
        ]
        parts += [_quote(c) for c in present if c not in names]
    else:
        parts = ["*", *(_typed_null(c, t) for c, t in columns if c not in present_set)]
    con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT {', '.join(parts)} FROM {source}")
    return _View(name, len(snapshot.files))


def _view_schema(
    root: str, snapshot: DatasetSnapshot, definition: _Definition | None, pinned: bool
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(partition columns, columns) as DuckDB types, chosen as TypeScript's reader chooses them:
    the manifest file (or, for a pinned version, the schema its commits recorded), else the layout
    the directories show with the definition's declared types, else the definition."""
    if os.path.exists(os.path.join(root, ".runlake", "datasets", f"{snapshot.name}.json")) or pinned:
        return [(c, _sql_of(t)) for c, t in snapshot.partition_by], [(c, _sql_of(t)) for c, t in snapshot.columns]
    if _partition_keys(os.path.join(root, snapshot.name)) is not None:
        declared = dict(definition.partition_by) if definition else {}
        inferred = _discovered_partitions(os.path.join(root, snapshot.name))
        return [(c, declared.get(c, _sql_of(t))) for c, t in inferred], []
    if definition is not None:
        return list(definition.partition_by), list(definition.columns or ())
    return [], []


# --------------------------------------------------------------------------------------------
# The grids table: grids/grid_id=<id>/params.json, params flattened into typed columns.

_NUMERIC_RANK = {"int16": 0, "int32": 1, "int64": 2, "float32": 3, "float64": 4}
_MAX_SAFE = 2**53 - 1


def _js_number(value: float) -> int | float:
    """A JSON number as JavaScript holds it: integral values are integers."""
    if math.isfinite(value) and value == int(value) and abs(value) <= _MAX_SAFE:
        return int(value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        # exp_engine's json.dump writes NaN and Infinity; TypeScript keeps them as Python's repr.
        return _js_number(value) if math.isfinite(value) else repr(value)
    if isinstance(value, int):
        return value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _infer(value: Any) -> Any:
    """TypeScript's inferValueType over a JSON value: a type dict, or None when not storable."""
    if value is None:
        return {"kind": "null"}
    if isinstance(value, bool):
        return {"kind": "bool"}
    if isinstance(value, int):
        return {"kind": "int64"} if abs(value) <= _MAX_SAFE else {"kind": "float64"}
    if isinstance(value, float):
        return {"kind": "float64"}
    if isinstance(value, str):
        return {"kind": "string"}
    if isinstance(value, list):
        element: Any = {"kind": "null"}
        for item in value:
            item_type = _infer(item)
            merged = None if item_type is None else _unify(element, item_type)
            if merged is None:
                return None
            element = merged
        return {"kind": "list", "element": element}
    if isinstance(value, dict):
        fields = []
        for key, item in value.items():
            item_type = _infer(item)
            if item_type is None:
                return None
            fields.append([key, item_type])
        return {"kind": "struct", "fields": fields} if fields else None
    return None


def _unify(a: Any, b: Any) -> Any:
    if a["kind"] == "null":
        return b
    if b["kind"] == "null":
        return a
    rank_a, rank_b = _NUMERIC_RANK.get(a["kind"]), _NUMERIC_RANK.get(b["kind"])
    if rank_a is not None and rank_b is not None:
        if rank_a == rank_b:
            return a
        narrow, wide = (a, b) if rank_a < rank_b else (b, a)
        return {"kind": "float64"} if wide["kind"] == "float32" and narrow["kind"] != "int16" else wide
    if a["kind"] == "list" and b["kind"] == "list":
        element = _unify(a["element"], b["element"])
        return None if element is None else {"kind": "list", "element": element}
    if a["kind"] == "struct" and b["kind"] == "struct":
        fields = dict((k, t) for k, t in a["fields"])
        for k, t in b["fields"]:
            merged = _unify(fields[k], t) if k in fields else t
            if merged is None:
                return None
            fields[k] = merged
        return {"kind": "struct", "fields": [[k, t] for k, t in fields.items()]}
    return a if a["kind"] == b["kind"] else None


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and value:
            out.update(_flatten(value, name))
        else:
            out[name] = value
    return out


def _partition_param(raw: str | None) -> Any:
    if raw is None:
        return None
    if raw in ("true", "false"):
        return raw == "true"
    if re.match(r"^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?$", raw):
        number = float(raw)
        if math.isfinite(number):
            return _js_number(number)
    return raw


def _grid_records(root: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(grid_id, params_hash, params) of the lake's grids, as TypeScript's listGridRecords."""
    from ._grid_id import loads as python_json_loads

    grids = os.path.join(root, "grids")
    try:
        entries = os.listdir(grids)
    except FileNotFoundError:
        entries = []
    records: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for entry in sorted(e for e in entries if e.startswith("grid_id=")):
        grid_id = entry[len("grid_id=") :]
        file = os.path.join(grids, entry, "params.json")
        try:
            with open(file, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            continue
        except OSError as error:
            raise LakeFormatError(file, f"cannot be read ({error.strerror or error})") from error
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise LakeFormatError(file, "is not UTF-8 text") from None
        try:
            value = python_json_loads(text)  # exp_engine's json.dump writes NaN and Infinity
        except Exception as error:
            raise LakeFormatError(file, f"is not valid JSON ({error})") from None
        value = _plain(value)
        if not isinstance(value, dict):
            raise LakeFormatError(file, "not a runlake grid record: the file does not hold an object")
        if "params_hash" not in value:
            params = {k: v for k, v in value.items() if k != "grid_id"}
            records[grid_id] = (grid_id, "", params)
            continue
        problem = None
        if value.get("grid_id") != grid_id:
            problem = f"grid_id {json.dumps(value.get('grid_id'))} differs from its directory grid_id={grid_id}"
        elif not isinstance(value.get("params_hash"), str) or not re.fullmatch(r"[0-9a-f]{64}", value["params_hash"]):
            problem = '"params_hash" is not a SHA-256 hex digest'
        elif not isinstance(value.get("params"), dict):
            problem = '"params" is not an object'
        if problem:
            raise LakeFormatError(file, f"not a runlake grid record: {problem}")
        records[grid_id] = (grid_id, value["params_hash"], value["params"])
    # exp_engine's oldest layout: grid ids nested under other partition directories of events/seeds.
    for grid_id, params in _nested_grid_ids(root).items():
        records.setdefault(grid_id, (grid_id, "", params))
    return [records[k] for k in sorted(records)]


def _nested_grid_ids(root: str) -> dict[str, dict[str, Any]]:
    found: dict[str, tuple[dict[str, Any], bool]] = {}

    def walk(directory: str, params: dict[str, Any], depth: int) -> None:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return
        for entry in entries:
            eq = entry.name.find("=")
            if eq <= 0 or not entry.is_dir(follow_symlinks=False):
                continue
            key = unquote(entry.name[:eq])
            raw_text = entry.name[eq + 1 :]
            raw = None if raw_text == "__HIVE_DEFAULT_PARTITION__" else unquote(raw_text)
            if key == "grid_id":
                if raw is not None and raw not in found:
                    found[raw] = (params, depth > 0)
            elif depth < 16:
                walk(entry.path, {**params, key: _partition_param(raw)}, depth + 1)

    for dataset in ("events", "seeds"):
        walk(os.path.join(root, dataset), {}, 0)
    return {grid_id: params for grid_id, (params, nested) in found.items() if nested}


def _create_grids(con: Any, root: str) -> None:
    from ._grid_id import canonical_json

    records = _grid_records(root)
    flat = [_flatten(params) for _, _, params in records]
    types: dict[str, Any] = {}
    for row in flat:
        for name, value in row.items():
            if name in ("grid_id", "params_hash", "params_json"):
                continue
            current = types.get(name, {"kind": "null"})
            if current == "json":
                continue
            inferred = _infer(value)
            merged = None if inferred is None else _unify(current, inferred)
            types[name] = "json" if merged is None else merged
    param_columns = []
    for name, kind in types.items():
        as_json = kind == "json"
        sql = "VARCHAR" if as_json or kind["kind"] == "null" else duckdb_type(json.dumps(kind))
        param_columns.append((name, sql, as_json))
    columns = [("grid_id", "VARCHAR"), *((n, s) for n, s, _ in param_columns), ("params_hash", "VARCHAR")]
    columns.append(("params_json", "VARCHAR"))
    con.execute("DROP TABLE IF EXISTS grids")
    con.execute("CREATE TEMP TABLE grids (" + ", ".join(f"{_quote(n)} {s}" for n, s in columns) + ")")
    if not records:
        return
    rows = []
    for (grid_id, params_hash, params), row in zip(records, flat, strict=True):
        values: list[Any] = [grid_id]
        for name, _, as_json in param_columns:
            value = row.get(name)
            values.append(canonical_json(value) if as_json and value is not None else value)
        values += [params_hash, canonical_json(params)]
        rows.append(values)
    placeholders = ", ".join("?" for _ in columns)
    con.executemany(f"INSERT INTO grids VALUES ({placeholders})", rows)


# --------------------------------------------------------------------------------------------
# exp_engine's analysis views (TypeScript: src/lake/sweep-views.ts), built from the columns the
# lake's events, seeds and grids have.

_ORDER_COLUMNS = ("event", "event_id", "step")
_WORKLOAD_ORDER_COLUMNS = ("event_id", "event", "step")
_B_NUMERIC_COLUMNS = (
    "loss",
    "acc",
    "step",
    "timestamp",
    "sample_id",
    "segment_id",
    "noise",
    "rho_step",
    "rho_spent",
    "sigma_step",
    "sigma_delete",
)
_SEEDS_SUMMARY_GROUP = ("grid_id", "algo", "accountant", "gamma_bar", "gamma_split")
_NUMERIC_TYPE = re.compile(r"^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|REAL|DECIMAL(\(.*\))?)$", re.I)


class _Columns:
    def __init__(self, columns: Sequence[tuple[str, str]], alias: str = "") -> None:
        self.columns = list(columns)
        self.types = dict(columns)
        self.alias = alias

    def qualified(self, alias: str) -> _Columns:
        return _Columns(self.columns, alias)

    def has(self, name: str) -> bool:
        return name in self.types

    def numeric(self, name: str) -> bool:
        return bool(_NUMERIC_TYPE.match(self.types.get(name, "")))

    def ref(self, name: str) -> str:
        if not self.has(name):
            return "NULL"
        return f"{self.alias + '.' if self.alias else ''}{_quote(name)}"

    def first(self, names: Sequence[str]) -> str | None:
        return next((n for n in names if self.has(n)), None)

    def coalesce(self, names: Sequence[str]) -> str | None:
        present = [self.ref(n) for n in names if self.has(n)]
        if not present:
            return None
        return present[0] if len(present) == 1 else f"coalesce({', '.join(present)})"

    def regret(self) -> str | None:
        return self.coalesce(["regret", "cum_regret", "regret_increment"])

    def cum_regret(self) -> str | None:
        return self.coalesce(["cum_regret", "regret", "regret_increment"])


def _alias(expression: str, name: str) -> str:
    return f"{expression} AS {_quote(name)}"


def _last_or_max(value: str, order: str | None) -> str:
    return f"arg_max({value}, {_quote(order)})" if order else f"max({value})"


def _count_where(condition: str) -> str:
    return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _events_summary_select(events: _Columns) -> list[str]:
    order = events.first(_ORDER_COLUMNS)
    regret = events.regret()
    cum = events.cum_regret()
    select = [_alias("grid_id", "grid_id"), _alias("seed", "seed"), _alias("count(*)", "total_events")]
    if events.has("op"):
        select += [_alias(_count_where("op = 'insert'"), "inserts"), _alias(_count_where("op = 'delete'"), "deletions")]
    if regret:
        select.append(_alias(f"avg({regret})", "avg_regret_empirical"))
    if cum:
        select.append(_alias(_last_or_max(cum, order), "final_cum_regret"))
    if regret:
        select += [
            _alias(f"avg({regret})", "avg_regret_per_event"),
            _alias(_count_where(f"{regret} < 0"), "negative_regret_count"),
        ]
    for name in _B_NUMERIC_COLUMNS:
        if not events.has(name):
            continue
        column = events.ref(name)
        if name == "timestamp":
            select += [_alias(f"min({column})", "start_timestamp"), _alias(f"max({column})", "end_timestamp")]
            continue
        if events.numeric(name):
            select.append(_alias(f"avg({column})", f"avg_{name}"))
        select += [_alias(f"min({column})", f"min_{name}"), _alias(f"max({column})", f"max_{name}")]
    if events.has("sc_stable"):
        column = events.ref("sc_stable")
        boolean = re.match(r"^BOOLEAN$", events.types.get("sc_stable", ""), re.I)
        truth = column if boolean else f"TRY_CAST({column} AS BOOLEAN)"
        select += [
            _alias(f"min({column})", "min_sc_stable"),
            _alias(f"max({column})", "max_sc_stable"),
            _alias(_count_where(truth), "count_true_sc_stable"),
        ]
    return select


def _seeds_from_events_select(events: _Columns) -> list[str]:
    order = events.first(_ORDER_COLUMNS)
    regret = events.regret()
    select = [_alias("grid_id", "grid_id"), _alias("seed", "seed")]
    if regret:
        select.append(_alias(f"avg({regret})", "avg_regret_empirical"))
    if events.has("op"):
        select += [_alias(_count_where("op = 'insert'"), "N_star_emp"), _alias(_count_where("op = 'delete'"), "m_emp")]
    select.append(_alias("count(*)", "total_events"))
    if events.has("acc"):
        select.append(_alias(_last_or_max(events.ref("acc"), order), "final_acc"))
    return select


def _seeds_summary_sql(seeds: _Columns, grids: _Columns | None) -> str | None:
    if not seeds.has("grid_id"):
        return None
    group: list[str] = []
    join_grids = False
    for name in _SEEDS_SUMMARY_GROUP:
        if seeds.has(name):
            group.append(_alias(f"s.{_quote(name)}", name))
        elif grids is not None and grids.has(name):
            group.append(_alias(f"g.{_quote(name)}", name))
            join_grids = True
        else:
            return None

    def column(name: str) -> str:
        return f"s.{_quote(name)}"

    aggregates = [_alias("count(*)", "num_seeds")]
    if seeds.has("avg_regret_empirical"):
        aggregates += [
            _alias(f"avg({column('avg_regret_empirical')})", "mean_regret"),
            _alias(f"stddev({column('avg_regret_empirical')})", "std_regret"),
        ]
    if seeds.has("N_star_emp"):
        aggregates.append(_alias(f"avg({column('N_star_emp')})", "mean_n_star"))
    if seeds.has("m_emp"):
        aggregates.append(_alias(f"avg({column('m_emp')})", "mean_deletions"))
    source = "seeds AS s LEFT JOIN grids AS g ON g.grid_id = s.grid_id" if join_grids else "seeds AS s"
    positions = ", ".join(str(i + 1) for i in range(len(group)))
    return f"SELECT {', '.join([*group, *aggregates])} FROM {source} GROUP BY {positions}"


def _events_workload_sql(events: _Columns) -> str | None:
    order_name = events.first(_WORKLOAD_ORDER_COLUMNS)
    e = events.qualified("e")
    cum = e.cum_regret()
    if not order_name or not events.has("grid_id") or not events.has("seed") or not cum:
        return None
    order = _quote(order_name)
    e_order = f"e.{order}"
    starts = [
        *([f"min(CASE WHEN op = 'delete' THEN {order} END)"] if events.has("op") else []),
        *(
            [f'min(CASE WHEN "N_star" IS NOT NULL AND {order} >= "N_star" THEN {order} END)']
            if events.has("N_star")
            else []
        ),
        f"min({order})",
    ]
    start = starts[0] if len(starts) == 1 else f"coalesce({', '.join(starts)})"
    noise = e.ref("noise_regret_cum")
    with_noise = e.ref("cum_regret_with_noise")

    def since(value: str, baseline: str) -> str:
        return f"greatest(0.0, coalesce({value}, 0.0) - b.{baseline})"

    seen = f"greatest(1, {e_order} - b.workload_start_event_id + 1)"
    in_workload = f"{e_order} >= b.workload_start_event_id"
    return "\n".join(
        [
            "WITH starts AS (",
            f"  SELECT grid_id, seed, {start} AS workload_start_event_id FROM events GROUP BY grid_id, seed",
            "), baselines AS (",
            "  SELECT s.grid_id, s.seed, s.workload_start_event_id,",
            f"    coalesce({cum}, 0.0) AS workload_baseline_cum_regret,",
            f"    coalesce({noise}, 0.0) AS workload_baseline_noise_regret,",
            f"    coalesce({with_noise}, 0.0) AS workload_baseline_cum_regret_with_noise",
            "  FROM starts AS s LEFT JOIN events AS e",
            f"    ON e.grid_id = s.grid_id AND e.seed = s.seed AND {e_order} = s.workload_start_event_id",
            ")",
            "SELECT e.*, b.workload_start_event_id, b.workload_baseline_cum_regret,",
            "  b.workload_baseline_noise_regret, b.workload_baseline_cum_regret_with_noise,",
            f"  {since(cum, 'workload_baseline_cum_regret')} AS workload_cum_regret,",
            f"  {since(noise, 'workload_baseline_noise_regret')} AS workload_noise_regret_cum,",
            f"  {since(with_noise, 'workload_baseline_cum_regret_with_noise')} AS workload_cum_regret_with_noise,",
            f"  {seen} AS workload_events_seen,",
            f"  CASE WHEN {in_workload} THEN {since(cum, 'workload_baseline_cum_regret')} / {seen} END"
            " AS workload_avg_regret,",
            f"  CASE WHEN {in_workload} THEN "
            f"{since(with_noise, 'workload_baseline_cum_regret_with_noise')} / {seen} END",
            "    AS workload_avg_regret_with_noise,",
            f"  CASE WHEN {in_workload} THEN TRUE ELSE FALSE END AS is_workload_phase",
            "FROM events AS e JOIN baselines AS b ON e.grid_id = b.grid_id AND e.seed = b.seed",
            f"ORDER BY e.grid_id, e.seed, {e_order}",
        ]
    )


def _sweep_views(
    events_columns: Sequence[tuple[str, str]] | None,
    seeds_columns: Sequence[tuple[str, str]] | None,
    grids_columns: Sequence[tuple[str, str]] | None,
) -> list[tuple[str, str]]:
    views: list[tuple[str, str]] = []
    events = _Columns(events_columns) if events_columns is not None else None
    grouped = events is not None and events.has("grid_id") and events.has("seed")
    if events is not None and grouped:
        views.append(
            (
                "events_summary",
                f"SELECT {', '.join(_events_summary_select(events))} FROM events GROUP BY grid_id, seed",
            )
        )
    seeds_sql = (
        _seeds_summary_sql(_Columns(seeds_columns), _Columns(grids_columns) if grids_columns is not None else None)
        if seeds_columns is not None
        else None
    )
    if seeds_sql:
        views.append(("seeds_summary", seeds_sql))
    if events is not None and grouped:
        views.append(
            (
                "seeds_from_events",
                f"SELECT {', '.join(_seeds_from_events_select(events))} FROM events GROUP BY grid_id, seed",
            )
        )
    workload = _events_workload_sql(events) if events is not None else None
    if workload:
        views.append(("events_workload", workload))
    return views


def _saved_views(root: str) -> list[tuple[str, str]]:
    directory = os.path.join(root, ".runlake", "views")
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".json"))
    except FileNotFoundError:
        return []
    views = []
    for name in names:
        file = os.path.join(directory, name)
        value = _read_json(file)
        if value is None:
            continue
        if (
            not isinstance(value, dict)
            or not isinstance(value.get("name"), str)
            or not isinstance(value.get("sql"), str)
        ):
            raise LakeFormatError(file, 'not a saved view: "name" or "sql" is missing')
        views.append((value["name"], value["sql"]))
    return views


def _describe(con: Any, table: str) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE {_quote(table)}").fetchall()]


# --------------------------------------------------------------------------------------------
# Public API


def open_lake(
    lake: str | os.PathLike[str],
    *,
    version: Mapping[str, int] | None = None,
    threads: int | None = None,
) -> duckdb.DuckDBPyConnection:
    """Opens a lake for SQL: an in-memory DuckDB connection with the lake's views.

    The views are the ones runlake's TypeScript readers create (``openLake``, ``runlake query``):
    one per dataset (a dataset the lake's schema set declares but nobody wrote yet is an empty,
    typed view), the ``grids`` table, exp_engine's analysis views over a sweep lake
    (``events_summary``, ``seeds_summary``, ``seeds_from_events``, ``events_workload``), the
    schema set's views and the views saved with ``runlake view``.

    **Snapshot pinning.** Each dataset with a commit log is bound to exactly the files of its
    latest snapshot when ``open_lake`` runs (or of ``version={"metrics_scalar": 12}``, time
    travel). A commit made later is not seen: open the lake again to see it. A replace, delete or
    compaction committed later moves the files it removes to the lake's trash; a query of the old
    connection that reads one then fails naming the file (reopen; or pin with ``version=`` and the
    files are read from the trash until ``runlake vacuum``). A dataset without a log (written by
    another tool) is read by glob, as the TypeScript readers read it, so it is not pinned.

    Reading never writes to the lake. Needs the ``duckdb`` package.

    >>> con = runlake.open_lake("results")  # doctest: +SKIP
    >>> con.sql("SELECT count(*) FROM events").fetchone()  # doctest: +SKIP
    (12000,)
    """
    duckdb_module = _import_duckdb()
    root = os.path.abspath(os.fspath(lake))
    if not os.path.isdir(root):
        raise RunlakeError(f"{root}: no such lake directory")
    schema = _schema_set(_lake_schema_name(root), root)
    names = sorted(set(schema.definitions) | set(lake_datasets(root)))
    for name in version or {}:
        if name not in names:
            raise RunlakeError(f'no dataset "{name}" in {root} to open at version {version[name]}')  # type: ignore[index]
    config: dict[str, Any] = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    if threads is not None:
        config["threads"] = threads
    con = duckdb_module.connect(":memory:", config=config)
    try:
        views: dict[str, _View] = {}
        for name in names:
            views[name] = _dataset_view(con, root, name, schema.definitions.get(name), (version or {}).get(name))
        _create_grids(con, root)
        sweep = _sweep_views(
            _describe(con, "events") if views.get("events") and views["events"].file_count else None,
            _describe(con, "seeds") if views.get("seeds") and views["seeds"].file_count else None,
            _describe(con, "grids"),
        )
        saved = _saved_views(root)
        saved_names = {n for n, _ in saved}
        named = [*schema.views, *(v for v in sweep if v[0] not in saved_names), *saved]
        for name, sql in named:
            # As in TypeScript, a view whose SQL does not apply to this lake (a saved view naming a
            # column that is gone) is left out rather than failing the whole open.
            try:
                con.execute(f"CREATE OR REPLACE VIEW {_quote(name)} AS {sql}")
            except duckdb_module.Error:
                continue
    except BaseException:
        con.close()
        raise
    return con  # type: ignore[no-any-return]


def _select_sql(
    dataset_or_sql: str,
    where: str | None,
    columns: Sequence[str] | None,
    order_by: str | None,
    limit: int | None,
) -> str:
    if not _IDENTIFIER.match(dataset_or_sql.strip()):
        if where or columns or order_by or limit is not None:
            raise RunlakeError("where=, columns=, order_by= and limit= apply to a dataset name, not to SQL")
        return dataset_or_sql
    select = ", ".join(_quote(c) for c in columns) if columns else "*"
    sql = f"SELECT {select} FROM {_quote(dataset_or_sql.strip())}"
    if where and where.strip():
        sql += f" WHERE {where}"
    if order_by and order_by.strip():
        sql += f" ORDER BY {order_by}"
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise RunlakeError(f"limit must be a non-negative integer, got {limit!r}")
        sql += f" LIMIT {limit}"
    return sql


def _run(
    source: str | os.PathLike[str] | duckdb.DuckDBPyConnection,
    dataset_or_sql: str,
    where: str | None,
    columns: Sequence[str] | None,
    order_by: str | None,
    limit: int | None,
    params: Sequence[Any] | Mapping[str, Any] | None,
    fetch: str,
) -> Any:
    duckdb_module = _import_duckdb()
    sql = _select_sql(dataset_or_sql, where, columns, order_by, limit)
    owned = not isinstance(source, duckdb_module.DuckDBPyConnection)
    con: Any = open_lake(source) if owned else source  # type: ignore[arg-type]
    try:
        try:
            result = con.execute(sql, params) if params is not None else con.execute(sql)
        except duckdb_module.Error as error:
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise RunlakeError(f"query failed: {first}\n  SQL: {sql}") from error
        if fetch == "pandas":
            return result.df()
        if fetch == "polars":
            return result.pl()
        return result.fetch_arrow_table()
    finally:
        if owned:
            con.close()


def read_dataset(
    lake: str | os.PathLike[str] | duckdb.DuckDBPyConnection,
    dataset: str,
    *,
    where: str | None = None,
    columns: Sequence[str] | None = None,
    order_by: str | None = None,
    limit: int | None = None,
    params: Sequence[Any] | Mapping[str, Any] | None = None,
) -> Any:
    """Rows of one dataset (or view) as a ``pyarrow.Table``: ``to_arrow`` with a dataset name.

    >>> runlake.read_dataset("results", "metrics_scalar", where="metric_name = ?", params=["loss"])  # doctest: +SKIP
    """
    if not _IDENTIFIER.match(dataset.strip()):
        raise RunlakeError(f"{dataset!r} is not a dataset or view name (use to_arrow for SQL)")
    return _run(lake, dataset, where, columns, order_by, limit, params, "arrow")


def to_arrow(
    source: str | os.PathLike[str] | duckdb.DuckDBPyConnection,
    dataset_or_sql: str,
    *,
    where: str | None = None,
    columns: Sequence[str] | None = None,
    order_by: str | None = None,
    limit: int | None = None,
    params: Sequence[Any] | Mapping[str, Any] | None = None,
) -> Any:
    """A dataset, view or SQL query as a ``pyarrow.Table``.

    ``source`` is a lake directory (opened, read at its current snapshot, closed) or a connection
    from :func:`open_lake` (read at the snapshot it was opened at). ``dataset_or_sql`` is a dataset
    or view name — then ``where``, ``columns``, ``order_by`` and ``limit`` shape the SELECT — or
    any SQL over the views. ``params`` binds ``?``/``$name`` placeholders. A failing query raises
    :class:`runlake.RunlakeError` with DuckDB's reason and the SQL.

    >>> runlake.to_arrow("results", "SELECT grid_id, avg(regret) AS r FROM events GROUP BY 1")  # doctest: +SKIP
    """
    return _run(source, dataset_or_sql, where, columns, order_by, limit, params, "arrow")


def to_pandas(
    source: str | os.PathLike[str] | duckdb.DuckDBPyConnection,
    dataset_or_sql: str,
    *,
    where: str | None = None,
    columns: Sequence[str] | None = None,
    order_by: str | None = None,
    limit: int | None = None,
    params: Sequence[Any] | Mapping[str, Any] | None = None,
) -> Any:
    """As :func:`to_arrow`, as a ``pandas.DataFrame`` (needs pandas).

    >>> runlake.to_pandas("results", "seeds", where="final_acc > 0.9", order_by="final_acc DESC")  # doctest: +SKIP
    """
    return _run(source, dataset_or_sql, where, columns, order_by, limit, params, "pandas")


def to_polars(
    source: str | os.PathLike[str] | duckdb.DuckDBPyConnection,
    dataset_or_sql: str,
    *,
    where: str | None = None,
    columns: Sequence[str] | None = None,
    order_by: str | None = None,
    limit: int | None = None,
    params: Sequence[Any] | Mapping[str, Any] | None = None,
) -> Any:
    """As :func:`to_arrow`, as a ``polars.DataFrame`` (needs polars).

    >>> runlake.to_polars("results", "metrics_scalar", columns=["step", "value"], limit=10)  # doctest: +SKIP
    """
    return _run(source, dataset_or_sql, where, columns, order_by, limit, params, "polars")
