#!/usr/bin/env python3
"""Grid-id vectors for exp_engine's three schemes, computed by exp_engine's own code.

exp_engine (the Python tool runlake replaces) computed grid ids three ways over its lifetime.
Its real ``engine/cah.py`` versions live in ``/work/shared/peers/exp_engine/cah_versions/``
(``v1_md5_8.py``, ``v2_sha256_8.py``, ``v3_sha256_12.py``; see ``../PROVENANCE.md`` there). This
script imports those files by path, never copies them, and uses them as the reference for
``examples/python/runlake_grid_id.py``'s ``exp_engine-*`` schemes.

Regenerate the golden file (from the repository root; the output is byte-for-byte deterministic)::

    python3 test/python/exp_engine_grid_vectors.py --out test/fixtures/exp-engine-grid-ids.json

Modes:

``[--seed N] [--count N] [--out FILE]``
    Generates the fixture: the fixed edge cases plus ``--count`` (default 240) random parameter
    sets from ``random.Random(N)`` (default seed 20240611), keeps those that every reference
    accepts and that read back from their JSON text (``json.loads``) with the same three ids, and
    writes a JSON array of ``{"case", "params_json", "md5_8", "sha256_8", "sha256_12",
    "canonical_v1", "canonical_v3"}`` (``params_json`` is ``json.dumps(params,
    ensure_ascii=False)``; ``canonical_v1``/``canonical_v3`` the exact text v1/v2 and v3 hashed).
    Writes to stdout without ``--out``.

``--check-twin [--seed N] [--count N]``
    Imports the twin too and compares it with the references in-process on the same parameter
    sets plus Python-only inputs JSON text cannot carry (tuples, lone surrogates, float
    subclasses, non-str keys, non-JSON values under dropped keys, ints too long to print); runs
    exp_engine's ``tests/test_cah.py`` checks, ported, against the twin and the references; and
    compares the path-like-key rules on keys built around code points (every one of them with
    ``--exhaustive``, which takes about a minute). Prints a JSON summary and exits 1 when anything
    differs.

The references' directory is ``--cah DIR``, else ``$RUNLAKE_EXP_ENGINE_CAH``, else
``/work/shared/peers/exp_engine/cah_versions``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import os
import random
import struct
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Tuple

sys.dont_write_bytecode = True  # never leave __pycache__ next to the references or the twin

DEFAULT_CAH = '/work/shared/peers/exp_engine/cah_versions'
DEFAULT_SEED = 20240611
DEFAULT_COUNT = 240
REPO_ROOT = Path(__file__).resolve().parents[2]
TWIN_PATH = REPO_ROOT / 'examples' / 'python' / 'runlake_grid_id.py'

REFERENCE_FILES = {'v1': 'v1_md5_8.py', 'v2': 'v2_sha256_8.py', 'v3': 'v3_sha256_12.py'}
# twin scheme -> (reference module, fixture field)
SCHEMES = {
    'exp_engine-md5-8': ('v1', 'md5_8'),
    'exp_engine-sha256-8': ('v2', 'sha256_8'),
    'exp_engine-sha256-12': ('v3', 'sha256_12'),
}


def import_path(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f'cannot import {path}')
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_references(cah_dir: str) -> Dict[str, ModuleType]:
    base = Path(cah_dir)
    return {tag: import_path(f'exp_engine_cah_{tag}', base / file) for tag, file in REFERENCE_FILES.items()}


def dumps_as_hashed(value: Any) -> str:
    """The text exp_engine hashed (the same json.dumps call in all three versions)."""
    return json.dumps(value, sort_keys=True, separators=(',', ':'), ensure_ascii=True)


# -- parameter sets --------------------------------------------------------------------------------

Case = Tuple[str, Any]

PATH_LIKE_KEYS = [
    # substring rule and word rule disagree on many of these
    'profile', 'coordinated', 'simplified', 'model', 'dirichlet_alpha', 'direction', 'pathology',
    'filenames', 'file-name', 'data path', 'dir.x', 'xfile', 'mypath', 'path_', '_path', '__dir__',
    'file_name', 'filename', 'FILE_NAME', 'FileName', 'data_dir', 'DIR', 'Dir', 'my_path_x',
    'config_file', 'log_folder', 'paths', 'directories', 'directory', 'folders', 'files', 'file',
    'path', 'folder', 'checkpoint_path', 'cache_dir_override', 'x_FOLDERS_y', 'sub_directory_name',
    # Python re IGNORECASE quirks (U+0130, U+0131 ~ 'i'; U+017F ~ 's') and str.lower()
    'd\u0130r', 'D\u0131R', 'path\u017f', 'x_fil\u0130', 'F\u0130LE', 'file\u017f', '\u0130',
    '\u212aey_dir',
    # '$' matches before a final newline only
    'data_path\n', 'path\n_x', 'dir\n\n', 'x\ndir', 'x_dir\n', '\npath',
]

VOLATILE_KEYS = [
    'seed', 'seeds', 'out_dir', 'base_out', 'output_dir', 'results_dir', 'timestamp', 'hostname',
    'host', 'user', 'commit_results', 'figs_dir', 'figs', 'log_dir', 'run_id',
]
NEAR_VOLATILE_KEYS = ['Seed', 'SEED', 'seed_offset', 'grid_id', 'run_name', 'users', 'hosts', 'time_stamp', 'run']

ASTRAL = '\U0001f600\U0001d11e\U00010348\U0002070e'
STRING_CHARS = (
    'abcxyz_ ' + '"\\/' + '\x00\x01\x08\x09\x0a\x0c\x0d\x1f\x7f\x80\x9f' + '\u00e9\u00df\u0130\u0131\u017f'
    '\u03bb\u2028\u2029\u20ac\ue000\ufeff\uff5a\uffff' + ASTRAL
)

SPECIAL_FLOATS = [
    0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.5, -2.5, 0.1, 0.2, 0.1 + 0.2, 1 / 3, 2 / 3, 1e-11, -1e-11, 4e-11,
    -4e-11, 5e-11, -5e-11, 6e-11, 1e-10, -1e-10, 1.5e-10, 2.5e-10, 1e-12, 1e-5, 1e-4, 1e-7, 1e15, 1e16,
    1e17, 1e21, 1e22, 1e100, 1e300, -1e300, 1.7976931348623157e308, 5e-324, 2.2250738585072014e-308,
    123456789.123456789, 1.0000000001, 1.00000000005, 1.0000000000001, 0.9999999999999, 2.00000000006,
    1.12345678901234567890, 0.9876543210987654321, 2.5555555555555555555, 9007199254740993.0,
    2.0**53, 2.0**60, 262144.00000000006, 524288.0000000001, 999999.99999999995, 1 / 2048, 3 / 2048,
    5 / 2048, 1 / 4096, 0.00048828125, 1.00048828125, 12.00000000005, 0.00000000015, 0.00000000025,
    0.00000000035, -0.00000000025, math.pi, math.e, float('nan'), float('inf'), float('-inf'),
]
SPECIAL_INTS = [
    0, 1, -1, 2, 7, 42, 2**31, 2**53, 2**53 + 1, -(2**53 + 1), 2**63, 2**64, 10**21, 10**30, -(10**30), 10**400,
]


def fixed_cases() -> List[Case]:
    nan, inf = float('nan'), float('inf')
    cases: List[Case] = [
        ('typical sweep config', {
            'algo': 'memorypair', 'accountant': 'zcdp', 'gamma_bar': 1.0, 'lr': 0.001, 'batch_size': 128,
            'epochs': 20, 'optimizer': 'adam', 'seed': 42, 'out_dir': '/scratch/run-42',
            'timestamp': '2024-06-11T10:00:00Z',
        }),
        ('test_cah volatile keys', {'algo': 'memorypair', 'gamma_bar': 1.0, 'base_out': '/tmp/results', 'seed': 42,
                                    'hostname': 'test-host', 'custom_path': '/some/path'}),
        ('test_cah float precision', {'gamma_bar': 1.12345678901234567890, 'epsilon': 0.9876543210987654321}),
        ('test_cah nested', {'nested': {'inner': 1.12345678901234567890, 'seed': 42, 'values': [1.5, 2.7, 3.9]},
                             'list_param': [{'val': 1.12345678901234567890}, {'val': 2.0}]}),
        ('test_cah profile', {'algo': 'memorypair', 'profile': 'large_model', 'config_file': '/path/to/config',
                              'gamma_bar': 1.0, 'model': 'transformer'}),
        ('test_cah float edge cases', {
            'near_integer': 1.0000000001, 'exact_integer': 1.0, 'very_near_integer': 1.0000000000001,
            'precise_float': 1.1234567890123456789,
            'nested': {'float_list': [1.0000000000001, 2.5555555555555555555], 'mixed': [1.0, 2.1234567890123456789, 3]},
        }),
        ('int one', {'a': 1}),
        ('float one', {'a': 1.0}),
        ('bool true', {'a': True}),
        ('int zero', {'a': 0}),
        ('float zero', {'a': 0.0}),
        ('negative zero', {'a': -0.0, 'b': [-0.0, 0.0, -0], 'c': {'d': -0.0}}),
        ('tiny negatives become 0.0', {'a': -1e-11, 'b': -4.9e-11, 'c': -5e-11, 'd': -1e-10, 'e': [-1e-300, -5e-324]}),
        ('none and bools', {'a': None, 'b': True, 'c': False, 'd': [None, True, False, 0, 1], 'e': {'f': None}}),
        ('empty', {}),
        ('everything dropped', {'seed': 1, 'data_dir': '/d', 'out_dir': 'o', 'user': 'u'}),
        ('empty containers', {'a': {}, 'b': [], 'c': [[], [{}]], 'd': ''}),
        ('grid_id is not volatile', {'algo': 'sgd', 'grid_id': 'abcd1234'}),
        ('nested volatile keys', {
            'opt': {'seed': 1, 'lr': 0.1, 'sched': {'timestamp': 't', 'warmup': 10, 'log_dir': 'x', 'user': 'me'}},
            'runs': [{'seed': 2, 'out_dir': 'x', 'k': 1}, [{'run_id': 'r', 'host': 'h', 'v': 2.0}]],
        }),
        ('near-volatile keys kept', {k: i for i, k in enumerate(NEAR_VOLATILE_KEYS)}),
        ('keys differing only by case', {'LR': 0.1, 'lr': 0.2, 'Lr': 0.3, 'Seed': 1, 'SEED': 2, 'seed': 3, 'Dir': 1, 'dIR': 2}),
        ('key order: code points, not UTF-16', {
            '\U0001f600': 1, '\uffff': 2, '\uff5a': 3, 'a': 4, 'Z': 5, '\u00e9': 6, '\ue000': 7, '10': 8, '9': 9, '': 10,
        }),
        ('unicode values', {'name': 'caf\u00e9 \u03bb \u20ac', 'emoji': '\U0001f600\U0001d11e', 'ls': '\u2028\u2029',
                            'del': '\x7f', 'ctl': '\x00\x01\x1f\b\f\n\r\t', 'q': '"\\/', 'bom': '\ufeff', 'nb': '\u00a0'}),
        ('unicode keys', {'\u00e9t\u00e9': 1.5, '\u03bb_reg': 0.01, '\U0001f600_x': [1, 2], '\u6a21\u578b': 'gpt'}),
        ('NaN and infinities', {'a': nan, 'b': inf, 'c': -inf, 'd': [nan, inf, -inf], 'e': {'f': nan}}),
        ('big ints', {'a': 2**53 + 1, 'b': 10**30, 'c': -(10**30), 'd': 2**64, 'e': [10**21, -(2**63)]}),
        ('a 401-digit int', {'n': 10**400, 'm': -(10**400) + 1}),
        ('big and small floats', {
            'max': 1.7976931348623157e308, 'big': 1e300, 'e16': 1e16, 'e15': 1e15, 'e21': 1e21, 'min': 5e-324,
            'norm': 2.2250738585072014e-308, 'small': 1e-5, 'e4': 1e-4, 'neg': -1e300, 'f53': 2.0**53,
        }),
        ('floats needing rounding', {
            'a': 0.1 + 0.2, 'b': 1e-11, 'c': 123456789.123456789, 'd': 1 / 3, 'e': math.pi, 'f': 2.00000000006,
            'g': 999999.99999999995, 'h': 262144.00000000006, 'i': 524288.0000000001,
        }),
        ('rounding ties at 10 places', {
            'a': 1 / 2048, 'b': 3 / 2048, 'c': 5 / 2048, 'd': 1 / 4096, 'e': 1.00048828125, 'f': 0.00000000025,
            'g': 0.00000000015, 'h': 0.00000000035, 'i': -0.00000000025, 'j': 12.00000000005, 'k': 2.5e-10,
        }),
        ('snap threshold', {'a': 1e-10, 'b': 1.0000000001, 'c': 1.00000000005, 'd': 0.9999999999999, 'e': 5e-11, 'f': 6e-11}),
        ('halves are not snapped', {'a': 0.5, 'b': 1.5, 'c': 2.5, 'd': -2.5, 'e': 1e16 + 2}),
        ('tuples', {'betas': (0.9, 0.999), 'shape': ((1, 2.0), ('a',), ()), 'mix': [(1, {'seed': 1, 'x': (2.5,)})]}),
        ('deep nesting', {'a': {'b': {'c': {'d': {'e': [[[{'f': 1.00000000001, 'seed': 3, 'g_dir': 1}]]]}}}}}),
        ('list of floats', {'lrs': [1e-3, 3e-4, 1e-4, 3.0000000000000004e-05], 'weights': [0.1, 0.2, 0.30000000000000004]}),
        ('path-like keys', {k: i for i, k in enumerate(PATH_LIKE_KEYS)}),
        ('path-like keys nested', {'cfg': {k: [k] for k in PATH_LIKE_KEYS[::3]}, 'ok': {'profile': {'data_dir': 'x', 'v': 1}}}),
        ('values under dropped keys are never looked at', {'data_dir': {'seed': nan, 'x': 10**400}, 'seed': [1e-11]}),
    ]
    for key in PATH_LIKE_KEYS:
        cases.append((f'path-like key {key!r}', {'algo': 'sgd', key: 'v', 'nested': {key: 1, 'k': 2}}))
    for key in VOLATILE_KEYS:
        cases.append((f'volatile key {key!r}', {'algo': 'sgd', key: 'v', 'nested': [{key: 1, 'k': 2}]}))
    for i, x in enumerate(SPECIAL_FLOATS):
        cases.append((f'float {x!r}', {'x': x, 'list': [x, -x], 'deep': {'y': x}, 'i': i}))
    for n in SPECIAL_INTS:
        cases.append((f'int {n.bit_length()} bits {"neg" if n < 0 else "pos"}', {'n': n, 'f': [n, -n]}))
    return cases


def random_float(rng: random.Random) -> float:
    kind = rng.randrange(9)
    if kind == 0:
        return rng.random()
    if kind == 1:
        return (rng.random() - 0.5) * 10.0 ** rng.randrange(-330, 308)
    if kind == 2:
        return rng.randrange(1, 99999) * 10.0 ** rng.randrange(-14, 9)
    if kind == 3:
        return rng.choice(SPECIAL_FLOATS)
    if kind == 4:  # an n / 2**k, exact binary fractions: rounding ties at 10 places
        return rng.randrange(-5000, 5000) / 2.0 ** rng.randrange(8, 40)
    if kind == 5:  # near an integer
        return rng.randrange(-1000, 1000) + rng.choice([1, -1]) * rng.random() * 10.0 ** rng.randrange(-16, -8)
    if kind == 6:  # any finite double from its bits
        while True:
            (x,) = struct.unpack('<d', rng.getrandbits(64).to_bytes(8, 'little'))
            if math.isfinite(x):
                return x
    if kind == 7:
        return round(rng.uniform(-100, 100), rng.randrange(0, 16))
    return rng.choice([float('nan'), float('inf'), float('-inf'), -0.0, 1e-11, -1e-11])


def random_int(rng: random.Random) -> int:
    kind = rng.randrange(4)
    if kind == 0:
        return rng.randrange(-10, 100)
    if kind == 1:
        return rng.randrange(-(2**63), 2**63)
    if kind == 2:
        return rng.choice(SPECIAL_INTS)
    return rng.choice([1, -1]) * rng.getrandbits(rng.randrange(54, 400))


def random_string(rng: random.Random, max_len: int = 8) -> str:
    return ''.join(rng.choice(STRING_CHARS) for _ in range(rng.randrange(0, max_len + 1)))


def random_key(rng: random.Random) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return rng.choice(PATH_LIKE_KEYS)
    if kind == 1:
        return rng.choice(VOLATILE_KEYS + NEAR_VOLATILE_KEYS)
    if kind == 2:
        return random_string(rng, 6)
    if kind == 3:  # a word of the path rules, in some case, with neighbours
        word = rng.choice(
            ['path', 'paths', 'dir', 'directory', 'directories', 'folder', 'folders', 'file', 'filename', 'files', 'filenames']
        )
        word = ''.join(c.upper() if rng.random() < 0.3 else c for c in word)
        return rng.choice(['', '_', 'x', 'x_', '__']) + word + rng.choice(['', '_', 's', '_x', '\n', '-', 'x'])
    return rng.choice(
        ['algo', 'lr', 'gamma_bar', 'accountant', 'eps', 'delta', 'k', 'n', 'beta', 'Beta', 'BETA', '\u03b2', 'x']
    )


def random_value(rng: random.Random, depth: int) -> Any:
    kind = rng.randrange(10 if depth < 3 else 7)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind in (2, 3):
        return random_float(rng)
    if kind == 4:
        return random_int(rng)
    if kind in (5, 6):
        return random_string(rng)
    if kind == 7:
        items = [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
        return tuple(items) if rng.random() < 0.3 else items
    return random_dict(rng, depth + 1)


def random_dict(rng: random.Random, depth: int) -> Dict[str, Any]:
    return {random_key(rng): random_value(rng, depth) for _ in range(rng.randrange(0, 6))}


def random_sweep(rng: random.Random) -> Dict[str, Any]:
    """Parameters shaped like a real sweep point, with volatile keys at various depths."""
    p: Dict[str, Any] = {
        'algo': rng.choice(['memorypair', 'sgd', 'noisy_sgd', 'adam_dp', 'memorypair-v2']),
        'accountant': rng.choice(['zcdp', 'rdp', 'eps_delta', 'relaxed', None]),
        'gamma_bar': rng.choice([0.5, 1.0, 2.0, 1, 2, round(rng.uniform(0.1, 5), rng.randrange(1, 17))]),
        'lr': rng.choice([1e-3, 3e-4, 1e-4, 10 ** rng.uniform(-6, -1)]),
        'batch_size': rng.choice([32, 64, 128, 256]),
        'epochs': rng.randrange(1, 100),
    }
    if rng.random() < 0.7:
        p['optimizer'] = {
            'name': rng.choice(['adam', 'sgd', 'adamw']),
            'betas': rng.choice([[0.9, 0.999], (0.9, 0.999), [0.95, 0.9999999999]]),
            'eps': rng.choice([1e-8, 1e-11, 1e-12, 1e-6]),
            'weight_decay': rng.choice([0, 0.0, 0.01, 1e-4, 5e-11]),
        }
        if rng.random() < 0.4:
            p['optimizer']['seed'] = rng.randrange(1000)
        if rng.random() < 0.4:
            p['optimizer']['schedule'] = {'warmup': rng.randrange(100), 'decay': rng.random(), 'log_dir': '/logs'}
    if rng.random() < 0.5:
        p['eps_list'] = [random_float(rng) for _ in range(rng.randrange(1, 6))]
    for key in ('seed', 'out_dir', 'timestamp', 'run_id', 'base_out', 'hostname'):
        if rng.random() < 0.4:
            p[key] = rng.choice([rng.randrange(10**6), f'/scratch/{rng.randrange(1000)}', '2024-06-11T10:00:00'])
    if rng.random() < 0.3:
        p['runs'] = [{'seed': s, 'k': rng.randrange(5), 'out_dir': f'/r/{s}'} for s in range(rng.randrange(1, 4))]
    for _ in range(rng.randrange(0, 4)):
        p[random_key(rng)] = random_value(rng, 1)
    items = list(p.items())
    rng.shuffle(items)  # insertion order must not matter
    return dict(items)


def generate_cases(seed: int, count: int) -> List[Case]:
    rng = random.Random(seed)
    cases = fixed_cases()
    for i in range(count):
        if i % 2 == 0:
            cases.append((f'random sweep {seed}/{i}', random_sweep(rng)))
        else:
            cases.append((f'random mix {seed}/{i}', random_dict(rng, 0) or {'empty': i}))
    return cases


# -- the fixture -----------------------------------------------------------------------------------


def reference_entry(refs: Dict[str, ModuleType], params: Any) -> Optional[Dict[str, str]]:
    """The three ids and canonical texts, or None when a reference refuses ``params``."""
    try:
        ids = {field: refs[tag].grid_hash(params) for tag, field in SCHEMES.values()}
        canonical = {tag: dumps_as_hashed(refs[tag].canonicalize_params(params)) for tag in REFERENCE_FILES}
    except Exception:  # the references raise whatever Python raises for what they cannot hash
        return None
    # The fields are what the references say; these relations hold for every version we have.
    assert canonical['v1'] == canonical['v2']
    assert hashlib.md5(canonical['v1'].encode()).hexdigest()[:8] == ids['md5_8']
    assert hashlib.sha256(canonical['v1'].encode()).hexdigest()[:8] == ids['sha256_8']
    assert hashlib.sha256(canonical['v3'].encode()).hexdigest()[:12] == ids['sha256_12']
    return {**ids, 'canonical_v1': canonical['v1'], 'canonical_v3': canonical['v3']}


def has_lone_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def build_fixture(refs: Dict[str, ModuleType], seed: int, count: int) -> Tuple[List[Dict[str, str]], Dict[str, int]]:
    entries: List[Dict[str, str]] = []
    stats = {'generated': 0, 'refused': 0, 'not_round_tripping': 0}
    for name, params in generate_cases(seed, count):
        stats['generated'] += 1
        entry = reference_entry(refs, params)
        if entry is None:
            stats['refused'] += 1
            continue
        text = json.dumps(params, ensure_ascii=False)
        back = reference_entry(refs, json.loads(text)) if not has_lone_surrogate(text) else None
        if back is None or any(back[f] != entry[f] for _, f in SCHEMES.values()):
            stats['not_round_tripping'] += 1
            continue
        entries.append({'case': name, 'params_json': text, **entry})
    return entries, stats


def fixture_text(entries: List[Dict[str, str]]) -> str:
    return json.dumps(entries, ensure_ascii=False, indent=1) + '\n'


# -- checking the twin in-process ------------------------------------------------------------------


class F(float):
    """A float subclass (numpy.float64 is one): exp_engine converts it with float()."""


class S(str):
    """A str subclass as a value and as a key."""


def python_only_cases(rng: random.Random) -> List[Case]:
    """Inputs JSON text cannot carry; the references accept some and refuse others."""
    nan = float('nan')
    cases: List[Case] = [
        ('lone surrogates', {'\ud800': '\udfff', 'k': ['\ud83d', '\ude00x'], 'pair': '\ud83d\ude00'}),
        ('tuples of tuples', {'a': ((1, (2.5, (None,))),), 'b': ()}),
        ('float subclass', {'a': F(0.1 + 0.2), 'b': [F(-0.0)], 'c': F(nan)}),
        ('str subclass key and value', {S('k'): S('v'), S('seed'): 1}),
        ('non-JSON values under dropped keys', {'data_dir': Path('/x'), 'seed': object(), 'cfg': {'out_dir': {1, 2}}, 'a': 1}),
        ('int key', {1: 'a'}),
        ('int key under profile', {'profile': {1: 2}, 'a': 1}),
        ('int key under a dropped key', {'data_dir': {1: 2}, 'a': 1}),
        ('mixed keys', {'a': 1, 2: 'b'}),
        ('a set value', {'a': {1, 2}}),
        ('a bytes value', {'a': [b'x']}),
        ('an object under profile', {'profile': object()}),
        ('an int too long to print on 3.11+', {'n': 10**5000}),
        ('an int too long under a path key', {'n_file': 10**5000, 'a': 1}),
        ('top-level list', [{'seed': 1, 'a': 1.00000000001}, 2.5]),
        ('top-level float', 0.30000000000000004),
        ('top-level NaN', nan),
        ('bool subclass-free ints', {'a': True, 'b': 1, 'c': 1.0}),
    ]
    for i in range(40):
        params = random_dict(rng, 0)
        params[random_key(rng) + '\ud800'] = '\udc00' + random_string(rng)
        cases.append((f'random with surrogates {i}', params))
    return cases


def check_twin(refs: Dict[str, ModuleType], seed: int, count: int, exhaustive: bool = False) -> Dict[str, Any]:
    twin = import_path('runlake_grid_id', TWIN_PATH)
    failures: List[str] = []
    stats = {'compared': 0, 'refused_by_both': 0, 'accepted': 0}
    rng = random.Random(seed ^ 0x5A5A)

    def fail(message: str) -> None:
        if len(failures) < 50:
            failures.append(message)

    for name, params in generate_cases(seed, count) + python_only_cases(rng):
        for scheme, (tag, _field) in SCHEMES.items():
            ref = refs[tag]
            stats['compared'] += 1
            try:
                expected: Optional[Tuple[str, str, Any]] = (
                    ref.grid_hash(params),
                    dumps_as_hashed(ref.canonicalize_params(params)),
                    ref.attach_grid_id(params) if isinstance(params, dict) else None,
                )
            except Exception:
                expected = None
            try:
                got: Optional[Tuple[str, str, Any]] = (
                    twin.grid_hash(params, scheme=scheme),
                    twin.canonical_json(twin.canonicalize_params(params, scheme=scheme), scheme=scheme),
                    twin.attach_grid_id(params, scheme=scheme) if isinstance(params, dict) else None,
                )
            except twin.ParamsError:
                got = None
            except Exception as e:  # the twin must refuse with ParamsError only
                fail(f'{name} [{scheme}]: twin raised {type(e).__name__}: {e}')
                continue
            if expected is None and got is None:
                stats['refused_by_both'] += 1
                continue
            if expected is None or got is None:
                said = ('refused' if expected is None else 'accepted', 'refused' if got is None else 'accepted')
                fail(f'{name} [{scheme}]: reference {said[0]}, twin {said[1]}')
                continue
            stats['accepted'] += 1
            if expected[:2] != got[:2]:
                fail(f'{name} [{scheme}]: reference {expected[:2]!r}, twin {got[:2]!r}')
            if expected[2] is not None and expected[2]['grid_id'] != got[2]['grid_id']:
                fail(f'{name} [{scheme}]: attach_grid_id differs')
        if isinstance(params, dict):
            try:
                text = json.dumps(params, ensure_ascii=False)
            except (TypeError, ValueError):
                continue
            for scheme in SCHEMES:
                if repr(twin.loads(text, scheme=scheme)) != repr(json.loads(text)):
                    fail(f'{name} [{scheme}]: loads differs from json.loads')

    checks = run_ported_checks(refs, twin, fail)
    path_rules = compare_path_rules(refs, twin, fail, exhaustive)
    return {'ok': not failures, 'stats': stats, 'checks': checks, 'path_rule_keys': path_rules, 'failures': failures}


# exp_engine's tests/test_cah.py (the 12-character version) and cah_versions/tests/test_cah_8char.py,
# ported: each check runs against the twin (per scheme) and against the matching reference, so a
# check that passed in exp_engine and fails here points at the twin, not at the port.


class Impl:
    def __init__(self, label: str, scheme: str, length: int, word_rule: bool,
                 canonicalize: Callable[[Any], Any], grid_hash: Callable[[Any], str],
                 attach: Callable[[Any], Any], path_like: Callable[[str], bool]) -> None:
        self.label, self.scheme, self.length, self.word_rule = label, scheme, length, word_rule
        self.canonicalize, self.grid_hash, self.attach, self.path_like = canonicalize, grid_hash, attach, path_like


def implementations(refs: Dict[str, ModuleType], twin: ModuleType) -> List[Impl]:
    out: List[Impl] = []
    for scheme, (tag, _field) in SCHEMES.items():
        ref = refs[tag]
        length, word_rule = (12, True) if tag == 'v3' else (8, False)

        def bind(s: str) -> Dict[str, Callable[..., Any]]:
            return {
                'canonicalize': lambda p: twin.canonicalize_params(p, scheme=s),
                'grid_hash': lambda p: twin.grid_hash(p, scheme=s),
                'attach': lambda p: twin.attach_grid_id(p, scheme=s),
                'path_like': lambda k: twin.is_path_like_key(k, s),
            }

        out.append(Impl(f'twin {scheme}', scheme, length, word_rule, **bind(scheme)))
        out.append(Impl(f'reference {tag}', scheme, length, word_rule, ref.canonicalize_params, ref.grid_hash,
                        ref.attach_grid_id, ref._is_path_like_key))
    return out


def ported_checks(impl: Impl) -> List[Tuple[str, Callable[[], None]]]:
    def removes_volatile_keys() -> None:
        c = impl.canonicalize({'algo': 'memorypair', 'gamma_bar': 1.0, 'base_out': '/tmp/results', 'seed': 42,
                               'hostname': 'test-host', 'custom_path': '/some/path'})
        assert c['algo'] == 'memorypair' and c['gamma_bar'] == 1.0
        for key in ('base_out', 'seed', 'hostname', 'custom_path'):
            assert key not in c, key

    def normalizes_floats() -> None:
        c = impl.canonicalize({'gamma_bar': 1.12345678901234567890, 'epsilon': 0.9876543210987654321})
        assert c['gamma_bar'] == 1.1234567890 and c['epsilon'] == 0.9876543211

    def deterministic_with_length() -> None:
        params = {'algo': 'memorypair', 'gamma_bar': 1.0, 'accountant': 'zcdp'}
        h = impl.grid_hash(params)
        assert h == impl.grid_hash(dict(reversed(list(params.items()))))
        assert len(h) == impl.length and all(ch in '0123456789abcdef' for ch in h)

    def different_params_differ() -> None:
        a, b = {'algo': 'memorypair', 'gamma_bar': 1.0}, {'algo': 'memorypair', 'gamma_bar': 0.5}
        assert impl.grid_hash(a) != impl.grid_hash(b)

    def ignores_volatile_keys() -> None:
        base = {'algo': 'memorypair', 'gamma_bar': 1.0}
        a, b = {**base, 'seed': 42, 'base_out': '/tmp/a'}, {**base, 'seed': 99, 'base_out': '/tmp/b'}
        assert impl.grid_hash(a) == impl.grid_hash(b)
        assert impl.grid_hash({**base, 'opt': {'seed': 1}}) == impl.grid_hash({**base, 'opt': {'seed': 2}})

    def attach_grid_id() -> None:
        params = {'algo': 'memorypair', 'gamma_bar': 1.0}
        result = impl.attach(params)
        assert result['grid_id'] == impl.grid_hash(params) and len(result['grid_id']) == impl.length
        assert result['algo'] == 'memorypair' and result['gamma_bar'] == 1.0 and 'grid_id' not in params
        # grid_id is not volatile in exp_engine: attaching again changes the id
        assert impl.attach(result)['grid_id'] != result['grid_id']

    def nested_structures() -> None:
        c = impl.canonicalize({'nested': {'inner': 1.12345678901234567890, 'seed': 42, 'values': [1.5, 2.7, 3.9]},
                               'list_param': [{'val': 1.12345678901234567890}, {'val': 2.0}]})
        assert 'seed' not in c['nested'] and c['nested']['inner'] == 1.1234567890
        assert c['nested']['values'] == [1.5, 2.7, 3.9] and c['list_param'][0]['val'] == 1.1234567890

    def path_like_keys() -> None:
        for key in ('config_file', 'data_path', 'output_dir', 'log_folder', 'file_name', 'paths', 'directories'):
            assert impl.path_like(key), key
        assert not impl.path_like('model')
        # exp_engine's false-positive list: only 'profile' contains one of the substrings
        assert not impl.path_like('coordinated') and not impl.path_like('simplified')
        assert impl.path_like('profile') is not impl.word_rule

    def profile_regression() -> None:
        c = impl.canonicalize({'algo': 'memorypair', 'profile': 'large_model', 'config_file': '/path/to/config',
                               'gamma_bar': 1.0, 'model': 'transformer'})
        assert c['model'] == 'transformer' and c['algo'] == 'memorypair' and c['gamma_bar'] == 1.0
        assert 'config_file' not in c
        assert ('profile' in c) is impl.word_rule

    def float_precision_edge_cases() -> None:
        c = impl.canonicalize({
            'near_integer': 1.0000000001, 'exact_integer': 1.0, 'very_near_integer': 1.0000000000001,
            'precise_float': 1.1234567890123456789,
            'nested': {'float_list': [1.0000000000001, 2.5555555555555555555], 'mixed': [1.0, 2.1234567890123456789, 3]},
        })
        assert c['near_integer'] == 1.0000000001 and c['exact_integer'] == 1.0 and c['very_near_integer'] == 1.0
        assert c['precise_float'] == 1.123456789
        assert c['nested']['float_list'] == [1.0, 2.5555555556]
        mixed = c['nested']['mixed']
        assert mixed == [1.0, 2.123456789, 3] and type(mixed[2]) is int and type(mixed[0]) is float

    def ints_and_floats_differ() -> None:
        assert impl.grid_hash({'a': 1}) != impl.grid_hash({'a': 1.0})
        assert impl.grid_hash({'a': True}) != impl.grid_hash({'a': 1})

    def zero_signs_and_ties() -> None:
        c = impl.canonicalize({'a': -0.0, 'b': -1e-11, 'c': 1 / 2048, 'd': 2.5e-10, 'e': 1e-10})
        assert math.copysign(1.0, c['a']) == 1.0 and math.copysign(1.0, c['b']) == 1.0
        assert c['c'] == 0.0004882812 and c['d'] == 3e-10 and c['e'] == 1e-10

    return [
        ('removes volatile keys', removes_volatile_keys),
        ('normalizes floats', normalizes_floats),
        ('deterministic, with the scheme length', deterministic_with_length),
        ('different params differ', different_params_differ),
        ('ignores volatile keys', ignores_volatile_keys),
        ('attach_grid_id', attach_grid_id),
        ('nested structures', nested_structures),
        ('path-like keys', path_like_keys),
        ('profile regression', profile_regression),
        ('float precision edge cases', float_precision_edge_cases),
        ('ints and floats differ', ints_and_floats_differ),
        ('zero signs and rounding ties', zero_signs_and_ties),
    ]


def run_ported_checks(refs: Dict[str, ModuleType], twin: ModuleType, fail: Callable[[str], None]) -> List[str]:
    passed: List[str] = []
    for impl in implementations(refs, twin):
        for name, check in ported_checks(impl):
            try:
                check()
            except Exception as e:
                fail(f'ported check {name!r} failed for {impl.label}: {type(e).__name__}: {e}')
            else:
                passed.append(f'{impl.label}: {name}')
    return passed


def compare_path_rules(
    refs: Dict[str, ModuleType], twin: ModuleType, fail: Callable[[str], None], exhaustive: bool
) -> int:
    """Keys built around code points (all below U+3000 and a sample above, or every one with
    ``exhaustive``): the twin's path rules agree with the references'."""
    templates = ['d{}r', 'fi{}e', 'path{}', 'x_file{}', '{}dir', 'folder{}s']
    rules = [('exp_engine-md5-8', refs['v1']._is_path_like_key), ('exp_engine-sha256-12', refs['v3']._is_path_like_key)]
    keys = 0
    codes: Any = range(sys.maxunicode + 1)
    if not exhaustive:
        codes = [*range(0x3000), *random.Random(7).sample(range(0x3000, sys.maxunicode + 1), 3000)]
    for code in codes:
        if 0xD800 <= code <= 0xDFFF:
            continue
        ch = chr(code)
        for template in templates:
            key = template.format(ch)
            keys += 1
            for scheme, reference in rules:
                if twin.is_path_like_key(key, scheme) != reference(key):
                    fail(f'path rule of {scheme} differs on {key!r}')
    return keys


# -- command line ----------------------------------------------------------------------------------


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--cah', default=os.environ.get('RUNLAKE_EXP_ENGINE_CAH') or DEFAULT_CAH,
                        help='directory of v1_md5_8.py, v2_sha256_8.py, v3_sha256_12.py')
    parser.add_argument('--seed', type=int, default=DEFAULT_SEED)
    parser.add_argument('--count', type=int, default=DEFAULT_COUNT, help='random parameter sets besides the fixed ones')
    parser.add_argument('--out', help='write the fixture here (default: stdout)')
    parser.add_argument('--check-twin', action='store_true', help='compare the twin with the references')
    parser.add_argument('--exhaustive', action='store_true', help='--check-twin: path rules on every code point')
    args = parser.parse_args(argv)
    refs = load_references(args.cah)

    if args.check_twin:
        report = check_twin(refs, args.seed, args.count, args.exhaustive)
        sys.stdout.write(json.dumps(report, indent=1) + '\n')
        return 0 if report['ok'] else 1

    entries, stats = build_fixture(refs, args.seed, args.count)
    text = fixture_text(entries)
    if args.out:
        with open(args.out, 'w', encoding='utf-8', newline='\n') as f:
            f.write(text)
        sys.stderr.write(f'{len(entries)} vectors written to {args.out} ({json.dumps(stats)})\n')
    else:
        sys.stdout.buffer.write(text.encode('utf-8'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
