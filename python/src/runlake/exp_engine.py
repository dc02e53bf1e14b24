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

``write_event_rows`` and ``write_seed_rows`` are not here yet: they need an ingest record kind
the wire protocol (docs/tracking.md) does not define yet.
"""

from __future__ import annotations

import json
import os
from typing import Any

from . import _grid_id
from ._grid_id import DEFAULT_SCHEME, GRID_ID_SCHEMES

__all__ = [
    "EXP_ENGINE_SCHEME",
    "GRID_ID_SCHEMES",
    "attach_grid_id",
    "canonicalize_params",
    "grid_hash",
    "lake_grid_id_scheme",
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
