// Reference runs of the ORIGINAL UpscalerJS ESRGAN models and the check of
// their ONNX conversions (tools/models/esrgan.py).
//   original: the package's TF.js layers model, loaded with the custom
//   layers the package itself registers (setup), on the pure-JS CPU
//   backend; pixels scaled into and out of the package's declared
//   inputRange/outputRange the way UpscalerJS does (thick works in 0..1)
//   converted: <modelDir>/<name>.onnx with onnxruntime-node, fed the same
//   0..255 NHWC pixels
// Writes <out>/<name>.input.u8 (HWC RGB), <name>.output.f32 (NHWC, 0..255,
// unclipped) and ctx.meta[name]. Throws when a conversion differs.
'use strict';
const fs = require('fs');
const path = require('path');

// Non-square, so a swapped height and width cannot pass.
const WIDTH = 48;
const HEIGHT = 40;
// Outputs are 0..255 floats. The conversions differ from TF.js by 1.5e-4 to
// 3e-4 (summation order); a layout or pixel-order mistake gives tens.
const TOLERANCE = 1e-2;
const MODELS = [
  ['esrgan_slim_x2', '@upscalerjs/esrgan-slim', 2, 41],
  ['esrgan_slim_x4', '@upscalerjs/esrgan-slim', 4, 42],
  ['esrgan_medium_x2', '@upscalerjs/esrgan-medium', 2, 43],
  ['esrgan_medium_x4', '@upscalerjs/esrgan-medium', 4, 44],
  ['esrgan_thick_x2', '@upscalerjs/esrgan-thick', 2, 45],
  ['esrgan_thick_x4', '@upscalerjs/esrgan-thick', 4, 46],
];

async function loadOriginal(tf, ctx, pkg, scale) {
  const definition = require(`${pkg}/${scale}x`);
  if (definition.setup) definition.setup(tf); // registers MultiplyBeta, PixelShuffle<s>x
  const dir = path.join(ctx.pkgDir(pkg), 'models', `x${scale}`);
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json')));
  const { weightSpecs, weightData } = ctx.readWeights(dir, json.weightsManifest);
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData }));
  return { model, definition };
}

module.exports = async (ctx) => {
  const tf = require('@tensorflow/tfjs');
  const ort = require('onnxruntime-node');
  await tf.setBackend('cpu');
  await tf.ready();
  let failed = false;
  for (const [name, pkg, scale, seed] of MODELS) {
    const px = ctx.testCard(WIDTH, HEIGHT, seed);
    fs.writeFileSync(path.join(ctx.out, `${name}.input.u8`), px);
    const pixels = Float32Array.from(px);

    const { model, definition } = await loadOriginal(tf, ctx, pkg, scale);
    const [inLo, inHi] = definition.inputRange;
    const [outLo, outHi] = definition.outputRange;
    if (inLo !== 0 || outLo !== 0 || ![1, 255].includes(inHi) || ![1, 255].includes(outHi)) {
      throw new Error(`${name}: unexpected ranges ${definition.inputRange} ${definition.outputRange}`);
    }
    const result = tf.tidy(() => {
      let x = tf.tensor4d(pixels, [1, HEIGHT, WIDTH, 3], 'float32');
      if (inHi === 1) x = tf.div(x, 255);
      let y = model.predict(x);
      if (outHi === 1) y = tf.mul(y, 255);
      return y;
    });
    const ref = await result.data();
    const shape = result.shape;
    result.dispose();
    model.dispose();
    if (shape.join() !== [1, HEIGHT * scale, WIDTH * scale, 3].join()) {
      throw new Error(`${name}: original gives ${shape}, not x${scale}`);
    }
    ctx.meta[name] = {
      input: `${name}.input.u8`, width: WIDTH, height: HEIGHT, scale,
      outputs: { output: { file: ctx.writeF32(`${name}.output.f32`, ref), shape } },
    };

    const session = await ort.InferenceSession.create(path.join(ctx.modelDir, `${name}.onnx`), { intraOpNumThreads: 2 });
    const res = await session.run({ input: new ort.Tensor('float32', pixels, [1, HEIGHT, WIDTH, 3]) });
    const got = res.output;
    let max = 0;
    for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(got.data[i] - ref[i]));
    const ok = got.dims.join() === shape.join() && max <= TOLERANCE;
    console.log(`  check ${name}: ${WIDTH}x${HEIGHT} -> ${got.dims[2]}x${got.dims[1]}, max abs diff ${max.toExponential(2)} (tolerance ${TOLERANCE}) ${ok ? 'ok' : 'FAILED'}`);
    failed = failed || !ok;
  }
  if (failed) throw new Error('a converted ESRGAN model does not match its original');
};
