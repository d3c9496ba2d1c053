// C2PA manifests: JUMBF boxes, CBOR assertions and claim, COSE_Sign1 ES256,
// embedding in JPEG APP11 / PNG caBX with a data-hash hard binding, and the
// reverse for verification.
#include "likeness/c2pa.hpp"

#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <array>
#include <cstring>

#include "cbor.hpp"
#include "likeness/error.hpp"
#include "likeness/hash.hpp"
#include "likeness/xmp.hpp"

namespace likeness {

namespace {

// ---------- bytes ----------
void put32(std::string& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(char(v >> s));
}
uint32_t get32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint32_t(uint8_t(s[at + 3]));
}
uint16_t get16(const std::string& s, size_t at) { return uint16_t((uint8_t(s[at]) << 8) | uint8_t(s[at + 1])); }

std::string uuid4() {
  std::string r = random_bytes(16);
  auto* b = reinterpret_cast<unsigned char*>(r.data());
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const std::string h = to_hex(r);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

uint32_t crc32(std::string_view data) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t c = 0xffffffffu;
  for (unsigned char ch : data) c = table[(c ^ ch) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

// ---------- JUMBF ----------
std::string box(std::string_view type, std::string_view payload) {
  std::string out;
  put32(out, uint32_t(8 + payload.size()));
  out.append(type);
  out.append(payload);
  return out;
}

// C2PA box types: 4 ASCII bytes + 0011-0010-8000-00AA00389B71.
std::string type_uuid(std::string_view four) {
  static const unsigned char tail[12] = {0x00, 0x11, 0x00, 0x10, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
  return std::string(four) + std::string(reinterpret_cast<const char*>(tail), 12);
}

std::string jumd(std::string_view four, const std::string& label) {
  std::string p = type_uuid(four);
  p.push_back(char(0x03));  // requestable, label present
  p += label;
  p.push_back('\0');
  return box("jumd", p);
}

std::string superbox_content(std::string_view four, const std::string& label,
                             const std::vector<std::string>& children) {
  std::string c = jumd(four, label);
  for (const auto& ch : children) c += ch;
  return c;
}
std::string superbox(std::string_view four, const std::string& label, const std::vector<std::string>& children) {
  return box("jumb", superbox_content(four, label, children));
}

struct Jumbf {
  std::string type;     // "jumb" or content type ("cbor", "jumd", ...)
  std::string kind;     // jumd's 4 ASCII type bytes, for superboxes
  std::string label;    // jumd's label
  std::string content;  // superbox: bytes after its 8-byte header; content box: payload
  std::vector<Jumbf> children;
  const Jumbf* child(const std::string& label) const {
    for (const auto& c : children)
      if (c.label == label) return &c;
    return nullptr;
  }
  const Jumbf* payload(const std::string& type) const {
    for (const auto& c : children)
      if (c.type == type) return &c;
    return nullptr;
  }
};

std::vector<Jumbf> parse_boxes(const std::string& data, size_t from, size_t to, int depth) {
  if (depth > 16) throw std::runtime_error("JUMBF nested too deeply");
  std::vector<Jumbf> out;
  size_t pos = from;
  while (pos + 8 <= to) {
    uint64_t len = get32(data, pos);
    size_t header = 8;
    if (len == 1) {
      if (pos + 16 > to) throw std::runtime_error("JUMBF box truncated");
      len = (uint64_t(get32(data, pos + 8)) << 32) | get32(data, pos + 12);
      header = 16;
    } else if (len == 0) {
      len = to - pos;
    }
    if (len < header || len > to - pos) throw std::runtime_error("JUMBF box length out of range");
    Jumbf b;
    b.type = data.substr(pos + 4, 4);
    b.content = data.substr(pos + header, len - header);
    if (b.type == "jumb") {
      b.children = parse_boxes(data, pos + header, pos + len, depth + 1);
      if (b.children.empty() || b.children[0].type != "jumd") throw std::runtime_error("superbox without jumd");
      const std::string& d = b.children[0].content;
      if (d.size() < 17) throw std::runtime_error("jumd too short");
      b.kind = d.substr(0, 4);
      if (uint8_t(d[16]) & 0x02) {
        const size_t end = d.find('\0', 17);
        b.label = d.substr(17, end == std::string::npos ? std::string::npos : end - 17);
      }
    }
    out.push_back(std::move(b));
    pos += len;
  }
  return out;
}

// ---------- COSE ----------
std::string sig_structure(const std::string& protected_bytes, const std::string& payload) {
  std::string s;
  cbor::array(s, 4);
  cbor::text(s, "Signature1");
  cbor::bytes(s, protected_bytes);
  cbor::bytes(s, "");
  cbor::bytes(s, payload);
  return s;
}

std::string protected_header(const std::vector<std::string>& chain) {
  std::string p;
  cbor::map(p, 2);
  cbor::integer(p, 1);   // alg
  cbor::integer(p, -7);  // ES256
  cbor::integer(p, 33);  // x5chain
  cbor::array(p, chain.size());
  for (const auto& der : chain) cbor::bytes(p, der);
  return p;
}

std::string cose_sign1(const std::string& protected_bytes, const std::string& signature) {
  std::string s;
  cbor::tag(s, 18);
  cbor::array(s, 4);
  cbor::bytes(s, protected_bytes);
  cbor::map(s, 0);
  cbor::null(s);  // detached payload: the claim
  cbor::bytes(s, signature);
  return s;
}

std::string hashed_url(const std::string& label) { return "self#jumbf=c2pa.assertions/" + label; }

std::vector<uint8_t> bin(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// ---------- containers ----------
struct Placement {
  size_t offset = 0;  // where the manifest bytes go in the asset without one
  bool png = false;
};

Placement place(const std::string& asset) {
  Placement p;
  if (asset.size() > 8 && asset.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) == 0) {
    if (asset.size() < 33 || asset.compare(12, 4, "IHDR") != 0 || get32(asset, 8) != 13)
      throw Error(ErrorCode::internal, "PNG without a leading IHDR chunk");
    p.png = true;
    p.offset = 33;
    return p;
  }
  if (asset.size() < 4 || uint8_t(asset[0]) != 0xFF || uint8_t(asset[1]) != 0xD8)
    throw Error(ErrorCode::internal, "Content Credentials can be embedded in JPEG and PNG only");
  size_t pos = 2;
  // After SOI and an APP0 (JFIF) segment if there is one.
  if (pos + 4 <= asset.size() && uint8_t(asset[pos]) == 0xFF && uint8_t(asset[pos + 1]) == 0xE0)
    pos += 2 + get16(asset, pos + 2);
  p.offset = pos;
  return p;
}

std::string wrap(const std::string& store, const Placement& p) {
  if (p.png) {
    std::string chunk;
    put32(chunk, uint32_t(store.size()));
    chunk += "caBX" + store;
    put32(chunk, crc32(std::string_view(chunk).substr(4)));
    return chunk;
  }
  // APP11 segments: FF EB, Lp, "JP", En=1, Z=sequence, box bytes; every
  // segment after the first repeats the superbox's LBox/TBox.
  constexpr size_t kMax = 65535 - 2 - 8;
  std::string out;
  size_t pos = 0;
  uint32_t seq = 1;
  while (pos < store.size()) {
    std::string body = "JP";
    body.push_back(0);
    body.push_back(1);
    put32(body, seq);
    if (seq > 1) body += store.substr(0, 8);
    const size_t room = kMax - (seq > 1 ? 8 : 0);
    const size_t n = std::min(room, store.size() - pos);
    body += store.substr(pos, n);
    pos += n;
    out.push_back(char(0xFF));
    out.push_back(char(0xEB));
    out.push_back(char((body.size() + 2) >> 8));
    out.push_back(char((body.size() + 2) & 0xff));
    out += body;
    ++seq;
  }
  return out;
}

// The manifest store bytes and where they sit in the asset.
struct Found {
  std::string store;
  size_t start = 0, length = 0;
};

bool find_store(const std::string& a, Found& f) {
  if (a.size() > 8 && a.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) == 0) {
    size_t pos = 8;
    while (pos + 12 <= a.size()) {
      const uint32_t len = get32(a, pos);
      if (len > a.size() - pos - 12) return false;
      if (a.compare(pos + 4, 4, "caBX") == 0) {
        f.store = a.substr(pos + 8, len);
        f.start = pos;
        f.length = 12 + len;
        return true;
      }
      if (a.compare(pos + 4, 4, "IEND") == 0) return false;
      pos += 12 + len;
    }
    return false;
  }
  if (a.size() < 4 || uint8_t(a[0]) != 0xFF || uint8_t(a[1]) != 0xD8) return false;
  size_t pos = 2;
  bool found = false;
  while (pos + 4 <= a.size() && uint8_t(a[pos]) == 0xFF) {
    const uint8_t marker = uint8_t(a[pos + 1]);
    if (marker == 0xDA || marker == 0xD9) break;  // image data follows
    const uint16_t len = get16(a, pos + 2);
    if (len < 2 || pos + 2 + len > a.size()) return false;
    if (marker == 0xEB && len >= 10 && a.compare(pos + 4, 2, "JP") == 0) {
      const uint32_t seq = get32(a, pos + 8);
      const std::string body = a.substr(pos + 12, len - 10);
      if (!found) {
        f.start = pos;
        found = true;
      }
      f.store += seq == 1 ? body : body.substr(std::min<size_t>(8, body.size()));
      f.length = pos + 2 + len - f.start;
    }
    pos += 2 + len;
  }
  return found;
}

}  // namespace

std::string sign_c2pa(const std::string& asset, const ManifestInput& in, const Signer& signer) {
  const Placement where = place(asset);
  const std::string label = "urn:c2pa:" + uuid4();
  const std::string data_hash = sha256_raw(asset);  // the asset without the manifest = all but the exclusion

  // Assertions that do not depend on the manifest's size.
  const json ingredient = {{"relationship", "parentOf"},
                           {"dc:title", "source photo"},
                           {"dc:format", in.source_format},
                           {"instanceID", "xmp:iid:sha256:" + in.source_sha256}};
  auto cbor_box = [](const json& j) {
    const auto v = json::to_cbor(j);
    return box("cbor", std::string(reinterpret_cast<const char*>(v.data()), v.size()));
  };
  // A hashed URI covers the assertion superbox without its 8-byte header.
  auto content_hash = [](const std::string& sb) { return sha256_raw(std::string_view(sb).substr(8)); };
  const std::string ingredient_box = superbox("cbor", "c2pa.ingredient.v3", {cbor_box(ingredient)});

  json actions = json::array();
  actions.push_back({{"action", "c2pa.opened"},
                     {"parameters",
                      {{"ingredients", json::array({{{"url", hashed_url("c2pa.ingredient.v3")},
                                                     {"hash", json::binary(bin(content_hash(ingredient_box)))}}})}}}});
  const json agent = {{"name", "likeness"}, {"version", LIKENESS_VERSION}};
  for (const auto& a : in.actions) {
    json j = {{"action", a.action}, {"softwareAgent", agent}, {"parameters", a.parameters}};
    if (!a.description.empty()) j["description"] = a.description;
    if (!a.digital_source_type.empty()) j["digitalSourceType"] = kDigitalSourceTypeBase + a.digital_source_type;
    actions.push_back(std::move(j));
  }
  const std::string actions_box = superbox("cbor", "c2pa.actions.v2", {cbor_box({{"actions", actions}})});
  std::string consent_box;
  if (!in.consent_id.empty())
    consent_box = superbox("cbor", "org.likeness.consent", {cbor_box([&] {
                             json c = {{"record", in.consent_id}};
                             if (!in.uses.empty()) c["uses"] = in.uses;
                             if (!in.model_release.empty()) c["model_release"] = in.model_release;
                             return c;
                           }())});

  const std::string protected_bytes = protected_header(signer.chain_der());

  // The data hash names the exclusion's length, which is the manifest's own
  // size: iterate until it stops changing (CBOR integers grow by steps).
  size_t length = 0;
  std::string wrapped;
  for (int round = 0; round < 6; ++round) {
    const json hash_data = {{"exclusions", json::array({{{"start", where.offset}, {"length", length}}})},
                            {"name", "jumbf manifest"},
                            {"alg", "sha256"},
                            {"hash", json::binary(bin(data_hash))},
                            {"pad", json::binary(std::vector<uint8_t>{})}};
    const std::string hash_box = superbox("cbor", "c2pa.hash.data", {cbor_box(hash_data)});
    json created = json::array();
    std::vector<std::string> assertion_boxes = {ingredient_box, actions_box, hash_box};
    std::vector<std::string> labels = {"c2pa.ingredient.v3", "c2pa.actions.v2", "c2pa.hash.data"};
    if (!consent_box.empty()) assertion_boxes.push_back(consent_box), labels.push_back("org.likeness.consent");
    for (size_t i = 0; i < labels.size(); ++i)
      created.push_back(
          {{"url", hashed_url(labels[i])}, {"hash", json::binary(bin(content_hash(assertion_boxes[i])))}});
    json claim = {{"instanceID", "xmp:iid:" + uuid4()},
                  {"claim_generator_info", agent},
                  {"signature", "self#jumbf=/c2pa/" + label + "/c2pa.signature"},
                  {"created_assertions", created},
                  {"alg", "sha256"}};
    if (!in.title.empty()) claim["dc:title"] = in.title;
    const auto claim_v = json::to_cbor(claim);
    const std::string claim_bytes(reinterpret_cast<const char*>(claim_v.data()), claim_v.size());
    const std::string signature = signer.sign(sig_structure(protected_bytes, claim_bytes));
    const std::string manifest =
        superbox("c2ma", label,
                 {superbox("c2as", "c2pa.assertions", assertion_boxes),
                  superbox("c2cl", "c2pa.claim.v2", {box("cbor", claim_bytes)}),
                  superbox("c2cs", "c2pa.signature", {box("cbor", cose_sign1(protected_bytes, signature))})});
    wrapped = wrap(superbox("c2pa", "c2pa", {manifest}), where);
    if (wrapped.size() == length) break;
    length = wrapped.size();
  }
  if (wrapped.size() != length) throw Error(ErrorCode::internal, "C2PA manifest size did not settle");
  return asset.substr(0, where.offset) + wrapped + asset.substr(where.offset);
}

Verification verify_c2pa(const std::string& asset, const std::string& trust_pem) {
  Verification v;
  try {
    v.digital_source_type = read_xmp(asset)["Xmp.iptcExt.DigitalSourceType"];
  } catch (const Error&) {
  }
  Found f;
  if (!find_store(asset, f)) return v;  // no_manifest
  v.state = Verification::valid;
  auto problem = [&](const std::string& code, const std::string& detail) {
    v.problems.push_back(code + ": " + detail);
    v.state = Verification::invalid;
  };
  try {
    const std::vector<Jumbf> top = parse_boxes(f.store, 0, f.store.size(), 0);
    if (top.size() != 1 || top[0].kind != "c2pa") throw std::runtime_error("no C2PA manifest store box");
    const Jumbf* manifest = nullptr;
    for (const auto& c : top[0].children)
      if (c.kind == "c2ma") manifest = &c;  // the last one is active
    if (!manifest) throw std::runtime_error("the store holds no manifest");
    const Jumbf* assertions = manifest->child("c2pa.assertions");
    const Jumbf* claim_box = manifest->child("c2pa.claim.v2");
    const Jumbf* sig_box = manifest->child("c2pa.signature");
    if (!assertions || !claim_box || !sig_box || !claim_box->payload("cbor") || !sig_box->payload("cbor"))
      throw std::runtime_error("the manifest lacks its assertions, claim or signature");
    const std::string claim_bytes = claim_box->payload("cbor")->content;
    const json claim = json::from_cbor(claim_bytes);
    v.manifest["label"] = manifest->label;
    v.manifest["claim_generator_info"] = claim.value("claim_generator_info", json::object());
    v.manifest["title"] = claim.value("dc:title", "");

    // Every created assertion's hashed URI.
    json decoded = json::object();
    for (const auto& ref : claim.at("created_assertions")) {
      const std::string url = ref.at("url");
      const std::string name = url.substr(url.rfind('/') + 1);
      const Jumbf* a = assertions->child(name);
      if (!a) {
        problem("assertion.missing", name);
        continue;
      }
      const auto& h = ref.at("hash").get_binary();
      if (sha256_raw(a->content) != std::string(h.begin(), h.end())) problem("assertion.hashedURI.mismatch", name);
      if (const Jumbf* c = a->payload("cbor")) decoded[name] = json::from_cbor(c->content);
    }
    // Hard binding: the asset's bytes outside the exclusions.
    if (!decoded.contains("c2pa.hash.data")) {
      problem("claim.hardBindings.missing", "no c2pa.hash.data assertion");
    } else {
      const json& hd = decoded["c2pa.hash.data"];
      std::string kept;
      size_t pos = 0;
      for (const auto& ex : hd.at("exclusions")) {
        const size_t s = ex.at("start"), l = ex.at("length");
        if (s < pos || s + l > asset.size()) {
          problem("assertion.dataHash.mismatch", "exclusion out of range");
          break;
        }
        kept.append(asset, pos, s - pos);
        pos = s + l;
      }
      kept.append(asset, pos, std::string::npos);
      const auto& h = hd.at("hash").get_binary();
      if (sha256_raw(kept) != std::string(h.begin(), h.end()))
        problem("assertion.dataHash.mismatch", "the image bytes changed after signing");
      const auto& ex0 = hd.at("exclusions").at(0);
      if (ex0.at("start") != f.start || ex0.at("length") != f.length)
        problem("assertion.dataHash.mismatch", "the exclusion does not cover the manifest");
      decoded["c2pa.hash.data"]["hash"] = to_hex(std::string(h.begin(), h.end()));
    }
    for (auto& [name, a] : decoded.items())
      if (name.rfind("c2pa.actions", 0) == 0)
        for (auto& act : a["actions"])
          if (act.contains("parameters") && act["parameters"].contains("ingredients"))
            for (auto& ing : act["parameters"]["ingredients"]) ing.erase("hash");
    for (auto& [name, a] : decoded.items())
      if (name.rfind("c2pa.ingredient", 0) == 0 || name == "org.likeness.consent") v.manifest["assertions"][name] = a;
    if (decoded.contains("c2pa.actions.v2")) v.manifest["actions"] = decoded["c2pa.actions.v2"]["actions"];

    // COSE_Sign1 over the claim.
    const cbor::Item cose = cbor::decode(sig_box->payload("cbor")->content);
    if (cose.kind != cbor::Item::Tag || cose.value != 18 || cose.items[0].kind != cbor::Item::Array ||
        cose.items[0].items.size() != 4)
      throw std::runtime_error("the signature is not a COSE_Sign1");
    const auto& parts = cose.items[0].items;
    const std::string& protected_bytes = parts[0].data;
    const cbor::Item ph = cbor::decode(protected_bytes);
    const cbor::Item* alg = ph.find(1);
    const cbor::Item* x5 = ph.find(33);
    if (!alg || alg->as_int() != -7) throw std::runtime_error("the signature is not ES256");
    if (!x5) throw std::runtime_error("the signature carries no certificate");
    std::vector<std::string> chain;
    if (x5->kind == cbor::Item::Bytes) chain.push_back(x5->data);
    for (const auto& c : x5->items) chain.push_back(c.data);
    if (chain.empty()) throw std::runtime_error("the signature carries no certificate");
    const unsigned char* p = reinterpret_cast<const unsigned char*>(chain[0].data());
    X509* leaf = d2i_X509(nullptr, &p, long(chain[0].size()));
    if (!leaf) throw std::runtime_error("the signing certificate cannot be read");
    const std::string& raw = parts[3].data;
    bool sig_ok = false;
    if (raw.size() == 64) {
      ECDSA_SIG* sig = ECDSA_SIG_new();
      ECDSA_SIG_set0(sig, BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr),
                     BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr));
      unsigned char* der = nullptr;
      const int der_len = i2d_ECDSA_SIG(sig, &der);
      ECDSA_SIG_free(sig);
      const std::string tbs = sig_structure(protected_bytes, claim_bytes);
      EVP_MD_CTX* md = EVP_MD_CTX_new();
      sig_ok = EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, X509_get0_pubkey(leaf)) == 1 &&
               EVP_DigestVerify(md, der, size_t(der_len), reinterpret_cast<const unsigned char*>(tbs.data()),
                                tbs.size()) == 1;
      EVP_MD_CTX_free(md);
      OPENSSL_free(der);
    }
    if (!sig_ok) problem("claimSignature.mismatch", "the claim's signature does not verify");

    // The chain against the trust anchors.
    const std::string anchors = trust_pem.empty() ? Signer::installation_ca_pem(false) : trust_pem;
    X509_STORE* store = X509_STORE_new();
    BIO* bio = BIO_new_mem_buf(anchors.data(), int(anchors.size()));
    while (X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store, ca);
      X509_free(ca);
    }
    BIO_free(bio);
    ERR_clear_error();
    STACK_OF(X509)* untrusted = sk_X509_new_null();
    for (size_t i = 1; i < chain.size(); ++i) {
      const unsigned char* q = reinterpret_cast<const unsigned char*>(chain[i].data());
      if (X509* x = d2i_X509(nullptr, &q, long(chain[i].size()))) sk_X509_push(untrusted, x);
    }
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf, untrusted);
    v.trusted = X509_verify_cert(ctx) == 1;
    if (!v.trusted)
      problem("signingCredential.untrusted", X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)) +
                                                 std::string(" (not issued by a trusted CA)"));
    X509_STORE_CTX_free(ctx);
    sk_X509_pop_free(untrusted, X509_free);
    X509_STORE_free(store);
    X509_free(leaf);
  } catch (const std::exception& e) {
    problem("manifest.malformed", e.what());
  }
  return v;
}

}  // namespace likeness
