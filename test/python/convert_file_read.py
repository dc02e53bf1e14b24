"""Reads a Parquet file written by `runlake convert-file` with pyarrow and prints, as JSON, its
schema, every value (floats as Python floats, i.e. float32 widened exactly), and each column's
encodings across row groups, for test/convert-file.test.ts.

Usage: convert_file_read.py <file.parquet>
"""

import json
import sys

import pyarrow.parquet as pq


def main() -> None:
    path = sys.argv[1]
    table = pq.read_table(path)
    metadata = pq.ParquetFile(path).metadata
    encodings: dict[str, list[str]] = {}
    compression: dict[str, list[str]] = {}
    for group in range(metadata.num_row_groups):
        for index in range(metadata.num_columns):
            column = metadata.row_group(group).column(index)
            encodings.setdefault(column.path_in_schema, []).extend(column.encodings)
            compression.setdefault(column.path_in_schema, []).append(column.compression)
    print(
        json.dumps(
            {
                "schema": {field.name: str(field.type) for field in table.schema},
                "rows": table.to_pylist(),
                "encodings": {k: sorted(set(v)) for k, v in encodings.items()},
                "compression": {k: sorted(set(v)) for k, v in compression.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
