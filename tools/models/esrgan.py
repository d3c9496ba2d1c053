"""ESRGAN upscalers of UpscalerJS as ONNX graphs for ONNX Runtime.

The npm packages @upscalerjs/esrgan-slim, -medium and -thick ship one TF.js
*layers* model per scale (models/x2, x3, x4, x8): a Keras functional
topology in model.json plus a float32 weights manifest. This module turns
such a model into ONNX with a small generic converter (Keras layers in
TF.js's NHWC, run in ONNX's NCHW between one transpose at each end) and
builds the x2 and x4 models of each package.

  * slim and medium are RDN networks (architecture "rdn" in the packages'
    getModelDefinition.js): plain Keras layers, input and output in 0..255.
    Their UpSampling2D (nearest) is followed by one 3x3 conv; the pair
    becomes a conv on the small image and a DepthToSpace, the same maths
    (see upsampled_conv). Any input height and width works.
  * thick is an RRDN network with two custom layers registered by the
    package (dist/.../shared/src/esrgan/esrgan.js): MultiplyBeta, which
    multiplies by the constant 0.2 whatever its config says, and
    PixelShuffle<s>x, which is tf.depthToSpace(x, s, 'NHWC') (ONNX
    DepthToSpace, mode DCR). The package declares inputRange and outputRange
    [0, 1] for it and UpscalerJS divides the 0..255 pixels by 255 before the
    model and multiplies its output by 255 after. The ONNX graph does both,
    so every model here takes and gives 0..255.

Outputs are the raw network values: not clipped, not rounded. UpscalerJS
clips them to 0..255 before making pixels; callers must do the same.
The numerical check against the original models, run with TF.js, is in
reference_esrgan.cjs.
"""
import json
import math
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tfjs_weights import load_weights

OPSET = 13
PACKAGES = ("slim", "medium", "thick")
SCALES = (2, 4)
# Value range the network itself works in (the packages' inputRange and
# outputRange); the graph maps 0..255 to it and back.
NETWORK_RANGE = {"slim": 255.0, "medium": 255.0, "thick": 1.0}
LICENCE = "MIT (UpscalerJS)"

# Keras "activation" names and the ONNX operators computing them.
ACTIVATIONS = {
    "relu": "Relu",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "elu": "Elu",
    "softplus": "Softplus",
}
ELEMENTWISE = {"Add": "Add", "Subtract": "Sub", "Multiply": "Mul",
               "Maximum": "Max", "Minimum": "Min"}


# ---------------------------------------------------------------- converter
class LayersConverter:
    """Keras functional model (TF.js layers format) -> ONNX.

    Tensors flow in NCHW; only the channel count of each is tracked, so
    height and width stay free. Keras layer names become ONNX value names.
    `custom` maps class names of custom layers to functions
    f(converter, config, inputs) -> output value name."""

    def __init__(self, model_json, weights, custom=None):
        self.topology = model_json["modelTopology"]["model_config"]
        self.weights = weights
        self.used = set()
        self.custom = custom or {}
        self.nodes, self.inits = [], []
        self.channels = {}
        self.count = 0
        self.macs = 0  # multiply-adds per input pixel
        self.area = {}  # value -> its pixels per input pixel
        self.halo = {}  # value -> how far it sees around a pixel, in input pixels
        self.uses = {}  # value -> how many layer calls read it
        self.deferred = {}  # upsampled value not made yet -> (source, factor)

    # ------------------------------------------------ helpers
    def fresh(self, prefix):
        self.count += 1
        return f"{prefix}__{self.count}"

    def const(self, arr, prefix):
        name = self.fresh(prefix)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(self, op, inputs, output, channels, area, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        self.channels[output] = channels
        self.area[output] = area
        self.halo[output] = max(self.halo.get(i, 0.0) for i in inputs)
        return output

    def weight(self, layer, key):
        name = f"{layer}/{key}"
        if name not in self.weights:
            raise SystemExit(f"weight {name} missing from the manifest")
        self.used.add(name)
        return self.weights[name]

    @staticmethod
    def axis(keras_axis):
        """NHWC axis -> NCHW axis."""
        return {1: 2, 2: 3, 3: 1, -1: 1, -2: 3, -3: 2}[keras_axis]

    def activation(self, x, name, out):
        c, a = self.channels[x], self.area[x]
        if name == "linear":
            return self.node("Identity", [x], out, c, a)
        if name == "relu6":
            lo = self.const(np.array(0, np.float32), "zero")
            hi = self.const(np.array(6, np.float32), "six")
            return self.node("Clip", [x, lo, hi], out, c, a)
        if name == "swish":
            s = self.node("Sigmoid", [x], self.fresh("sigmoid"), c, a)
            return self.node("Mul", [x, s], out, c, a)
        if name not in ACTIVATIONS:
            raise SystemExit(f"activation {name} is not supported")
        return self.node(ACTIVATIONS[name], [x], out, c, a)

    def resize(self, x, sh, sw, out):
        # TF.js UpSampling2D: resizeNearestNeighbor without align corners or
        # half-pixel centres, i.e. out[i] = in[floor(i / s)].
        scales = self.const(np.array([1, 1, sh, sw], np.float32), out + "/scales")
        return self.node("Resize", [x, "", scales], out, self.channels[x], self.area[x] * sh * sw,
                         mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")

    def materialise(self, x):
        if x in self.deferred:
            src, s = self.deferred.pop(x)
            self.resize(src, s, s, x)
        return x

    def upsampled_conv(self, x, kernel, bias, out):
        """Nearest upsampling by s, then a stride-1 "SAME" conv, as one conv
        on the small image giving s*s*cout channels and a DepthToSpace.

        Output pixel (s*Y + a, s*X + b) sums kernel taps over upsampled
        pixels, each of which is a small-image pixel (Y + oy, X + ox); the
        taps landing on the same small pixel add up into one weight of
        phase (a, b). Zero padding maps to zero padding. Same maths, the same
        multiply-adds, but the wide conv runs at the small size instead of
        a 3-channel conv over s*s as many pixels after a big Resize."""
        src, s = self.deferred.pop(x)
        kh, kw, cin, cout = kernel.shape

        def taps(k):
            before = (k - 1) // 2  # TF "SAME", stride 1
            lo, hi = -before // s, (s - 1 + k - 1 - before) // s
            return lo, hi, [[(a + d - before) // s - lo for d in range(k)] for a in range(s)]

        lo_h, hi_h, tap_h = taps(kh)
        lo_w, hi_w, tap_w = taps(kw)
        small = np.zeros((hi_h - lo_h + 1, hi_w - lo_w + 1, cin, s, s, cout))
        for a in range(s):
            for b in range(s):
                for dy in range(kh):
                    for dx in range(kw):
                        small[tap_h[a][dy], tap_w[b][dx], :, a, b, :] += kernel[dy, dx]
        # Channel (a*s + b)*cout + c: DepthToSpace's DCR order.
        small = small.reshape(small.shape[0], small.shape[1], cin, s * s * cout)
        ins = [src, self.const(np.transpose(small, (3, 2, 0, 1)).astype(np.float32), out + "/kernel")]
        if bias is not None:
            ins.append(self.const(np.tile(bias, s * s), out + "/bias"))
        area = self.area[src]
        self.macs += area * small.shape[0] * small.shape[1] * cin * s * s * cout
        y = self.node("Conv", ins, self.fresh(out), s * s * cout, area,
                      kernel_shape=list(small.shape[:2]), pads=[-lo_h, -lo_w, hi_h, hi_w])
        y = self.node("DepthToSpace", [y], out, cout, area * s * s, blocksize=s, mode="DCR")
        # What it sees is what the original conv sees, in input pixels.
        self.halo[y] += max((kh - 1) // 2, kh // 2, (kw - 1) // 2, kw // 2) / (area ** 0.5 * s)
        return y

    # ------------------------------------------------ layers
    def conv2d(self, cfg, inputs, out):
        (x,) = inputs
        layer = cfg["name"]
        if cfg["data_format"] != "channels_last":
            raise SystemExit(f"{layer}: data_format {cfg['data_format']}")
        kernel = self.weight(layer, "kernel")  # [kh, kw, in / groups, out]
        kh, kw, cin, cout = kernel.shape
        groups = cfg.get("groups", 1)
        if cin * groups != self.channels[x] or cout != cfg["filters"]:
            raise SystemExit(f"{layer}: kernel {kernel.shape} does not fit its input")
        sh, sw = cfg["strides"]
        dh, dw = cfg["dilation_rate"]
        act = cfg.get("activation", "linear")
        if x in self.deferred:
            bias = self.weight(layer, "bias") if cfg["use_bias"] else None
            y = self.upsampled_conv(x, kernel, bias, out if act == "linear" else self.fresh(layer))
            return y if act == "linear" else self.activation(y, act, out)
        attrs = {"kernel_shape": [kh, kw], "strides": [sh, sw], "dilations": [dh, dw], "group": groups}
        if cfg["padding"] == "valid":
            attrs["pads"] = [0, 0, 0, 0]
        elif cfg["padding"] != "same":
            raise SystemExit(f"{layer}: padding {cfg['padding']}")
        elif (sh, sw) == (1, 1):
            # TF "SAME" with stride 1 pads (k - 1) in total, the odd one at
            # the bottom/right, whatever the size.
            th, tw = (kh - 1) * dh, (kw - 1) * dw
            attrs["pads"] = [th // 2, tw // 2, th - th // 2, tw - tw // 2]
        else:
            attrs["auto_pad"] = "SAME_UPPER"  # TF's rule, from the run-time size
        ins = [x, self.const(np.transpose(kernel, (3, 2, 0, 1)), layer + "/kernel")]
        if cfg["use_bias"]:
            ins.append(self.const(self.weight(layer, "bias"), layer + "/bias"))
        area = self.area[x] / (sh * sw)
        self.macs += area * kh * kw * cin * cout
        y = self.node("Conv", ins, out if act == "linear" else self.fresh(layer), cout, area, **attrs)
        # The kernel reaches this many of its input's pixels to one side.
        reach = max((kh - 1) * dh - (kh - 1) * dh // 2, (kw - 1) * dw - (kw - 1) * dw // 2)
        self.halo[y] += reach / self.area[x] ** 0.5
        return y if act == "linear" else self.activation(y, act, out)

    def convert_layer(self, cls, cfg, inputs, out):
        layer = cfg["name"]
        c0, a0 = self.channels[inputs[0]], self.area[inputs[0]]
        if not (cls == "Conv2D" and tuple(cfg["strides"]) == (1, 1) and tuple(cfg["dilation_rate"]) == (1, 1)
                and cfg.get("groups", 1) == 1 and cfg["padding"] == "same"):
            inputs = [self.materialise(x) for x in inputs]
        if cls in self.custom:
            return self.custom[cls](self, cfg, inputs, out)
        if cls == "Conv2D":
            return self.conv2d(cfg, inputs, out)
        if cls == "Activation":
            return self.activation(inputs[0], cfg["activation"], out)
        if (cls == "ReLU" and cfg.get("max_value") is None and not cfg.get("threshold")
                and not cfg.get("negative_slope")):
            return self.node("Relu", inputs, out, c0, a0)
        if cls == "LeakyReLU":
            alpha = cfg.get("alpha", cfg.get("negative_slope", 0.3))
            return self.node("LeakyRelu", inputs, out, c0, a0, alpha=float(alpha))
        if cls == "PReLU":
            alpha = self.weight(layer, "alpha")
            if alpha.ndim != 3 or alpha.shape[:2] != (1, 1) or alpha.shape[2] != c0:
                raise SystemExit(f"{layer}: only per-channel PReLU works with free sizes ({alpha.shape})")
            slope = self.const(alpha.reshape(c0, 1, 1), layer + "/alpha")
            return self.node("PRelu", [inputs[0], slope], out, c0, a0)
        if cls == "Rescaling":
            scale = self.const(np.array(cfg["scale"], np.float32), layer + "/scale")
            y = self.node("Mul", [inputs[0], scale], self.fresh(layer), c0, a0)
            offset = self.const(np.array(cfg["offset"], np.float32), layer + "/offset")
            return self.node("Add", [y, offset], out, c0, a0)
        if cls in ELEMENTWISE:
            if any(self.channels[i] != c0 for i in inputs):
                raise SystemExit(f"{layer}: inputs of different widths")
            y = inputs[0]
            for i, other in enumerate(inputs[1:]):
                last = i == len(inputs) - 2
                y = self.node(ELEMENTWISE[cls], [y, other], out if last else self.fresh(layer), c0, a0)
            return y
        if cls == "Concatenate":
            axis = self.axis(cfg["axis"])
            if axis != 1:
                raise SystemExit(f"{layer}: only channel concatenation is supported")
            return self.node("Concat", inputs, out, sum(self.channels[i] for i in inputs), a0, axis=1)
        if cls == "UpSampling2D":
            if cfg["interpolation"] != "nearest" or cfg["data_format"] != "channels_last":
                raise SystemExit(f"{layer}: {cfg['interpolation']} upsampling is not supported")
            sh, sw = cfg["size"]
            if sh != sw or self.uses.get(out) != 1:
                return self.resize(inputs[0], sh, sw, out)
            # Made only if its one reader is not a conv it can merge into.
            self.deferred[out] = (inputs[0], sh)
            self.channels[out], self.area[out] = c0, a0 * sh * sw
            self.halo[out] = self.halo[inputs[0]]
            return out
        raise SystemExit(f"layer {layer}: class {cls} is not supported")

    # ------------------------------------------------ graph
    def convert(self, name, in_range=255.0, out_range=255.0):
        """The whole model: NHWC float input "input" (0..255 values scaled
        to in_range), NHWC float output "output" (scaled back from
        out_range to 0..255)."""
        cfg = self.topology["config"]
        layers = {layer["name"]: layer for layer in cfg["layers"]}
        if len(cfg["input_layers"]) != 1 or len(cfg["output_layers"]) != 1:
            raise SystemExit(f"{name}: one input and one output expected")
        in_layer = layers[cfg["input_layers"][0][0]]
        batch_shape = in_layer["config"]["batch_input_shape"]
        if len(batch_shape) != 4 or batch_shape[3] is None:
            raise SystemExit(f"{name}: NHWC image input expected, got {batch_shape}")
        channels = batch_shape[3]

        x = "input"
        self.channels[x], self.area[x], self.halo[x] = channels, 1.0, 0.0
        if in_range != 255.0:
            k = self.const(np.array(255.0 / in_range, np.float32), "input_range")
            x = self.node("Div", [x, k], "input_scaled", channels, 1.0)
        values = {(in_layer["name"], 0, 0): self.node("Transpose", [x], in_layer["name"], channels, 1.0,
                                                      perm=[0, 3, 1, 2])}

        pending = [layer for layer in cfg["layers"] if layer is not in_layer]
        for layer in pending:
            for call in layer["inbound_nodes"]:
                for r in call:
                    v = r[0] if r[1] == 0 else f"{r[0]}__call{r[1]}"
                    self.uses[v] = self.uses.get(v, 0) + 1
        for r in cfg["output_layers"]:
            self.uses[r[0]] = self.uses.get(r[0], 0) + 1
        while pending:
            progress = False
            for layer in list(pending):
                calls = layer["inbound_nodes"]
                refs = [[tuple(r[:3]) for r in call] for call in calls]
                if not all(r in values for call in refs for r in call):
                    continue
                for k, (call, ref) in enumerate(zip(calls, refs)):
                    if any(r[3] for r in call if len(r) > 3):
                        raise SystemExit(f"{layer['name']}: call arguments are not supported")
                    out = layer["name"] if k == 0 else f"{layer['name']}__call{k}"
                    values[(layer["name"], k, 0)] = self.convert_layer(
                        layer["class_name"], layer["config"], [values[r] for r in ref], out)
                pending.remove(layer)
                progress = True
            if not progress:
                raise SystemExit(f"{name}: layers {[p['name'] for p in pending]} never get their inputs")
        unused = set(self.weights) - self.used
        if unused:
            raise SystemExit(f"{name}: weights {sorted(unused)} belong to no layer")

        y = self.materialise(values[tuple(cfg["output_layers"][0])])
        c, area = self.channels[y], self.area[y]
        self.output_halo = math.ceil(self.halo[y] - 1e-9)
        scale = int(round(area ** 0.5))
        if scale * scale != area:
            raise SystemExit(f"{name}: output area {area} is not a square scale")
        nhwc = "output" if out_range == 255.0 else "output_raw"
        self.node("Transpose", [y], nhwc, c, area, perm=[0, 2, 3, 1])
        if out_range != 255.0:
            k = self.const(np.array(255.0 / out_range, np.float32), "output_range")
            self.node("Mul", [nhwc, k], "output", c, area)
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, "H", "W", channels])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT,
                                           [1, f"H*{scale}", f"W*{scale}", c])],
            self.inits)
        m = helper.make_model(graph, producer_name="likeness-convert",
                              opset_imports=[helper.make_opsetid("", OPSET)])
        onnx.checker.check_model(m)
        return m, scale


# ---------------------------------------------------------------- ESRGAN layers
def multiply_beta(conv, cfg, inputs, out):
    # The package's MultiplyBeta ignores its config and multiplies by 0.2.
    if cfg.get("beta", 0.2) != 0.2:
        raise SystemExit(f"{cfg['name']}: beta {cfg['beta']}, the package uses 0.2")
    beta = conv.const(np.array(0.2, np.float32), "beta")
    x = inputs[0]
    return conv.node("Mul", [x, beta], out, conv.channels[x], conv.area[x])


def pixel_shuffle(scale):
    def layer(conv, cfg, inputs, out):
        x = inputs[0]
        if cfg.get("scale", scale) != scale or conv.channels[x] % (scale * scale):
            raise SystemExit(f"{cfg['name']}: not a x{scale} pixel shuffle")
        # tf.depthToSpace NHWC: out[h*s+i, w*s+j, c] = in[h, w, (i*s+j)*C + c],
        # which is ONNX DepthToSpace in DCR order.
        return conv.node("DepthToSpace", [x], out, conv.channels[x] // (scale * scale),
                         conv.area[x] * scale * scale, blocksize=scale, mode="DCR")
    return layer


def convert(model_dir, name, network_range):
    with open(os.path.join(model_dir, "model.json")) as f:
        model_json = json.load(f)
    weights = load_weights(model_dir, model_json["weightsManifest"])
    custom = {"MultiplyBeta": multiply_beta}
    for s in (2, 3, 4, 8):
        custom[f"PixelShuffle{s}x"] = pixel_shuffle(s)
    conv = LayersConverter(model_json, weights, custom)
    model, scale = conv.convert(name, network_range, network_range)
    return model, scale, conv.macs, conv.output_halo


def models(node_modules):
    out = []
    for size in PACKAGES:
        pkg = os.path.join(node_modules, "@upscalerjs", f"esrgan-{size}")
        with open(os.path.join(pkg, "package.json")) as f:
            version = json.load(f)["version"]
        for scale in SCALES:
            name = f"esrgan_{size}_x{scale}"
            model, got, macs, halo = convert(os.path.join(pkg, "models", f"x{scale}"), name, NETWORK_RANGE[size])
            if got != scale:
                raise SystemExit(f"{name}: the network upscales x{got}")
            print(f"  {name}: {macs / 1e3:.1f} k multiply-adds per input pixel, sees {halo} px around",
                  flush=True)
            spec = {"shape": [1, "H", "W", 3], "layout": "NHWC RGB", "normalise": "v (0..255 as float)",
                    "scale": scale,
                    "outputs": {"output": {"shape": [1, f"H*{scale}", f"W*{scale}", 3], "layout": "NHWC RGB",
                                           "range": "about 0..255, unclipped: clamp (and round) to make pixels"}},
                    "macs_per_input_pixel": int(round(macs)),
                    # An output pixel depends on the input pixels this close:
                    # tiles whose kept part lies this far inside the tile's
                    # input equal whole-image inference.
                    "halo": halo}
            if NETWORK_RANGE[size] != 255.0:
                spec["note"] = "the network works in 0..1; the graph divides by 255 and multiplies back"
            out.append((name, model, f"npm @upscalerjs/esrgan-{size}@{version} models/x{scale}", LICENCE, spec))
    return out
