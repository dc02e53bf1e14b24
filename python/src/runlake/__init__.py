"""Log metrics from Python training loops into a runlake lake.

>>> import runlake
>>> with runlake.init(lake="results", project="grokking", config={"lr": 1e-3}) as run:  # doctest: +SKIP
...     for step in range(100):
...         run.log({"train/loss": 1.0 / (step + 1), "grad": {"norm": 0.5}}, step=step)
...     run.summary["best_val"] = 0.91

``log()`` only queues; a background thread sends batches to the lake's ingest server (a sidecar
``runlake serve --ingest`` that ``init`` starts when none runs) and, while that server cannot be
reached, to a local spool. ``flush()`` and ``finish()`` return once the server has every point
durably. docs/tracking.md is the specification.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import Any

from . import _run
from ._lake import open_lake, read_dataset, to_arrow, to_pandas, to_polars
from ._run import FlushResult, Run
from ._sender import ProtocolError
from ._snapshot import (
    DatasetSnapshot,
    LakeFormatError,
    SnapshotFile,
    VersionNotFoundError,
    arrow_type,
    duckdb_type,
    lake_datasets,
    read_snapshot,
)
from ._transport import RunlakeError, ServerError, Unreachable

__version__ = "0.1.0"

__all__ = [
    "DatasetSnapshot",
    "LakeFormatError",
    "ProtocolError",
    "Run",
    "RunlakeError",
    "ServerError",
    "SnapshotFile",
    "Unreachable",
    "VersionNotFoundError",
    "arrow_type",
    "duckdb_type",
    "finish",
    "init",
    "lake_datasets",
    "log",
    "open_lake",
    "read_dataset",
    "read_snapshot",
    "run",
    "to_arrow",
    "to_pandas",
    "to_polars",
]

#: The run made by the last :func:`init` of this process, until it finishes (else None).
run: Run | None = None


def init(
    lake: str | os.PathLike[str] | None = None,
    server: str | None = None,
    token: str | None = None,
    project: str | None = None,
    name: str | None = None,
    group: str | None = None,
    tags: list[str] | tuple[str, ...] | None = None,
    config: Mapping[str, Any] | argparse.Namespace | None = None,
    resume: str | None = None,
    run_id: str | None = None,
    spool: str | os.PathLike[str] | None = None,
    flush_interval: float = 0.2,
) -> Run:
    """Starts (or, with ``resume=<run_id>``, continues) a run and returns it.

    - ``lake="path"``: local mode; talks to the lake's sidecar over a Unix socket, starting
      ``runlake serve <lake> --ingest --socket … --exit-when-idle`` when none answers (the CLI is
      ``$RUNLAKE_BIN``, ``runlake`` on ``PATH``, or ``npx --no-install runlake``).
    - ``server="http://host:port", token=…``: remote mode, with the server's write token.
    - ``spool="dir"``: where batches go while the server is unreachable (default
      ``$RUNLAKE_SPOOL`` or ``~/.cache/runlake/spool``); given alone, the run writes only there,
      for ``runlake sync`` to upload later.

    ``run_id`` names the run (default: 16 random hex characters); several processes (DDP ranks)
    may pass the same one. ``flush_interval`` is how often, at most, the background thread sends
    a batch.

    >>> run = runlake.init(lake="results", project="grokking", name="wd-0.1")  # doctest: +SKIP
    """
    global run
    made = Run(
        lake=lake,
        server=server,
        token=token,
        project=project,
        name=name,
        group=group,
        tags=tags,
        config=config,
        resume=resume,
        run_id=run_id,
        spool=spool,
        flush_interval=flush_interval,
    )
    run = made
    return made


def _current(what: str) -> Run:
    if run is None:
        raise RuntimeError(f"runlake.{what}(): no run; call runlake.init() first")
    return run


def log(data: Mapping[str, Any], step: int | None = None, split: str | None = None) -> None:
    """``runlake.run.log(...)``: logs to the current run (see :meth:`Run.log`).

    >>> runlake.log({"loss": 0.25}, step=3)  # doctest: +SKIP
    """
    _current("log").log(data, step=step, split=split)


def finish(status: str = "finished") -> FlushResult:
    """``runlake.run.finish(status)``: finishes the current run (see :meth:`Run.finish`).

    >>> runlake.finish()  # doctest: +SKIP
    'acknowledged'
    """
    return _current("finish").finish(status)


def _forget(finished: Run) -> None:
    global run
    if run is finished:
        run = None


_run._forget_hooks.append(_forget)
