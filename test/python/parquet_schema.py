"""Prints the Parquet-level schema of one file as JSON: for each leaf column its path, physical
type, logical type, converted type and compression codec, plus the writer (created_by)."""

import json
import os
import sys

import pyarrow.parquet as pq


def main():
    parquet = pq.ParquetFile(sys.argv[1])
    schema = parquet.schema
    row_group = parquet.metadata.row_group(0)
    columns = []
    for i in range(len(schema)):
        column = schema.column(i)
        columns.append(
            {
                "path": column.path,
                "physical": column.physical_type,
                "logical": str(column.logical_type),
                "converted": column.converted_type,
                "compression": row_group.column(i).compression,
            }
        )
    json.dump({"created_by": parquet.metadata.created_by, "columns": columns}, sys.stdout)


if __name__ == "__main__":
    main()
    # pyarrow's thread pools can abort the interpreter during teardown after all work is done
    # ("terminate called without an active exception", apache/arrow#34314): leave without it.
    sys.stdout.flush()
    os._exit(0)
