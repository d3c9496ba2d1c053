// Validates files with @contentauth/c2pa-wasm (c2pa-rs compiled to WASM).
// usage: node validate.mjs [--trust CA.pem] FILE...
// Prints one JSON line per file: {file, state, codes, failures, actions}.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { extname } from "node:path";

const require = createRequire(import.meta.url);
const pkg = process.env.LIKENESS_C2PA_WASM || "@contentauth/c2pa-wasm";
const wasmPath = require.resolve(`${pkg}/c2pa.wasm`, { paths: [process.env.NODE_PATH || "."] });
const { initSync, WasmReader } = await import(require.resolve(pkg, { paths: [process.env.NODE_PATH || "."] }));
initSync({ module: readFileSync(wasmPath) });

const args = process.argv.slice(2);
let trust = null;
if (args[0] === "--trust") {
  trust = readFileSync(args[1], "utf8");
  args.splice(0, 2);
}
const settings = trust
  ? JSON.stringify({ verify: { verify_trust: true }, trust: { trust_anchors: trust } })
  : JSON.stringify({ verify: { verify_trust: false } });
for (const file of args) {
  const mime = extname(file).toLowerCase() === ".png" ? "image/png" : "image/jpeg";
  const out = { file };
  try {
    const reader = await WasmReader.fromBytes(mime, new Uint8Array(readFileSync(file)), settings);
    const store = JSON.parse(reader.json());
    out.state = store.validation_state || null;
    const results = store.validation_results?.activeManifest || {};
    out.codes = (results.success || []).map((s) => s.code);
    out.informational = (results.informational || []).map((s) => s.code);
    out.failures = (results.failure || []).map((s) => s.code);
    if (store.validation_status) out.failures.push(...store.validation_status.map((s) => s.code));
    const m = store.manifests?.[store.active_manifest];
    out.actions = (m?.assertions || [])
      .filter((a) => a.label.startsWith("c2pa.actions"))
      .flatMap((a) => a.data.actions.map((x) => x.action));
  } catch (e) {
    out.state = "Error";
    out.error = String(e?.message || e);
  }
  console.log(JSON.stringify(out));
}
