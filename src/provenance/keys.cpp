// The installation's signing identity: an own CA and a C2PA-profile leaf
// certificate, created once with OpenSSL and kept owner-only.
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "likeness/c2pa.hpp"
#include "likeness/error.hpp"
#include "likeness/files.hpp"

namespace likeness {

namespace fs = std::filesystem;

namespace {

std::string ssl_error() {
  const unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

[[noreturn]] void fail(const std::string& what) { throw Error(ErrorCode::internal, what + ": " + ssl_error()); }

struct Bio {
  BIO* b;
  explicit Bio(const std::string& s) : b(BIO_new_mem_buf(s.data(), int(s.size()))) {}
  Bio() : b(BIO_new(BIO_s_mem())) {}
  ~Bio() { BIO_free(b); }
  std::string str() const {
    char* p = nullptr;
    const long n = BIO_get_mem_data(b, &p);
    return std::string(p, size_t(n));
  }
};

std::string der_of(X509* x) {
  unsigned char* p = nullptr;
  const int n = i2d_X509(x, &p);
  if (n <= 0) fail("cannot encode a certificate");
  std::string out(reinterpret_cast<char*>(p), size_t(n));
  OPENSSL_free(p);
  return out;
}

std::string pem_of(X509* x) {
  Bio b;
  PEM_write_bio_X509(b.b, x);
  return b.str();
}

std::string pem_of_key(EVP_PKEY* k) {
  Bio b;
  PEM_write_bio_PrivateKey(b.b, k, nullptr, nullptr, 0, nullptr, nullptr);
  return b.str();
}

void add_ext(X509* x, X509V3_CTX* ctx, const char* name, const char* value) {
  X509_EXTENSION* e = X509V3_EXT_nconf(nullptr, ctx, name, value);
  if (!e) fail(std::string("cannot make the ") + name + " extension");
  X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
}

// issuer == nullptr: self-signed.
X509* make_cert(EVP_PKEY* key, EVP_PKEY* issuer_key, X509* issuer, const std::string& cn, bool ca, long days) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  BIGNUM* serial = BN_new();
  BN_rand(serial, 120, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x));
  BN_free(serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), days * 86400L);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "C", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("XX"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("likeness installation"),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : x, x, nullptr, nullptr, 0);
  add_ext(x, &ctx, "basicConstraints", ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(x, &ctx, "keyUsage", ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  // documentSigning (RFC 9336) and emailProtection: both in C2PA's EKU list.
  if (!ca) add_ext(x, &ctx, "extendedKeyUsage", "1.3.6.1.5.5.7.3.36,emailProtection");
  add_ext(x, &ctx, "subjectKeyIdentifier", "hash");
  add_ext(x, &ctx, "authorityKeyIdentifier", "keyid:always");
  if (!X509_sign(x, issuer_key, EVP_sha256())) fail("cannot sign a certificate");
  return x;
}

void write_private(const fs::path& p, const std::string& bytes) {
  write_file_atomic(p.string(), bytes);
  ::chmod(p.c_str(), 0600);
}

fs::path keys_dir() { return fs::path(data_dir()) / "keys"; }

// Creates the CA and the signing certificate once (under a lock, so two
// processes starting together end up with one consistent pair).
void ensure_installation_keys() {
  const fs::path dir = keys_dir();
  if (fs::exists(dir / "signer.key") && fs::exists(dir / "signer.pem") && fs::exists(dir / "ca.pem")) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorCode::internal, "cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  const int lock = ::open((dir / ".lock").c_str(), O_CREAT | O_RDWR, 0600);
  if (lock < 0 || ::flock(lock, LOCK_EX) != 0)
    throw Error(ErrorCode::internal, "cannot lock " + (dir / ".lock").string());
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }
  } unlock{lock};
  if (fs::exists(dir / "signer.key") && fs::exists(dir / "signer.pem") && fs::exists(dir / "ca.pem")) return;

  EVP_PKEY* ca_key = EVP_EC_gen("P-256");
  EVP_PKEY* leaf_key = EVP_EC_gen("P-256");
  if (!ca_key || !leaf_key) fail("cannot generate P-256 keys");
  X509* ca = make_cert(ca_key, ca_key, nullptr, "likeness installation CA", true, 3650);
  X509* leaf = make_cert(leaf_key, ca_key, ca, "likeness portrait signer", false, 1825);
  write_private(dir / "ca.key", pem_of_key(ca_key));
  write_file_atomic((dir / "ca.pem").string(), pem_of(ca));
  write_private(dir / "signer.key", pem_of_key(leaf_key));
  // The chain a manifest carries: leaf, then intermediates (none; the CA is
  // the trust anchor and is not sent).
  write_file_atomic((dir / "signer.pem").string(), pem_of(leaf));
  X509_free(ca);
  X509_free(leaf);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(leaf_key);
}

}  // namespace

Signer::~Signer() { EVP_PKEY_free(static_cast<EVP_PKEY*>(key_)); }
Signer::Signer(Signer&& o) noexcept : chain_der_(std::move(o.chain_der_)), key_(o.key_) { o.key_ = nullptr; }

Signer Signer::from_files(const std::string& chain_pem_path, const std::string& key_pem_path) {
  const std::string chain_pem = read_file(chain_pem_path, 1 << 20), key_pem = read_file(key_pem_path, 1 << 20);
  Signer s;
  Bio cb(chain_pem);
  X509* leaf = nullptr;
  while (X509* x = PEM_read_bio_X509(cb.b, nullptr, nullptr, nullptr)) {
    s.chain_der_.push_back(der_of(x));
    if (!leaf)
      leaf = x;
    else
      X509_free(x);
  }
  ERR_clear_error();
  if (!leaf) throw Error(ErrorCode::usage, chain_pem_path + " holds no PEM certificate");
  Bio kb(key_pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kb.b, nullptr, nullptr, nullptr);
  if (!key) {
    X509_free(leaf);
    throw Error(ErrorCode::usage, key_pem_path + " holds no PEM private key");
  }
  const bool p256 = EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) == 256;
  const bool matches = X509_check_private_key(leaf, key) == 1;
  X509_free(leaf);
  if (!p256 || !matches) {
    EVP_PKEY_free(key);
    throw Error(ErrorCode::usage, !p256 ? "the signing key must be ECDSA P-256 (ES256)"
                                        : "the signing key does not belong to the first certificate of the chain");
  }
  s.key_ = key;
  return s;
}

Signer Signer::installation() {
  ensure_installation_keys();
  return from_files((keys_dir() / "signer.pem").string(), (keys_dir() / "signer.key").string());
}

std::string Signer::installation_ca_pem(bool create) {
  if (!create && !fs::exists(keys_dir() / "ca.pem")) return "";
  ensure_installation_keys();
  return read_file((keys_dir() / "ca.pem").string(), 1 << 20);
}

std::string Signer::sign(const std::string& data) const {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  size_t len = 0;
  std::string der;
  if (EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, static_cast<EVP_PKEY*>(key_)) != 1 ||
      EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    EVP_MD_CTX_free(md);
    fail("cannot sign");
  }
  der.resize(len);
  if (EVP_DigestSign(md, reinterpret_cast<unsigned char*>(der.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    EVP_MD_CTX_free(md);
    fail("cannot sign");
  }
  EVP_MD_CTX_free(md);
  // DER ECDSA-Sig-Value -> raw r||s, 32 bytes each (COSE, RFC 9053).
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, long(len));
  if (!sig) fail("cannot read the ECDSA signature");
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  return raw;
}

}  // namespace likeness
