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

Input files are read with :func:`loads`, which reads an integer literal the way JavaScript's
``JSON.stringify`` writes a double (``1152921504606847000`` is ``2.0**60``), so any JSON text that
the TypeScript implementation writes gets the same grid id here.

Exit status: 0 on success, 1 when a parameter set is refused (in ``--vectors`` mode: when any of
them is), 2 on a usage error or input that is not JSON.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from typing import Any, Dict, Iterable, List, Optional

__all__ = [
    'DEFAULT_VOLATILE_KEYS',
    'GRID_ID_LENGTH',
    'ParamsError',
    'ParamsTypeError',
    'attach_grid_id',
    'canonical_json',
    'canonicalize_params',
    'ecmascript_number',
    'full_params_hash',
    'grid_hash',
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

#: Number of hex characters in a grid id.
GRID_ID_LENGTH = 8


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


def canonicalize_params(params: Dict[str, Any], volatile_keys: Optional[Iterable[str]] = None) -> Dict[str, Any]:
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
    """
    if not isinstance(params, dict):
        raise ParamsTypeError('', f'must be a dict, not {_describe(params)}')
    if volatile_keys is None:
        volatile_keys = DEFAULT_VOLATILE_KEYS
    elif isinstance(volatile_keys, str):
        raise TypeError('volatile_keys must be an iterable of key names, not a single string')
    volatile = frozenset(volatile_keys)
    out: Dict[str, Any] = {}
    for key, value in _sorted_items(params, None):
        if key in volatile:
            continue
        out[key] = _canonical_value(value, key)
    return out


def canonical_json(value: Any) -> str:
    """Serialises a canonical value as RFC 8785 text (mirrors TypeScript ``canonicalJson``).

    It does not drop volatile keys or check that ints are exact doubles (an int is written as the
    double nearest to it); use :func:`canonicalize_params` first.

    >>> canonical_json({'b': 0.1, 'a': 1e21, 'c': [1.0, -0.0, 'é']})
    '{"a":1e+21,"b":0.1,"c":[1,0,"é"]}'
    """
    parts: List[str] = []
    _write_json(value, parts)
    return ''.join(parts)


def full_params_hash(params: Dict[str, Any], volatile_keys: Optional[Iterable[str]] = None) -> str:
    """The full SHA-256 (64 lowercase hex characters) of the canonical JSON of ``params``."""
    text = canonical_json(canonicalize_params(params, volatile_keys))
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def grid_hash(params: Dict[str, Any], volatile_keys: Optional[Iterable[str]] = None) -> str:
    """The grid id of ``params``: the first 8 hex characters of :func:`full_params_hash`.

    >>> grid_hash({'algo': 'memorypair', 'seed': 1}) == grid_hash({'algo': 'memorypair', 'seed': 2})
    True
    """
    return full_params_hash(params, volatile_keys)[:GRID_ID_LENGTH]


def attach_grid_id(params: Dict[str, Any], volatile_keys: Optional[Iterable[str]] = None) -> Dict[str, Any]:
    """Returns a shallow copy of ``params`` with ``grid_id`` set to :func:`grid_hash`.

    Idempotent: ``grid_id`` is a volatile key, so attaching twice gives the same id.
    """
    out = dict(params)
    out['grid_id'] = grid_hash(params, volatile_keys)
    return out


def loads(data: Any) -> Any:
    """Parses JSON text (``str`` or UTF-8 ``bytes``) for hashing, as the command line does.

    Like ``json.loads`` (``NaN`` and ``Infinity`` tokens are read, and refused later by
    :func:`canonicalize_params` with a path), except for integer literals that no double equals
    exactly: when the literal is how JavaScript writes a double (ECMAScript ``Number::toString``,
    e.g. ``1152921504606847000`` for ``2.0**60``), it is read as that double, so JSON written by
    the TypeScript implementation or any JavaScript tool reads back as the numbers it held. Any
    other such literal (``9007199254740993``) stays an ``int`` and is refused when hashed.

    >>> loads('{"a": 1152921504606847000, "b": 9007199254740993, "c": 9007199254740992}')
    {'a': 1.152921504606847e+18, 'b': 9007199254740993, 'c': 9007199254740992}
    """
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

_USAGE = 'usage: runlake_grid_id.py [--json | --vectors | --values] [FILE]   (reads stdin when FILE is absent)'


def _read_input(path: Optional[str]) -> Any:
    if path is None:
        data = sys.stdin.buffer.read()
    else:
        with open(path, 'rb') as f:
            data = f.read()
    # NaN and Infinity tokens are read; they are refused later with a path.
    return loads(data)


def _write(text: str) -> None:
    sys.stdout.buffer.write((text + '\n').encode('utf-8', 'surrogatepass'))
    sys.stdout.flush()


def _vector_result(params: Any) -> Dict[str, Any]:
    try:
        text = canonical_json(canonicalize_params(params))
    except ParamsError as e:
        return {'error': str(e), 'path': e.path}
    digest = hashlib.sha256(text.encode('utf-8')).hexdigest()
    return {'grid_id': digest[:GRID_ID_LENGTH], 'hash': digest, 'canonical': text}


def main(argv: Optional[List[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    mode = 'id'
    files: List[str] = []
    for arg in args:
        if arg in ('-h', '--help'):
            _write(_USAGE)
            return 0
        if arg == '--json':
            mode = 'json'
        elif arg == '--vectors':
            mode = 'vectors'
        elif arg == '--values':
            mode = 'values'
        elif arg.startswith('-') and arg != '-':
            sys.stderr.write(f'unknown option {arg}\n{_USAGE}\n')
            return 2
        else:
            files.append(arg)
    if len(files) > 1:
        sys.stderr.write(f'{_USAGE}\n')
        return 2
    try:
        data = _read_input(files[0] if files and files[0] != '-' else None)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        sys.stderr.write(f'runlake_grid_id: cannot read input: {e}\n')
        return 2

    if mode in ('vectors', 'values') and not isinstance(data, list):
        sys.stderr.write(f'runlake_grid_id: --{mode} expects a JSON array\n')
        return 2
    if mode == 'values':
        try:
            texts = [canonical_json(value) for value in data]
        except (TypeError, ValueError) as e:
            sys.stderr.write(f'runlake_grid_id: {e}\n')
            return 1
        _write(json.dumps(texts, ensure_ascii=True))
        return 0
    if mode == 'vectors':
        results = [_vector_result(params) for params in data]
        _write(json.dumps(results, ensure_ascii=True))
        return 1 if any('error' in r for r in results) else 0

    try:
        canonical = canonicalize_params(data)
    except ParamsError as e:
        sys.stderr.write(f'runlake_grid_id: {e}\n')
        return 1
    text = canonical_json(canonical)
    if mode == 'json':
        _write(text)
    else:
        _write(hashlib.sha256(text.encode('utf-8')).hexdigest()[:GRID_ID_LENGTH])
    return 0


if __name__ == '__main__':
    sys.exit(main())
