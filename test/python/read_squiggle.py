"""Reads one Hive-partitioned runlake dataset with pyarrow and prints its Arrow schema and rows as
JSON, for test/squiggle-schema.test.ts.

    read_squiggle.py LAKE/geometry_state

Partition keys are read as strings; floats are printed in shortest round-trip form (a float32
value as the double it widens to), timestamps as ISO strings.
"""

import json
import os
import sys

import pyarrow.dataset as ds


def main():
    dataset = ds.dataset(sys.argv[1], format="parquet", partitioning="hive")
    table = dataset.to_table()
    schema = {field.name: str(field.type) for field in table.schema}
    rows = table.to_pylist()
    json.dump({"schema": schema, "rows": rows}, sys.stdout, default=str)


if __name__ == "__main__":
    main()
    # pyarrow's thread pools can abort the interpreter during teardown after all work is done
    # ("terminate called without an active exception", apache/arrow#34314): leave without it.
    sys.stdout.flush()
    os._exit(0)
