#!/usr/bin/env python3
"""runlake's grid ids from Python: this script runs the `runlake` package's implementation
(python/src/runlake/_grid_id.py, standard library only) from a checkout of this repository.

Installed code imports the package instead (`pip install ./python`):

    >>> from runlake.exp_engine import attach_grid_id, grid_hash  # doctest: +SKIP

From the command line, as before:

    python3 examples/python/runlake_grid_id.py params.json        # prints the grid id
    python3 examples/python/runlake_grid_id.py --json params.json # prints the canonical JSON
    python3 examples/python/runlake_grid_id.py --scheme exp_engine-sha256-12 params.json

The algorithm is in docs/grid-id.md.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python", "src"))

from runlake._grid_id import *  # noqa: E402,F403  (the module's __all__)
from runlake._grid_id import __all__, main  # noqa: E402,F401

if __name__ == "__main__":
    sys.exit(main())
