"""exp_engine's hashing API, under the lake's grid-id scheme (docs/grid-id.md).

An exp_engine runner changes ``from exp_engine.engine.cah import attach_grid_id, grid_hash,
canonicalize_params`` into ``from runlake.exp_engine import …`` and keeps its calls: the three
functions take exp_engine's one positional argument, ``params`` (exp_engine's
``engine/cah.py``, stored version 2ee1c110 of kennonstewart/unlearning-research-meta, copied to
``/work/shared/peers/exp_engine/A/exp_engine/engine/cah.py``; see its PROVENANCE.md). What
differs is the id: it is the one *the lake* computes, so rows written by runlake and by the
runner agree.

The scheme is, first match wins: ``scheme=``; else the scheme of ``lake=`` (or of the current
run's lake, :data:`runlake.run`): recorded in ``<lake>/.runlake/grid-id.json``, else detected
from its ``grids/grid_id=<id>/params.json`` files the way runlake detects it; else exp_engine's
own, ``exp_engine-sha256-12``. That last rule is what makes a changed import line enough: with
no lake to say otherwise (a new lake, or none known yet) the ids are exactly exp_engine's, as a
runner and the lake it writes expect; runlake's writers take the same scheme when it is requested
for a new lake (docs/grid-id.md, "How the scheme is decided"). A lake whose scheme is runlake's
gets runlake's ids.

``write_event_rows`` and ``write_seed_rows`` take exp_engine's arguments too (its
``engine/io.py``, stored version 2251c874, copied to
``/work/shared/peers/exp_engine/A/exp_engine/engine/io.py``): ``(rows, base_out, params=None)``,
returning ``<base_out>/events`` (or ``seeds``), or ``""`` for no rows. Instead of writing Parquet
with pandas they send the rows to the lake's ingest sidecar (started with ``--schema sweep`` when
none runs), as one ``events``/``seeds`` record (docs/tracking.md, "Sweep lakes"), and return once
the sidecar has folded them into the lake: runlake's writer types the columns as pandas would,
normalises regret as exp_engine does, and stores ``grids/grid_id=…/params.json``. The delivery is
the runs' (client id and sequence numbers, retries, the spool): when the sidecar cannot be
reached, the rows are spooled and a ``RuntimeWarning`` names the spool and ``runlake sync``.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from . import _grid_id, _sidecar
from ._frames import SweepRows
from ._grid_id import DEFAULT_SCHEME, GRID_ID_SCHEMES
from ._run import default_spool
from ._sender import Sender
from ._transport import RunlakeError, Transport, Unreachable

__all__ = [
    "EXP_ENGINE_SCHEME",
    "GRID_ID_SCHEMES",
    "attach_grid_id",
    "canonicalize_params",
    "grid_hash",
    "lake_grid_id_scheme",
    "write_event_rows",
    "write_seed_rows",
]

#: The scheme of exp_engine's last ``engine/cah.py`` (SHA-256, 12 hex characters, word rule):
#: used when no lake decides.
EXP_ENGINE_SCHEME = "exp_engine-sha256-12"

# Detection reads at most this many params.json files, as runlake's detectGridIdScheme does.
_MAX_SAMPLED_GRIDS = 64


def canonicalize_params(
    params: dict[str, Any], *, lake: str | os.PathLike[str] | None = None, scheme: str | None = None
) -> dict[str, Any]:
    """The parameters as the scheme hashes them (volatile and, for exp_engine's schemes,
    path-like keys dropped; keys sorted; floats normalised).

    >>> canonicalize_params({"lr": 0.1, "seed": 3, "data_dir": "/d"}, scheme="exp_engine-sha256-12")
    {'lr': 0.1}
    """
    return _grid_id.canonicalize_params(params, scheme=_scheme(lake, scheme))


def grid_hash(params: dict[str, Any], *, lake: str | os.PathLike[str] | None = None, scheme: str | None = None) -> str:
    """The grid id of ``params`` under the lake's scheme: 8 hex characters, or 12 for
    ``exp_engine-sha256-12``.

    >>> grid_hash({"algo": "memorypair", "gamma_bar": 1.0})  # no lake: exp_engine's own id
    'cbba7431bb63'
    >>> grid_hash({"algo": "memorypair", "gamma_bar": 1.0}, scheme="runlake")
    '5dc697c9'
    """
    return _grid_id.grid_hash(params, scheme=_scheme(lake, scheme))


def attach_grid_id(
    params: dict[str, Any], *, lake: str | os.PathLike[str] | None = None, scheme: str | None = None
) -> dict[str, Any]:
    """A shallow copy of ``params`` with ``grid_id`` set to :func:`grid_hash`. As in exp_engine,
    under its schemes ``grid_id`` is an ordinary key: attaching to params that carry one hashes it
    too. Under runlake's scheme ``grid_id`` is volatile, so attaching again gives the same id.

    >>> attach_grid_id({"algo": "memorypair", "gamma_bar": 1.0}, scheme="exp_engine-sha256-12")["grid_id"]
    'cbba7431bb63'
    """
    return _grid_id.attach_grid_id(params, scheme=_scheme(lake, scheme))


def _scheme(lake: str | os.PathLike[str] | None, scheme: str | None) -> str:
    if scheme is not None:
        if scheme not in GRID_ID_SCHEMES:
            raise ValueError(f"unknown grid id scheme {scheme!r} (one of: {', '.join(GRID_ID_SCHEMES)})")
        return scheme
    if lake is None:
        import runlake

        current = runlake.run
        if current is not None and current.lake is not None:
            lake = current.lake
    if lake is None:
        return EXP_ENGINE_SCHEME
    return lake_grid_id_scheme(lake) or EXP_ENGINE_SCHEME


def lake_grid_id_scheme(lake: str | os.PathLike[str]) -> str | None:
    """The grid-id scheme of ``lake``: recorded, else detected (the rules of runlake's
    ``resolveGridIdScheme``; nothing is written), else None: nothing decides it yet."""
    root = os.fspath(lake)
    setting = os.path.join(root, ".runlake", "grid-id.json")
    try:
        with open(setting, "rb") as f:
            text = f.read()
    except FileNotFoundError:
        pass
    else:
        try:
            recorded = json.loads(text)
        except ValueError as error:
            raise ValueError(f"{setting}: not a grid-id setting: {error}") from None
        found = recorded.get("scheme") if isinstance(recorded, dict) else None
        if found not in GRID_ID_SCHEMES:
            raise ValueError(f"{setting}: not a grid-id setting: scheme {found!r} is not one of {GRID_ID_SCHEMES}")
        return str(found)
    return _detect(root)


def _detect(root: str) -> str | None:
    grids = os.path.join(root, "grids")
    try:
        ids = sorted(e[len("grid_id=") :] for e in os.listdir(grids) if e.startswith("grid_id="))
    except OSError:
        ids = []
    votes: dict[str, int] = {}
    for grid_id in ids[:_MAX_SAMPLED_GRIDS]:
        try:
            with open(os.path.join(grids, f"grid_id={grid_id}", "params.json"), "rb") as f:
                text = f.read()
        except OSError:
            continue
        for scheme in _schemes_reproducing(text, grid_id):
            votes[scheme] = votes.get(scheme, 0) + 1
    if votes:
        # Most votes wins; a tie goes to the scheme that voted first (a stable sort, as in runlake).
        return sorted(votes.items(), key=lambda item: -item[1])[0][0]
    lengths = {len(grid_id) for grid_id in ids}
    if lengths == {12}:
        return "exp_engine-sha256-12"
    return None


def _schemes_reproducing(text: bytes, grid_id: str) -> list[str]:
    """Which schemes recompute ``grid_id`` from a params.json: runlake's record
    (``{grid_id, params_hash, params}``) or raw parameters as exp_engine stored them (without
    the ``grid_id`` its later versions store beside them)."""
    try:
        value = json.loads(text)  # Python's reading: 1.0 stays a float, as exp_engine hashed it
    except ValueError:
        return []
    if not isinstance(value, dict):
        return []
    if isinstance(value.get("params_hash"), str) and "params" in value:
        return ["runlake"] if value["params_hash"].startswith(grid_id) else []
    params = {k: v for k, v in value.items() if k != "grid_id"}
    found = []
    for scheme in GRID_ID_SCHEMES:
        try:
            source = _grid_id.loads(text) if scheme == DEFAULT_SCHEME else params
            if scheme == DEFAULT_SCHEME:
                source = {k: v for k, v in source.items() if k != "grid_id"}
            if _grid_id.grid_hash(source, scheme=scheme) == grid_id:
                found.append(scheme)
        except (TypeError, ValueError):
            continue  # e.g. NaN, which runlake's scheme refuses
    return found


# -- writing rows -----------------------------------------------------------------------------------

#: Bytes of rows JSON per record: a larger list is sent as several records (each one commit, the
#: rows in order), so that a frame stays far below the server's --max-batch-bytes (16 MiB).
RECORD_ROWS_BYTES = 8 * 1024 * 1024
#: Seconds to wait for the fold of a write (the sidecar folds at once when asked).
WRITE_TIMEOUT = 600.0


def write_event_rows(event_data: list[dict[str, Any]], base_out: str, params: dict[str, Any] | None = None) -> str:
    """Writes event-level rows of one grid into the sweep lake ``base_out`` and returns
    ``<base_out>/events`` once they are visible in it (``""`` for no rows), as exp_engine's
    ``write_event_rows`` does.

    ``params`` (optional) are the grid's parameters: the lake computes the grid id from them under
    its scheme (the one :func:`attach_grid_id` uses for ``lake=base_out``) and stores them in
    ``grids/grid_id=<id>/params.json``; without them each row carries its own ``grid_id``. Values
    are what ``json.dumps`` takes (numpy scalars too); NaN and ±inf are kept. Raises
    :class:`runlake.RunlakeError` when the lake refuses the rows; warns (``RuntimeWarning``) when
    they went to the spool because its sidecar could not be reached.

    >>> write_event_rows([{"seed": 1, "event": 0, "regret": 0.5}], "results", {"algo": "memorypair"})  # doctest: +SKIP
    'results/events'
    """
    return _write("events", "write_event_rows", event_data, base_out, params)


def write_seed_rows(seed_data: list[dict[str, Any]], base_out: str, params: dict[str, Any] | None = None) -> str:
    """Writes seed-level summary rows of one grid into the sweep lake ``base_out`` and returns
    ``<base_out>/seeds`` once they are visible (``""`` for no rows), as exp_engine's
    ``write_seed_rows`` does. Otherwise as :func:`write_event_rows`.

    >>> write_seed_rows([{"seed": 1, "avg_regret": 0.5}], "results", {"algo": "memorypair"})  # doctest: +SKIP
    'results/seeds'
    """
    return _write("seeds", "write_seed_rows", seed_data, base_out, params)


def _write(kind: str, where: str, rows: Any, base_out: str, params: Any) -> str:
    if not rows:
        return ""  # exp_engine writes nothing and returns "" for no rows
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Sequence):
        raise TypeError(f"{where}(): expected a list of dicts (one per row), not {type(rows).__name__}")
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"{where}(): row {i} is a {type(row).__name__}, not a dict")
    if params is not None and not isinstance(params, Mapping):
        raise TypeError(f"{where}(): params must be a dict or None, not {type(params).__name__}")
    base = os.fspath(base_out)
    # exp_engine attaches a grid id only for params that are not empty.
    params_text = _python_json(where, "params", params) if params else None
    # The scheme attach_grid_id uses for this lake goes with the params: a new lake takes it (so
    # its ids are the ones a runner computed before the first write), another one is refused.
    scheme = _scheme(base, None) if params_text is not None else None
    records = [SweepRows(kind, text, params_text, scheme) for text in _row_chunks(where, list(rows))]
    writer = _writer(base)
    for record in records:
        writer.sender.put(record)
    request = writer.sender.flush_request(True)
    if not request.done.wait(WRITE_TIMEOUT):
        raise TimeoutError(f"{where}(): {base}: the rows were not folded within {WRITE_TIMEOUT:g} s")
    if isinstance(request.error, Unreachable):
        # Acknowledged (durable in the sidecar's write-ahead log), only not folded yet.
        warnings.warn(
            f"runlake.exp_engine.{where}(): the rows for {base} are stored in its write-ahead log but not "
            f"folded yet ({request.error}); they become visible at the next fold",
            RuntimeWarning,
            stacklevel=3,
        )
    elif request.error is not None:
        raise RunlakeError(f"{where}(): {base}: {request.error}") from request.error
    if request.result == "spooled":
        sender = writer.sender
        reason = sender.last_unreachable or sender.fatal
        warnings.warn(
            f"runlake.exp_engine.{where}(): the rows for {base} went to the spool {sender.spool_dir}"
            f"{f' ({reason})' if reason else ''}; upload them with `runlake sync {os.path.dirname(sender.spool_dir)} "
            f"--to {base}`",
            RuntimeWarning,
            stacklevel=3,
        )
    return os.path.join(base_out, kind)


def _python_json(where: str, what: str, value: Any) -> bytes:
    """``json.dumps(value, allow_nan=True)`` as UTF-8 (numpy scalars as the Python numbers they
    hold), or a ``TypeError`` naming the value that JSON cannot hold."""
    try:
        return json.dumps(value, allow_nan=True, default=_plain).encode("utf-8")
    except (TypeError, ValueError) as error:
        raise TypeError(f"{where}(): {what}: {error}") from None


def _plain(value: Any) -> Any:
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return value.item()
    raise TypeError(f"{type(value).__name__} {value!r} cannot be stored (numbers, strings, booleans, None, lists)")


def _row_chunks(where: str, rows: list[Any]) -> list[bytes]:
    """The rows as one JSON text, or several of at most about :data:`RECORD_ROWS_BYTES` each."""
    texts = []
    for i, row in enumerate(rows):
        texts.append(_python_json(where, f"row {i}", row))
    total = sum(len(t) for t in texts) + len(texts) + 1
    if total <= RECORD_ROWS_BYTES:
        return [b"[" + b", ".join(texts) + b"]"]
    chunks: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for text in texts:
        if current and size + len(text) + 2 > RECORD_ROWS_BYTES:
            chunks.append(b"[" + b", ".join(current) + b"]")
            current, size = [], 0
        current.append(text)
        size += len(text) + 2
    chunks.append(b"[" + b", ".join(current) + b"]")
    return chunks


class _Writer:
    """One lake's sender: a client id and sequence for this process, its queue and thread."""

    def __init__(self, lake: str) -> None:
        os.makedirs(lake, exist_ok=True)  # its real path names the sidecar's socket
        self.lake = lake
        self.pid = os.getpid()

        def connect(deadline: float) -> Transport:
            return _sidecar.connect(lake, deadline=deadline, schema="sweep")

        # The first connection may start the sidecar: it gets the start-up's whole budget (a
        # reconnect gets SPOOL_AFTER), as runlake.init gives it.
        transport: Transport | None = None
        try:
            transport = connect(time.monotonic() + _sidecar.START_TIMEOUT)
        except Unreachable:
            pass  # the sender retries, then spools (and the write warns)
        self.sender = Sender(
            run_id="exp_engine",
            client=secrets.token_hex(16),
            connect=connect,
            transport=transport,
            spool_dir=default_spool(),
            flush_interval=0.2,
        )
        self.sender.start()


_writers: dict[str, _Writer] = {}
_writers_lock = threading.Lock()


def _writer(lake: str) -> _Writer:
    key = os.path.realpath(lake)
    with _writers_lock:
        writer = _writers.get(key)
        # A forked child has the parent's writers but not their threads: it gets its own.
        if writer is None or writer.pid != os.getpid() or not writer.sender.thread.is_alive():
            writer = _writers[key] = _Writer(lake)
        return writer


@atexit.register
def _close_writers() -> None:
    # Closes the connections, so that an idle sidecar sees its last client leave.
    with _writers_lock:
        for writer in _writers.values():
            if writer.pid == os.getpid():
                writer.sender.stop()
        _writers.clear()
