// The sign-in secrets every service store keeps the same way: a cookie or
// token is 256 random bits, kept as its SHA-256; a password is kept as
// PBKDF2-HMAC-SHA256 with its own salt and compared in constant time.
#pragma once
#include <string>

namespace likeness {

std::string random_secret();  // 64 hex digits
struct PasswordHash {
  std::string salt, hash;
};
PasswordHash hash_password(const std::string& password);
// Does `password` match? The same work when there is no such user
// (`stored` empty), so the time taken does not tell names apart.
bool password_matches(const std::string& password, const PasswordHash& stored);

}  // namespace likeness
