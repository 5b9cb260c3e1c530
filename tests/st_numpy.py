"""A strict safetensors reader written from the published format, with numpy only.

Debian has no python3-safetensors package, so this follows the format as the reference
implementation validates it (huggingface/safetensors, "format" in its README):
  - 8 bytes: N, unsigned little-endian 64-bit, the header size; then N bytes of UTF-8 JSON
    starting with '{' (trailing spaces allowed); then the byte buffer;
  - header: {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}
    with offsets relative to the start of the byte buffer;
  - the tensors, sorted by offset, tile the byte buffer exactly: no gaps, no overlap, the
    last one ends at the end of the file; end - begin = prod(shape) * dtype size.
load(path) -> (dict name -> numpy array, metadata dict); raises ValueError on any violation.
"""
import json
import struct

import numpy as np

DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
          "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}


def load(path):
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError("%s: shorter than 8 bytes" % path)
    (n,) = struct.unpack("<Q", buf[:8])
    if n > 100_000_000 or 8 + n > len(buf):
        raise ValueError("%s: header size %d does not fit the file" % (path, n))
    text = buf[8:8 + n].decode("utf-8")
    if not text.startswith("{"):
        raise ValueError("%s: header does not start with '{'" % path)
    header = json.loads(text)
    meta = header.pop("__metadata__", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise ValueError("%s: __metadata__ must map strings to strings" % path)
    data = buf[8 + n:]
    tensors = {}
    pos = 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        begin, end = info["data_offsets"]
        dt = np.dtype(DTYPES[info["dtype"]])
        shape = tuple(info["shape"])
        if begin != pos:
            raise ValueError("%s: tensor %s starts at %d, expected %d (gap or overlap)" % (path, name, begin, pos))
        if end - begin != int(np.prod(shape, dtype=np.int64)) * dt.itemsize:
            raise ValueError("%s: tensor %s has %d bytes for shape %s" % (path, name, end - begin, shape))
        tensors[name] = np.frombuffer(data, dtype=dt, count=int(np.prod(shape, dtype=np.int64)),
                                      offset=begin).reshape(shape)
        pos = end
    if pos != len(data):
        raise ValueError("%s: tensors cover %d of %d data bytes" % (path, pos, len(data)))
    return tensors, meta
