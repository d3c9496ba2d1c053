#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "likeness/error.hpp"
#include "likeness/purpose.hpp"
#include "likeness/studio.hpp"
#include "studio/vocabulary.hpp"

namespace likeness {

namespace {
std::string lighter(const std::string& hex, double amount) {
  cv::Scalar c = parse_color(hex);
  for (int i = 0; i < 3; ++i) c[i] = c[i] + (255 - c[i]) * amount;
  return format_color(c);
}

std::string shade(const std::string& hex, double factor) {
  cv::Scalar c = parse_color(hex);
  for (int i = 0; i < 3; ++i) c[i] = std::clamp(c[i] * factor, 0.0, 255.0);
  return format_color(c);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

// Clauses: split at , ; . ! ? and new lines (a full stop inside a number,
// "1.5", stays).
std::vector<std::string> clauses_of(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool stop = c == ',' || c == ';' || c == '!' || c == '?' || c == '\n' ||
                      (c == '.' && !(i > 0 && std::isdigit((unsigned char)text[i - 1]) && i + 1 < text.size() &&
                                     std::isdigit((unsigned char)text[i + 1])));
    if (stop) {
      out.push_back(cur), cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  std::vector<std::string> kept;
  for (auto& c : out) {
    const auto b = c.find_first_not_of(" \t\r"), e = c.find_last_not_of(" \t\r");
    if (b != std::string::npos) kept.push_back(c.substr(b, e - b + 1));
  }
  return kept;
}

// Words of a clause as written and lower-cased; quotes and brackets around
// a word are not part of it.
std::vector<std::string> words_of(const std::string& clause) {
  std::vector<std::string> out;
  std::string w;
  auto flush = [&] {
    const auto b = w.find_first_not_of("\"'()[]{}"), e = w.find_last_not_of("\"'()[]{}");
    if (b != std::string::npos) out.push_back(w.substr(b, e - b + 1));
    w.clear();
  };
  for (char c : clause) {
    if (std::isspace((unsigned char)c))
      flush();
    else
      w += c;
  }
  flush();
  return out;
}

bool is_hex(const std::string& w) {
  return w.size() == 7 && w[0] == '#' &&
         std::all_of(w.begin() + 1, w.end(), [](char c) { return std::isxdigit((unsigned char)c); });
}

// One recognised phrase of a clause.
struct Token {
  std::string phrase;         // as written
  const vocab::Entry* entry;  // null: not understood
  vocab::Entry hex_colour;    // a #rrggbb written out
  const vocab::Entry& e() const { return entry ? *entry : hex_colour; }
};

std::vector<Token> tokens_of(const std::string& clause) {
  const vocab::Vocabulary& v = vocab::vocabulary();
  const std::vector<std::string> words = words_of(clause);
  std::vector<std::string> low;
  for (const auto& w : words) low.push_back(lower(w));
  std::vector<Token> out;
  for (size_t i = 0; i < words.size();) {
    size_t n = std::min<size_t>(v.longest, words.size() - i);
    for (; n > 0; --n) {
      std::string p = low[i], as_written = words[i];
      for (size_t k = 1; k < n; ++k) p += " " + low[i + k], as_written += " " + words[i + k];
      auto it = v.phrases.find(p);
      if (it != v.phrases.end()) {
        out.push_back({as_written, &v.entries[it->second], {}});
        break;
      }
      if (n == 1 && is_hex(p)) {
        Token t{as_written, nullptr, {}};
        t.hex_colour.kind = vocab::Kind::colour;
        t.hex_colour.colour = t.hex_colour.hex = p;
        out.push_back(t);
        break;
      }
    }
    if (n == 0) {
      // Not understood: joined to the previous unknown word into one phrase.
      if (!out.empty() && !out.back().entry && out.back().hex_colour.kind != vocab::Kind::colour)
        out.back().phrase += " " + words[i];
      else
        out.push_back({words[i], nullptr, {}});
      n = 1;
    }
    i += n;
  }
  return out;
}

bool is_unknown(const Token& t) { return !t.entry && t.hex_colour.kind != vocab::Kind::colour; }

// Applies one clause to the plan; `origin` names where it came from
// ("prompt 'navy suit'", "--attire 'navy suit'").
void apply_clause(PromptPlan& plan, const std::string& clause, const std::string& origin) {
  const std::vector<Token> tokens = tokens_of(clause);
  // The clause's anchors: what its colours and modifiers qualify.
  std::set<std::string> anchors;
  for (const Token& t : tokens)
    if (!is_unknown(t) && t.e().kind == vocab::Kind::word)
      for (const vocab::Sense& s : t.e().senses)
        if (!s.anchor.empty() && s.needs.empty()) anchors.insert(s.anchor);
  auto sense_of = [&](const vocab::Entry& e) -> const vocab::Sense* {
    for (const vocab::Sense& s : e.senses)
      if (s.needs.empty() || anchors.count(s.needs)) return &s;
    return nullptr;
  };
  auto set = [&](const std::string& stage, const std::string& key, const json& value) {
    plan.params[stage][key] = value;
    plan.origins[stage][key] = origin;
  };
  bool used = false, pattern_named = false, light_shaped = false, strength_named = false, dramatic = false;
  // Settings in rank order: of two places named together the higher wins.
  std::vector<std::pair<int, const vocab::Sense*>> settings;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (is_unknown(t)) {
      plan.not_understood.push_back(t.phrase);
      continue;
    }
    const vocab::Entry& e = t.e();
    if (e.kind == vocab::Kind::glue || e.kind == vocab::Kind::understood) continue;
    if (e.kind == vocab::Kind::colour) {
      // The garment it names: the next garment word, else the one before;
      // without a garment, the backdrop's colour when the clause names a
      // backdrop or a place.
      const Token* garment = nullptr;
      for (size_t k = i + 1; k < tokens.size() && !garment; ++k)
        if (!is_unknown(tokens[k]) && tokens[k].e().kind == vocab::Kind::word) {
          const vocab::Sense* s = sense_of(tokens[k].e());
          if (s && s->anchor == "garment") garment = &tokens[k];
        }
      for (size_t k = i; k-- > 0 && !garment;)
        if (!is_unknown(tokens[k]) && tokens[k].e().kind == vocab::Kind::word) {
          const vocab::Sense* s = sense_of(tokens[k].e());
          if (s && s->anchor == "garment") garment = &tokens[k];
        }
      if (garment) {
        const std::string which = sense_of(garment->e())->garment;
        const std::string colour = e.fabric.empty() ? e.hex : e.fabric;
        json& w = plan.params["wardrobe"];
        const std::string had = w.is_object() ? w.value("garment", "outer") : std::string("outer");
        if (w.contains("color") && had != which && w["color"] != colour) {
          // Two garments: the outer one takes `color`, the shirt under it
          // `inner_color` ("a navy blazer with a white shirt").
          if (had == "outer" && which == "inner" && !w.contains("inner_color")) {
            set("wardrobe", "inner_color", colour);
            used = true;
            continue;
          }
          if (had == "inner" && which == "outer" && !w.contains("inner_color")) {
            set("wardrobe", "inner_color", w["color"].get<std::string>());
            set("wardrobe", "color", colour);
            set("wardrobe", "garment", which);
            used = true;
            continue;
          }
          plan.not_applied.push_back("'" + t.phrase + " " + garment->phrase + "': one colour per garment (" +
                                     w["color"].get<std::string>() + " " + had + " kept)");
          continue;
        }
        set("wardrobe", "color", colour);
        set("wardrobe", "garment", which);
        used = true;
      } else if (anchors.count("backdrop")) {
        set("backdrop", "color", e.hex);
        set("backdrop", "color2", lighter(e.hex, 0.3));
        used = true;
      } else {
        plan.not_applied.push_back("'" + t.phrase + "': a colour of what? Name a garment (a navy blazer) or the " +
                                   "backdrop (a navy backdrop)");
      }
      continue;
    }
    const vocab::Sense* s = sense_of(e);
    if (!s) {
      plan.not_applied.push_back(
          "'" + t.phrase + "': of what? (" +
          (e.senses[0].needs == "light" ? std::string("a light: soft light") : "a " + e.senses[0].needs) + ")");
      continue;
    }
    if (!s->refuse.empty()) {
      plan.refused.push_back({t.phrase, s->refuse});
      continue;
    }
    if (s->sets.contains("relight")) {
      if (s->sets["relight"].contains("pattern")) pattern_named = true;
      if (s->sets["relight"].contains("strength")) strength_named = true;
    }
    light_shaped = light_shaped || s->light_modifier;
    dramatic = dramatic || s->dramatic;
    if (!s->sets.empty()) settings.emplace_back(e.rank, s);
    used = true;
  }
  std::stable_sort(settings.begin(), settings.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [rank, s] : settings)
    for (const auto& [stage, params] : s->sets.items())
      for (const auto& [k, v] : params.items()) set(stage, k, v);
  // A light named or shaped: a pattern (the purpose's own, else loop, or
  // low-key when dramatic) at a clear strength unless one was said.
  if (pattern_named || light_shaped) {
    if (!pattern_named && plan.params["relight"].value("pattern", "none") == "none")
      set("relight", "pattern", dramatic ? "low-key" : "loop");
    if (!strength_named) set("relight", "strength", 0.7);
  }
  if (used) plan.applied.push_back("'" + clause + "'");
}
}  // namespace

PromptPlan plan_prompt(const std::string& prompt, const std::string& purpose, const PromptFields& fields) {
  const Purpose& pre = find_purpose(purpose);
  PromptPlan plan;
  plan.purpose = pre.name;
  plan.params = pre.stages;
  for (const auto& [stage, params] : pre.stages.items())
    for (const auto& [k, v] : params.items()) plan.origins[stage][k] = "purpose " + pre.name;
  plan.applied.push_back("purpose '" + pre.name + "' preset (data/" + pre.file + ")");
  for (const std::string& c : clauses_of(prompt)) apply_clause(plan, c, "prompt '" + c + "'");
  for (const auto& [flag, text] : {std::pair<const char*, const std::string&>{"--attire", fields.attire},
                                   {"--setting", fields.setting},
                                   {"--lighting", fields.lighting},
                                   {"--composition", fields.composition}})
    for (const std::string& c : clauses_of(text)) apply_clause(plan, c, std::string(flag) + " '" + c + "'");
  return plan;
}

json plan_json(const PromptPlan& plan, const std::string& purpose) {
  const Recipe resolved = build_recipe(plan, 0).resolved();
  json origins = json::object();
  for (const Step& st : resolved.steps)
    for (const auto& [k, v] : st.params.items()) {
      const json* o =
          plan.origins.contains(st.stage) && plan.origins[st.stage].contains(k) ? &plan.origins[st.stage][k] : nullptr;
      origins[st.stage][k] = o ? *o : json("default");
    }
  json refused = json::array();
  for (const auto& r : plan.refused) refused.push_back({{"phrase", r.phrase}, {"why", r.why}});
  return {{"purpose", find_purpose(purpose).name},
          {"recipe", resolved.to_json()},
          {"origins", origins},
          {"applied", plan.applied},
          {"not_applied", plan.not_applied},
          {"not_understood", plan.not_understood},
          {"refused", refused}};
}

Recipe build_recipe(const PromptPlan& plan, int variation, const json& overrides) {
  Recipe r;
  for (const Stage* stage : all_stages()) {
    const std::string id = stage->id();
    Step step{id, stage->version(), plan.params.value(id, json::object())};
    if (overrides.contains(id))
      for (const auto& [k, v] : overrides[id].items()) step.params[k] = v;
    r.steps.push_back(std::move(step));
  }
  if (variation <= 0) return r;
  // What the person asked for stays; everything the purpose only suggested
  // varies. Pinned: a parameter the prompt or a field set, or a flag.
  auto pinned = [&](const std::string& stage, const std::string& key) {
    if (overrides.contains(stage) && overrides[stage].contains(key)) return true;
    if (!plan.origins.contains(stage) || !plan.origins[stage].contains(key)) return false;
    return plan.origins[stage][key].get<std::string>().rfind("purpose ", 0) != 0;
  };
  const Purpose* pu = plan.purpose.empty() ? nullptr : &find_purpose(plan.purpose);
  auto varies = [&](const char* what) { return !pu || pu->varies(what); };
  // The backdrop within its family: another tone of its colour, solid and
  // gradient in turn, another view of a place, canvas or paper.
  static const double kShade[] = {1.0, 1.25, 0.8, 1.45, 0.65};
  Step* b = r.find("backdrop");
  if (varies("backdrop")) {
    if (!pinned("backdrop", "color"))
      for (const char* k : {"color", "color2"})
        if (b->params.contains(k)) b->params[k] = shade(b->params[k], kShade[variation % 5]);
    const std::string style = b->params.value("style", "gradient");
    if (style == "solid" || style == "gradient") {
      if (variation % 2 == 1 && !pinned("backdrop", "style"))
        b->params["style"] = style == "solid" ? "gradient" : "solid";
    } else if (!pinned("backdrop", "seed")) {
      b->params["seed"] = 1 + variation;
    }
  }
  // The key's side and the crop as two binary digits of the variation (the
  // side the lower, the cheaper change: a further variation re-renders from
  // the backdrop on): consecutive variations, and those two or three apart
  // that a shoot makes from the same source photo, differ in one at least.
  Step* l = r.find("relight");
  if (varies("light") && l->params.value("pattern", "none") != "none" && !pinned("relight", "side"))
    l->params["side"] = variation % 2 == 1 ? "left" : "right";
  Step* f = r.find("frame");
  if (varies("crop") && (variation / 2) % 2 == 1 && !pinned("frame", "crop"))
    f->params["crop"] = f->params.value("crop", "head-and-shoulders") == "headshot" ? "head-and-shoulders" : "headshot";
  return r;
}

}  // namespace likeness
