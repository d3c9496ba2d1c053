#include "cbor.hpp"

#include <stdexcept>

namespace likeness::cbor {

void head(std::string& out, int major, uint64_t v) {
  const char m = char(major << 5);
  if (v < 24) {
    out.push_back(char(m | char(v)));
  } else if (v <= 0xff) {
    out.push_back(char(m | 24));
    out.push_back(char(v));
  } else if (v <= 0xffff) {
    out.push_back(char(m | 25));
    for (int s = 8; s >= 0; s -= 8) out.push_back(char(v >> s));
  } else if (v <= 0xffffffffULL) {
    out.push_back(char(m | 26));
    for (int s = 24; s >= 0; s -= 8) out.push_back(char(v >> s));
  } else {
    out.push_back(char(m | 27));
    for (int s = 56; s >= 0; s -= 8) out.push_back(char(v >> s));
  }
}

void uint(std::string& out, uint64_t v) { head(out, 0, v); }
void integer(std::string& out, int64_t v) {
  if (v >= 0)
    head(out, 0, uint64_t(v));
  else
    head(out, 1, uint64_t(-1 - v));
}
void bytes(std::string& out, std::string_view b) {
  head(out, 2, b.size());
  out.append(b);
}
void text(std::string& out, std::string_view s) {
  head(out, 3, s.size());
  out.append(s);
}

const Item* Item::find(int64_t key) const {
  for (const auto& [k, v] : entries)
    if ((k.kind == Uint || k.kind == Nint) && k.as_int() == key) return &v;
  return nullptr;
}
const Item* Item::find(std::string_view key) const {
  for (const auto& [k, v] : entries)
    if (k.kind == Text && k.data == key) return &v;
  return nullptr;
}

namespace {
struct Reader {
  std::string_view in;
  size_t pos = 0;
  int depth = 0;

  uint8_t byte() {
    if (pos >= in.size()) throw std::runtime_error("CBOR: truncated");
    return uint8_t(in[pos++]);
  }
  uint64_t arg(uint8_t info) {
    if (info < 24) return info;
    int n = info == 24 ? 1 : info == 25 ? 2 : info == 26 ? 4 : info == 27 ? 8 : 0;
    if (!n) throw std::runtime_error("CBOR: indefinite or reserved length");
    uint64_t v = 0;
    while (n--) v = (v << 8) | byte();
    return v;
  }
  Item item() {
    if (++depth > 64) throw std::runtime_error("CBOR: nested too deeply");
    const uint8_t b = byte();
    const int major = b >> 5;
    const uint8_t info = b & 31;
    Item it;
    if (major == 7) {
      if (info == 25 || info == 26 || info == 27) {
        it.kind = Item::Float;
        it.value = arg(info);
      } else {
        it.kind = Item::Simple;
        it.value = info == 24 ? byte() : info;
      }
      --depth;
      return it;
    }
    const uint64_t v = arg(info);
    switch (major) {
      case 0:
        it.kind = Item::Uint, it.value = v;
        break;
      case 1:
        it.kind = Item::Nint, it.value = v;
        break;
      case 2:
      case 3:
        if (v > in.size() - pos) throw std::runtime_error("CBOR: string past the end");
        it.kind = major == 2 ? Item::Bytes : Item::Text;
        it.data = std::string(in.substr(pos, v));
        pos += v;
        break;
      case 4:
        if (v > in.size() - pos) throw std::runtime_error("CBOR: array past the end");
        it.kind = Item::Array;
        for (uint64_t i = 0; i < v; ++i) it.items.push_back(item());
        break;
      case 5:
        if (v > in.size() - pos) throw std::runtime_error("CBOR: map past the end");
        it.kind = Item::Map;
        for (uint64_t i = 0; i < v; ++i) {
          Item k = item();
          it.entries.emplace_back(std::move(k), item());
        }
        break;
      case 6:
        it.kind = Item::Tag, it.value = v;
        it.items.push_back(item());
        break;
    }
    --depth;
    return it;
  }
};
}  // namespace

Item decode(std::string_view in, size_t* consumed) {
  Reader r{in};
  Item it = r.item();
  if (consumed) *consumed = r.pos;
  return it;
}

}  // namespace likeness::cbor
