#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <regex>

#include "likeness/error.hpp"
#include "likeness/purpose.hpp"
#include "likeness/studio.hpp"

namespace likeness {

namespace {
const std::map<std::string, std::string>& colours() {
  static const std::map<std::string, std::string> c = {
      {"navy", "#1f2a44"},   {"charcoal", "#333638"}, {"grey", "#7a7f85"},   {"gray", "#7a7f85"},  {"white", "#f2f2f2"},
      {"black", "#151515"},  {"blue", "#3d5a80"},     {"green", "#4f6b4f"},  {"teal", "#2f6f73"},  {"beige", "#cbbba0"},
      {"cream", "#eee5d3"},  {"burgundy", "#6d2a35"}, {"brown", "#6b4f3a"},  {"slate", "#4a5560"}, {"olive", "#6b6b3e"},
      {"red", "#8c2f2f"},    {"warm", "#8a7560"},     {"cool", "#5a6a7a"},   {"tan", "#b39b7a"},   {"pink", "#d8a7b1"},
      {"purple", "#5b4a72"}, {"orange", "#c7743c"},   {"yellow", "#d9b84a"}, {"sand", "#c9b79c"},
  };
  return c;
}

bool has(const std::string& s, const char* word) {
  return std::regex_search(s, std::regex(std::string("\\b") + word + "\\b"));
}

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
}  // namespace

PromptPlan plan_prompt(const std::string& prompt, const std::string& purpose) {
  const Purpose& pre = find_purpose(purpose);
  PromptPlan plan;
  plan.params = pre.stages;
  plan.applied.push_back("purpose '" + pre.name + "' preset (data/" + pre.file + ")");

  std::string lower = prompt;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  std::vector<std::string> clauses;
  const std::regex separators("[,;]");
  for (std::sregex_token_iterator t(lower.begin(), lower.end(), separators, -1), end; t != end; ++t) {
    std::string c = std::regex_replace(t->str(), std::regex("^\\s+|\\s+$"), "");
    if (!c.empty()) clauses.push_back(c);
  }
  for (const std::string& c : clauses) {
    bool used = false;
    if (has(c, "headshot") || has(c, "close-up") || has(c, "close up")) {
      plan.params["frame"]["crop"] = "headshot", used = true;
    } else if (has(c, "half-body") || has(c, "half body") || has(c, "waist")) {
      plan.params["frame"]["crop"] = "half-body", used = true;
    } else if (has(c, "head-and-shoulders") || has(c, "head and shoulders") || has(c, "shoulders")) {
      plan.params["frame"]["crop"] = "head-and-shoulders", used = true;
    }
    const bool wardrobe = has(c, "suit") || has(c, "jacket") || has(c, "shirt") || has(c, "blouse") ||
                          has(c, "dress") || has(c, "sweater") || has(c, "top") || has(c, "blazer") || has(c, "tie");
    const bool lighting = has(c, "light") || has(c, "lighting") || has(c, "lit") || has(c, "rembrandt") ||
                          has(c, "sunset") || has(c, "dusk") || has(c, "overcast") || has(c, "golden hour") ||
                          has(c, "shadow");
    // A place: the defocused scene backdrop it names (the first that fits).
    const char* place = has(c, "skyline") || has(c, "city") || has(c, "window") || has(c, "street") ? "city"
                        : has(c, "office") || has(c, "workplace")                                   ? "office"
                        : has(c, "cafe") || has(c, "café") || has(c, "coffee")                      ? "cafe"
                        : has(c, "garden") || has(c, "greenery") || has(c, "park") || has(c, "outdoor") ||
                                has(c, "foliage") || has(c, "trees")
                            ? "greenery"
                        : has(c, "sky") || has(c, "clouds") ? "sky"
                                                            : nullptr;
    if (place && !wardrobe && !lighting) plan.params["backdrop"]["style"] = place, used = true;
    const bool scene = place != nullptr;
    const bool backdrop_words = has(c, "backdrop") || has(c, "background") || has(c, "wall") || has(c, "studio") ||
                                has(c, "paper") || has(c, "gradient") || has(c, "seamless") || has(c, "plain") ||
                                has(c, "canvas") || has(c, "painted");
    if (!wardrobe && !lighting && !scene && backdrop_words) {
      for (const auto& [name, hex] : colours()) {
        if (has(c, name.c_str())) {
          plan.params["backdrop"]["color"] = hex;
          plan.params["backdrop"]["color2"] = lighter(hex, 0.3);
          used = true;
          break;
        }
      }
      if (has(c, "gradient") || has(c, "two-tone")) plan.params["backdrop"]["style"] = "gradient", used = true;
      if (has(c, "solid") || has(c, "plain")) plan.params["backdrop"]["style"] = "solid", used = true;
      if (has(c, "seamless") || has(c, "paper")) plan.params["backdrop"]["style"] = "paper", used = true;
      if (has(c, "canvas") || has(c, "painted")) plan.params["backdrop"]["style"] = "canvas", used = true;
      if (!used && (has(c, "studio") || has(c, "backdrop"))) used = true;  // the studio backdrop is the default
    }
    // A grade: the look a clause names. Warm, cool and natural only with a
    // word for tone ("warm tones"), as "warm" alone may be a backdrop colour.
    const bool tone = has(c, "tone") || has(c, "tones") || has(c, "grade") || has(c, "graded") || has(c, "colours") ||
                      has(c, "colors") || has(c, "palette") || has(c, "look") || has(c, "feel");
    const char* look = has(c, "black and white") || has(c, "black-and-white") || has(c, "b&w") ||
                               has(c, "monochrome") || has(c, "greyscale") || has(c, "grayscale")
                           ? "black-and-white"
                       : has(c, "cinematic")                                                   ? "cinematic"
                       : has(c, "film") || has(c, "analog") || has(c, "analogue")              ? "film"
                       : has(c, "high-key") || has(c, "high key") || has(c, "bright and airy") ? "high-key"
                       : has(c, "low-key") || has(c, "low key")                                ? "low-key"
                       : (has(c, "flatter") || has(c, "flattering")) && has(c, "skin")         ? "flatter"
                       : (has(c, "warm") || has(c, "warmer")) && tone                          ? "warm"
                       : (has(c, "cool") || has(c, "cooler")) && tone                          ? "cool"
                       : has(c, "natural") && tone                                             ? "natural"
                                                                                               : nullptr;
    // High- and low-key name a light and a grade alike: both render them.
    const bool keyed = look && (std::string(look) == "high-key" || std::string(look) == "low-key");
    if (look && !used && !wardrobe && !place && !backdrop_words && (keyed || !lighting)) {
      plan.params["grade"] = {{"look", look}, {"strength", 1.0}};
      if (keyed) plan.params["relight"] = {{"pattern", look}, {"strength", 0.6}};
      used = true;
    }
    // A light: a portrait pattern or a time of day, its side and softness.
    const char* light = has(c, "rembrandt")                          ? "rembrandt"
                        : has(c, "loop")                             ? "loop"
                        : has(c, "butterfly") || has(c, "paramount") ? "butterfly"
                        : has(c, "split")                            ? "split"
                        : has(c, "broad")                            ? "broad"
                        : has(c, "short") && lighting                ? "short"
                        : has(c, "rim") || has(c, "backlit") || has(c, "back light") || has(c, "hair light") ? "rim"
                        : has(c, "clamshell") || has(c, "beauty light")                         ? "clamshell"
                        : has(c, "golden hour") || has(c, "sunset") || has(c, "late afternoon") ? "golden-hour"
                        : has(c, "blue hour") || has(c, "dusk") || has(c, "twilight")           ? "blue-hour"
                        : has(c, "morning")                                                     ? "soft-morning"
                        : has(c, "overcast") || has(c, "noon") || has(c, "midday")              ? "overcast-noon"
                        : has(c, "window") && lighting                                          ? "window"
                        : has(c, "match") || has(c, "matching")                                 ? "match"
                                                                                                : nullptr;
    if (!used && !wardrobe && (light || (lighting && (has(c, "soft") || has(c, "hard") || has(c, "dramatic"))))) {
      json& rl = plan.params["relight"];
      if (light) rl["pattern"] = light;
      if (!light && rl.value("pattern", "none") == "none") rl["pattern"] = has(c, "dramatic") ? "low-key" : "loop";
      rl["strength"] = has(c, "subtle") || has(c, "gentle") ? 0.4 : has(c, "dramatic") || has(c, "strong") ? 0.9 : 0.7;
      if (has(c, "soft") || has(c, "diffuse") || has(c, "diffused")) rl["softness"] = 0.3;
      if (has(c, "hard") || has(c, "crisp")) rl["softness"] = -0.3;
      if (has(c, "from the left") || has(c, "on the left")) rl["side"] = "left";
      if (has(c, "from the right") || has(c, "on the right")) rl["side"] = "right";
      used = true;
    }
    // Skin: how much polish ("natural skin", "no retouching", "polished").
    if (!used && (has(c, "skin") || has(c, "retouch") || has(c, "retouching") || has(c, "retouched") ||
                  has(c, "polished") || has(c, "airbrushed"))) {
      const bool none = has(c, "no") || has(c, "untouched") || has(c, "unretouched");
      const bool light = has(c, "natural") || has(c, "light") || has(c, "subtle") || has(c, "minimal");
      const bool more = has(c, "polished") || has(c, "flawless") || has(c, "smooth") || has(c, "airbrushed");
      if (none || light || more) {
        plan.params["retouch"]["polish"] = none ? 0.0 : light ? 0.15 : 0.8;
        used = true;
      }
    }
    // Wardrobe: a garment and a colour the wardrobe stage knows by name (the
    // longest name that fits: "light blue" before "blue") or a hex code.
    if (!used && wardrobe) {
      std::string colour;
      for (const auto& spec : find_stage("wardrobe").params())
        if (spec.key == "color")
          for (const auto& name : spec.choices)
            if (name.size() > colour.size() && has(c, name.c_str())) colour = name;
      std::smatch hex;
      if (std::regex_search(c, hex, std::regex("#[0-9a-f]{6}\\b"))) colour = hex.str();
      if (!colour.empty()) {
        const bool inner = has(c, "shirt") || has(c, "blouse");
        json& w = plan.params["wardrobe"];
        // One garment's colour per portrait: a second garment is reported.
        if (w.contains("color") && w.value("garment", "outer") != (inner ? "inner" : "outer")) {
          plan.not_applied.push_back("'" + c + "': one garment's colour per portrait for now (" +
                                     w["color"].get<std::string>() + " " + w.value("garment", "outer") + " kept)");
          continue;
        }
        w = {{"color", colour}, {"garment", inner ? "inner" : "outer"}};
        used = true;
      }
    }
    if (used) {
      plan.applied.push_back("'" + c + "'");
    } else {
      std::string why = wardrobe   ? "no colour the wardrobe knows (navy, charcoal, burgundy, camel, ... or #rrggbb)"
                        : lighting ? "no light pattern named (rembrandt, loop, butterfly, split, broad, short, rim, "
                                     "clamshell, golden hour, blue hour, soft morning, overcast noon, window light)"
                        : scene    ? "a place behind a changed wardrobe or light is not available yet"
                                   : "not understood";
      plan.not_applied.push_back("'" + c + "': " + why);
    }
  }
  return plan;
}

Recipe build_recipe(const PromptPlan& plan, int variation) {
  Recipe r;
  for (const Stage* stage : all_stages()) {
    const std::string id = stage->id();
    Step step{id, stage->version(), plan.params.value(id, json::object())};
    r.steps.push_back(std::move(step));
  }
  if (variation > 0) {
    // Variations of one photo: the backdrop's tone shifts (and a place,
    // canvas or paper is another of its kind); every earlier
    // step (faces, frame, matte) is shared through the cache.
    static const double kShade[] = {1.0, 1.25, 0.8, 1.45, 0.65};
    const double f = kShade[variation % 5];
    Step* b = r.find("backdrop");
    for (const char* k : {"color", "color2"})
      if (b->params.contains(k)) b->params[k] = shade(b->params[k], f);
    const std::string style = b->params.value("style", "gradient");
    if (style == "solid" || style == "gradient") {
      if (variation % 2 == 1) b->params["style"] = style == "solid" ? "gradient" : "solid";
    } else {
      b->params["seed"] = 1 + variation;  // another view of the same kind of place, canvas or paper
    }
  }
  return r;
}

}  // namespace likeness
