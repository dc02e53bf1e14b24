"""runlake._snapshot and runlake.open_lake on lakes built here by hand, file by file, following
docs/commits.md: commits applied in order, checkpoints, the `_last_checkpoint` hint, the trash,
refusals naming the file, datasets without a log, and that reading writes nothing.

The comparison with the TypeScript readers on lakes runlake itself wrote is
test/python-read.test.ts (it needs the built CLI)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import runlake
from runlake._snapshot import arrow_type, duckdb_type

duckdb = pytest.importorskip("duckdb")

MANIFEST = {
    "format": 1,
    "dataset": "metrics",
    "partitionBy": [{"name": "run_id", "type": {"kind": "string"}}],
    "columns": [{"name": "step", "type": {"kind": "int64"}}, {"name": "value", "type": {"kind": "float64"}}],
}


def _part(lake: Path, run_id: str, name: str, steps: range) -> dict[str, Any]:
    relative = f"run_id={run_id}/part-{name}.parquet"
    path = lake / "metrics" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.sql(
        f"COPY (SELECT range::BIGINT AS step, range / 10.0 AS value FROM range({steps.start}, {steps.stop})) "
        f"TO '{path}' (FORMAT parquet)"
    )
    return {"path": relative, "size": path.stat().st_size, "rows": len(steps)}


def _log(lake: Path) -> Path:
    log = lake / ".runlake" / "log" / "metrics"
    log.mkdir(parents=True, exist_ok=True)
    return log


def _commit(lake: Path, version: int, add: list[dict[str, Any]], remove: list[dict[str, Any]] | None = None) -> Path:
    record = {
        "format": 1,
        "dataset": "metrics",
        "version": version,
        "timestamp": f"2026-12-05T10:00:{version:02d}.000Z",
        "operation": "write",
        "writer": {"tool": "test", "host": "h", "pid": 1},
        "txn": f"t{version}",
        "readVersion": version - 1,
        "add": add,
        "remove": remove or [],
        **({"schema": MANIFEST} if version == 0 else {}),
    }
    file = _log(lake) / f"{version:020d}.json"
    file.write_text(json.dumps(record))
    return file


def _checkpoint(lake: Path, version: int, files: list[dict[str, Any]]) -> None:
    record = {"format": 1, "dataset": "metrics", "version": version, "schema": MANIFEST, "files": files}
    (_log(lake) / f"{version:020d}.checkpoint.json").write_text(json.dumps(record))
    (_log(lake) / "_last_checkpoint").write_text(json.dumps({"version": version}))


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """metrics: v0 adds a (r1, 10 rows), b (r2, 5); v1 removes a, adds c (r1, 3); v2 re-adds b."""
    root = tmp_path / "lake"
    (root / ".runlake" / "datasets").mkdir(parents=True)
    (root / ".runlake" / "datasets" / "metrics.json").write_text(json.dumps(MANIFEST))
    a, b = _part(root, "r1", "a", range(10)), _part(root, "r2", "b", range(100, 105))
    _commit(root, 0, [a, b])
    c = _part(root, "r1", "c", range(50, 53))
    _commit(root, 1, [c], [a])
    trash = root / ".runlake" / "trash" / "metrics" / a["path"]
    trash.parent.mkdir(parents=True)
    os.rename(root / "metrics" / a["path"], trash)  # as the writer does after committing
    _commit(root, 2, [b])
    return root


def test_commits_apply_in_order(lake: Path) -> None:
    snap = runlake.read_snapshot(lake, "metrics")
    assert snap.version == 2
    assert [os.path.relpath(f.path, lake) for f in snap.files] == [
        "metrics/run_id=r1/part-c.parquet",
        "metrics/run_id=r2/part-b.parquet",
    ]
    assert [f.rows for f in snap.files] == [3, 5]
    assert snap.rows == 8
    assert snap.partition_by == (("run_id", "string"),)
    assert snap.columns == (("step", "int64"), ("value", "float64"))
    assert snap.timestamp == "2026-12-05T10:00:02.000Z"


def test_an_earlier_version_reads_removed_files_from_the_trash(lake: Path) -> None:
    snap = runlake.read_snapshot(lake, "metrics", version=0)
    assert snap.rows == 15
    assert os.path.relpath(snap.files[0].path, lake) == ".runlake/trash/metrics/run_id=r1/part-a.parquet"
    with runlake.open_lake(lake, version={"metrics": 0}) as con:
        assert con.execute("SELECT count(*), min(step) FROM metrics WHERE run_id = 'r1'").fetchone() == (10, 0)
    with pytest.raises(runlake.VersionNotFoundError, match="metrics has no version 3 \\(latest 2\\)"):
        runlake.read_snapshot(lake, "metrics", version=3)


def test_checkpoints_and_the_hint(lake: Path) -> None:
    live = [{**f, "version": 1} for f in json.loads((_log(lake) / f"{1:020d}.json").read_text())["add"]]
    live += [{**json.loads((_log(lake) / f"{0:020d}.json").read_text())["add"][1], "version": 0}]
    _checkpoint(lake, 1, live)
    # vacuum removed commits before the checkpoint: the snapshot comes from the checkpoint.
    (_log(lake) / f"{0:020d}.json").unlink()
    (_log(lake) / f"{1:020d}.json").unlink()
    assert runlake.read_snapshot(lake, "metrics").rows == 8
    with pytest.raises(runlake.VersionNotFoundError, match="older than its log retains"):
        runlake.read_snapshot(lake, "metrics", version=0)
    # The hint is only a hint: stale, pointing nowhere, or garbage, the reader still finds version 2.
    for hint in ('{"version": 0}', '{"version": 77}', "garbage"):
        (_log(lake) / "_last_checkpoint").write_text(hint)
        assert runlake.read_snapshot(lake, "metrics").version == 2


def test_the_latest_version_is_probed_past_the_checkpoint(lake: Path) -> None:
    _checkpoint(lake, 1, [])  # a (wrong, empty) checkpoint proves it is what the reader starts from
    d = _part(lake, "r3", "d", range(7))
    _commit(lake, 3, [d])
    snap = runlake.read_snapshot(lake, "metrics")
    assert snap.version == 3
    assert sorted(os.path.basename(f.path) for f in snap.files) == ["part-b.parquet", "part-d.parquet"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"format": 1, "dataset": "metrics", "vers', "is not valid JSON"),
        (b"\xff\xfe{}", "is not UTF-8 text"),
        (b"[1, 2]", "not a commit: the file holds an array, not an object"),
        (b'{"format": 2}', "not a commit of format 1 (format 2)"),
        (b'{"format": 1, "dataset": "other"}', "not a commit of metrics (dataset 'other')"),
        (b'{"format": 1, "dataset": "metrics", "version": 7}', "holds version 7, not 3"),
        (None, 'an entry of "add" lacks a relative "path", "size" or "rows"'),
    ],
)
def test_a_bad_commit_is_refused_in_one_line_naming_the_file(lake: Path, content: bytes | None, reason: str) -> None:
    file = _log(lake) / f"{3:020d}.json"
    if content is None:
        _commit(lake, 3, [{"path": "../outside.parquet", "size": 1, "rows": 1}])
    else:
        file.write_bytes(content)
    for call in (lambda: runlake.read_snapshot(lake, "metrics"), lambda: runlake.open_lake(lake)):
        with pytest.raises(runlake.LakeFormatError) as caught:
            call()
        message = str(caught.value)
        assert message.startswith(f"{file}: ")
        assert reason in message
        assert "\n" not in message


@pytest.mark.parametrize("path", ["/abs/part.parquet", "run_id=r1//part.parquet", "./part.parquet", ""])
def test_paths_that_leave_the_dataset_are_refused(lake: Path, path: str) -> None:
    file = _commit(lake, 3, [{"path": path, "size": 1, "rows": 1}])
    with pytest.raises(runlake.LakeFormatError, match=f'^{file}: not a commit: an entry of "add"'):
        runlake.read_snapshot(lake, "metrics")


def test_open_lake_reads_the_snapshot_not_the_directory(lake: Path) -> None:
    # A file another tool dropped into the dataset, which no commit references, is not read.
    (lake / "metrics" / "run_id=r9").mkdir()
    duckdb.sql(f"COPY (SELECT 1::BIGINT AS step, 0.5 AS value) TO '{lake}/metrics/run_id=r9/stray.parquet'")
    con = runlake.open_lake(lake)
    assert con.execute("SELECT run_id, count(*) FROM metrics GROUP BY 1 ORDER BY 1").fetchall() == [
        ("r1", 3),
        ("r2", 5),
    ]
    assert con.execute("DESCRIBE metrics").fetchall()[0][:2] == ("step", "BIGINT")
    # A commit made after opening is not seen by this connection; a new one sees it.
    _commit(lake, 3, [_part(lake, "r3", "d", range(7))])
    assert con.execute("SELECT count(*) FROM metrics").fetchone() == (8,)
    assert runlake.to_pandas(lake, "metrics", where="run_id = ?", params=["r3"])["step"].tolist() == list(range(7))
    con.close()


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            stat = os.stat(os.path.join(folder, name))
            out[os.path.relpath(os.path.join(folder, name), root)] = (stat.st_size, stat.st_mtime_ns)
    return out


def test_reading_writes_nothing(lake: Path, tmp_path: Path) -> None:
    nolog = tmp_path / "nolog"
    (nolog / "events" / "grid_id=007" / "seed=1").mkdir(parents=True)
    duckdb.sql(f"COPY (SELECT 1 AS event_id) TO '{nolog}/events/grid_id=007/seed=1/p.parquet' (FORMAT parquet)")
    for root in (lake, nolog):
        before = _tree(root)
        con = runlake.open_lake(root)
        con.execute("SELECT * FROM information_schema.tables").fetchall()
        runlake.to_polars(con, "SELECT 1")
        con.close()
        runlake.read_snapshot(root, runlake.lake_datasets(root)[0])
        assert _tree(root) == before


def test_a_dataset_without_a_log_is_every_file_of_its_directory(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    for grid, seed in (("007", 1), ("007", 2), ("12a", 1)):
        folder = root / "events" / f"grid_id={grid}" / f"seed={seed}"
        folder.mkdir(parents=True)
        duckdb.sql(f"COPY (SELECT {seed} AS event_id) TO '{folder}/part-0.parquet' (FORMAT parquet)")
    (root / "notes").mkdir()
    (root / "notes" / "a.csv").write_text("x\n")
    (root / "grids").mkdir()
    (root / "Upper").mkdir()
    duckdb.sql(f"COPY (SELECT 1 AS x) TO '{root}/Upper/p.parquet' (FORMAT parquet)")
    (root / "scores" / "deep" / "er").mkdir(parents=True)
    duckdb.sql(f"COPY (SELECT 1.5 AS score) TO '{root}/scores/deep/er/p.parquet' (FORMAT parquet)")
    assert runlake.lake_datasets(root) == ["events", "scores"]
    snap = runlake.read_snapshot(root, "events")
    assert snap.version == -1
    assert len(snap.files) == 3 and {f.rows for f in snap.files} == {-1}
    assert snap.partition_by == (("grid_id", "string"), ("seed", "int64"))
    con = runlake.open_lake(root)
    # grid_id keeps its leading zeros (pinned VARCHAR), as the TypeScript reader pins it.
    assert con.execute("SELECT grid_id, seed FROM events ORDER BY ALL").fetchall() == [
        ("007", 1),
        ("007", 2),
        ("12a", 1),
    ]
    assert con.execute("SELECT score FROM scores").fetchall() == [(1.5,)]
    con.close()


def test_types_map_through_one_table() -> None:
    assert duckdb_type("int16") == "SMALLINT"
    assert duckdb_type("timestamp") == "TIMESTAMP WITH TIME ZONE"
    nested = json.dumps({"kind": "struct", "fields": [["a b", {"kind": "list", "element": {"kind": "float32"}}]]})
    assert duckdb_type(nested) == 'STRUCT("a b" FLOAT[])'
    assert duckdb_type('{"kind":"other","sql":"DECIMAL(10,2)"}') == "DECIMAL(10,2)"
    with pytest.raises(ValueError, match="not a runlake column type"):
        duckdb_type("float")
    pa = pytest.importorskip("pyarrow")
    assert arrow_type("timestamp") == pa.timestamp("us", tz="UTC")
    assert arrow_type(nested) == pa.struct([("a b", pa.list_(pa.float32()))])


def test_frame_helpers_refuse_shapes_that_do_not_apply(lake: Path) -> None:
    with pytest.raises(runlake.RunlakeError, match="apply to a dataset name, not to SQL"):
        runlake.to_pandas(lake, "SELECT 1", where="true")
    with pytest.raises(runlake.RunlakeError, match="limit must be a non-negative integer"):
        runlake.to_arrow(lake, "metrics", limit=-1)
    with pytest.raises(runlake.RunlakeError, match=r"^query failed: .*nope"):
        runlake.to_arrow(lake, "SELECT nope FROM metrics")
    with pytest.raises(runlake.RunlakeError, match="no such lake directory"):
        runlake.open_lake(lake / "missing")
    shutil.rmtree(lake / ".runlake" / "log")
    # Without its log the dataset is read as another tool's: every file in its directory.
    assert runlake.read_snapshot(lake, "metrics").version == -1


def test_without_a_manifest_the_directories_give_the_partition_columns(lake: Path) -> None:
    (lake / ".runlake" / "datasets" / "metrics.json").unlink()
    assert runlake.read_snapshot(lake, "metrics").partition_by == (("run_id", "string"),)  # commit 0's schema
    with runlake.open_lake(lake) as con:
        assert con.execute("SELECT typeof(run_id), count(*) FROM metrics GROUP BY 1").fetchall() == [("VARCHAR", 8)]


def test_without_duckdb_open_lake_says_what_to_install(lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "duckdb", None)  # import duckdb now raises ImportError
    with pytest.raises(runlake.RunlakeError, match=r"needs the duckdb package: pip install"):
        runlake.open_lake(lake)
    assert runlake.read_snapshot(lake, "metrics").version == 2  # the standard-library part still works
