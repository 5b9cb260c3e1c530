"""Reading what scansnap writes, in Python alone (csv, json, numpy): no library needed.

- load_safetensors(path): a strict safetensors reader written from the published format (Debian
  packages no python3-safetensors); the tests use it as the independent check of the writer:
    - 8 bytes: N, unsigned little-endian 64-bit, the header size; then N bytes of UTF-8 JSON
      starting with '{' (trailing spaces allowed); then the byte buffer;
    - header: {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}
      with offsets relative to the start of the byte buffer;
    - the tensors, sorted by offset, tile the byte buffer exactly: no gaps, no overlap, the last
      one ends at the end of the file; end - begin = prod(shape) * dtype size.
  Returns (dict name -> numpy array, metadata dict); raises ValueError on any violation.
- read_metrics(path): metrics.csv as (column names, dict name -> float64 array).
- read_config(path): config.yaml (the resolved configuration a run writes) as a flat dict.
- read_claims(path): claims.json as a list of dicts.
- read_table(path): a CSV table (sweep.csv) as (column names, list of row dicts of text).
"""
import csv
import json
import re
import struct

try:
    import numpy as np
except ImportError:  # the library's results still work (scansnap.arrays); these readers need numpy
    np = None

DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
          "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}


def _need_numpy(what):
    if np is None:
        raise ImportError("scansnap: reading %s needs numpy (Debian: apt-get install python3-numpy)" % what)


def load_safetensors(path):
    _need_numpy(path)
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
        if info["dtype"] not in DTYPES:
            raise ValueError("%s: tensor %s has the unknown dtype %r" % (path, name, info["dtype"]))
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


def read_table(path):
    """A CSV file with a header: (names, rows as dicts of text)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError("%s: empty (expected a CSV header)" % path)
    names, out = rows[0], []
    for i, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(names):
            raise ValueError("%s line %d: %d fields, the header has %d" % (path, i, len(row), len(names)))
        out.append(dict(zip(names, row)))
    return names, out


def number(text):
    """A CSV cell as a float (NaN for an empty cell); ValueError if it is not a number."""
    return float(text) if text != "" else float("nan")


def read_metrics(path):
    _need_numpy(path)
    names, rows = read_table(path)
    if not names or names[0] != "step":
        raise ValueError("%s does not start with a 'step' column" % path)
    return names, {n: np.array([number(r[n]) for r in rows], dtype=np.float64) for n in names}


_ESCAPE = re.compile(r'\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)')


def _yaml_string(s):
    """The double-quoted YAML scalars config.yaml holds (escapes \\" \\\\ \\xNN \\uNNNN \\UNNNNNNNN)."""
    def sub(m):
        e = m.group(1)
        if e[0] in "xuU" and len(e) > 1:
            return chr(int(e[1:], 16))
        return {"n": "\n", "t": "\t", "0": "\0"}.get(e, e)
    return _ESCAPE.sub(sub, s)


def scalar(text):
    """An unquoted value as bool, int, float, or the text itself (a choice such as 'sgd')."""
    if text in ("true", "false"):
        return text == "true"
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def read_config(path):
    """config.yaml as {dotted key: value}: top-level keys, then sections of '  key: value'."""
    out, section = {}, ""
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            indented = line.startswith("  ")
            key, sep, value = line.strip().partition(":")
            if not sep:
                raise ValueError("%s: cannot read the line %r" % (path, line))
            value = value.strip()
            if not indented and value == "":
                section = key + "."
                continue
            name = (section if indented else "") + key
            if value.startswith('"') and value.endswith('"') and len(value) >= 2:
                out[name] = _yaml_string(value[1:-1])
            else:
                out[name] = scalar(value)
    return out


def read_claims(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or not isinstance(doc.get("claims"), list):
        raise ValueError("%s: no list 'claims'" % path)
    return doc["claims"]
