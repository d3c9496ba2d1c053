#include "studio/vocabulary.hpp"

#include <algorithm>

#include "likeness/data.hpp"
#include "likeness/error.hpp"
#include "likeness/stage.hpp"

namespace likeness::vocab {

namespace {
[[noreturn]] void invalid(const std::string& file, const std::string& what) {
  throw Error(ErrorCode::internal, "data/" + file + ": " + what);
}

json read(const std::string& file) {
  for (const DataFile& f : data_files())
    if (f.path == file) {
      try {
        return json::parse(f.text);
      } catch (const json::exception& e) {
        invalid(file, std::string("not JSON: ") + e.what());
      }
    }
  invalid(file, "missing");
}

std::vector<std::string> strings(const std::string& file, const json& j, const char* what) {
  std::vector<std::string> out;
  if (!j.is_array()) invalid(file, std::string("'") + what + "' must be a list of phrases");
  for (const json& s : j) {
    if (!s.is_string() || s.get<std::string>().empty())
      invalid(file, std::string("'") + what + "' must be a list of phrases");
    std::string p = s.get<std::string>();
    std::transform(p.begin(), p.end(), p.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    out.push_back(p);
  }
  return out;
}

// Every stage parameter a sense sets, checked against the stage's own
// declaration (an unknown stage or key, a value out of range).
void check_sets(const std::string& file, const std::string& phrase, const json& sets) {
  if (!sets.is_object()) invalid(file, "'" + phrase + "': 'sets' must be an object of stages");
  for (const auto& [id, params] : sets.items()) {
    const Stage* stage = nullptr;
    for (const Stage* s : all_stages())
      if (s->id() == id) stage = s;
    if (!stage) invalid(file, "'" + phrase + "' sets a stage 'likeness' has not: '" + id + "'");
    try {
      resolve_params(id, stage->params(), params);
    } catch (const Error& e) {
      invalid(file, "'" + phrase + "': " + e.what());
    }
  }
}

const char* const kAnchors[] = {"garment", "backdrop", "light", "tone", "skin"};
bool is_anchor(const std::string& a) {
  return std::any_of(std::begin(kAnchors), std::end(kAnchors), [&](const char* k) { return a == k; });
}
}  // namespace

Vocabulary build_vocabulary(const json& colours, const json& words) {
  {
    Vocabulary voc;
    auto add = [&](const std::string& file, const std::string& phrase, int entry) {
      if (!voc.phrases.emplace(phrase, entry).second) invalid(file, "'" + phrase + "' is listed twice");
      voc.longest = std::max(voc.longest, int(std::count(phrase.begin(), phrase.end(), ' ')) + 1);
    };

    // Colours: the wardrobe's fabric names are used as they are.
    std::vector<std::string> fabrics;
    for (const ParamSpec& s : find_stage("wardrobe").params())
      if (s.key == "color") fabrics = s.choices;
    const std::string cf = "vocabulary/colours.json";
    if (!colours.contains("colours") || !colours["colours"].is_array()) invalid(cf, "'colours' must be a list");
    for (const json& c : colours["colours"]) {
      Entry e;
      e.kind = Kind::colour;
      e.layer = "colour";
      if (!c.contains("name") || !c["name"].is_string() || !c.contains("hex") || !c["hex"].is_string())
        invalid(cf, "each colour needs a name and a hex");
      e.colour = c["name"].get<std::string>();
      e.hex = c["hex"].get<std::string>();
      try {
        parse_color(e.hex);
      } catch (const Error&) {
        invalid(cf, "'" + e.colour + "': '" + e.hex + "' is not #rrggbb");
      }
      if (std::find(fabrics.begin(), fabrics.end(), e.colour) != fabrics.end()) e.fabric = e.colour;
      voc.entries.push_back(e);
      const int id = int(voc.entries.size()) - 1;
      add(cf, e.colour, id);
      for (const std::string& p : strings(cf, c.value("also", json::array()), "also")) add(cf, p, id);
    }
    // Every fabric the wardrobe knows is a colour the prompt knows.
    for (const std::string& f : fabrics)
      if (f != "keep" && !voc.phrases.count(f)) invalid(cf, "the wardrobe's fabric '" + f + "' is missing");

    const std::string wf = "vocabulary/words.json";
    for (const char* list : {"glue", "understood"}) {
      Entry e;
      e.kind = std::string(list) == "glue" ? Kind::glue : Kind::understood;
      voc.entries.push_back(e);
      for (const std::string& p : strings(wf, words.value(list, json::array()), list))
        add(wf, p, int(voc.entries.size()) - 1);
    }
    if (!words.contains("entries") || !words["entries"].is_array()) invalid(wf, "'entries' must be a list");
    for (const json& j : words["entries"]) {
      Entry e;
      const std::vector<std::string> phrases = strings(wf, j.value("phrases", json()), "phrases");
      if (phrases.empty()) invalid(wf, "an entry without phrases");
      const std::string& name = phrases[0];
      e.layer = j.value("layer", "");
      static const char* const kLayers[] = {"subject", "setting",     "lighting", "style",
                                            "polish",  "composition", "output"};
      if (std::none_of(std::begin(kLayers), std::end(kLayers), [&](const char* l) { return e.layer == l; }))
        invalid(wf, "'" + name + "': unknown layer '" + e.layer + "'");
      e.rank = j.value("rank", 0);
      if (!j.contains("senses") || !j["senses"].is_array() || j["senses"].empty())
        invalid(wf, "'" + name + "': no senses");
      for (const json& s : j["senses"]) {
        Sense sense;
        sense.needs = s.value("needs", "");
        sense.anchor = s.value("anchor", "");
        sense.garment = s.value("garment", "");
        sense.refuse = s.value("refuse", "");
        sense.light_modifier = s.value("light_modifier", false);
        sense.dramatic = s.value("dramatic", false);
        if (!sense.needs.empty() && !is_anchor(sense.needs))
          invalid(wf, "'" + name + "' needs an unknown anchor '" + sense.needs + "'");
        if (!sense.anchor.empty() && !is_anchor(sense.anchor))
          invalid(wf, "'" + name + "' is an unknown anchor '" + sense.anchor + "'");
        if (!sense.garment.empty() && sense.garment != "outer" && sense.garment != "inner")
          invalid(wf, "'" + name + "': a garment is outer or inner");
        if (s.contains("sets")) {
          check_sets(wf, name, s["sets"]);
          sense.sets = s["sets"];
        }
        e.senses.push_back(sense);
      }
      voc.entries.push_back(e);
      for (const std::string& p : phrases) add(wf, p, int(voc.entries.size()) - 1);
    }
    return voc;
  }
}

const Vocabulary& vocabulary() {
  static const Vocabulary v = build_vocabulary(read("vocabulary/colours.json"), read("vocabulary/words.json"));
  return v;
}

}  // namespace likeness::vocab
