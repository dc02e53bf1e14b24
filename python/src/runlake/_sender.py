"""The background thread of a run: batches its queue into frames and delivers them in order.

Delivery, per docs/tracking.md: one frame in flight at a time, ``seq`` 1, 2, 3, …; connection
errors and 503 are retried with backoff (the same client and seq, which the server deduplicates);
after :data:`SPOOL_AFTER` seconds without the server a frame goes to the spool
(``<spool>/<client>/<seq>.rlb``), the server is tried again after :data:`RETRY_FIRST` seconds, then
at growing intervals up to every :data:`RETRY_EVERY` seconds, and,
once it answers, the spooled frames are uploaded in order before any new one. Any other error
status (409 for a sequence gap, 400, 401, 403, 413) is a protocol error: it is kept and raised by
the next ``flush()``, and later frames are spooled so that nothing logged is dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ._frames import EmbeddingsRecord, MetricsColumns, Record, SweepRows, encode_frame
from ._transport import RunlakeError, ServerError, Transport, Unreachable

#: Seconds a frame is retried against an unreachable server before it is spooled.
SPOOL_AFTER = 3.0
#: Seconds between attempts to reach the server again while frames wait in the spool.
RETRY_EVERY = 5.0
#: The first of those intervals, doubled after each failed attempt: a sidecar that was killed is
#: usually back within a second or two, and the clients' attempts are what restart it.
RETRY_FIRST = 0.25
#: Points queued that wake the sender before ``flush_interval`` is up.
WAKE_POINTS = 10_000
#: The most points one frame carries (about 5.6 MB of columns, far below --max-batch-bytes).
FRAME_POINTS = 200_000
#: Bytes of header JSON a frame is filled up to (the server refuses headers above 1 MiB): new
#: names count 6 bytes per character (the most JSON escaping can make of one), other records
#: their JSON length. One record is at most MAX_RECORD_BYTES, checked when it is queued.
HEADER_BUDGET = 768 * 1024
MAX_RECORD_BYTES = 256 * 1024
#: Bytes of sweep rows (events/seeds JSON) and embeddings arrays a frame is filled up to: the
#: server refuses frames above --max-batch-bytes (default 16 MiB). One record may be larger (a
#: frame of its own), up to MAX_DATA_RECORD_BYTES for an embeddings record.
DATA_BUDGET = 8 * 1024 * 1024
#: The most bytes of data (float32 values plus the sample ids' JSON) one embeddings record may
#: carry: its frame, header included, stays under the default --max-batch-bytes of 16 MiB.
MAX_EMBEDDINGS_BYTES = 15 * 1024 * 1024
#: Seconds to wait for the answer to one batch, and for a fold.
POST_TIMEOUT = 120.0
FOLD_TIMEOUT = 600.0


class ProtocolError(RunlakeError):
    """The server refused a batch for a reason a retry cannot fix (409, 400, 401, 403, 413)."""


class FlushRequest:
    """A place in the queue: resolved once everything before it is acknowledged or spooled."""

    __slots__ = ("done", "error", "final", "not_visible", "result", "visible")

    def __init__(self, visible: bool, final: bool = False) -> None:
        self.visible = visible
        # finish()'s flush: the last chance to upload the spool, tried whatever the retry timer says.
        self.final = final
        self.done = threading.Event()
        self.result = ""
        self.error: BaseException | None = None
        # finish()'s fold that failed: its records are acknowledged (durable), only not folded yet.
        self.not_visible: RunlakeError | None = None


# A queued point set: (step, wall time, split, {name: value}).
Point = tuple[int, float, "str | None", dict[str, float]]


class Sender:
    """The queue of one run and the thread that delivers it."""

    def __init__(
        self,
        *,
        run_id: str,
        client: str,
        connect: Callable[[float], Transport] | None,
        transport: Transport | None,
        spool_dir: str,
        flush_interval: float,
    ) -> None:
        self.run_id = run_id
        self.client = client
        self.queue: deque[Any] = deque()
        self.pending_points = 0
        self.wake = threading.Event()
        self._connect = connect
        self._transport = transport
        self._spool_dir = os.path.join(spool_dir, client)
        self._interval = flush_interval
        self._seq = 0
        self._spooled: deque[int] = deque()
        self._next_retry = 0.0
        self._retry_delay = RETRY_FIRST
        self._flush_lock = threading.Lock()
        self._flushes_waiting = 0  # flush requests queued and not yet taken
        self._stopping = False
        self.fatal: BaseException | None = None
        self.last_unreachable: Unreachable | None = None
        self.thread = threading.Thread(target=self._main, name=f"runlake-sender-{run_id}", daemon=True)

    # -- called from the run's threads ------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def put(self, item: Any) -> None:
        """Queues a record; it goes out with the next frame (flush_interval, or a flush)."""
        self.queue.append(item)

    def flush_request(self, visible: bool, final: bool = False) -> FlushRequest:
        request = FlushRequest(visible, final)
        with self._flush_lock:
            self._flushes_waiting += 1
            self.queue.append(request)
        self.wake.set()
        return request

    def stop(self) -> None:
        """Asks the thread to end once the queue is empty; does not wait."""
        self._stopping = True
        self.wake.set()

    @property
    def spooled(self) -> int:
        return len(self._spooled)

    @property
    def spool_dir(self) -> str:
        return self._spool_dir

    @property
    def online(self) -> bool:
        return self._connect is not None

    # -- the thread ---------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            while True:
                timeout = self._interval
                if self._spooled and self.fatal is None:  # wake for the next attempt to upload the spool, too
                    timeout = min(timeout, max(0.0, self._next_retry - time.monotonic()))
                self.wake.wait(timeout)
                self.wake.clear()
                self._round()
                if self._stopping and not self.queue:
                    break
        except BaseException as error:  # a bug here must not leave flush() waiting forever
            self.fatal = RunlakeError(f"runlake's sender thread failed: {type(error).__name__}: {error}")
            self.fatal.__cause__ = error
            while self.queue:
                item = self.queue.popleft()
                if isinstance(item, FlushRequest):
                    item.error = self.fatal
                    item.done.set()
        finally:
            if self._transport is not None:
                self._transport.close()

    def _round(self) -> None:
        """Sends everything queued now, frame by frame, and resolves the flushes among it."""
        while True:
            if (
                self._spooled
                and not self._flushes_waiting
                and not self._stopping
                and time.monotonic() < self._next_retry
                and self.pending_points < FRAME_POINTS
            ):
                # Offline: points wait in memory until a flush needs them durable, the next
                # attempt to reach the server is due, or a frame's worth has gathered, so the spool
                # gets one frame (one fsync) per flush rather than one per flush_interval.
                return
            records, flushes = self._take()
            if flushes:
                with self._flush_lock:
                    self._flushes_waiting -= len(flushes)
            if any(request.final for request in flushes):
                self._next_retry = 0.0
            if not records and not flushes:
                if self._spooled and time.monotonic() >= self._next_retry:
                    self._upload_spool()
                return
            if records:
                self._seq += 1
                result = self._deliver(self._seq, encode_frame(self.client, self._seq, records))
            else:
                if self._spooled and time.monotonic() >= self._next_retry:
                    self._upload_spool()
                result = "spooled" if self._spooled else "acknowledged"
            for request in flushes:
                request.result = result
                if self.fatal is not None:
                    request.error = self.fatal
                elif request.visible and result == "acknowledged" and self._connect is not None:
                    try:
                        self._fold()
                    except RunlakeError as error:
                        if request.final and isinstance(error, Unreachable):
                            request.not_visible = error
                        else:
                            request.error = error
                request.done.set()
            if not self.queue:
                return

    def _take(self) -> tuple[list[Record], list[FlushRequest]]:
        """Takes a frame's worth of items off the queue. Points between two other records form one
        segment; a segment has one metrics record per split (points may be reordered within a
        segment, never across a run, summary, config, checkpoint or finish record)."""
        queue = self.queue
        records: list[Record] = []
        flushes: list[FlushRequest] = []
        # Per split: the record's columns, its name -> index map, and the index column of each key
        # layout seen (a training loop logs the same keys call after call: one lookup per call).
        segment: dict[str | None, tuple[MetricsColumns, dict[str, int], dict[tuple[str, ...], list[int]]]] = {}
        points = 0
        header = 200
        data = 0
        run_id = self.run_id
        while queue and points < FRAME_POINTS and header < HEADER_BUDGET:
            item = queue[0]
            if isinstance(item, (SweepRows, EmbeddingsRecord)):
                # A large array (or rows text) goes in a frame of its own.
                if data + item.data_bytes > DATA_BUDGET and records:
                    break
                data += item.data_bytes
                header += 100
            elif type(item) is not tuple and not isinstance(item, FlushRequest):
                size = len(json.dumps(item))  # ASCII-escaped: at least its UTF-8 length
                if header + size > HEADER_BUDGET and records:
                    break  # the next frame takes it
                header += size
            queue.popleft()
            if type(item) is tuple:
                step, wall, split, flat = item
                entry = segment.get(split)
                if entry is None:
                    entry = (MetricsColumns(run_id, split), {}, {})
                    segment[split] = entry
                    header += 300
                    records.append(entry[0])
                columns, index, layouts = entry
                keys = tuple(flat)
                indexes = layouts.get(keys)
                if indexes is None:
                    indexes = []
                    for key in keys:
                        i = index.get(key)
                        if i is None:
                            i = index[key] = len(columns.names)
                            columns.names.append(key)
                            header += 6 * len(key) + 3
                        indexes.append(i)
                    layouts[keys] = indexes
                n = len(keys)
                columns.name.extend(indexes)
                columns.value.extend(flat.values())
                columns.step += [step] * n
                columns.time += [wall] * n
                columns.count += n
                points += n
                self.pending_points -= n
            elif isinstance(item, FlushRequest):
                flushes.append(item)
            else:
                records.append(item)
                segment = {}
        if not queue:
            self.pending_points = 0  # undo any drift of the unlocked counter
        return records, flushes

    def _fold(self) -> None:
        """Asks the server to fold what it acknowledged, retried like a batch: a server that
        restarted meanwhile has the acknowledged batches in its log and folds them all the same."""
        give_up = time.monotonic() + SPOOL_AFTER
        delay = 0.05
        while True:
            try:
                transport = self._transport_or_connect(give_up)
                try:
                    transport.request("POST", "/fold", timeout=FOLD_TIMEOUT)
                except Unreachable:
                    transport.close()
                    self._transport = None
                    raise
                return
            except Unreachable:
                if time.monotonic() >= give_up:
                    raise
                time.sleep(min(delay, max(0.0, give_up - time.monotonic())))
                delay = min(delay * 2, 1.0)

    def _transport_or_connect(self, deadline: float) -> Transport:
        """The connection, or a new one made by ``deadline`` (``time.monotonic()``): connecting
        (and, in local mode, starting the sidecar) gives up then, so no attempt outlasts it."""
        if self._transport is None:
            if self._connect is None:
                raise Unreachable("offline: this run writes only to its spool")
            if time.monotonic() >= deadline:
                raise Unreachable("no time left to connect")
            self._transport = self._connect(deadline)
        return self._transport

    def _post(self, seq: int, frame: bytes, deadline: float) -> None:
        transport = self._transport_or_connect(deadline)
        try:
            answer = transport.request("POST", "/batches", frame, timeout=POST_TIMEOUT)
        except Unreachable:
            # The next attempt reconnects (and, in local mode, restarts the sidecar if it is gone).
            transport.close()
            self._transport = None
            raise
        if not isinstance(answer, dict) or answer.get("client") != self.client or answer.get("seq") != seq:
            raise ServerError(200, f"batch {seq}: unexpected answer {answer!r} from {transport.describe()}")

    def _deliver(self, seq: int, frame: bytes) -> str:
        """Sends one frame: "acknowledged" once the server has it, "spooled" when it went to the
        spool instead (server unreachable, or an earlier protocol error)."""
        if self.fatal is not None or self._connect is None:
            self._spool(seq, frame)
            return "spooled"
        if self._spooled and (time.monotonic() < self._next_retry or not self._upload_spool()):
            self._spool(seq, frame)
            return "spooled"
        # Every attempt, connecting included, ends by this deadline: a batch is acknowledged or
        # spooled about SPOOL_AFTER seconds after it was first tried, however busy the machine.
        give_up = time.monotonic() + SPOOL_AFTER
        delay = 0.05
        while True:
            try:
                self._post(seq, frame, give_up)
                self.last_unreachable = None
                self._retry_delay = RETRY_FIRST
                return "acknowledged"
            except Unreachable as error:
                self.last_unreachable = error
                if time.monotonic() >= give_up:
                    self._spool(seq, frame)
                    self._schedule_retry()
                    return "spooled"
                time.sleep(min(delay, max(0.0, give_up - time.monotonic())))
                delay = min(delay * 2, 1.0)
            except ServerError as error:
                self.fatal = ProtocolError(str(error))
                self.fatal.__cause__ = error
                self._spool(seq, frame)
                return "spooled"

    def _upload_spool(self) -> bool:
        """Uploads the spooled frames in order; True when the spool is empty afterwards. After a
        protocol error nothing is uploaded: the frames stay for `runlake sync` (or a person)."""
        if self.fatal is not None:
            return False
        give_up = time.monotonic() + SPOOL_AFTER  # for connecting; a connected server takes them all
        while self._spooled:
            seq = self._spooled[0]
            path = os.path.join(self._spool_dir, f"{seq}.rlb")
            with open(path, "rb") as f:
                frame = f.read()
            try:
                self._post(seq, frame, give_up)
            except Unreachable as error:
                self.last_unreachable = error
                self._schedule_retry()
                return False
            except ServerError as error:
                self.fatal = ProtocolError(str(error))
                self.fatal.__cause__ = error
                return False
            os.unlink(path)
            self._spooled.popleft()
        self.last_unreachable = None
        self._retry_delay = RETRY_FIRST
        return True

    def _schedule_retry(self) -> None:
        self._next_retry = time.monotonic() + min(self._retry_delay, RETRY_EVERY)
        self._retry_delay = min(self._retry_delay * 2, RETRY_EVERY)

    def _spool(self, seq: int, frame: bytes) -> None:
        """Writes a frame to ``<spool>/<client>/<seq>.rlb`` durably: temporary file, fsync, rename,
        fsync of the directory (a spooled batch must survive a crash once flush() returned)."""
        directory = self._spool_dir
        os.makedirs(directory, exist_ok=True)
        final = os.path.join(directory, f"{seq}.rlb")
        temporary = os.path.join(directory, f".{seq}.rlb.tmp")
        with open(temporary, "wb") as f:
            f.write(frame)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, final)
        fd = os.open(directory, os.O_RDONLY)
        try:
            with contextlib.suppress(OSError):  # some file systems refuse fsync on a directory
                os.fsync(fd)
        finally:
            os.close(fd)
        self._spooled.append(seq)
