#include "secrets.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "likeness/error.hpp"
#include "likeness/hash.hpp"

namespace likeness {

namespace {

constexpr int kPbkdf2Iterations = 120000;

std::string pbkdf2(const std::string& password, const std::string& salt) {
  unsigned char out[32];
  if (PKCS5_PBKDF2_HMAC(password.data(), int(password.size()), reinterpret_cast<const unsigned char*>(salt.data()),
                        int(salt.size()), kPbkdf2Iterations, EVP_sha256(), sizeof out, out) != 1)
    throw Error(ErrorCode::internal, "PBKDF2 failed");
  return to_hex(std::string_view(reinterpret_cast<const char*>(out), sizeof out));
}

}  // namespace

std::string random_secret() { return to_hex(random_bytes(32)); }

PasswordHash hash_password(const std::string& password) {
  PasswordHash h;
  h.salt = random_secret();
  h.hash = pbkdf2(password, h.salt);
  return h;
}

bool password_matches(const std::string& password, const PasswordHash& stored) {
  const std::string got = pbkdf2(password, stored.salt.empty() ? "no such user" : stored.salt);
  return !stored.hash.empty() && got.size() == stored.hash.size() &&
         CRYPTO_memcmp(got.data(), stored.hash.data(), got.size()) == 0;
}

}  // namespace likeness
