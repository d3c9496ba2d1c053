// One declaration per parameter. Stages declare ParamSpecs; the CLI flags and
// help, `likeness stages --json` (JSON schema) and validation all derive from
// them.
#pragma once
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace likeness {

using json = nlohmann::json;

// path: a file (text, "" for none); text: free text in the form `pattern`
// states (a list of points, ...), "" allowed when the pattern allows it.
enum class ParamType { boolean, integer, number, choice, color, path, text };

struct ParamSpec {
  std::string key;
  ParamType type = ParamType::number;
  json default_value;
  std::string help;
  double min = 0, max = 0;           // integer / number
  std::vector<std::string> choices;  // choice; color: names accepted besides #rrggbb
  std::string pattern{};             // text: an ECMAScript regex the whole value matches ("" any text)
  std::string form{};                // text: the form in words, for help and errors ("x,y;x,y ...")

  std::string type_name() const;  // "integer", "color", ...
  std::string allowed() const;  // "16..1000", "one of solid, gradient", "#rrggbb [or one of navy, ...]", a text's form
  json schema() const;          // JSON-schema fragment
};

// Parses a value given as text (CLI) or JSON and checks it against the spec;
// throws Error{usage} naming stage, parameter, value and what is allowed.
json parse_param(const std::string& stage, const ParamSpec& spec, const json& value);
json parse_param_text(const std::string& stage, const ParamSpec& spec, const std::string& text);

// Defaults overlaid with `given`; unknown keys are an error.
json resolve_params(const std::string& stage, const std::vector<ParamSpec>& specs, const json& given);

// "#1f2a44" -> BGR scalar (0..255).
cv::Scalar parse_color(const std::string& hex);
std::string format_color(const cv::Scalar& bgr);

}  // namespace likeness
