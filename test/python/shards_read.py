"""List every shard of a runlake array-shard dataset with Python's tarfile and load every member
with numpy.load. Prints JSON: {"<field>/<shard file>": [{name, offset, offset_data, size, descr,
shape, fortran, data_b64}]} where data_b64 is the array's bytes, little-endian, in its stored order.

usage: shards_read.py <root>
"""

import base64
import io
import json
import os
import sys
import tarfile

import numpy as np


def main(root: str) -> None:
    out = {}
    for entry in sorted(os.listdir(root)):
        if not entry.endswith("_shards"):
            continue
        field = entry[: -len("_shards")]
        for name in sorted(os.listdir(os.path.join(root, entry))):
            if not name.endswith(".tar"):
                continue
            members = []
            with tarfile.open(os.path.join(root, entry, name), "r") as tar:
                for member in tar.getmembers():
                    data = tar.extractfile(member).read()
                    array = np.load(io.BytesIO(data), allow_pickle=False)
                    fortran = bool(array.flags.f_contiguous and not array.flags.c_contiguous and array.ndim > 1)
                    little = array.astype(array.dtype.newbyteorder("<"))
                    members.append(
                        {
                            "name": member.name,
                            "offset": member.offset,
                            "offset_data": member.offset_data,
                            "size": member.size,
                            "descr": array.dtype.str,
                            "shape": list(array.shape),
                            "fortran": fortran,
                            "data_b64": base64.b64encode(little.tobytes(order="F" if fortran else "C")).decode(),
                        }
                    )
            out[f"{field}/{name}"] = members
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
