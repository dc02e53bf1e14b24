"""log(): flattening, value rules, refusals, steps. Runs offline (spool only) and reads the
frames back from the spool, so what is checked is what would be sent."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pytest

import runlake
from runlake._frames import decode_frame


def offline(tmp_path: Path, **kwargs: Any) -> runlake.Run:
    return runlake.init(spool=str(tmp_path / "spool"), **kwargs)


def sent(run: runlake.Run) -> list[dict[str, Any]]:
    """Every record of the run's spooled frames, in order."""
    directory = run._sender.spool_dir
    names = sorted(os.listdir(directory), key=lambda n: int(n.split(".")[0]))
    return [r for n in names for r in decode_frame(Path(directory, n).read_bytes())["records"]]


def points(run: runlake.Run) -> list[tuple[str, int, float, str | None]]:
    out = []
    for record in sent(run):
        if record["kind"] == "metrics":
            c = record["columns"]
            for i, s, v in zip(c["name"], c["step"], c["value"], strict=True):
                out.append((record["names"][i], s, v, record["split"]))
    return out


def test_nested_dicts_are_flattened_with_dots(tmp_path: Path) -> None:
    run = offline(tmp_path)
    run.log({"train/loss": 0.5, "grad": {"norm": 1.2, "by_layer": {"0": 3, "1": 4.5}}, "lr": 1e-3}, step=7)
    assert run.flush() == "spooled"
    run.finish()
    assert points(run) == [
        ("train/loss", 7, 0.5, None),
        ("grad.norm", 7, 1.2, None),
        ("grad.by_layer.0", 7, 3.0, None),
        ("grad.by_layer.1", 7, 4.5, None),
        ("lr", 7, 1e-3, None),
    ]


def test_booleans_ints_and_special_floats(tmp_path: Path) -> None:
    run = offline(tmp_path)
    run.log({"ok": True, "bad": False, "n": 3, "big": 2**70, "nan": math.nan, "inf": -math.inf, "z": -0.0})
    run.finish()
    values = {name: value for name, _, value, _ in points(run)}
    assert values["ok"] == 1.0 and values["bad"] == 0.0 and values["n"] == 3.0 and values["big"] == 2.0**70
    assert math.isnan(values["nan"]) and values["inf"] == -math.inf
    assert math.copysign(1.0, values["z"]) == -1.0


def test_numpy_scalars_and_zero_d_arrays(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    run = offline(tmp_path)
    run.log(
        {
            "f32": np.float32(0.5),
            "i64": np.int64(7),
            "u8": np.uint8(255),
            "b": np.bool_(True),
            "a0": np.array(2.5),
            "nested": {"f16": np.float16(1.0)},
        },
        step=np.int64(3),
    )
    with pytest.raises(TypeError, match=r"'vec' is an? ndarray"):
        run.log({"vec": np.array([1.0, 2.0])})
    with pytest.raises(TypeError, match=r"'c' is a complex128"):
        run.log({"c": np.complex128(1 + 2j)})
    run.finish()
    assert points(run) == [
        ("f32", 3, 0.5, None),
        ("i64", 3, 7.0, None),
        ("u8", 3, 255.0, None),
        ("b", 3, 1.0, None),
        ("a0", 3, 2.5, None),
        ("nested.f16", 3, 1.0, None),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"loss": "0.3"}, r"log\(\): 'loss' is a str"),
        ({"loss": None}, r"log\(\): 'loss' is None"),
        ({"loss": [1.0]}, r"log\(\): 'loss' is a list"),
        ({"a": {"b": {"c": (1,)}}}, r"log\(\): 'a.b.c' is a tuple"),
        ({"loss": 1 + 2j}, r"log\(\): 'loss' is a complex"),
        ({1: 0.5}, r"key 1 is an int"),
        ({"a": {2: 0.5}}, r"key 2 under 'a' is an int"),
    ],
)
def test_log_refuses_what_is_not_a_number(tmp_path: Path, data: dict[Any, Any], message: str) -> None:
    run = offline(tmp_path)
    with pytest.raises(TypeError, match=message):
        run.log(data)
    run.finish()
    assert points(run) == []  # a refused call queues nothing, not even its good keys


def test_log_needs_a_mapping(tmp_path: Path) -> None:
    run = offline(tmp_path)
    with pytest.raises(TypeError, match="data must be a dict of metric names to numbers, not a list"):
        run.log([("loss", 1.0)])  # type: ignore[arg-type]
    run.finish()


def test_names_are_1_to_256_utf8_bytes(tmp_path: Path) -> None:
    run = offline(tmp_path)
    run.log({"é" * 128: 1.0})  # 256 bytes
    with pytest.raises(ValueError, match="257 UTF-8 bytes"):
        run.log({"é" * 128 + "x": 1.0})
    with pytest.raises(ValueError, match="0 UTF-8 bytes"):
        run.log({"": 1.0})
    run.finish()
    assert len(points(run)) == 1


def test_steps_count_calls_and_follow_explicit_steps(tmp_path: Path) -> None:
    run = offline(tmp_path)
    run.log({"a": 1.0})
    run.log({"a": 1.0})
    run.log({"a": 1.0}, step=10)
    run.log({"a": 1.0})
    with pytest.raises(ValueError, match="out of range"):
        run.log({"a": 1.0}, step=-1)
    with pytest.raises(TypeError, match="step must be an int"):
        run.log({"a": 1.0}, step=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a bool"):
        run.log({"a": 1.0}, step=True)
    run.finish()
    assert [p[1] for p in points(run)] == [0, 1, 10, 11]


def test_split_groups_points_and_other_records_keep_their_place(tmp_path: Path) -> None:
    run = offline(tmp_path)
    run.log({"loss": 1.0}, step=0)
    run.log({"acc": 0.5}, step=0, split="val")
    run.log({"loss": 0.9}, step=1)
    run.summary["best"] = 0.5
    run.log({"loss": 0.8}, step=2)
    run.finish()
    records = sent(run)
    assert [(r["kind"], r.get("split")) for r in records] == [
        ("run", None),
        ("metrics", None),
        ("metrics", "val"),
        ("summary", None),
        ("metrics", None),
        ("finish", None),
    ]
    assert records[1]["columns"]["step"] == [0, 1] and records[4]["columns"]["step"] == [2]
    assert records[1]["columns"]["time"][0] <= records[2]["columns"]["time"][0]


def test_log_copies_values(tmp_path: Path) -> None:
    run = offline(tmp_path)
    data = {"a": 1.0, "n": {"b": 2.0}}
    run.log(data)
    data["a"] = 5.0
    data["n"]["b"] = 6.0  # type: ignore[index]
    run.finish()
    assert [p[2] for p in points(run)] == [1.0, 2.0]


def test_summary_config_and_checkpoint_values(tmp_path: Path) -> None:
    run = offline(tmp_path, config={"lr": 0.1, "betas": (0.9, 0.99)})
    run.config["wd"] = 0.01
    run.summary.update({"best": 0.5}, epochs=3)
    with pytest.raises(ValueError, match=r"summary\.bad: nan cannot be stored"):
        run.summary["bad"] = math.nan
    with pytest.raises(TypeError, match=r"config\.when: an object cannot be stored"):
        run.config["when"] = object()
    with pytest.raises(TypeError, match="unknown field 'loss'"):
        run.log_checkpoint(5, loss=0.1)
    run.log_checkpoint(5, tokens_seen=100, checkpoint_uri="s3://b/c")
    run.finish("crashed")
    records = sent(run)
    assert records[0]["config"] == {"lr": 0.1, "betas": [0.9, 0.99]} and "started_at" in records[0]
    assert records[1] == {"kind": "config", "run_id": run.id, "config": {"wd": 0.01}}
    assert records[2] == {"kind": "summary", "run_id": run.id, "summary": {"best": 0.5, "epochs": 3}}
    row = records[3]["rows"][0]
    assert row["step"] == 5 and row["tokens_seen"] == 100 and row["checkpoint_uri"] == "s3://b/c" and "wall_time" in row
    assert records[4]["kind"] == "finish" and records[4]["status"] == "crashed"
    assert dict(run.summary) == {"best": 0.5, "epochs": 3}


def test_init_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        runlake.init(lake=str(tmp_path), server="http://localhost:1")
    with pytest.raises(ValueError, match=r"lake=.*server=.*spool="):
        runlake.init()
    with pytest.raises(ValueError, match="name different runs"):
        runlake.init(spool=str(tmp_path), resume="a", run_id="b")
    with pytest.raises(ValueError, match="without /"):
        runlake.init(spool=str(tmp_path), run_id="a/b")
    with pytest.raises(ValueError, match="not one of"):
        offline(tmp_path).finish("done")


def test_client_ids_are_128_random_bits(tmp_path: Path) -> None:
    a, b = offline(tmp_path), offline(tmp_path)
    assert a.client != b.client and len(a.client) == 32 and int(a.client, 16) >= 0
    a.finish()
    b.finish()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_cannot_log_into_the_parents_queue(tmp_path: Path) -> None:
    run = offline(tmp_path)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what log() did, then leave without running atexit handlers
        try:
            run.log({"x": 1.0})
            message = b"logged"
        except RuntimeError as error:
            message = str(error).encode()
        os.write(write, message)
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read, "rb") as f:
        message = f.read().decode()
    assert "forked child" in message and run.id in message
    run.log({"x": 2.0})  # the parent is unaffected
    run.finish()
    assert [p[2] for p in points(run)] == [2.0]
