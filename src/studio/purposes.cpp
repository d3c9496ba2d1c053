#include <algorithm>
#include <cmath>
#include <map>

#include "likeness/data.hpp"
#include "likeness/error.hpp"
#include "likeness/purpose.hpp"
#include "likeness/stage.hpp"

namespace likeness {

std::vector<DataFile> data_files_under(std::string_view folder) {
  std::vector<DataFile> out;
  for (const DataFile& f : data_files())
    if (f.path.substr(0, folder.size()) == folder) out.push_back(f);
  return out;
}

namespace {
// The look every purpose states in full: no stage left to its own default
// by accident.
const char* const kLookStages[] = {"backdrop", "frame", "relight", "retouch", "grade"};

[[noreturn]] void invalid(const std::string& file, const std::string& what) {
  throw Error(ErrorCode::internal, "data/" + file + ": " + what);
}

const ParamSpec& frame_spec(const std::string& key) {
  for (const ParamSpec& s : find_stage("frame").params())
    if (s.key == key) return s;
  throw Error(ErrorCode::internal, "the frame stage declares no '" + key + "'");
}
}  // namespace

Purpose parse_purpose(const std::string& file, const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    invalid(file, std::string("not JSON: ") + e.what());
  }
  if (!j.is_object()) invalid(file, "not a JSON object");
  for (const auto& [key, value] : j.items()) {
    static const char* const kKeys[] = {"name", "order", "aliases", "summary", "why", "use", "stages", "vary", "sizes"};
    if (std::find_if(std::begin(kKeys), std::end(kKeys), [&](const char* k) { return key == k; }) == std::end(kKeys))
      invalid(file, "unknown field '" + key + "'");
  }
  auto text_field = [&](const char* key) {
    if (!j.contains(key) || !j[key].is_string() || j[key].get<std::string>().empty())
      invalid(file, std::string("'") + key + "' must be a non-empty string");
    return j[key].get<std::string>();
  };
  Purpose p;
  p.file = file;
  p.name = text_field("name");
  const std::string base = file.substr(file.rfind('/') + 1);
  if (base != p.name + ".json") invalid(file, "its name '" + p.name + "' is not its file's name");
  if (j.contains("order")) {
    if (!j["order"].is_number_integer()) invalid(file, "'order' must be an integer");
    p.order = j["order"].get<int>();
  }
  p.summary = text_field("summary");
  p.why = text_field("why");
  // The use its portraits are for by default: the consent must permit it.
  p.use = text_field("use");
  if (p.use != "personal" && p.use != "commercial") invalid(file, "'use' is personal or commercial, not " + p.use);
  if (j.contains("aliases")) {
    if (!j["aliases"].is_array()) invalid(file, "'aliases' must be a list of words");
    for (const json& a : j["aliases"]) {
      if (!a.is_string() || a.get<std::string>().empty()) invalid(file, "'aliases' must be a list of words");
      p.aliases.push_back(a.get<std::string>());
    }
  }

  // The stages' parameters, each checked against its stage's declarations
  // (an unknown stage or key, a value of the wrong type or out of range).
  if (!j.contains("stages") || !j["stages"].is_object()) invalid(file, "'stages' must be an object");
  for (const auto& [id, params] : j["stages"].items()) {
    const Stage* stage = nullptr;
    for (const Stage* s : all_stages())
      if (s->id() == id) stage = s;
    if (!stage) invalid(file, "no stage '" + id + "'");
    if (!params.is_object()) invalid(file, "stage '" + id + "': parameters must be an object");
    try {
      resolve_params(id, stage->params(), params);
    } catch (const Error& e) {
      invalid(file, e.what());
    }
  }
  for (const char* id : kLookStages)
    if (!j["stages"].contains(id)) invalid(file, std::string("states no '") + id + "' parameters");
  p.stages = j["stages"];

  // What its variations vary (of what the person did not ask for).
  if (!j.contains("vary") || !j["vary"].is_array()) invalid(file, "'vary' must be a list");
  for (const json& v : j["vary"]) {
    static const char* const kDims[] = {"source", "backdrop", "light", "crop"};
    if (!v.is_string() || std::none_of(std::begin(kDims), std::end(kDims), [&](const char* d) { return v == d; }))
      invalid(file, "'vary' takes source, backdrop, light and crop, not " + v.dump());
    p.vary.push_back(v.get<std::string>());
  }

  // Output sizes: within the frame's limits; a square profile picture of
  // at least 800 px, a 4:5 and a 2:3 print size; the frame's own size one
  // of them.
  if (!j.contains("sizes") || !j["sizes"].is_array() || j["sizes"].empty())
    invalid(file, "'sizes' must be a non-empty list");
  const ParamSpec &ws = frame_spec("width"), &hs = frame_spec("height");
  for (const json& s : j["sizes"]) {
    if (!s.is_object() || !s.contains("name") || !s["name"].is_string() || !s.contains("width") ||
        !s["width"].is_number_integer() || !s.contains("height") || !s["height"].is_number_integer())
      invalid(file, "each size needs a name, an integer width and an integer height");
    OutputSize o{s["name"].get<std::string>(), s["width"].get<int>(), s["height"].get<int>()};
    if (o.width < ws.min || o.width > ws.max || o.height < hs.min || o.height > hs.max)
      invalid(file, "size '" + o.name + "' is outside the frame's " + ws.allowed() + " x " + hs.allowed() + " px");
    p.sizes.push_back(o);
  }
  auto has_ratio = [&](int w, int h, int min_side) {
    return std::any_of(p.sizes.begin(), p.sizes.end(), [&](const OutputSize& o) {
      return o.width * h == o.height * w && std::min(o.width, o.height) >= min_side;
    });
  };
  if (!has_ratio(1, 1, 800)) invalid(file, "no square profile size of at least 800 px");
  if (!has_ratio(4, 5, 1)) invalid(file, "no 4:5 print size");
  if (!has_ratio(2, 3, 1)) invalid(file, "no 2:3 print size");
  const json frame = resolve_params("frame", find_stage("frame").params(), p.stages["frame"]);
  if (std::none_of(p.sizes.begin(), p.sizes.end(), [&](const OutputSize& o) {
        return o.width == frame["width"].get<int>() && o.height == frame["height"].get<int>();
      }))
    invalid(file, "the frame's size is not one of its sizes");
  return p;
}

const std::vector<Purpose>& purposes() {
  static const std::vector<Purpose> all = [] {
    std::vector<std::pair<int, Purpose>> read;
    for (const DataFile& f : data_files_under("purposes/")) {
      Purpose p = parse_purpose(std::string(f.path), std::string(f.text));
      const int order = p.order;
      read.emplace_back(order, std::move(p));
    }
    if (read.empty()) throw Error(ErrorCode::internal, "no purposes in data/purposes/");
    std::stable_sort(read.begin(), read.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : a.second.name < b.second.name;
    });
    std::vector<Purpose> out;
    std::map<std::string, std::string> words;  // every name and alias, once
    for (auto& [order, p] : read) {
      for (const std::string& w : [&] {
             std::vector<std::string> v{p.name};
             v.insert(v.end(), p.aliases.begin(), p.aliases.end());
             return v;
           }()) {
        if (!words.emplace(w, p.file).second)
          throw Error(ErrorCode::internal, "data/" + p.file + ": '" + w + "' already names data/" + words[w]);
      }
      out.push_back(std::move(p));
    }
    return out;
  }();
  return all;
}

bool Purpose::varies(const std::string& what) const { return std::find(vary.begin(), vary.end(), what) != vary.end(); }

std::vector<std::string> purpose_names() {
  std::vector<std::string> names;
  for (const Purpose& p : purposes()) names.push_back(p.name);
  return names;
}

std::string purpose_list() {
  std::string s;
  for (const Purpose& p : purposes()) s += (s.empty() ? "" : ", ") + p.name;
  return s;
}

const Purpose& find_purpose(const std::string& name) {
  for (const Purpose& p : purposes()) {
    if (p.name == name) return p;
    for (const std::string& a : p.aliases)
      if (a == name) return p;
  }
  throw Error(ErrorCode::usage, "unknown purpose '" + name + "' (" + purpose_list() + ")");
}

}  // namespace likeness
