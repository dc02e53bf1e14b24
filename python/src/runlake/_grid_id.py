#!/usr/bin/env python3
"""Compute runlake grid ids from Python, byte for byte the same as the TypeScript implementation.

This module mirrors ``src/lake/canonical-params.ts`` and follows the algorithm in
``docs/grid-id.md``. It uses only the standard library and runs on Python 3.9 and later, so a
training runner can copy this one file next to its code and stamp every parameter set with the
``grid_id`` the lake will compute for it:

    >>> from runlake_grid_id import attach_grid_id
    >>> params = attach_grid_id({'algo': 'memorypair', 'lr': 0.1, 'seed': 3})
    >>> len(params['grid_id'])
    8

The algorithm, in short (docs/grid-id.md is the reference):

1. Drop the *top-level* keys listed in ``DEFAULT_VOLATILE_KEYS`` (the seed, output paths, run
   names, timestamps). Nested keys with those names are kept.
2. Canonicalize every value: ``None`` -> null, ``bool`` -> true/false, ``str`` as is,
   ``list``/``tuple`` -> array in the same order, ``dict`` (``str`` keys only) -> object with its
   keys sorted by UTF-16 code units, ``int``/``float`` -> an IEEE-754 double. ``-0.0`` becomes
   ``0``. Every finite ``float`` is accepted, ``1e21`` and ``1.7976931348623157e308`` included;
   NaN and +/-infinity are refused. An ``int`` ``n`` is accepted iff ``float(n) == n`` (``2**53``
   and ``10**21`` are, ``2**53 + 1`` is not: no double equals it, so it could not be hashed
   without silently becoming a different number). A ``__proto__`` key is a key like any other.
   Anything else (sets, bytes, datetimes, numpy scalars, ...) is refused with a ``TypeError``.
3. Serialise as RFC 8785 (JSON Canonicalization Scheme): no whitespace, keys sorted by UTF-16
   code units, numbers in the ECMAScript ``Number::toString`` form (``1`` for ``1.0``, ``1e-7``,
   ``1e+21``, ``0.000001``), strings escaped exactly like JavaScript's ``JSON.stringify``.
4. ``full_params_hash`` is the SHA-256 (hex) of the UTF-8 bytes of that text; the grid id is its
   first 8 hex characters.

Other schemes: exp_engine, the Python tool runlake replaces, computed grid ids three other ways
over its lifetime. Pass ``scheme=`` (one of :data:`GRID_ID_SCHEMES`) to reproduce them bit for
bit, e.g. to match rows that an exp_engine lake already holds:

    >>> grid_hash({'algo': 'memorypair', 'gamma_bar': 1.0, 'seed': 3}, scheme='exp_engine-sha256-12')
    'cbba7431bb63'

``runlake`` (the default) is the scheme above. The ``exp_engine-*`` schemes drop their own
volatile keys at *every* depth, and path-like keys (``data_dir``, ``config_file``, ...); they round
floats to 10 decimal places and snap near-integers; they keep ints and floats apart (``1`` and
``1.0`` hash differently), accept NaN, +/-infinity and ints of any size, and hash Python's
``json.dumps(..., sort_keys=True, separators=(',', ':'), ensure_ascii=True)`` text with MD5 or
SHA-256, keeping 8 or 12 hex characters. docs/grid-id.md ("exp_engine's schemes") has the rules.

Command line::

    python3 runlake_grid_id.py params.json        # prints the grid id
    python3 runlake_grid_id.py < params.json      # same, reading stdin
    python3 runlake_grid_id.py --json params.json # prints the canonical JSON
    python3 runlake_grid_id.py --vectors < list.json
        # reads a JSON array of parameter objects and prints a JSON array with, for each one,
        # {"grid_id", "hash", "canonical"} or, when it is refused, {"error", "path"}
    python3 runlake_grid_id.py --values < list.json
        # reads a JSON array of arbitrary JSON values and prints a JSON array of their
        # canonical_json text (serialisation only: no volatile keys dropped, no range checks)
    python3 runlake_grid_id.py --scheme exp_engine-sha256-12 params.json
        # any mode, with another scheme (default runlake); see GRID_ID_SCHEMES

Input files are read with :func:`loads`, which reads an integer literal the way JavaScript's
``JSON.stringify`` writes a double (``1152921504606847000`` is ``2.0**60``), so any JSON text that
the TypeScript implementation writes gets the same grid id here. With an ``exp_engine-*`` scheme
input is read exactly as ``json.loads`` reads it (``1`` is an int, ``1.0`` a float), as exp_engine
read its parameter files.

Exit status: 0 on success, 1 when a parameter set is refused (in ``--vectors`` mode: when any of
them is), 2 on a usage error or input that is not JSON.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, NamedTuple, Optional

__all__ = [
    'DEFAULT_SCHEME',
    'DEFAULT_VOLATILE_KEYS',
    'EXP_ENGINE_VOLATILE_KEYS',
    'GRID_ID_LENGTH',
    'GRID_ID_SCHEMES',
    'ParamsError',
    'ParamsTypeError',
    'attach_grid_id',
    'canonical_json',
    'canonicalize_params',
    'ecmascript_number',
    'full_params_hash',
    'grid_hash',
    'grid_id_length',
    'is_path_like_key',
    'loads',
]

#: Top-level keys that never take part in a grid id (same list, same order as the TypeScript
#: ``DEFAULT_VOLATILE_KEYS``): they change from run to run of the same configuration.
DEFAULT_VOLATILE_KEYS = (
    'seed',
    'grid_id',
    'run_id',
    'run_name',
    'base_out',
    'parquet_out',
    'out_dir',
    'output_dir',
    'output_path',
    'results_dir',
    'log_dir',
    'checkpoint_dir',
    'save_dir',
    'timestamp',
    'created_at',
    'started_at',
    'start_time',
    'end_time',
)

#: Number of hex characters in a grid id (of the ``runlake`` scheme; see :func:`grid_id_length`).
GRID_ID_LENGTH = 8

#: The scheme used when none is named: runlake's own (RFC 8785 JSON, SHA-256, 8 hex characters).
DEFAULT_SCHEME = 'runlake'

#: Every scheme this module computes. ``exp_engine-*`` are the three generations of exp_engine's
#: ids: MD5 and substring path rule, 8 characters; SHA-256 and substring path rule, 8 characters;
#: SHA-256 and word path rule, 12 characters.
GRID_ID_SCHEMES = (DEFAULT_SCHEME, 'exp_engine-md5-8', 'exp_engine-sha256-8', 'exp_engine-sha256-12')

#: Keys the ``exp_engine-*`` schemes drop from every dict, at every depth (exact, case-sensitive).
#: Keys that look like paths are dropped as well; see :func:`is_path_like_key`.
EXP_ENGINE_VOLATILE_KEYS = (
    'base_out',
    'commit_results',
    'figs',
    'figs_dir',
    'host',
    'hostname',
    'log_dir',
    'out_dir',
    'output_dir',
    'results_dir',
    'run_id',
    'seed',
    'seeds',
    'timestamp',
    'user',
)


class _ExpEngineScheme(NamedTuple):
    digest: str  # hashlib name
    length: int  # hex characters kept
    word_rule: bool  # path-like keys: False = substring rule, True = word rule


_EXP_ENGINE_SCHEMES = {
    'exp_engine-md5-8': _ExpEngineScheme('md5', 8, False),
    'exp_engine-sha256-8': _ExpEngineScheme('sha256', 8, False),
    'exp_engine-sha256-12': _ExpEngineScheme('sha256', 12, True),
}

# The word rule: one of these words, case-insensitively, with '_' or the start of the key before
# it and '_' or the end of the key after it. Python's re gives two quirks that are part of the
# scheme: '$' also matches just before a final '\n', and IGNORECASE lets U+0130 and U+0131 match
# 'i' and U+017F (long s) match 's'.
_PATH_WORD = re.compile(r'(?:^|_)(?:paths?|dir(?:ectory|ectories)?|folders?|file(?:name|s)?)(?:$|_)', re.IGNORECASE)
_PATH_SUBSTRINGS = ('path', 'dir', 'folder', 'file')


class ParamsError(ValueError):
    """A parameter set that cannot be canonicalized.

    ``path`` names the offending value the way the TypeScript ``ParamsError`` does:
    ``opt.betas[1]`` for ``params['opt']['betas'][1]`` (empty for the parameter set itself).

    >>> str(ParamsError('opt.betas[1]', 'NaN is not a finite number'))
    'params.opt.betas[1]: NaN is not a finite number'
    >>> str(ParamsError('', 'must be a dict, not a list'))
    'params: must be a dict, not a list'
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f'params.{path}: {reason}' if path else f'params: {reason}')
        self.path = path
        self.reason = reason


class ParamsTypeError(ParamsError, TypeError):
    """A value of a type JSON cannot hold (a set, bytes, a datetime, a numpy scalar, ...)."""


def canonicalize_params(
    params: Dict[str, Any],
    volatile_keys: Optional[Iterable[str]] = None,
    *,
    scheme: str = DEFAULT_SCHEME,
) -> Dict[str, Any]:
    """Returns the canonical form of ``params`` (mirrors TypeScript ``canonicalizeParams``).

    Top-level keys in ``volatile_keys`` (default :data:`DEFAULT_VOLATILE_KEYS`) are dropped, keys
    are sorted by UTF-16 code units at every level, tuples become lists, ``-0.0`` becomes ``0.0``.
    Floats stay floats and ints stay ints; :func:`canonical_json` writes ``1`` and ``1.0`` alike.

    Raises :class:`ParamsError` (a ``ValueError``) for NaN, +/-infinity and ints that no double
    equals exactly (``float(n) != n``, or too large for a float at all), and
    :class:`ParamsTypeError` (a ``TypeError``) for values JSON cannot hold; both name the path,
    e.g. ``opt.betas[1]``.

    >>> canonicalize_params({'b': 1.0, 'a': {'y': -0.0, 'x': [3, 1]}, 'seed': 7})
    {'a': {'x': [3, 1], 'y': 0.0}, 'b': 1.0}
    >>> canonicalize_params({'big': 2**60, 'huge': 1e308, '__proto__': {'a': 1}})
    {'__proto__': {'a': 1}, 'big': 1152921504606846976, 'huge': 1e+308}
    >>> canonicalize_params({'a': {'b': [0, 0, 2**53 + 1]}})
    Traceback (most recent call last):
      ...
    runlake_grid_id.ParamsError: params.a.b[2]: integer 9007199254740993 is not exactly representable as an IEEE-754 double

    With an ``exp_engine-*`` ``scheme`` the rules are exp_engine's: ``volatile_keys`` (default
    :data:`EXP_ENGINE_VOLATILE_KEYS`) and path-like keys are dropped at every depth, floats are
    rounded to 10 decimal places and near-integers snapped, NaN, infinities and ints of any size
    are kept. Keys are sorted by code point. Only values that are not JSON at all (and keys that
    are not ``str``) are refused, with :class:`ParamsTypeError`.

    >>> canonicalize_params({'lr': 0.30000000000000004, 'opt': {'seed': 1, 'eps': -1e-11, 'beta': 2},
    ...                      'data_dir': '/d', 'x': float('nan')}, scheme='exp_engine-sha256-12')
    {'lr': 0.3, 'opt': {'beta': 2, 'eps': 0.0}, 'x': nan}
    """
    exp = _exp_engine_scheme(scheme)
    volatile = _volatile_set(volatile_keys, EXP_ENGINE_VOLATILE_KEYS if exp else DEFAULT_VOLATILE_KEYS)
    if exp is not None:
        result: Any = _exp_engine_value(params, '', volatile, _path_rule(exp))
        return result  # type: ignore[no-any-return]
    if not isinstance(params, dict):
        raise ParamsTypeError('', f'must be a dict, not {_describe(params)}')
    out: Dict[str, Any] = {}
    for key, value in _sorted_items(params, None):
        if key in volatile:
            continue
        out[key] = _canonical_value(value, key)
    return out


def canonical_json(value: Any, *, scheme: str = DEFAULT_SCHEME) -> str:
    """Serialises a canonical value as RFC 8785 text (mirrors TypeScript ``canonicalJson``).

    It does not drop volatile keys or check that ints are exact doubles (an int is written as the
    double nearest to it); use :func:`canonicalize_params` first.

    >>> canonical_json({'b': 0.1, 'a': 1e21, 'c': [1.0, -0.0, 'é']})
    '{"a":1e+21,"b":0.1,"c":[1,0,"é"]}'

    With an ``exp_engine-*`` ``scheme`` it is the text exp_engine hashed: Python's ``json.dumps``
    with sorted keys, no spaces and ``ensure_ascii`` (floats as ``repr`` writes them).

    >>> canonical_json({'b': 0.1, 'a': 1e21, 'c': [1.0, -0.0, 'é', 1e-05]}, scheme='exp_engine-md5-8')
    '{"a":1e+21,"b":0.1,"c":[1.0,-0.0,"\\\\u00e9",1e-05]}'
    """
    if _exp_engine_scheme(scheme) is not None:
        return json.dumps(value, sort_keys=True, separators=(',', ':'), ensure_ascii=True, allow_nan=True)
    parts: List[str] = []
    _write_json(value, parts)
    return ''.join(parts)


def full_params_hash(
    params: Dict[str, Any],
    volatile_keys: Optional[Iterable[str]] = None,
    *,
    scheme: str = DEFAULT_SCHEME,
) -> str:
    """The full digest (lowercase hex) of the canonical JSON of ``params``: SHA-256, 64 characters,
    or for ``exp_engine-md5-8`` MD5, 32 characters. The grid id is its first
    :func:`grid_id_length` characters."""
    exp = _exp_engine_scheme(scheme)
    text = canonical_json(canonicalize_params(params, volatile_keys, scheme=scheme), scheme=scheme)
    return hashlib.new(exp.digest if exp else 'sha256', text.encode('utf-8')).hexdigest()


def grid_hash(
    params: Dict[str, Any],
    volatile_keys: Optional[Iterable[str]] = None,
    *,
    scheme: str = DEFAULT_SCHEME,
) -> str:
    """The grid id of ``params``: the first :func:`grid_id_length` characters of
    :func:`full_params_hash` (8, or 12 for ``exp_engine-sha256-12``).

    >>> grid_hash({'algo': 'memorypair', 'seed': 1}) == grid_hash({'algo': 'memorypair', 'seed': 2})
    True
    >>> [grid_hash({'algo': 'memorypair', 'gamma_bar': 1.0}, scheme=s) for s in GRID_ID_SCHEMES]
    ['5dc697c9', 'b238c2b6', 'cbba7431', 'cbba7431bb63']
    """
    return full_params_hash(params, volatile_keys, scheme=scheme)[: grid_id_length(scheme)]


def attach_grid_id(
    params: Dict[str, Any],
    volatile_keys: Optional[Iterable[str]] = None,
    *,
    scheme: str = DEFAULT_SCHEME,
) -> Dict[str, Any]:
    """Returns a shallow copy of ``params`` with ``grid_id`` set to :func:`grid_hash`.

    Idempotent for the ``runlake`` scheme: ``grid_id`` is one of its volatile keys, so attaching
    twice gives the same id. It is *not* for the ``exp_engine-*`` schemes, as it was not in
    exp_engine: ``grid_id`` is an ordinary key there and takes part in the next hash.
    """
    if not isinstance(params, dict):
        raise ParamsTypeError('', f'must be a dict, not {_describe(params)}')
    out = dict(params)
    out['grid_id'] = grid_hash(params, volatile_keys, scheme=scheme)
    return out


def grid_id_length(scheme: str = DEFAULT_SCHEME) -> int:
    """Number of hex characters in a grid id of ``scheme``.

    >>> [grid_id_length(s) for s in GRID_ID_SCHEMES]
    [8, 8, 8, 12]
    """
    exp = _exp_engine_scheme(scheme)
    return exp.length if exp else GRID_ID_LENGTH


def is_path_like_key(key: str, scheme: str) -> bool:
    """True when an ``exp_engine-*`` ``scheme`` drops ``key`` for looking like a path.

    ``exp_engine-md5-8`` and ``exp_engine-sha256-8`` (substring rule): ``path``, ``dir``,
    ``folder`` or ``file`` occurs anywhere in ``key.lower()``. ``exp_engine-sha256-12`` (word
    rule): one of ``path(s)``, ``dir``, ``directory``, ``directories``, ``folder(s)``, ``file``,
    ``filename``, ``files`` stands between the start of the key or ``_`` and the end of the key,
    an ``_`` or a final ``\\n``, in any case. The ``runlake`` scheme has no such rule (always False).

    >>> [is_path_like_key(k, 'exp_engine-md5-8') for k in ('profile', 'config_file', 'filenames', 'DIR')]
    [True, True, True, True]
    >>> [is_path_like_key(k, 'exp_engine-sha256-12') for k in ('profile', 'config_file', 'filenames', 'DIR')]
    [False, True, False, True]
    """
    exp = _exp_engine_scheme(scheme)
    return False if exp is None else _path_rule(exp)(key)


def loads(data: Any, *, scheme: str = DEFAULT_SCHEME) -> Any:
    """Parses JSON text (``str`` or UTF-8 ``bytes``) for hashing, as the command line does.

    Like ``json.loads`` (``NaN`` and ``Infinity`` tokens are read, and refused later by
    :func:`canonicalize_params` with a path), except for integer literals that no double equals
    exactly: when the literal is how JavaScript writes a double (ECMAScript ``Number::toString``,
    e.g. ``1152921504606847000`` for ``2.0**60``), it is read as that double, so JSON written by
    the TypeScript implementation or any JavaScript tool reads back as the numbers it held. Any
    other such literal (``9007199254740993``) stays an ``int`` and is refused when hashed.

    >>> loads('{"a": 1152921504606847000, "b": 9007199254740993, "c": 9007199254740992}')
    {'a': 1.152921504606847e+18, 'b': 9007199254740993, 'c': 9007199254740992}

    With an ``exp_engine-*`` ``scheme`` it is ``json.loads`` itself, as exp_engine read its files:
    an integer literal is an ``int`` of any size and ``1.0`` a float, which those schemes hash
    differently.

    >>> loads('{"a": 1152921504606847000, "b": 1.0, "c": NaN}', scheme='exp_engine-sha256-12')
    {'a': 1152921504606847000, 'b': 1.0, 'c': nan}
    """
    if _exp_engine_scheme(scheme) is not None:
        return json.loads(data)
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode('utf-8')
    return json.loads(data, parse_int=_parse_int_literal)


def ecmascript_number(x: float) -> str:
    """Formats a finite double as ECMAScript ``Number::toString`` does (ECMA-262, 6.1.6.1.20).

    The digits come from ``repr(x)``, which is the shortest string that round-trips (the same
    digits ECMAScript chooses); only the layout differs between the two languages.

    >>> [ecmascript_number(v) for v in (1.0, 1e21, 1e20, 1e-7, 1e-6, 123.456, -0.0, 5e-324)]
    ['1', '1e+21', '100000000000000000000', '1e-7', '0.000001', '123.456', '0', '5e-324']
    """
    if not math.isfinite(x):
        raise ValueError(f'{x!r} is not a finite number')
    if x == 0:
        return '0'  # also -0.0: Number::toString(-0) is "0"
    if x < 0:
        return '-' + ecmascript_number(-x)
    text = repr(float(x))
    mantissa, _, exp_text = text.partition('e')
    exponent = int(exp_text) if exp_text else 0
    int_part, _, frac_part = mantissa.partition('.')
    digits = int_part + frac_part
    # value = 0.<digits> * 10**point, before trimming zeros
    point = len(int_part) + exponent
    stripped = digits.lstrip('0')
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip('0')
    # ECMA-262: s has k digits and the value is s * 10**(n - k).
    k = len(digits)
    n = point
    if k <= n <= 21:
        return digits + '0' * (n - k)
    if 0 < n <= 21:
        return digits[:n] + '.' + digits[n:]
    if -6 < n <= 0:
        return '0.' + '0' * (-n) + digits
    e = n - 1
    sign = '+' if e > 0 else '-'
    if k == 1:
        return f'{digits}e{sign}{abs(e)}'
    return f'{digits[0]}.{digits[1:]}e{sign}{abs(e)}'


# -- internals ---------------------------------------------------------------------------------


def _exp_engine_scheme(scheme: str) -> Optional[_ExpEngineScheme]:
    """None for the runlake scheme, the exp_engine parameters otherwise; refuses unknown names."""
    if scheme == DEFAULT_SCHEME:
        return None
    found = _EXP_ENGINE_SCHEMES.get(scheme) if isinstance(scheme, str) else None
    if found is None:
        raise ValueError(f'unknown grid id scheme {scheme!r} (one of: {", ".join(GRID_ID_SCHEMES)})')
    return found


def _volatile_set(volatile_keys: Optional[Iterable[str]], default: Iterable[str]) -> FrozenSet[str]:
    if volatile_keys is None:
        return frozenset(default)
    if isinstance(volatile_keys, str):
        hint = f" (to pick a scheme, pass scheme='{volatile_keys}')" if volatile_keys in GRID_ID_SCHEMES else ''
        raise TypeError(f'volatile_keys must be an iterable of key names, not a single string{hint}')
    return frozenset(volatile_keys)


def _substring_path_like(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _PATH_SUBSTRINGS)


def _word_path_like(key: str) -> bool:
    return _PATH_WORD.search(key) is not None


def _path_rule(scheme: _ExpEngineScheme) -> Callable[[str], bool]:
    return _word_path_like if scheme.word_rule else _substring_path_like


def _exp_engine_float(value: float) -> float:
    """exp_engine's float rule: round to 10 decimal places, then snap to a whole number when within
    1e-10 of one (which also turns -0.0 and tiny negatives into 0.0). NaN and infinities stay."""
    x = float(value)
    if not math.isfinite(x):
        return x
    # round(x, 10) is correctly rounded from the exact binary value of x, half to even on exact
    # ties (1/2048 = 0.00048828125 -> 0.0004882812), then read back as the nearest double.
    rounded = round(x, 10)
    whole = round(rounded)  # an int, half to even
    if abs(rounded - whole) < 1e-10:
        return float(whole)
    return rounded


def _exp_engine_int(n: int, path: str) -> int:
    # json.dumps writes an int with int.__repr__; Python 3.11+ refuses to write one of more
    # than sys.get_int_max_str_digits() digits (4300 by default), and so could exp_engine.
    if n.bit_length() > 10000:
        try:
            int.__repr__(n)
        except ValueError:
            reason = f'{_int_text(n)} has too many digits for this Python to write as JSON'
            raise ParamsError(path, reason) from None
    return n


def _child_path(path: str, key: str) -> str:
    return f'{path}.{key}' if path else key


def _exp_engine_value(value: Any, path: str, volatile: FrozenSet[str], path_like: Callable[[str], bool]) -> Any:
    """The exp_engine canonical form of any JSON value. Values under dropped keys are not looked at
    (exp_engine never looked at them either), so anything may sit there."""
    if isinstance(value, dict):
        keys = list(value.keys())
        for key in keys:
            if not isinstance(key, str):
                where = _child_path(path, repr(key))
                raise ParamsTypeError(where, f'{_describe(key)} key is not a JSON object key (keys must be str)')
        out: Dict[str, Any] = {}
        for key in sorted(keys):
            if key in volatile or path_like(key):
                continue
            out[key] = _exp_engine_value(value[key], _child_path(path, key), volatile, path_like)
        return out
    if isinstance(value, (list, tuple)):
        return [_exp_engine_value(item, f'{path}[{i}]', volatile, path_like) for i, item in enumerate(value)]
    if isinstance(value, float):
        return _exp_engine_float(value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return _exp_engine_int(value, path)
    hint = ''
    if hasattr(value, 'isoformat'):
        hint = ' (store it as an ISO string)'
    elif hasattr(value, 'item') and callable(value.item):
        hint = ' (convert it with .item())'
    raise ParamsTypeError(path, f'{_describe(value)}{hint} is not a JSON value')


def _utf16_key(key: str) -> bytes:
    # Big-endian UTF-16 bytes compare in the same order as UTF-16 code units.
    return key.encode('utf-16-be', 'surrogatepass')


def _js_string(text: str) -> str:
    """The string JavaScript would hold: surrogate pairs written as two code points are joined."""
    return text.encode('utf-16-be', 'surrogatepass').decode('utf-16-be', 'surrogatepass')


def _sorted_items(obj: Dict[Any, Any], path: Optional[str]) -> List[Any]:
    # path is None for the parameter set itself, whose members are named without a leading dot.
    items: Dict[str, Any] = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            where = repr(key) if path is None else f'{path}.{key!r}'
            raise ParamsTypeError(where, f'{_describe(key)} key is not a JSON object key (keys must be str)')
        js_key = _js_string(key)
        if js_key in items:
            raise ParamsError(js_key if path is None else f'{path}.{js_key}', 'duplicate key after UTF-16 normalization')
        items[js_key] = value
    return sorted(items.items(), key=lambda item: _utf16_key(item[0]))


def _parse_int_literal(text: str) -> Any:
    n = int(text)
    try:
        x = float(n)
    except OverflowError:
        return n
    if x == n or ecmascript_number(x) != text:
        return n
    return x


def _check_number(value: float, path: str) -> float:
    # The hash is defined over IEEE-754 doubles: every finite one is accepted.
    if not math.isfinite(value):
        raise ParamsError(path, f'{_number_text(value)} is not a finite number')
    return 0.0 if value == 0 else value


def _check_int(n: int, path: str) -> int:
    # Accepted iff some double equals it exactly; canonical_json then writes that double.
    try:
        exact = float(n) == n
    except OverflowError:
        exact = False
    if not exact:
        raise ParamsError(path, f'{_int_text(n)} is not exactly representable as an IEEE-754 double')
    return n


def _int_text(n: int) -> str:
    # Huge ints are named by size: their digits would swamp the message (and str() refuses ints
    # of more than 4300 digits on Python 3.11 and later).
    bits = abs(n).bit_length()
    if bits <= 128:
        return f'integer {n}'
    return f'{"a negative" if n < 0 else "an"} integer of {bits} bits'


def _number_text(value: float) -> str:
    if math.isnan(value):
        return 'NaN'
    if math.isinf(value):
        return 'Infinity' if value > 0 else '-Infinity'
    return ecmascript_number(value)


def _canonical_value(value: Any, path: str) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _js_string(value)
    if isinstance(value, int):
        return _check_int(int(value), path)
    if isinstance(value, float):
        return _check_number(float(value), path)
    if isinstance(value, (list, tuple)):
        return [_canonical_value(item, f'{path}[{i}]') for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: _canonical_value(item, f'{path}.{key}') for key, item in _sorted_items(value, path)}
    hint = ''
    if hasattr(value, 'isoformat'):
        hint = ' (store it as an ISO string)'
    elif hasattr(value, 'item') and callable(value.item):
        hint = ' (convert it with .item())'
    raise ParamsTypeError(path, f'{_describe(value)}{hint} is not a JSON value')


def _describe(value: Any) -> str:
    """'a set', 'a list', 'a Config instance': what a value is, for error messages."""
    cls = type(value)
    if value is None:
        return 'None'
    name = cls.__name__
    article = 'an' if name[:1].lower() in ('a', 'e', 'i', 'o') else 'a'  # 'a UUID', like the TypeScript side
    if cls.__module__ == 'builtins':
        return f'{article} {name}'
    return f'{article} {name} instance'


_ESCAPES = {
    '"': '\\"',
    '\\': '\\\\',
    '\b': '\\b',
    '\f': '\\f',
    '\n': '\\n',
    '\r': '\\r',
    '\t': '\\t',
}


def _json_string(text: str) -> str:
    """A JSON string literal escaped exactly as ECMAScript ``JSON.stringify`` escapes it."""
    out = ['"']
    for ch in _js_string(text):
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code < 0x20 or 0xD800 <= code <= 0xDFFF:
            # Control characters and lone surrogates (pairs were joined by _js_string).
            out.append(f'\\u{code:04x}')
        else:
            out.append(ch)
    out.append('"')
    return ''.join(out)


def _write_json(value: Any, parts: List[str]) -> None:
    if value is None:
        parts.append('null')
    elif value is True:
        parts.append('true')
    elif value is False:
        parts.append('false')
    elif isinstance(value, str):
        parts.append(_json_string(value))
    elif isinstance(value, int):
        # ECMAScript has only doubles: an int is written as the double nearest to it.
        try:
            as_float = float(int(value))
        except OverflowError:
            raise ValueError(f'integer {int(value)} is too large for a double') from None
        parts.append(ecmascript_number(as_float))
    elif isinstance(value, float):
        parts.append(ecmascript_number(float(value)))
    elif isinstance(value, (list, tuple)):
        parts.append('[')
        for i, item in enumerate(value):
            if i:
                parts.append(',')
            _write_json(item, parts)
        parts.append(']')
    elif isinstance(value, dict):
        parts.append('{')
        for i, (key, item) in enumerate(_sorted_items(value, None)):
            if i:
                parts.append(',')
            parts.append(_json_string(key))
            parts.append(':')
            _write_json(item, parts)
        parts.append('}')
    else:
        raise TypeError(f'a {type(value).__name__} is not a JSON value')


# -- command line ------------------------------------------------------------------------------

_USAGE = (
    'usage: runlake_grid_id.py [--scheme NAME] [--json | --vectors | --values] [FILE]'
    '   (reads stdin when FILE is absent; NAME is one of ' + ', '.join(GRID_ID_SCHEMES) + ')'
)


def _read_input(path: Optional[str], scheme: str) -> Any:
    if path is None:
        data = sys.stdin.buffer.read()
    else:
        with open(path, 'rb') as f:
            data = f.read()
    # NaN and Infinity tokens are read; the runlake scheme refuses them later with a path.
    return loads(data, scheme=scheme)


def _write(text: str) -> None:
    sys.stdout.buffer.write((text + '\n').encode('utf-8', 'surrogatepass'))
    sys.stdout.flush()


def _vector_result(params: Any, scheme: str) -> Dict[str, Any]:
    try:
        text = canonical_json(canonicalize_params(params, scheme=scheme), scheme=scheme)
    except ParamsError as e:
        return {'error': str(e), 'path': e.path}
    exp = _exp_engine_scheme(scheme)
    digest = hashlib.new(exp.digest if exp else 'sha256', text.encode('utf-8')).hexdigest()
    return {'grid_id': digest[: grid_id_length(scheme)], 'hash': digest, 'canonical': text}


def main(argv: Optional[List[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    mode = 'id'
    scheme = DEFAULT_SCHEME
    files: List[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg in ('-h', '--help'):
            _write(_USAGE)
            return 0
        if arg == '--json':
            mode = 'json'
        elif arg == '--vectors':
            mode = 'vectors'
        elif arg == '--values':
            mode = 'values'
        elif arg == '--scheme' or arg.startswith('--scheme='):
            if arg == '--scheme':
                if i >= len(args):
                    sys.stderr.write(f'--scheme needs a value\n{_USAGE}\n')
                    return 2
                scheme = args[i]
                i += 1
            else:
                scheme = arg[len('--scheme=') :]
            if scheme not in GRID_ID_SCHEMES:
                sys.stderr.write(f'unknown scheme {scheme!r} (one of: {", ".join(GRID_ID_SCHEMES)})\n')
                return 2
        elif arg.startswith('-') and arg != '-':
            sys.stderr.write(f'unknown option {arg}\n{_USAGE}\n')
            return 2
        else:
            files.append(arg)
    if len(files) > 1:
        sys.stderr.write(f'{_USAGE}\n')
        return 2
    try:
        data = _read_input(files[0] if files and files[0] != '-' else None, scheme)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        sys.stderr.write(f'runlake_grid_id: cannot read input: {e}\n')
        return 2

    if mode in ('vectors', 'values') and not isinstance(data, list):
        sys.stderr.write(f'runlake_grid_id: --{mode} expects a JSON array\n')
        return 2
    if mode == 'values':
        try:
            texts = [canonical_json(value, scheme=scheme) for value in data]
        except (TypeError, ValueError) as e:
            sys.stderr.write(f'runlake_grid_id: {e}\n')
            return 1
        _write(json.dumps(texts, ensure_ascii=True))
        return 0
    if mode == 'vectors':
        results = [_vector_result(params, scheme) for params in data]
        _write(json.dumps(results, ensure_ascii=True))
        return 1 if any('error' in r for r in results) else 0

    result = _vector_result(data, scheme)
    if 'error' in result:
        sys.stderr.write(f'runlake_grid_id: {result["error"]}\n')
        return 1
    _write(result['canonical'] if mode == 'json' else result['grid_id'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
