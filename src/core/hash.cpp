#include "likeness/hash.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fstream>

#include "likeness/error.hpp"

namespace likeness {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1)
    throw Error(ErrorCode::internal, "OpenSSL: cannot initialise SHA-256");
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

Sha256& Sha256::update(std::string_view bytes) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), bytes.data(), bytes.size());
  return *this;
}

Sha256& Sha256::field(std::string_view bytes) {
  const std::string len = std::to_string(bytes.size()) + ":";
  update(len);
  return update(bytes);
}

std::string Sha256::digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &n);
  return std::string(reinterpret_cast<const char*>(md), n);
}

std::string Sha256::hex() { return to_hex(digest()); }

std::string to_hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) { return Sha256().update(bytes).hex(); }
std::string sha256_raw(std::string_view bytes) { return Sha256().update(bytes).digest(); }

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::internal, "cannot read " + path);
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.update(std::string_view(buf.data(), static_cast<size_t>(in.gcount())));
  }
  return h.hex();
}

std::string random_bytes(size_t n) {
  std::string b(n, '\0');
  if (n && RAND_bytes(reinterpret_cast<unsigned char*>(b.data()), int(n)) != 1)
    throw Error(ErrorCode::internal, "the system has no randomness to give");
  return b;
}

std::string random_id(const std::string& prefix, size_t bytes) { return prefix + to_hex(random_bytes(bytes)); }

}  // namespace likeness
