#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace likeness {

// SHA-256 (OpenSSL) as lowercase hex, or as the 32 raw bytes.
std::string sha256_hex(std::string_view bytes);
std::string sha256_raw(std::string_view bytes);
std::string to_hex(std::string_view bytes);  // lowercase
std::string sha256_file(const std::string& path);

// `n` bytes from the operating system's CSPRNG (OpenSSL); Error{internal}
// if it has none to give.
std::string random_bytes(size_t n);
// An opaque id: prefix + 2*bytes lowercase hex digits (80 bits by default).
std::string random_id(const std::string& prefix, size_t bytes = 10);

// Incremental hasher for composing cache keys from parts.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256& update(std::string_view bytes);
  // Length-prefixed, so ("ab","c") and ("a","bc") hash differently.
  Sha256& field(std::string_view bytes);
  std::string hex();
  std::string digest();  // raw bytes

 private:
  void* ctx_;
};

}  // namespace likeness
