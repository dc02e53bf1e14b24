"""Writes a lake with a chosen generation of exp_engine's own writer.

    exp_engine_generations.py <lake> <peers> <generation> < spec.json

<peers> is the exp_engine sources directory (with A/, B/, cah_versions/, io_versions/; see its
PROVENANCE.md). <generation> picks the writer and its grid-id code, assembled as a package in a
temporary directory (the files are run as they are, never copied into runlake):

    A-md5-8       A's io.py (seeds by grid_id, events by grid_id/seed) with cah v1 (md5[:8])
    A-sha256-8    the same with cah v2 (sha256[:8])
    A-sha256-12   lineage A as it is (cah v3, sha256[:12])
    B             lineage B: event-only io.py (params.json holds the grid_id too), cah v3
    ten-md5-8     the oldest io.py (algo/accountant/…/grid_id/seed partitions) with cah v1

spec.json: a list of {"kind": "events"|"seeds", "rows": [...], "params": {...}|null}. Prints a JSON
object mapping each call's index to the grid id exp_engine's own attach_grid_id gives its params.
"""

import json
import shutil
import sys
import tempfile
from pathlib import Path

GENERATIONS = {
    'A-md5-8': ('A/exp_engine/engine/io.py', 'cah_versions/v1_md5_8.py'),
    'A-sha256-8': ('A/exp_engine/engine/io.py', 'cah_versions/v2_sha256_8.py'),
    'A-sha256-12': ('A/exp_engine/engine/io.py', 'cah_versions/v3_sha256_12.py'),
    'B': ('B/exp_engine/engine/io.py', 'cah_versions/v3_sha256_12.py'),
    'ten-md5-8': ('io_versions/io_5d2cb793_ten_partition_cols.py', 'cah_versions/v1_md5_8.py'),
}


def main() -> None:
    lake, peers, generation = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    io_file, cah_file = GENERATIONS[generation]
    package = Path(tempfile.mkdtemp()) / 'gen_engine'
    package.mkdir()
    (package / '__init__.py').write_text('')
    shutil.copyfile(peers / io_file, package / 'io.py')
    shutil.copyfile(peers / cah_file, package / 'cah.py')
    sys.path.insert(0, str(package.parent))
    from gen_engine import cah, io  # noqa: E402  (assembled above)

    ids = {}
    for index, call in enumerate(json.load(sys.stdin)):
        params = call.get('params')
        write = io.write_event_rows if call['kind'] == 'events' else io.write_seed_rows
        write(call['rows'], lake, params)
        if params:
            ids[str(index)] = cah.grid_hash(params)
    shutil.rmtree(package.parent)
    print(json.dumps(ids))


if __name__ == '__main__':
    main()
