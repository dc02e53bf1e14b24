"""Writes the golden dr_wandb exports under test/fixtures/dr-wandb/ by running dr_wandb's own code.

wandb cannot be installed offline, so a stub ``wandb`` module (fake ``Api`` and ``Run`` objects with
the attributes dr_wandb reads) is put on ``sys.path``; everything after ``wandb.Api().runs(...)``
-- the records, the DataFrames, ``safe_convert_for_parquet``, the Parquet/JSONL writers -- is
dr_wandb's code at the commit named below, extracted from a git mirror of
github.com/drothermel/dr_wandb. Each generation writes into ``<out>/<generation>/``:

==================  ========  ==========================================================
generation          commit    what runs
==================  ========  ==========================================================
2025-09-folder      c7afc95   ``Downloader.download_project`` into a real PostgreSQL
                              (``ProjectStore``), then ``write_downloaded_to_parquet``
                              (``store.py export_to_parquet``)
2026-02-parquet     bb9da1c   ``cli/download.py download_project(..., output_format="parquet")``
2026-03-sync        70a92a0   ``cli/export.py export_main`` (``sync_engine.py``), parquet
2026-03-sync-jsonl  70a92a0   the same with ``--output-format jsonl``
2026-04-v3          4a39661   ``ExportEngine(ExportRequest(mode=history)).export()``
==================  ========  ==========================================================

Deviations from a real run, all outside dr_wandb's writers:

- Python 3.11 is what is installed; PEP 695 ``type X = ...`` statements are rewritten to
  ``X = ...`` when the sources are extracted (nothing else is touched).
- 2025-09-folder needs PostgreSQL (``postgres``/``initdb`` on PATH; run as the ``postgres`` user
  when this script runs as root) and psycopg2. PostgreSQL's JSONB refuses NaN and Infinity, so the
  real downloader crashed on a run that logged them: that generation's runs log none.
- 2026-04-v3 imports ``dr_ds`` 0.1.3/0.1.4, which is not installable offline. A stub provides
  what dr_wandb calls: ``serialize_timestamp`` (datetime or epoch seconds -> ISO-8601 UTC text),
  ``to_jsonable`` (datetimes to that text, tuples and sets to lists, other objects' public
  attributes to dicts), ``utc_now_iso``, ``atomic_write_jsonl`` (one ``json.dumps`` line per row: Python's
  ``NaN``/``Infinity`` tokens; srsly's ujson would refuse them) and ``dump_json_atomic`` (srsly).
- Wall-clock values the tools stamp (``exported_at``, checkpoint timestamps) differ per run.
- ``TZ`` is set to America/New_York: the 2025-09 generation writes ``datetime.fromtimestamp``
  (naive local time), which the tests read back with ``--timezone America/New_York``.

Command (the committed fixtures were written with Python 3.11, pandas 2.3.3 -- dr_wandb locked
2.3.2 until 2026-04; pandas 3 would write text columns without the "nan" placeholders --, pyarrow
25.0.1, pydantic 2.13.5, SQLAlchemy 2.1.1, psycopg2 2.9.13, srsly 2.5.4, PostgreSQL 15.18)::

    python test/python/dr_wandb_golden.py /work/.mirror/drothermel+dr_wandb/repo \
        test/fixtures/dr-wandb [generation ...] [--runs N] [--steps N]

The fake project (runs, config, summary, history) is ``fake_runs()`` below; the tests derive their
expected counts from the same inputs (see test/ingest-dr-wandb.test.ts).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import types
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ENTITY = "drw"
PROJECT = "golden"
TZ = "America/New_York"

GENERATIONS: dict[str, str] = {
    "2025-09-folder": "c7afc95",
    "2026-02-parquet": "bb9da1c",
    "2026-03-sync": "70a92a0",
    "2026-03-sync-jsonl": "70a92a0",
    "2026-04-v3": "4a39661",
}

STEPS = 20  # --steps N and --runs N make bigger exports for timing (not the committed fixtures)
RUNS = 3
T0 = 1757941200.123456  # 2025-09-15T13:00:00.123456Z; steps are 10.000250 s apart


# --- the fake project -------------------------------------------------------------------------


def history_rows(run_index: int, nonfinite: bool) -> list[dict[str, Any]]:
    """The rows ``scan_history()`` yields: only the keys logged at that step (W&B is sparse)."""
    rows = []
    for step in range(STEPS):
        row: dict[str, Any] = {
            "_step": step,
            "_runtime": 10 * step,
            "_timestamp": T0 + 86400 * run_index + step * 10.00025,
            "_wandb": {"runtime": 10 * step},
            "train/loss": round(3.0 - 0.1 * step + 0.01 * run_index, 6),
            "train/lr": 0.0003 * (step + 1) / STEPS,
            # An int above 2**31 - 1: safe_convert_for_parquet makes the column float64.
            "tokens": 5_000_000_000 + step * 1_000_000,
        }
        if step % 5 == 4:
            row["eval/acc"] = round(0.5 + 0.01 * step, 4)
            row["is_best"] = step % 10 == 4
        if step % 10 == 9:
            row["val"] = {"ppl": round(20.0 - step / 2, 3), "bpb": {"c4": 1.25, "wiki": 1.5}}
            row["phase"] = "warmup" if step < 10 else "stable"
        if step == STEPS - 1:
            row["samples"] = {
                "_type": "table-file",
                "path": "media/table/samples_19.table.json",
                "sha256": "ab" * 32,
                "ncols": 2,
                "nrows": 4,
            }
        if nonfinite and run_index == 1 and step in (7, 8, 9):
            row["train/loss"] = [math.nan, math.inf, -math.inf][step - 7]
        rows.append(row)
    return rows


def fake_runs(nonfinite: bool) -> list[dict[str, Any]]:
    """Three runs: finished, crashed (the one with NaN/Inf when the format can hold them), running."""
    out = []
    specs = [
        ("k3x9a1b2", "olmo-20m-lr3e-4", "finished", ["golden", "lr-sweep"], "sweep-a"),
        ("m7q2c4d8", "olmo-20m-lr1e-3", "crashed", ["golden"], "sweep-a"),
        ("p5w8e6f0", "olmo-60m-base", "running", [], None),
    ]
    specs += [(f"x{n:07d}", f"scale-{n}", "finished", [], None) for n in range(3, RUNS)]
    for i, (run_id, name, state, tags, group) in enumerate(specs[:RUNS]):
        config = {
            "_target_": "olmo_core.train.TrainerConfig",
            "lr": [0.0003, 0.001, 0.0006][i % 3],
            "batch_size": 64,
            "max_tokens": 5_000_000_000,
            "seed": 7 + i,
            "model": {"_target_": "olmo_core.nn.TransformerConfig", "d_model": 256 * (i + 1)},
            "optimizer": {"name": "adamw", "betas": [0.9, 0.95], "weight_decay": 0.1},
            "compile": i != 1,
        }
        summary: dict[str, Any] = {
            "_step": STEPS - 1,
            "_runtime": 10 * (STEPS - 1),
            "_timestamp": T0 + 86400 * i + (STEPS - 1) * 10.00025,
            "_wandb": {"runtime": 10 * (STEPS - 1)},
            "train/loss": round(3.0 - 0.1 * (STEPS - 1) + 0.01 * i, 6),
            "eval": {"acc": 0.69, "n": 1000},
            "tokens": 5_000_000_000 + (STEPS - 1) * 1_000_000,
            "is_best": i == 0,
            "phase": "stable",
            "samples": {"_type": "table-file", "path": "media/table/samples_19.table.json"},
        }
        if nonfinite and i == 1:
            summary["train/loss"] = math.nan
            summary["grad/max"] = math.inf
        out.append(
            {
                "id": run_id,
                "name": name,
                "state": state,
                "tags": tags,
                "group": group,
                "created_at": (datetime(2025, 9, 15, 13) + timedelta(days=i)).isoformat(),
                "config": config,
                "summary": summary,
                "metadata": {"os": "Linux-6.8", "python": "3.12.4", "gpu": "NVIDIA H100", "gpu_count": 8},
                "system_metrics": {"system.gpu.0.memory": 71.5},
                "history": history_rows(i, nonfinite),
            }
        )
    return out


# --- the stub wandb module --------------------------------------------------------------------


class FakeSummary:
    """What ``run.summary`` is: dict-like, with W&B's ``_json_dict``."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._json_dict = data

    def keys(self):
        return self._json_dict.keys()

    def __getitem__(self, key: str) -> Any:
        return self._json_dict[key]

    def __iter__(self):
        return iter(self._json_dict)

    def __len__(self) -> int:
        return len(self._json_dict)

    def __bool__(self) -> bool:
        return bool(self._json_dict)


class FakeUser:
    def __init__(self) -> None:
        self.name = "Golden Tester"
        self.username = "golden"


class FakeRun:
    """The public attributes of ``wandb.apis.public.Run`` dr_wandb reads."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.id = spec["id"]
        self.name = spec["name"]
        self.display_name = spec["name"]
        self.state = spec["state"]
        self.entity = ENTITY
        self.project = PROJECT
        self.created_at = spec["created_at"]
        self.updated_at = spec["created_at"].replace("T13", "T14")  # an hour later
        self.heartbeat_at = self.updated_at
        self.url = f"https://wandb.ai/{ENTITY}/{PROJECT}/runs/{self.id}"
        self.path = [ENTITY, PROJECT, self.id]
        self.storage_id = f"UnVuOnYx{self.id}"
        self.tags = list(spec["tags"])
        self.group = spec["group"]
        self.job_type = "train"
        self.sweep_name = None
        self.sweep = None
        self.user = FakeUser()
        self.read_only = False
        self.config = dict(spec["config"])
        self.summary = FakeSummary(spec["summary"])
        self.summary_metrics = dict(spec["summary"])
        self.metadata = spec["metadata"]
        self.system_metrics = spec["system_metrics"]
        last = spec["history"][-1]["_step"]
        self.history_keys = {"lastStep": last, "keys": {}}
        self.lastHistoryStep = last
        self._history = spec["history"]
        # The GraphQL attributes W&B keeps in ``_attrs`` after ``Run.load`` (config unwrapped).
        self._attrs = {
            "id": self.storage_id,
            "name": self.id,
            "displayName": self.name,
            "state": self.state,
            "tags": self.tags,
            "group": self.group,
            "jobType": self.job_type,
            "sweepName": None,
            "createdAt": self.created_at,
            "heartbeatAt": self.heartbeat_at,
            "readOnly": False,
            "description": None,
            "notes": None,
            "commit": "0123abc",
            "historyLineCount": len(self._history),
            "config": dict(self.config),
            "systemMetrics": json.dumps(self.system_metrics),
            "summaryMetrics": json.dumps(spec["summary"]),
            "historyKeys": self.history_keys,
            "user": {"name": self.user.name, "username": self.user.username},
        }

    def scan_history(self, keys=None, page_size=1000, min_step=None, max_step=None):
        for row in self._history:
            step = row["_step"]
            if min_step is not None and step < min_step:
                continue
            if max_step is not None and step >= max_step:
                continue
            yield dict(row) if keys is None else {k: v for k, v in row.items() if k in keys}


class FakeRuns(list):
    @property
    def total(self) -> int:
        return len(self)

    @property
    def length(self) -> int:
        return len(self)


class FakeProject:
    def __init__(self, name: str) -> None:
        self.name = name


def install_wandb_stub(specs: list[dict[str, Any]]) -> None:
    wandb = types.ModuleType("wandb")
    apis = types.ModuleType("wandb.apis")
    public = types.ModuleType("wandb.apis.public")
    errors = types.ModuleType("wandb.errors")

    class UsageError(Exception):
        pass

    class Api:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def runs(self, path: str, *args: Any, **kwargs: Any) -> FakeRuns:
            return FakeRuns(FakeRun(spec) for spec in specs)

        def run(self, path: str) -> FakeRun:
            run_id = path.split("/")[-1]
            return next(FakeRun(s) for s in specs if s["id"] == run_id)

        def project(self, name: str, entity: str | None = None) -> FakeProject:
            return FakeProject(name)

        def projects(self, entity: str | None = None) -> list[FakeProject]:
            return [FakeProject(PROJECT)]

    public.Run = FakeRun
    public.Runs = FakeRuns
    apis.public = public
    errors.UsageError = UsageError
    errors.CommError = type("CommError", (Exception,), {})
    wandb.Api = Api
    wandb.apis = apis
    wandb.errors = errors
    for name, module in {
        "wandb": wandb,
        "wandb.apis": apis,
        "wandb.apis.public": public,
        "wandb.errors": errors,
    }.items():
        sys.modules[name] = module


def install_dr_ds_stub() -> None:
    import srsly

    def serialize_timestamp(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(timezone.utc).isoformat()
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, tz=timezone.utc).isoformat()
        return str(value)

    def to_jsonable(value: Any) -> Any:
        if isinstance(value, datetime):
            return serialize_timestamp(value)
        if isinstance(value, dict):
            return {str(k): to_jsonable(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [to_jsonable(v) for v in value]
        if isinstance(value, set):
            return sorted(to_jsonable(v) for v in value)
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        return {k: to_jsonable(v) for k, v in vars(value).items() if not k.startswith("_")}

    def utc_now_iso() -> str:
        return datetime.now(timezone.utc).isoformat()

    def atomic_write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        # srsly's ujson refuses NaN; the json module writes Python's NaN/Infinity tokens.
        tmp.write_text("".join(json.dumps(row) + "\n" for row in rows))
        os.replace(tmp, path)

    def dump_json_atomic(path: Path, payload: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        srsly.write_json(tmp, payload)
        os.replace(tmp, path)

    dr_ds = types.ModuleType("dr_ds")
    serialization = types.ModuleType("dr_ds.serialization")
    atomic_io = types.ModuleType("dr_ds.atomic_io")
    serialization.serialize_timestamp = serialize_timestamp
    serialization.to_jsonable = to_jsonable
    serialization.utc_now_iso = utc_now_iso
    atomic_io.atomic_write_jsonl = atomic_write_jsonl
    atomic_io.dump_json_atomic = dump_json_atomic
    dr_ds.serialization = serialization
    dr_ds.atomic_io = atomic_io
    sys.modules.update({"dr_ds": dr_ds, "dr_ds.serialization": serialization, "dr_ds.atomic_io": atomic_io})


# --- sources ----------------------------------------------------------------------------------

PEP695 = re.compile(r"^type (\w+) = ", re.MULTILINE)


def extract_sources(mirror: Path, commit: str, dest: Path) -> Path:
    """``git archive <commit> src`` into dest, with PEP 695 aliases rewritten for Python 3.11."""
    archive = subprocess.run(
        ["git", "-C", str(mirror), "archive", commit, "src"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    for path in (dest / "src").rglob("*.py"):
        text = path.read_text()
        fixed = PEP695.sub(r"\1 = ", text)
        if fixed != text:
            path.write_text(fixed)
    return dest / "src"


def fresh_import(src: Path) -> None:
    for name in [m for m in sys.modules if m == "dr_wandb" or m.startswith("dr_wandb.")]:
        del sys.modules[name]
    sys.path[:] = [p for p in sys.path if not p.endswith("/src")]
    sys.path.insert(0, str(src))


# --- PostgreSQL for the 2025-09 generation ----------------------------------------------------


@contextlib.contextmanager
def postgres(tmp: Path):
    tmp.mkdir()
    os.chmod(tmp.parent, 0o755)  # the postgres user must reach its data directory
    data = tmp / "pgdata"
    sock = tmp / "pgsock"
    sock.mkdir()
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(tmp, "postgres")
        shutil.chown(sock, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([*as_postgres, "initdb", "-D", str(data), "-U", "postgres", "--auth=trust"],
                   check=True, capture_output=True)
    subprocess.run(
        [*as_postgres, "pg_ctl", "-D", str(data), "-w", "-l", str(tmp / "pg.log"), "-o",
         f"-k {sock} -p {port} -c listen_addresses='' -c timezone=UTC", "start"],
        check=True, capture_output=True,
    )
    try:
        yield f"postgresql+psycopg2://postgres@/wandb?host={sock}&port={port}"
    finally:
        subprocess.run([*as_postgres, "pg_ctl", "-D", str(data), "-m", "fast", "stop"], capture_output=True)


# --- the generations --------------------------------------------------------------------------


def run_2025_09_folder(src: Path, out: Path, tmp: Path) -> None:
    install_wandb_stub(fake_runs(nonfinite=False))
    fresh_import(src)
    from dr_wandb.downloader import Downloader
    from dr_wandb.store import ProjectStore

    with postgres(tmp) as url:
        store = ProjectStore(url, output_dir=out)
        downloader = Downloader(store)
        downloader.download_project(entity=ENTITY, project=PROJECT)
        downloader.write_downloaded_to_parquet()
        store.engine.dispose()


def run_2026_02_parquet(src: Path, out: Path, tmp: Path) -> None:
    install_wandb_stub(fake_runs(nonfinite=True))
    fresh_import(src)
    from dr_wandb.cli.download import download_project

    download_project(ENTITY, PROJECT, str(out), output_format="parquet")


def run_2026_03_sync(src: Path, out: Path, tmp: Path, output_format: str = "parquet") -> None:
    install_wandb_stub(fake_runs(nonfinite=True))
    fresh_import(src)
    from dr_wandb.cli.export import export_main

    export_main([ENTITY, PROJECT, str(out), "--output-format", output_format,
                 "--state-path", str(tmp / "state.json")])


def run_2026_04_v3(src: Path, out: Path, tmp: Path) -> None:
    install_wandb_stub(fake_runs(nonfinite=True))
    install_dr_ds_stub()
    fresh_import(src)
    from dr_wandb import ExportEngine, ExportMode, ExportRequest

    ExportEngine(
        ExportRequest(entity=ENTITY, project=PROJECT, name=PROJECT, data_root=out, mode=ExportMode.HISTORY)
    ).export()


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    global STEPS, RUNS
    args = list(argv)
    for flag in ("--steps", "--runs"):
        if flag in args:
            at = args.index(flag)
            value = int(args[at + 1])
            del args[at : at + 2]
            if flag == "--steps":
                STEPS = value
            else:
                RUNS = value
    mirror, out_root = Path(args[0]), Path(args[1])
    chosen = args[2:] or list(GENERATIONS)
    os.environ["TZ"] = TZ
    time.tzset()
    for generation in chosen:
        commit = GENERATIONS[generation]
        out = out_root / generation
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        with tempfile.TemporaryDirectory(prefix=f"drw-{commit}-") as tmp_name:
            tmp = Path(tmp_name)
            src = extract_sources(mirror, commit, tmp / "repo")
            if generation == "2025-09-folder":
                run_2025_09_folder(src, out, tmp / "pg")
            elif generation == "2026-02-parquet":
                run_2026_02_parquet(src, out, tmp)
            elif generation == "2026-03-sync":
                run_2026_03_sync(src, out, tmp)
            elif generation == "2026-03-sync-jsonl":
                run_2026_03_sync(src, out, tmp, "jsonl")
            else:
                run_2026_04_v3(src, out, tmp)
        print(f"{generation} ({commit}): {sorted(p.name for p in out.iterdir())}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
