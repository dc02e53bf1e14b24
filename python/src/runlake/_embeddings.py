"""``Run.log_embeddings``'s checks and encoding: an n x d probe matrix into an ``embeddings`` record
(docs/tracking.md, "Embeddings").

The array is copied at call time into float32, little-endian, C order (so the caller may reuse
its buffer at once). numpy is imported only for numpy arrays and torch tensors; torch is never
imported (a tensor is recognised by its ``detach``/``cpu``/``numpy`` methods).
"""

from __future__ import annotations

import json
import math
import re
import sys
from array import array as _array
from collections.abc import Iterable
from typing import Any

from ._frames import EmbeddingsRecord

#: The ``module`` values a Squiggle lake takes (its ``module`` enum).
MODULES = ("resid_pre", "attn_out", "mlp_out", "resid_post", "logits")
#: A sample set names a partition and the array-shards store ``arrays/embeddings/<sample_set>``.
SAMPLE_SET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: The longest sample id and pooling name, in UTF-8 bytes.
MAX_ID_BYTES = 256
MAX_LAYER = (1 << 15) - 1  # the lake's layer column is a 16-bit integer
MAX_STEP = (1 << 53) - 1  # the step travels in the header's JSON
_BIG_ENDIAN = sys.byteorder == "big"
_NATIVE_FLOATS = {"f": "f", "d": "d", "@f": "f", "@d": "d", "=f": "f", "=d": "d"}
if not _BIG_ENDIAN:
    _NATIVE_FLOATS.update({"<f": "f", "<d": "d"})
else:  # pragma: no cover - no big-endian machine in CI
    _NATIVE_FLOATS.update({">f": "f", ">d": "d", "!f": "f", "!d": "d"})

_WHERE = "log_embeddings()"


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _int(name: str, value: Any, top: int) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{_WHERE}: {name} must be an int, not {_kind(value)}")
    number = int(value.__index__())
    if number < 0 or number > top:
        raise ValueError(f"{_WHERE}: {name} {number} is out of range (0 to {top})")
    return number


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{_WHERE}: {name} must be a str, not {_kind(value)}")
    return value


def _sample_ids(sample_ids: Any) -> list[str]:
    if isinstance(sample_ids, (str, bytes)) or not isinstance(sample_ids, Iterable):
        raise TypeError(f"{_WHERE}: sample_ids must be a sequence of str (one per row), not {_kind(sample_ids)}")
    ids = [str(i) if isinstance(i, str) else i for i in sample_ids]  # numpy's str_ becomes str
    seen: dict[str, int] = {}
    for i, sample in enumerate(ids):
        if not isinstance(sample, str):
            raise TypeError(f"{_WHERE}: sample_ids[{i}] is {_kind(sample)}; sample ids are strings")
        size = len(sample.encode("utf-8", "surrogatepass"))
        if size == 0 or size > MAX_ID_BYTES:
            raise ValueError(f"{_WHERE}: sample_ids[{i}] is {size} UTF-8 bytes; sample ids are 1 to {MAX_ID_BYTES}")
        first = seen.setdefault(sample, i)
        if first != i:
            raise ValueError(f"{_WHERE}: sample_ids[{i}] {sample!r} repeats sample_ids[{first}]; ids must be distinct")
    return ids


def _not_finite(d: int, ids: list[str], count: int, index: int, value: float) -> ValueError:
    row, column = divmod(index, d)
    return ValueError(
        f"{_WHERE}: array has {count} non-finite value(s) as float32 (the first: {value} at row {row} "
        f"(sample {ids[row]!r}), column {column}); embeddings must be finite (NaN or ±inf, or float64 values "
        "beyond float32's range, would make every geometry descriptor of the checkpoint meaningless)"
    )


def _from_numpy(value: Any, ids: list[str]) -> tuple[int, int, bytes]:
    try:
        import numpy as np
    except ImportError as error:  # pragma: no cover - a numpy array implies numpy
        raise ImportError(f"{_WHERE}: reading this array needs numpy ({error})") from error
    matrix = np.asarray(value)
    if matrix.dtype.kind != "f":
        raise TypeError(
            f"{_WHERE}: array has dtype {matrix.dtype}; embeddings are floats (any float dtype, stored as float32)"
        )
    if matrix.ndim != 2:
        raise ValueError(f"{_WHERE}: array has shape {tuple(matrix.shape)}; expected 2-D (n samples x d)")
    n, d = (int(x) for x in matrix.shape)
    _check_shape(n, d, ids)
    with np.errstate(over="ignore", invalid="ignore"):
        values = np.ascontiguousarray(matrix, dtype="<f4")
    finite = np.isfinite(values)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        index = int(bad[0])
        raise _not_finite(d, ids, int(bad.size), index, float(values.reshape(-1)[index]))
    return n, d, values.tobytes()


def _from_buffer(value: Any, ids: list[str]) -> tuple[int, int, bytes]:
    try:
        view = memoryview(value)
    except TypeError:
        raise TypeError(
            f"{_WHERE}: array is {_kind(value)}; expected an n x d numpy array, a torch tensor or a 2-D float buffer"
        ) from None
    with view:
        code = _NATIVE_FLOATS.get(view.format)
        if code is None:
            raise TypeError(
                f"{_WHERE}: array's buffer has format {view.format!r}; expected float32 or float64 values "
                "(or pass a numpy array of any float dtype)"
            )
        if view.ndim != 2 or view.shape is None:
            raise ValueError(f"{_WHERE}: array has shape {tuple(view.shape or ())}; expected 2-D (n samples x d)")
        n, d = view.shape
        _check_shape(n, d, ids)
        raw = view.tobytes()  # C order, whatever the buffer's strides
    values: _array[float] = _array(code)
    values.frombytes(raw)
    if code == "d":
        values = _array("f", values)  # out-of-range values become ±inf, refused below
    bad = [i for i, x in enumerate(values) if not math.isfinite(x)]
    if bad:
        raise _not_finite(d, ids, len(bad), bad[0], values[bad[0]])
    if _BIG_ENDIAN:  # pragma: no cover
        values.byteswap()
    return n, d, values.tobytes()


def _check_shape(n: int, d: int, ids: list[str]) -> None:
    if n == 0 or d == 0:
        raise ValueError(f"{_WHERE}: array has shape ({n}, {d}); an embeddings matrix needs a row and a column")
    if n != len(ids):
        raise ValueError(f"{_WHERE}: array has {n} rows but sample_ids has {len(ids)} ids; they must match, row by row")


def _matrix(value: Any, ids: list[str]) -> tuple[int, int, bytes]:
    """``(n, d, float32 little-endian C-order bytes)`` of a numpy array, a torch tensor (duck-typed)
    or a 2-D float buffer."""
    if all(hasattr(value, name) for name in ("detach", "cpu", "numpy")):  # a torch tensor
        tensor = value.detach().cpu()
        if str(getattr(tensor, "dtype", "")) == "torch.bfloat16":
            tensor = tensor.float()  # numpy has no bfloat16; every bfloat16 is a float32
        value = tensor.numpy()
    if type(value).__module__.split(".")[0] == "numpy" or hasattr(value, "__array__"):
        return _from_numpy(value, ids)  # numpy arrays, and what converts to one (pandas, JAX)
    return _from_buffer(value, ids)


def embeddings_record(
    run_id: str,
    step: Any,
    layer: Any,
    module: Any,
    sample_set: Any,
    sample_ids: Any,
    array: Any,
    pooling: Any,
    max_bytes: int,
) -> EmbeddingsRecord:
    """Checks ``log_embeddings``'s arguments and copies the array into a record (raises
    ``TypeError``/``ValueError`` naming the argument)."""
    step = _int("step", step, MAX_STEP)
    layer = _int("layer", layer, MAX_LAYER)
    module = _text("module", module)
    if module not in MODULES:
        raise ValueError(f"{_WHERE}: module {module!r} is not one of {', '.join(MODULES)}")
    sample_set = _text("sample_set", sample_set)
    if not SAMPLE_SET.fullmatch(sample_set):
        raise ValueError(
            f"{_WHERE}: sample_set {sample_set!r} must be 1 to 128 characters [A-Za-z0-9._-], starting with a "
            "letter or digit (it names the array store arrays/embeddings/<sample_set>)"
        )
    pooling = _text("pooling", pooling)
    if not pooling or len(pooling.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise ValueError(f"{_WHERE}: pooling {pooling[:64]!r} must be 1 to {MAX_ID_BYTES} UTF-8 bytes")
    ids = _sample_ids(sample_ids)
    n, d, values = _matrix(array, ids)
    ids_text = json.dumps(ids, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    size = len(values) + len(ids_text)
    if size > max_bytes:
        raise ValueError(
            f"{_WHERE}: the {n}x{d} array and its sample ids take {size} bytes as float32, over the {max_bytes}-byte "
            "limit of one record (a batch frame is at most the server's --max-batch-bytes, 16 MiB by default); "
            "log fewer probe samples"
        )
    return EmbeddingsRecord(
        run_id,
        step=step,
        layer=layer,
        module=module,
        sample_set=sample_set,
        pooling=pooling,
        sample_ids=ids_text,
        count=n,
        dim=d,
        values=values,
    )
