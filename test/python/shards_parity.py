"""Parity checks against the real synthefy-dataset-utils package (the reference copy in
$RUNLAKE_SYNTHEFY, default /work/shared/peers/synthefy). Each command prints one JSON document.

usage:
  shards_parity.py write-real <root>         the real writer stores every dtype case (one sample
                                             per case, field "a"); prints {case: {id, npy_b64}}
                                             where npy_b64 is numpy.save's bytes of the array
  shards_parity.py read-real <root> <cases>  the real reader loads samples runlake wrote (ids =
                                             case names, field "a"); prints {case: problem|null}
                                             comparing dtype, shape and bytes with the case
  shards_parity.py query <root> <json>       runs real reader calls described by the JSON list
                                             [{op, args}] and prints their results
  shards_parity.py ops <root> <json>         runs real writer calls ([{op, args}]) on <root>
  shards_parity.py shuffle <seed> <[n, ...]>  numpy's default_rng(seed).shuffle of range(n) lists
  shards_parity.py convert <config> <base> <out>  runs convert_to_sharded (tqdm stubbed)
  shards_parity.py make-parquet <file> plain|custom  a small table of grouped series to convert
"""

import base64
import io
import json
import math
import os
import sys
import types

PKG = os.environ.get("RUNLAKE_SYNTHEFY", "/work/shared/peers/synthefy")
sys.path.insert(0, PKG)

import numpy as np  # noqa: E402

from synthefy_dataset_utils import ShardedDatasetReader, ShardedDatasetWriter  # noqa: E402


def half(bits):
    return np.array(bits, dtype="<u2").view("<f2")


def cases() -> dict:
    """Every dtype the real reader loads, with edge values; names are sample ids."""
    f16 = half([0x7E01, 0xFE00, 0x7C01, 0xFC3F, 0x8000, 0x7C00, 0x0001, 0x3C00])
    return {
        "bool": np.array([True, False, True]),
        "int8": np.array([-128, 0, 127], dtype="|i1"),
        "int16": np.array([-32768, 1, 32767], dtype="<i2"),
        "int32": np.array([-(2**31), 5, 2**31 - 1], dtype="<i4"),
        "int64": np.array([-(2**63), 7, 2**63 - 1], dtype="<i8"),
        "uint8": np.array([0, 255], dtype="|u1"),
        "uint16": np.array([0, 65535], dtype="<u2"),
        "uint32": np.array([0, 2**32 - 1], dtype="<u4"),
        "uint64": np.array([0, 2**64 - 1], dtype="<u8"),
        "float16": f16,
        "float16_be": f16.astype(">f2"),
        "float32": np.array([1.5, -0.0, np.inf, np.nan], dtype="<f4"),
        "float64": np.array([np.pi, -np.inf, 5e-324], dtype="<f8"),
        "int32_be": np.array([1, -2, 2**31 - 1], dtype=">i4"),
        "float64_be": np.array([[1.0, 2.5], [-3.0, np.nan]], dtype=">f8"),
        "complex64": np.array([1 + 2j, -0.5j, complex(np.nan, 1)], dtype="<c8"),
        "complex128": np.array([[1 + 2j, 3 - 4j]], dtype="<c16"),
        "complex128_be": np.array([1 + 2j, -1j], dtype=">c16"),
        "longdouble": np.array([1.5, -2.0, np.pi], dtype=np.longdouble),
        "clongdouble": np.array([1.5 + 2j], dtype=np.clongdouble),
        "unicode": np.array(["a", "héllo", "", "𝄞x"], dtype="<U5"),
        "unicode_2d": np.array([["ab", "c"], ["", "xyz"]], dtype="<U3"),
        "unicode_be": np.array(["ab", "ü"], dtype=">U2"),
        "bytes": np.array([b"ab", b"", b"\x00\xffz"], dtype="|S3"),
        "datetime64": np.array(["2024-01-01T00:00:00.123456789", "NaT"], dtype="<M8[ns]"),
        "datetime64_day": np.array(["1969-12-31", "2024-02-29"], dtype="<M8[D]"),
        "timedelta64": np.array([1, -5, "NaT"], dtype="<m8[s]"),
        "timedelta64_generic": np.array([1, 2], dtype="<m8"),
        "timedelta64_10ms": np.array([3, -1], dtype="<m8[10ms]"),
        "datetime64_be": np.array(["2024-03-01T12:00"], dtype=">M8[m]"),
        "void": np.array([b"\x01\x02\x03\x04", b"\x00\x00\x00\xff"], dtype="|V4"),
        "structured": np.array(
            [(1.5, 2, [1, 2]), (-1.0, -7, [3, 4])],
            dtype=[("x", "<f4"), ("y", "<i8"), ("z", "<u2", (2,))],
        ),
        "structured_nested": np.array(
            [((1.0, b"ab"), "xyz")], dtype=[("p", [("a", "<f4"), ("b", "|S2")]), ("q", "<U3")]
        ),
        "fortran": np.asfortranarray(np.arange(6, dtype="<f8").reshape(2, 3)),
        "scalar": np.array(3.5, dtype="<f8"),
        "empty": np.zeros((0, 4), dtype="<f4"),
    }


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def same(a: np.ndarray, b: np.ndarray):
    """None when a and b are the same array (dtype incl. byte order, shape, order, bytes)."""
    if a.dtype != b.dtype or a.dtype.str != b.dtype.str:
        return f"dtype {a.dtype.str} != {b.dtype.str}"
    if a.shape != b.shape:
        return f"shape {a.shape} != {b.shape}"
    if a.dtype.kind in "fc" and a.dtype.itemsize in (12, 16, 24, 32) and a.dtype == np.longdouble or a.dtype == np.clongdouble:
        # x87 long doubles leave 2-6 padding bytes per value that numpy never initialises: compare
        # values here (runlake's bytes are compared exactly on the TypeScript side).
        return None if np.array_equal(a, b, equal_nan=True) else "values differ"
    if npy_bytes(a) != npy_bytes(b):
        return "bytes differ"
    return None


def write_real(root: str) -> None:
    writer = ShardedDatasetWriter(root, samples_per_shard=8)
    writer.add_fields(["a", "obj"])
    out = {}
    for name, array in cases().items():
        writer.add_sample({"a": array}, sample_id=name, metadata={"case": name})
        out[name] = {"npy_b64": base64.b64encode(npy_bytes(array)).decode()}
    # Object arrays need pickle: the real reader loads them (allow_pickle=True), runlake refuses.
    writer.add_sample({"obj": np.array([{"k": 1}, None], dtype=object)}, sample_id="object")
    # Metadata the real writer stores: NaN tokens, a list, a string, nothing.
    writer.add_sample({"a": np.zeros(1)}, sample_id="meta_nan", metadata={"x": math.nan, "y": [math.inf]})
    writer.add_sample({"a": np.zeros(1)}, sample_id="meta_list", metadata=[1, "two"])
    writer.add_sample({"a": np.zeros(1)}, sample_id="meta_str", metadata="hello")
    writer.add_sample({"a": np.zeros(1)}, sample_id="meta_none")
    writer.close()
    print(json.dumps(out))


def read_real(root: str, names: list) -> None:
    reader = ShardedDatasetReader(root)
    expected = cases()
    out = {}
    for name in names:
        try:
            arrays, _ = reader.get_sample(name)
            out[name] = same(arrays["a"], expected[name.split(":")[0]])
        except Exception as error:  # report, do not stop: the test names the case
            out[name] = f"{type(error).__name__}: {error}"
    reader.close()
    print(json.dumps(out))


def plain(value):
    """JSON-able form of reader results: arrays as {dtype, shape, npy_b64}."""
    if isinstance(value, np.ndarray):
        return {"dtype": value.dtype.str, "shape": list(value.shape), "npy_b64": base64.b64encode(npy_bytes(value)).decode()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def query(root: str, calls: list) -> None:
    reader = ShardedDatasetReader(root)
    out = []
    for call in calls:
        op, args = call["op"], call.get("args", [])
        try:
            if op == "query_ids":
                where, params, limit = (args + [None, (), None])[:3] if args else (None, (), None)
                result = reader.query_ids(where, tuple(params or ()), limit)
            elif op == "list_fields":
                result = reader.list_fields()
            elif op == "get_sample":
                arrays, meta = reader.get_sample(*args)
                result = {"fields": sorted(arrays), "arrays": arrays, "metadata": meta}
            elif op == "get_many":
                result = [{"fields": sorted(a), "metadata": m} for a, m in reader.get_many(*args)]
            elif op == "len":
                result = len(reader)
            else:
                raise ValueError(op)
            out.append({"ok": plain(result)})
        except Exception as error:
            out.append({"error": f"{type(error).__name__}: {error}"})
    reader.close()
    print(json.dumps(out))


def denan(value):
    """'__nan__' in the JSON calls stands for math.nan (JSON has no NaN)."""
    if value == "__nan__":
        return math.nan
    if isinstance(value, dict):
        return {k: denan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [denan(v) for v in value]
    return value


def ops(root: str, calls: list) -> None:
    writer = ShardedDatasetWriter(root, samples_per_shard=1000)
    for call in calls:
        op, args = call["op"], call.get("args", {})
        if op == "add_fields":
            writer.add_fields(args["names"])
        elif op == "add_sample":
            arrays = {k: np.array(v, dtype="<f8") for k, v in args["arrays"].items()}
            writer.add_sample(arrays, sample_id=args.get("id"), metadata=denan(args.get("metadata")))
        elif op == "update_sample":
            arrays = {k: np.array(v, dtype="<f8") for k, v in args["arrays"].items()}
            writer.update_sample(args["id"], arrays, metadata=denan(args.get("metadata")))
        elif op == "register_samples":
            writer.register_samples(args["ids"], args.get("metadata"))
        elif op == "open_shard":
            with writer.open_shard(args["field"], args["shard"]) as shard:
                for sid, values in args["samples"]:
                    shard.add_sample(sid, np.array(values, dtype="<f8"))
        else:
            raise ValueError(op)
    writer.close()
    print("{}")


def convert(config: str, base: str, out: str) -> None:
    # The reference converter imports tqdm for progress bars only; stub it so that the check
    # needs just numpy, pandas and pyarrow.
    if "tqdm" not in sys.modules:
        try:
            import tqdm  # noqa: F401
        except ImportError:
            stub = types.ModuleType("tqdm")
            stub.tqdm = lambda iterable=None, **_: iterable
            sys.modules["tqdm"] = stub
    from synthefy_dataset_utils.convert_to_sharded import convert_parquet_to_sharded

    sys.stdout = sys.stderr  # its progress prints must not mix with the JSON answer
    dirs = convert_parquet_to_sharded(config, data_base_path=base, output_dir=out, num_workers=0)
    sys.stdout = sys.__stdout__
    result = {}
    for d in dirs:
        if not os.path.exists(d):
            result[os.path.basename(d)] = None
            continue
        reader = ShardedDatasetReader(d)
        ids = reader.query_ids()
        samples = []
        for sid in ids:
            arrays, meta = reader.get_sample(sid)
            samples.append({"meta": plain(meta), "arrays": plain(arrays)})
        result[os.path.basename(d)] = {"fields": sorted(reader.list_fields()), "samples": samples}
        reader.close()
    print(json.dumps(result))


def make_parquet(file: str, custom: bool) -> None:
    import pandas as pd

    rng = np.random.default_rng(3)
    frames = []
    for g, (subject, n) in enumerate([("s2", 61), ("s1", 40), ("s3", 9), ("s10", 33)]):
        ppg = rng.standard_normal(n)
        if subject == "s2":
            ppg[20] = np.nan  # windows over it are skipped
        temp = rng.standard_normal(n) * 3 + 36
        if subject == "s10":
            temp[5] = np.nan  # covariate NaN: windows skipped too
        frame = pd.DataFrame(
            {
                "subject": subject,
                "site": np.where(np.arange(n) < n // 2, g * 1.5, 9.0),
                "ppg": ppg,
                "ecg": rng.integers(-5, 5, n).astype("int64"),
                "temp": temp,
                "ts": pd.date_range("2024-01-01", periods=n, freq="h"),
            }
        )
        if custom:
            frame["custom_split"] = rng.choice(["train", " Val", "TEST"], n)
        frames.append(frame)
    pd.concat(frames, ignore_index=True).to_parquet(file)
    print("{}")


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "write-real":
        write_real(sys.argv[2])
    elif command == "read-real":
        read_real(sys.argv[2], json.loads(sys.argv[3]))
    elif command == "query":
        query(sys.argv[2], json.loads(sys.argv[3]))
    elif command == "ops":
        ops(sys.argv[2], json.loads(sys.argv[3]))
    elif command == "shuffle":
        # default_rng(seed).shuffle of range(n) lists, one after another on the same generator.
        rng = np.random.default_rng(int(sys.argv[2]))
        out = []
        for n in json.loads(sys.argv[3]):
            items = list(range(n))
            rng.shuffle(items)
            out.append(items)
        print(json.dumps(out))
    elif command == "convert":
        convert(sys.argv[2], sys.argv[3], sys.argv[4])
    elif command == "make-parquet":
        make_parquet(sys.argv[2], sys.argv[3] == "custom")
    else:
        raise SystemExit(f"unknown command {command}")
