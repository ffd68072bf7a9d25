"""Reads a safetensors file into a dict of torch tensors: with the safetensors package where it is
installed (the GPU machine's image), else with the few lines the format needs (Debian has no
package for it): an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
shape and byte range, then the bytes."""
import json, struct

import torch

DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
          "BOOL": torch.bool}


def load_file(path):
    try:
        from safetensors.torch import load_file as load
        return load(path)
    except ImportError:
        pass
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = bytearray(data[8 + n:])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        t = torch.frombuffer(body, dtype=dtype, count=(end - begin) // torch.tensor([], dtype=dtype).element_size(),
                             offset=begin) if end > begin else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"]).clone()
    return out
