"""runlake.ray on a local Ray cluster (2 CPUs, so two worker processes run tasks at once).

``analyze`` is checked against one ``runlake analyze`` process on a copy of the same synthetic
lake, row for row and bitwise (see test_analyze_equals_one_process); ``read`` against runlake's own
reader (``runlake query … --format parquet``), after a compaction and a re-analysis left removed
files in the trash, with partition filters, and on a lake with an integer partition column.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import ray

import runlake.ray as runlake_ray
from runlake import RunlakeError
from runlake._snapshot import arrow_type, read_snapshot

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "dist" / "cli" / "main.js"
NODE = shutil.which("node") or "node"
DERIVED = ("geometry_state", "geometry_dynamics", "events", "signatures", "matches")
SHAPE = ["--seeds", "4", "--layers", "2", "--samples", "32", "--dim", "16", "--checkpoints", "10"]
FIRST = "0,100,200,300,400,500"
LATER = "600,700,800,900"


def runlake_cli(*arguments: str) -> str:
    done = subprocess.run([NODE, str(CLI), *arguments], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"runlake {' '.join(arguments)}: {done.stderr}"
    return done.stdout


def write_input(lake: Path, steps: str, store: str) -> None:
    script = REPO / "bench" / "squiggle-input.mjs"
    done = subprocess.run(
        [NODE, str(script), str(lake), *SHAPE, "--steps", steps, "--store", store],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def ts_rows(lake: Path, sql: str, scratch: Path) -> pa.Table:
    """Rows as runlake's TypeScript reader (DuckDB over the snapshot's files) returns them."""
    out = scratch / f"q{len(list(scratch.glob('q*.parquet')))}.parquet"
    runlake_cli("query", str(lake), "--sql", sql, "--format", "parquet", "-o", str(out))
    return pq.read_table(out)


def arrow(ds: Any) -> pa.Table:
    """A Ray Dataset's rows as one Arrow table."""
    return pa.concat_tables(ray.get(ds.to_arrow_refs()), promote_options="default")


def _local(path: str) -> str:
    return path if path.startswith("/") else "/" + path


def canonical(table: pa.Table, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows as dicts over ``columns`` (default: all), in a fixed order; floats kept exact."""
    names = columns or sorted(table.column_names)
    rows = table.select(names).to_pylist()
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    assert CLI.exists(), f"{CLI} is missing: build the CLI first (npx tsc -p tsconfig.build.json)"
    # Ray's workers inherit the driver's environment: they find the CLI through RUNLAKE_BIN.
    previous = os.environ.get("RUNLAKE_BIN")
    os.environ["RUNLAKE_BIN"] = str(CLI)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
        if previous is None:
            os.environ.pop("RUNLAKE_BIN", None)
        else:
            os.environ["RUNLAKE_BIN"] = previous


@pytest.fixture(scope="module")
def lakes(cluster: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two copies of one synthetic lake: ``single`` analysed by one ``runlake analyze`` process,
    ``fanned`` by runlake.ray.analyze; then the same new checkpoints appended to both and both
    analysed again (incrementally)."""
    root = tmp_path_factory.mktemp("ray-lakes")
    base = root / "base"
    write_input(base, FIRST, "arrays/probe")
    single, fanned = root / "single", root / "fanned"
    shutil.copytree(base, single)
    shutil.copytree(base, fanned)
    runlake_cli("analyze", str(single), "--workers", "1", "--no-progress")
    first = runlake_ray.analyze(fanned)
    snapshot_first = {d: canonical(ts_rows(fanned, f"SELECT * FROM {d}", root)) for d in DERIVED}
    for lake in (single, fanned):
        write_input(lake, LATER, "arrays/probe2")
    runlake_cli("analyze", str(single), "--workers", "1", "--no-progress")
    second = runlake_ray.analyze(fanned)
    return {
        "root": root,
        "single": single,
        "fanned": fanned,
        "first": first,
        "second": second,
        "first_rows": snapshot_first,
    }


def test_analyze_equals_one_process(lakes: dict[str, Any]) -> None:
    # Exact equality, no tolerance: each run's descriptors and dynamics are computed by the same
    # deterministic code whichever process runs them (docs/geometry.md: bitwise the same on any
    # number of worker threads), and the cross-run stage runs once over the same stored rows.
    root, single, fanned = lakes["root"], lakes["single"], lakes["fanned"]
    for dataset in DERIVED:
        expected = canonical(ts_rows(single, f"SELECT * FROM {dataset}", root))
        got = canonical(ts_rows(fanned, f"SELECT * FROM {dataset}", root))
        assert len(expected) > 0, dataset
        assert got == expected, dataset

    first, second = lakes["first"], lakes["second"]
    runs = ["ray-s0", "ray-s1", "ray-s2", "ray-s3"]
    assert list(first.runs) == runs and first.runs_written == runs
    # 4 runs x 2 layers x 2 modules, 6 checkpoints then 4 more.
    assert first.checkpoints == 4 * 4 * 6 and second.checkpoints == 4 * 4 * 4
    assert first.trajectories is not None and first.trajectories["runsRecomputed"] == runs
    counts = ts_rows(
        fanned,
        "SELECT count(*) AS n, count(DISTINCT (run_id, sample_set, module, layer, sample_id, step)) AS k "
        "FROM geometry_state",
        root,
    ).to_pylist()[0]
    assert counts == {"n": 4 * 4 * 10, "k": 4 * 4 * 10}  # every checkpoint once: none lost, none twice
    # One commit per run task per analysis: the tasks committed concurrently through the log.
    log = fanned / ".runlake" / "log" / "geometry_state"
    commits = [json.loads(p.read_text()) for p in sorted(log.glob("0*.json")) if "checkpoint" not in p.name]
    assert len(commits) == 8
    assert len({c["writer"]["pid"] for c in commits}) == 8


def test_analyze_again_has_nothing_to_do(lakes: dict[str, Any]) -> None:
    again = runlake_ray.analyze(lakes["fanned"], runs=["ray-s1", "ray-s2"])
    assert again.checkpoints == 0 and again.runs_written == [] and again.trajectories is None


def test_analyze_names_a_run_without_embeddings(lakes: dict[str, Any]) -> None:
    with pytest.raises(RunlakeError, match=r'1 of 2 runs failed .*no-such-run: .*no embeddings for run "no-such-run"'):
        runlake_ray.analyze(lakes["fanned"], runs=["ray-s0", "no-such-run"])


def test_read_gives_the_snapshot_after_compaction_and_replace(lakes: dict[str, Any]) -> None:
    root, fanned = lakes["root"], lakes["fanned"]
    # Two analyses left two files per geometry_state partition; compaction merges them and moves
    # the inputs to the trash. The second analysis replaced events (old files in the trash too).
    runlake_cli("compact", str(fanned), "geometry_state")
    trash = fanned / ".runlake" / "trash"
    assert list((trash / "geometry_state").rglob("*.parquet"))
    assert list((trash / "events").rglob("*.parquet"))
    for dataset in DERIVED:
        table = arrow(runlake_ray.read(fanned, dataset, include_paths=True))
        snapshot = read_snapshot(fanned, dataset)
        files = {_local(p) for p in table.column("path").to_pylist()}
        table = table.drop_columns(["path"])
        assert files == {f.path for f in snapshot.files}, dataset
        assert not any(str(trash) in f for f in files)
        for column, kind in snapshot.partition_by:
            assert table.schema.field(column).type == arrow_type(kind)
        expected = ts_rows(fanned, f"SELECT * FROM {dataset}", root)
        assert table.num_rows == snapshot.rows == expected.num_rows
        assert canonical(table) == canonical(expected), dataset
    # The first analysis's events are in the trash, not in what read returns.
    first_events = lakes["first_rows"]["events"]
    now = canonical(ts_rows(fanned, "SELECT * FROM events", root))
    assert first_events != now


def test_read_prunes_partitions_and_filters_rows(lakes: dict[str, Any]) -> None:
    root, fanned = lakes["root"], lakes["fanned"]
    ds = runlake_ray.read(
        fanned, "geometry_dynamics", filters=[("run_id", "=", "ray-s1"), ("step", ">=", 500)], include_paths=True
    )
    table = arrow(ds)
    assert all("/run_id=ray-s1/" in f for f in table.column("path").to_pylist())
    expected = ts_rows(fanned, "SELECT * FROM geometry_dynamics WHERE run_id = 'ray-s1' AND step >= 500", root)
    assert expected.num_rows > 0
    assert canonical(table.drop_columns(["path"])) == canonical(expected)

    ds = runlake_ray.read(
        fanned,
        "events",
        filters=[("run_id", "in", ["ray-s0", "ray-s2"]), ("event_type", "!=", "phase_shift")],
        columns=["run_id", "event_type", "step", "layer"],
    )
    expected = ts_rows(
        fanned,
        "SELECT run_id, event_type, step, layer FROM events "
        "WHERE run_id IN ('ray-s0', 'ray-s2') AND event_type <> 'phase_shift'",
        root,
    )
    table = arrow(ds)
    assert table.column_names == ["run_id", "event_type", "step", "layer"]
    assert canonical(table) == canonical(expected) and expected.num_rows > 0

    nothing = runlake_ray.read(fanned, "signatures", filters=[("run_id", "=", "no-such-run")])
    assert nothing.count() == 0

    with pytest.raises(RunlakeError, match="operator 'like' is not one of"):
        runlake_ray.read(fanned, "events", filters=[("run_id", "like", "ray%")])

    # A pyarrow expression is applied to each batch, partition columns included.
    ds = runlake_ray.read(fanned, "events", filters=(pc.field("run_id") == "ray-s3") & (pc.field("step") >= 300))
    expected = ts_rows(fanned, "SELECT * FROM events WHERE run_id = 'ray-s3' AND step >= 300", root)
    assert canonical(arrow(ds)) == canonical(expected) and expected.num_rows > 0


def test_missing_ray_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(RunlakeError, match=r"runlake.ray.analyze needs ray: pip install 'ray\[data\]'"):
        runlake_ray.analyze(tmp_path)


def test_read_types_integer_partitions(cluster: None, tmp_path: Path) -> None:
    # The demo's sweep lake: events and seeds partitioned by grid_id (string) and seed (int64).
    demo = tmp_path / "demo"
    runlake_cli("demo", "--out", str(demo), "--seeds", "3", "--events", "40")
    for dataset in ("events", "seeds"):
        snapshot = read_snapshot(demo, dataset)
        assert dict(snapshot.partition_by) == {"grid_id": "string", "seed": "int64"}
        table = arrow(runlake_ray.read(demo, dataset))
        assert table.schema.field("seed").type == pa.int64()
        assert canonical(table) == canonical(ts_rows(demo, f"SELECT * FROM {dataset}", tmp_path))
    ds = runlake_ray.read(demo, "events", filters=[("seed", ">", 0), ("op", "=", "delete")], include_paths=True)
    table = arrow(ds)
    assert all("/seed=0/" not in f for f in table.column("path").to_pylist())
    expected = ts_rows(demo, "SELECT * FROM events WHERE seed > 0 AND op = 'delete'", tmp_path)
    assert canonical(table.drop_columns(["path"])) == canonical(expected) and expected.num_rows > 0
