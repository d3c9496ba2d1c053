// A small CBOR (RFC 8949) writer and reader for C2PA's COSE structures, which
// use integer map keys and tags that nlohmann::json cannot express. Plain
// assertion maps go through nlohmann::json::to_cbor.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace likeness::cbor {

// Writers append one item (or an item's head) to `out`.
void head(std::string& out, int major, uint64_t value);
void uint(std::string& out, uint64_t v);
void integer(std::string& out, int64_t v);
void bytes(std::string& out, std::string_view b);
void text(std::string& out, std::string_view s);
inline void array(std::string& out, uint64_t n) { head(out, 4, n); }
inline void map(std::string& out, uint64_t n) { head(out, 5, n); }
inline void tag(std::string& out, uint64_t t) { head(out, 6, t); }
inline void null(std::string& out) { out.push_back(char(0xf6)); }

// A decoded item (definite lengths only; C2PA uses no others).
struct Item {
  enum Kind { Uint, Nint, Bytes, Text, Array, Map, Tag, Simple, Float } kind = Simple;
  uint64_t value = 0;                          // Uint, Nint (-1 - value), Tag number, Simple value
  std::string data;                            // Bytes, Text
  std::vector<Item> items;                     // Array; Tag: one item
  std::vector<std::pair<Item, Item>> entries;  // Map
  int64_t as_int() const { return kind == Nint ? -1 - int64_t(value) : int64_t(value); }
  const Item* find(int64_t key) const;
  const Item* find(std::string_view key) const;
};

// Throws std::runtime_error on malformed or truncated input.
Item decode(std::string_view in, size_t* consumed = nullptr);

}  // namespace likeness::cbor
