"""TF.js weight manifests, shared by every converter of tools/.

A TF.js model (graph or layers, or face-api's bare manifests) stores its
weights as shards listed in a weightsManifest; this decodes them.
"""
import os

import numpy as np


def load_weights(model_dir, manifest):
    """Decode a graph model's weightsManifest into {name: ndarray}.

    Shards of a group are concatenated in manifest order. Quantised floats
    are widened as TF.js does: fp16 exactly, uint8/uint16 as q*scale+min.
    """
    out = {}
    for group in manifest:
        blob = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            shape = [int(d) for d in w["shape"]]
            n = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            if q:
                qd = q["dtype"]
                if qd == "float16":
                    val = np.frombuffer(blob, np.float16, n, off).astype(np.float32)
                    off += 2 * n
                elif qd in ("uint8", "uint16"):
                    dt = np.dtype(qd)
                    raw = np.frombuffer(blob, dt, n, off).astype(np.float64)
                    off += dt.itemsize * n
                    val = raw * q["scale"] + q["min"]
                else:
                    raise SystemExit(f"unsupported quantisation {qd} for {w['name']}")
            else:
                dt = {"float32": np.float32, "int32": np.int32}[w["dtype"]]
                val = np.frombuffer(blob, dt, n, off)
                off += 4 * n
            dtype = np.int32 if w["dtype"] == "int32" else np.float32
            out[w["name"]] = np.asarray(val, dtype=dtype).reshape(shape)
        if off != len(blob):
            raise SystemExit(f"{model_dir}: read {off} of {len(blob)} weight bytes")
    return out
