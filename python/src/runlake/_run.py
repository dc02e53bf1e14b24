"""``Run``: what ``runlake.init`` returns (docs/tracking.md)."""

from __future__ import annotations

import argparse
import atexit
import json
import math
import os
import secrets
import sys
import threading
import time
import urllib.parse
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal

from . import _sidecar
from ._embeddings import embeddings_record
from ._frames import MAX_NAME_BYTES
from ._sender import MAX_EMBEDDINGS_BYTES, MAX_RECORD_BYTES, WAKE_POINTS, FlushRequest, Sender
from ._transport import RunlakeError, ServerError, Transport, Unreachable

STATUSES = ("finished", "failed", "crashed", "killed")
CHECKPOINT_FIELDS = frozenset(
    ("tokens_seen", "epoch", "learning_rate", "train_loss", "val_loss", "has_weights", "checkpoint_uri", "wall_time")
)
_I64_MAX = (1 << 63) - 1
_NUMERIC_KINDS = frozenset("biuf")  # numpy dtype kinds log() takes: bool, signed, unsigned, float

FlushResult = Literal["acknowledged", "spooled"]


def default_spool() -> str:
    """``$RUNLAKE_SPOOL``, or ``~/.cache/runlake/spool``."""
    return os.environ.get("RUNLAKE_SPOOL") or os.path.join(os.path.expanduser("~"), ".cache", "runlake", "spool")


# -- values ---------------------------------------------------------------------------------------


def _a(value: Any) -> str:
    """'a str', 'an int', 'None': what a value is, for messages."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _bad_value(name: str, value: Any) -> TypeError:
    kind = _a(value)
    return TypeError(f"log(): {name!r} is {kind}; only numbers and booleans can be logged (NaN and ±inf are kept)")


def _scalar(name: str, value: Any) -> float:
    """A value that is not a plain float, int or bool: numpy scalars and 0-d numeric arrays are
    taken (without importing numpy), anything else is refused naming the key."""
    dtype = getattr(value, "dtype", None)
    kind = getattr(dtype, "kind", None)
    if kind in _NUMERIC_KINDS and getattr(value, "ndim", None) == 0 and type(value).__module__ == "numpy":
        return float(value)
    raise _bad_value(name, value)


def _check_name(name: Any, known: set[str]) -> None:
    if type(name) is not str:
        raise TypeError(f"log(): key {name!r} is {_a(name)}; metric names are strings")
    size = len(name.encode("utf-8", "surrogatepass"))
    if size == 0 or size > MAX_NAME_BYTES:
        raise ValueError(f"log(): metric name {name[:64]!r}… is {size} UTF-8 bytes; names are 1 to {MAX_NAME_BYTES}")
    known.add(name)


def _flatten_nested(out: dict[str, float], prefix: str, data: Mapping[Any, Any], known: set[str]) -> None:
    for key, value in data.items():
        if type(key) is not str:
            raise TypeError(f"log(): key {key!r} under {prefix!r} is {_a(key)}; metric names are strings")
        name = f"{prefix}.{key}"
        t = type(value)
        if t is float:
            pass
        elif t is int:
            value = _int_value(name, value)
        elif t is bool:
            value = 1.0 if value else 0.0
        elif isinstance(value, Mapping):
            _flatten_nested(out, name, value, known)
            continue
        else:
            value = _scalar(name, value)
        if name not in known:
            _check_name(name, known)
        out[name] = value


def _int_value(name: str, value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"log(): {name!r} is an int too large for a float") from None


def _json_value(where: str, value: Any) -> Any:
    """A copy of ``value`` that the header's JSON can hold: dicts with str keys, lists, strings,
    finite numbers, booleans, None. numpy scalars become Python ones (``.item()``)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value!r} cannot be stored (JSON has no NaN or infinity)")
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: key {key!r} is {_a(key)}; keys are strings")
            out[key] = _json_value(f"{where}.{key}", item)
        return out
    if isinstance(value, (list, tuple)):
        return [_json_value(f"{where}[{i}]", item) for i, item in enumerate(value)]
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return _json_value(where, value.item())
    raise TypeError(f"{where}: {_a(value)} cannot be stored (use str, numbers, lists, dicts)")


# -- config and summary ---------------------------------------------------------------------------


class _Merged(Mapping[str, Any]):
    """A dict-like view of a run's config or summary: setting keys sends a ``config`` or
    ``summary`` record that the server merges key by key."""

    def __init__(self, run: Run, kind: str, initial: Mapping[str, Any] | None = None) -> None:
        self._run = run
        self._kind = kind
        self._data: dict[str, Any] = dict(initial or {})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"{self._kind}({self._data!r})"

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, values: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """Merges ``values`` (and keyword arguments), sending them in one record."""
        merged: dict[str, Any] = {}
        if values is not None:
            if isinstance(values, argparse.Namespace):
                values = vars(values)
            merged.update(values)
        merged.update(kwargs)
        clean = _json_value(self._kind, merged)
        if not clean:
            return
        self._run._record({"kind": self._kind, "run_id": self._run.id, self._kind: clean})
        self._data.update(clean)


# -- the run --------------------------------------------------------------------------------------


class Run:
    """One run being logged: made by :func:`runlake.init`.

    ``log`` queues points and returns; a background thread sends them in batches. ``flush``
    waits until the server has them, ``finish`` ends the run. Usable as a context manager:
    leaving the block finishes the run (``"failed"`` when an exception escapes it).
    """

    id: str
    """The run's id (``run_id`` in the lake)."""
    client: str
    """This process's client id for this run: 128 random bits as hex."""
    mode: Literal["local", "remote", "offline"]
    """How points travel: to the lake's sidecar, to a remote server, or only to the spool."""
    project: str | None
    name: str | None
    group: str | None
    tags: list[str] | None

    def __init__(
        self,
        *,
        lake: str | os.PathLike[str] | None,
        server: str | None,
        token: str | None,
        project: str | None,
        name: str | None,
        group: str | None,
        tags: list[str] | tuple[str, ...] | None,
        config: Mapping[str, Any] | argparse.Namespace | None,
        resume: str | None,
        run_id: str | None,
        spool: str | os.PathLike[str] | None,
        flush_interval: float,
    ) -> None:
        if lake is not None and server is not None:
            raise ValueError("runlake.init: give lake= (local mode) or server= (remote mode), not both")
        if resume is not None and run_id is not None and resume != run_id:
            raise ValueError(f"runlake.init: resume={resume!r} and run_id={run_id!r} name different runs")
        if not (flush_interval > 0):
            raise ValueError(f"runlake.init: flush_interval must be positive, not {flush_interval!r}")
        chosen = resume if resume is not None else run_id
        if chosen is not None and (
            not isinstance(chosen, str) or not chosen or len(chosen) > 256 or any(c in chosen for c in "/\\\0")
        ):
            raise ValueError(f"runlake.init: run id {chosen!r} must be 1 to 256 characters without /, \\ or NUL")
        if tags is not None and (isinstance(tags, str) or not all(isinstance(t, str) for t in tags)):
            raise TypeError("runlake.init: tags must be a list of strings")
        self.id = chosen if chosen is not None else secrets.token_hex(8)
        self.project = project
        self.name = name
        self.group = group
        self.tags = list(tags) if tags is not None else None
        self.client = secrets.token_hex(16)
        self.lake = os.fspath(lake) if lake is not None else None
        self.server = server
        self.resumed = resume is not None
        self._finished = False
        self._closed_because = f"run {self.id} is finished"
        self._pid = os.getpid()
        self._lock = threading.Lock()
        # Without step=, log() numbers calls 0, 1, 2, …; a run that exists continues from its
        # largest step + 1, which the server reports (below). When it cannot be asked, a resumed
        # run's first log() needs step= (why is in _no_step).
        self._next_step: int | None = 0
        self._no_step = ""
        self._known: set[str] = set()
        config_values = vars(config) if isinstance(config, argparse.Namespace) else config
        self.config = _Merged(self, "config")
        self.summary = _Merged(self, "summary")
        clean_config = _json_value("config", dict(config_values)) if config_values is not None else None
        if clean_config is not None:
            self.config._data.update(clean_config)

        record: dict[str, Any] = {"kind": "run", "run_id": self.id}
        # The run record goes first; built (and checked) before anything connects.
        for key, value in (("project", project), ("name", name), ("group", group)):
            if value is not None:
                record[key] = str(value)
        if tags is not None:
            record["tags"] = list(tags)
        if clean_config is not None:
            record["config"] = clean_config
        record["status"] = "running"
        started_at = time.time()
        record["started_at"] = started_at  # checked with it; dropped below for a run that exists
        _check_size(record)

        spool_root = os.fspath(spool) if spool is not None else default_spool()
        connect: Callable[[float], Transport] | None
        transport: Transport | None = None
        if self.lake is not None:
            lake_path = self.lake
            os.makedirs(lake_path, exist_ok=True)  # its real path names the sidecar's socket
            self.mode = "local"

            def connect(deadline: float) -> Transport:
                return _sidecar.connect(lake_path, deadline=deadline)
        elif server is not None:
            remote = Transport(url=server, token=token)
            self.mode = "remote"

            def connect(deadline: float) -> Transport:
                remote.request("GET", "/status", timeout=max(0.1, min(10.0, deadline - time.monotonic())))
                return remote
        elif spool is not None:
            self.mode = "offline"
            connect = None
        else:
            raise ValueError("runlake.init: give lake= (local mode), server= (remote mode) or spool= (offline)")
        if connect is not None:
            try:
                # The first connection may start the sidecar: it gets the start-up's whole budget.
                transport = connect(time.monotonic() + _sidecar.START_TIMEOUT)
            except Unreachable as error:
                warnings.warn(
                    f"runlake: {error}; logging to the spool {os.path.join(spool_root, self.client)} "
                    f"and trying again every few seconds",
                    RuntimeWarning,
                    stacklevel=3,
                )
            except ServerError as error:
                raise RunlakeError(f"runlake.init: {error}") from error
        exists = self._resume_state(transport, chosen)
        if exists is None:
            exists = self.resumed  # not known: a resumed run is taken to exist (keep its started_at)
        if exists:
            del record["started_at"]

        self._sender = Sender(
            run_id=self.id,
            client=self.client,
            connect=connect,
            transport=transport,
            spool_dir=spool_root,
            flush_interval=flush_interval,
        )
        self._queue = self._sender.queue
        self._sender.put(record)
        self._sender.start()
        atexit.register(self._at_exit)
        _live_runs.add(self)

    def _resume_state(self, transport: Transport | None, chosen: str | None) -> bool | None:
        """For a run id given by the caller: asks the server whether the run exists and its largest
        step (``GET /api/ingest/v1/runs/<run_id>``), and sets the step counter to continue after
        it. Returns whether it exists, or None when the server could not say."""
        if chosen is None:
            return False  # a fresh random id
        if transport is None:
            if self.resumed:
                self._next_step = None
                self._no_step = "the server was unreachable when it was resumed, so its last step is unknown"
            return None
        try:
            answer = transport.request("GET", f"/runs/{urllib.parse.quote(chosen, safe='')}", timeout=60.0)
        except (Unreachable, ServerError) as error:
            # An older server (404) or one that just went away: the run's last step is unknown.
            if self.resumed:
                self._next_step = None
                self._no_step = f"the server could not report its last step ({error})"
            return None
        if not isinstance(answer, dict) or not isinstance(answer.get("exists"), bool):
            raise RunlakeError(
                f"runlake.init: unexpected answer {answer!r} about run {chosen} from {transport.describe()}"
            )
        last = answer.get("lastStep")
        if isinstance(last, int) and not isinstance(last, bool) and last >= 0:
            self._next_step = last + 1
        return bool(answer["exists"])

    # -- logging ---------------------------------------------------------------------------------

    def log(self, data: Mapping[str, Any], step: int | None = None, split: str | None = None) -> None:
        """Queues one point per (flattened) key at ``step`` and returns.

        Nested dicts are flattened with ``.`` (``{"grad": {"norm": 1.2}}`` is ``grad.norm``);
        booleans become 1/0; ints, floats and numpy scalars become floats (NaN and ±inf kept);
        anything else raises ``TypeError`` naming the key. Without ``step`` the run counts calls
        (0, 1, 2, …; after an explicit step, that step + 1). ``split`` names the points' split
        (otherwise the server derives it from each name's first ``/``-separated part).
        """
        wall = time.time()
        if self._finished:
            raise RuntimeError(f"log(): {self._closed_because}")
        if step is None:
            step = self._next_step
            if step is None:
                raise ValueError(f"log(): run {self.id} was resumed: give step= ({self._no_step})")
        elif type(step) is not int:
            step = _step(step)
        if step < 0 or step > _I64_MAX:
            raise ValueError(f"log(): step {step} is out of range (0 to 2**63 - 1)")
        self._next_step = step + 1
        if split is not None and type(split) is not str:
            raise TypeError(f"log(): split must be a string or None, not a {type(split).__name__}")
        if type(data) is not dict and not isinstance(data, Mapping):
            raise TypeError(f"log(): data must be a dict of metric names to numbers, not {_a(data)}")
        # The hot path: one pass, a type test per value, names checked once per run.
        known = self._known
        flat: dict[str, float] = {}
        for key, value in data.items():
            t = type(value)
            if t is float:
                pass
            elif t is int:
                value = _int_value(key, value)
            elif t is bool:
                value = 1.0 if value else 0.0
            elif isinstance(value, Mapping):
                if type(key) is not str:
                    _check_name(key, known)
                _flatten_nested(flat, key, value, known)
                continue
            else:
                value = _scalar(key, value)
            if key not in known:
                _check_name(key, known)
            flat[key] = value
        if flat:
            self._queue.append((step, wall, split, flat))
            sender = self._sender
            # A hint, not an exact count (the sender thread subtracts without a lock): it only
            # decides when to wake the sender before flush_interval is up.
            sender.pending_points += len(flat)
            if sender.pending_points >= WAKE_POINTS and not sender.wake.is_set():
                sender.wake.set()

    def log_checkpoint(self, step: int, **fields: Any) -> None:
        """Adds a row to ``checkpoints``: ``tokens_seen``, ``epoch``, ``learning_rate``,
        ``train_loss``, ``val_loss``, ``has_weights``, ``checkpoint_uri`` (``wall_time``
        defaults to now)."""
        unknown = sorted(set(fields) - CHECKPOINT_FIELDS)
        if unknown:
            raise TypeError(
                f"log_checkpoint(): unknown field {unknown[0]!r} (fields: {', '.join(sorted(CHECKPOINT_FIELDS))})"
            )
        step = _step(step)
        if step < 0:
            raise ValueError(f"log_checkpoint(): step {step} is negative")
        row: dict[str, Any] = {"step": step}
        for key, value in fields.items():
            row[key] = _json_value(f"log_checkpoint(): {key}", value)
        row.setdefault("wall_time", time.time())
        self._record({"kind": "checkpoint", "run_id": self.id, "rows": [row]})

    def log_embeddings(
        self,
        step: int,
        layer: int,
        module: str,
        sample_set: str,
        sample_ids: Sequence[str],
        array: Any,
        *,
        pooling: str = "mean",
    ) -> None:
        """Queues the probe embeddings of one ``(step, layer, module)`` and returns.

        ``array`` is an n x d matrix whose row i is the sample ``sample_ids[i]``: a numpy array of
        any float dtype (or what converts to one: pandas, JAX), a torch tensor (any device;
        ``detach().cpu()`` is done here) or a 2-D float32/float64 buffer. It is copied now and
        stored as float32. ``module`` is one of ``resid_pre``, ``attn_out``, ``mlp_out``,
        ``resid_post``, ``logits``; ``sample_set`` names the fixed probe set (1 to 128 characters
        ``[A-Za-z0-9._-]``). The server stores the matrix in the lake's array-shards store
        ``arrays/embeddings/<sample_set>`` (rows in ``sample_id`` order) and adds one
        ``embeddings`` row per sample pointing at its row, which ``runlake analyze`` reads.
        ``flush()`` and ``finish()`` cover it like ``log()``.

        Raises ``TypeError`` for a wrong type and ``ValueError`` for a bad value, naming the
        argument: a shape that is not 2-D, n ≠ ``len(sample_ids)``, a repeated sample id, a NaN or
        ±inf (refused: it would make the checkpoint's geometry meaningless), an array of more than
        15 MiB as float32 (a batch frame's limit).
        """
        if self._finished:
            raise RuntimeError(f"log_embeddings(): {self._closed_because}")
        record = embeddings_record(
            self.id, step, layer, module, sample_set, sample_ids, array, pooling, MAX_EMBEDDINGS_BYTES
        )
        self._sender.put(record)

    def _record(self, record: dict[str, Any]) -> None:
        if self._finished:
            raise RuntimeError(self._closed_because)
        _check_size(record)
        self._sender.put(record)

    # -- flush and finish ------------------------------------------------------------------------

    def flush(self, timeout: float | None = None, visible: bool = False) -> FlushResult:
        """Blocks until everything logged before the call is acknowledged by the server
        ("acknowledged") or, the server being unreachable, fsynced to the spool ("spooled").

        With ``visible=True`` it also waits until the server has folded it into the lake, so a
        query sees it. Raises ``TimeoutError`` after ``timeout`` seconds, and the protocol error
        that stopped delivery (e.g. a 409 sequence gap) if there was one.
        """
        sender = self._sender
        if not sender.thread.is_alive():
            if sender.fatal is not None:
                raise sender.fatal
            raise RuntimeError(f"flush(): run {self.id} is finished")
        request = sender.flush_request(visible)
        return self._wait(request, timeout)

    def _wait(self, request: FlushRequest, timeout: float | None) -> FlushResult:
        sender = self._sender
        deadline = None if timeout is None else time.monotonic() + timeout
        while not request.done.wait(0.25 if deadline is None else max(0.0, min(0.25, deadline - time.monotonic()))):
            if not sender.thread.is_alive() and not request.done.is_set():
                raise sender.fatal or RunlakeError("runlake's sender thread ended")
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"flush(): run {self.id}: not acknowledged within {timeout} s")
        if request.error is not None:
            raise request.error
        return "spooled" if request.result == "spooled" else "acknowledged"

    def finish(self, status: str = "finished", timeout: float | None = None) -> FlushResult:
        """Flushes, records ``status`` (finished, failed, crashed, killed) and closes the run.

        Returns what :meth:`flush` returns, once the server has folded the run's records into the
        lake (a query sees the run ``finished``), or once they are spooled. When the server
        acknowledged them but could not fold them, a ``RuntimeWarning`` says so (they are durable
        and become visible at its next fold). A second call does nothing."""
        if status not in STATUSES:
            raise ValueError(f"finish(): status {status!r} is not one of {', '.join(STATUSES)}")
        with self._lock:
            if self._finished:
                return "spooled" if self._sender.spooled else "acknowledged"
            self._sender.put({"kind": "finish", "run_id": self.id, "status": status, "finished_at": time.time()})
            self._finished = True
        # Visible: a script that ends sees its run finished in the lake (one fold, not one per call).
        request = self._sender.flush_request(True, final=True)
        self._sender.stop()
        try:
            result = self._wait(request, timeout)
        finally:
            atexit.unregister(self._at_exit)
            _forget(self)
            _live_runs.discard(self)
        self._sender.thread.join(timeout)
        if request.not_visible is not None:
            warnings.warn(
                f"runlake: run {self.id}: every batch is acknowledged (durable), but the server could not fold "
                f"them yet ({request.not_visible}); they become visible when it, or the next server of the lake, "
                f"folds its write-ahead log",
                RuntimeWarning,
                stacklevel=2,
            )
        if result == "spooled" and self.mode != "offline":
            reason = self._sender.last_unreachable
            warnings.warn(
                f"runlake: run {self.id} ended with {self._sender.spooled} batch(es) in the spool "
                f"{self._sender.spool_dir}{f' ({reason})' if reason else ''}; upload them with `runlake sync`",
                RuntimeWarning,
                stacklevel=2,
            )
        return result

    def _at_exit(self) -> None:
        # The interpreter is ending without finish(): finish the run so that nothing queued is
        # lost, "failed" when an uncaught exception ended the program.
        if self._finished:
            return
        status = "failed" if getattr(sys, "last_value", None) is not None else "finished"
        try:
            self.finish(status, timeout=60.0)
        except Exception as error:
            sys.stderr.write(f"runlake: run {self.id}: finish at exit failed: {error}\n")

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.finish("finished")
        else:
            # The exception in the block is the one to see; a failing finish must not replace it.
            try:
                self.finish("failed")
            except Exception as error:
                sys.stderr.write(f"runlake: run {self.id}: finish('failed') failed: {error}\n")

    def __repr__(self) -> str:
        where = self.lake if self.mode == "local" else self.server if self.mode == "remote" else "spool"
        return f"<runlake.Run {self.id} ({self.mode}: {where})>"


def _check_size(record: dict[str, Any]) -> None:
    size = len(json.dumps(record))
    if size > MAX_RECORD_BYTES:
        raise ValueError(
            f"{record['kind']} record of run {record['run_id']}: {size} bytes of JSON, over the "
            f"{MAX_RECORD_BYTES}-byte limit of one record (store large values as files, not in {record['kind']})"
        )


def _step(step: Any) -> int:
    if isinstance(step, bool):
        raise TypeError("step must be an int, not a bool")
    try:
        return int(step.__index__())
    except AttributeError:
        raise TypeError(f"step must be an int, not a {type(step).__name__}") from None


_forget_hooks: list[Callable[[Run], None]] = []
_live_runs: weakref.WeakSet[Run] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # A forked child (a DataLoader worker, say) has the parent's runs but not their sender
    # threads: what it logged would sit in a queue nobody sends. Refuse instead of losing it.
    for run in list(_live_runs):
        run._closed_because = (
            f"run {run.id} belongs to process {run._pid}; this is a forked child: log from the parent, "
            "or call runlake.init(run_id=...) in the child"
        )
        run._finished = True
        atexit.unregister(run._at_exit)
    _live_runs.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _forget(run: Run) -> None:
    for hook in _forget_hooks:
        hook(run)
