"""Checks a file written by the C++ WriteSafetensors with Python safetensors.

Usage: check_cc_fixture.py DIR   (DIR holds write_cc_fixture's output)

The reference library must load it (its Rust reader validates the header,
offsets and coverage strictly), with the manifest's names, dtypes and shapes,
values equal bit for bit to the float32 sidecar, and the metadata; and the
reference writer, given the loaded tensors, must produce the same header JSON,
the same header length (padding) and the same data bytes.
"""

import json
import os
import struct
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save

DTYPES = {"Float": torch.float32, "BFloat16": torch.bfloat16, "Half": torch.float16}


def split(blob):
    (n,) = struct.unpack("<Q", blob[:8])
    return n, json.loads(blob[8:8 + n]), blob[8 + n:]


def main():
    directory = sys.argv[1]
    path = os.path.join(directory, "cc.safetensors")
    manifest = json.load(open(os.path.join(directory, "cc_expected.json")))
    expected = np.fromfile(os.path.join(directory, "cc_expected.bin"), dtype="<f4")

    tensors = load_file(path)
    assert sorted(tensors) == sorted(e["name"] for e in manifest), sorted(tensors)
    offset = 0
    for entry in manifest:
        t = tensors[entry["name"]]
        assert t.dtype == DTYPES[entry["dtype"]], (entry, t.dtype)
        assert list(t.shape) == entry["shape"], (entry, t.shape)
        want = expected[offset:offset + t.numel()]
        offset += t.numel()
        got = t.to(torch.float32).numpy().reshape(-1)
        assert got.tobytes() == want.tobytes(), (entry["name"], got, want)
    assert offset == expected.size, (offset, expected.size)

    with safe_open(path, framework="pt") as f:
        metadata = f.metadata()
    assert metadata == {"format": "pt", "written_by": "ccs write_cc_fixture"}, metadata

    ours = open(path, "rb").read()
    theirs = save(tensors, metadata=metadata)
    n_ours, header_ours, data_ours = split(ours)
    n_theirs, header_theirs, data_theirs = split(theirs)
    assert header_ours == header_theirs, (header_ours, header_theirs)
    assert n_ours == n_theirs and n_ours % 8 == 0, (n_ours, n_theirs)
    assert data_ours == data_theirs
    print("OK: %d tensors, %d bytes, header %d bytes" % (len(tensors), len(ours), n_ours))


if __name__ == "__main__":
    main()
