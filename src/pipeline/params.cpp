#include "likeness/params.hpp"

#include <cmath>
#include <cstdio>
#include <regex>
#include <sstream>

#include "likeness/error.hpp"

namespace likeness {

namespace {
[[noreturn]] void reject(const std::string& stage, const ParamSpec& spec, const std::string& value) {
  throw Error(ErrorInfo{ErrorCode::usage,
                        "value " + value + " is not allowed (" + spec.type_name() + ", " + spec.allowed() + ")",
                        stage,
                        spec.key,
                        {}});
}

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

bool is_color(const std::string& s) { return std::regex_match(s, std::regex("#[0-9a-fA-F]{6}")); }
}  // namespace

std::string ParamSpec::type_name() const {
  switch (type) {
    case ParamType::boolean:
      return "boolean";
    case ParamType::integer:
      return "integer";
    case ParamType::number:
      return "number";
    case ParamType::choice:
      return "choice";
    case ParamType::color:
      return "color";
    case ParamType::path:
      return "path";
    case ParamType::text:
      return "text";
  }
  return "?";
}

std::string ParamSpec::allowed() const {
  switch (type) {
    case ParamType::boolean:
      return "true or false";
    case ParamType::integer:
    case ParamType::number:
      return num(min) + ".." + num(max);
    case ParamType::choice: {
      std::string s = "one of ";
      for (size_t i = 0; i < choices.size(); ++i) s += (i ? ", " : "") + choices[i];
      return s;
    }
    case ParamType::color: {
      std::string s = "#rrggbb";
      for (size_t i = 0; i < choices.size(); ++i) s += (i ? ", " : " or one of ") + choices[i];
      return s;
    }
    case ParamType::path:
      return "a file path, or empty for none";
    case ParamType::text:
      return form.empty() ? "any text" : form;
  }
  return "";
}

json ParamSpec::schema() const {
  json s = {{"description", help}, {"default", default_value}};
  switch (type) {
    case ParamType::boolean:
      s["type"] = "boolean";
      break;
    case ParamType::integer:
      s["type"] = "integer";
      s["minimum"] = min;
      s["maximum"] = max;
      break;
    case ParamType::number:
      s["type"] = "number";
      s["minimum"] = min;
      s["maximum"] = max;
      break;
    case ParamType::choice:
      s["type"] = "string";
      s["enum"] = choices;
      break;
    case ParamType::color:
      s["type"] = "string";
      if (choices.empty()) {
        s["pattern"] = "^#[0-9a-fA-F]{6}$";
      } else {
        s["anyOf"] = json::array({json{{"pattern", "^#[0-9a-fA-F]{6}$"}}, json{{"enum", choices}}});
      }
      break;
    case ParamType::path:
      s["type"] = "string";
      break;
    case ParamType::text:
      s["type"] = "string";
      if (!pattern.empty()) s["pattern"] = pattern;
      break;
  }
  return s;
}

json parse_param(const std::string& stage, const ParamSpec& spec, const json& v) {
  switch (spec.type) {
    case ParamType::boolean:
      if (v.is_boolean()) return v;
      break;
    case ParamType::integer:
      if (v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>())) {
        const double d = v.get<double>();
        if (d >= spec.min && d <= spec.max) return json(static_cast<int64_t>(d));
      }
      break;
    case ParamType::number:
      if (v.is_number()) {
        const double d = v.get<double>();
        if (std::isfinite(d) && d >= spec.min && d <= spec.max) return json(d);
      }
      break;
    case ParamType::choice:
      if (v.is_string())
        for (const auto& c : spec.choices)
          if (c == v.get<std::string>()) return v;
      break;
    case ParamType::color:
      if (v.is_string()) {
        std::string s = v.get<std::string>();  // #rrggbb, or a name the spec accepts; any case
        for (auto& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
        if (is_color(s)) return s;
        for (const auto& c : spec.choices)
          if (c == s) return s;
      }
      break;
    case ParamType::path:
      if (v.is_string() && v.get<std::string>().find('\0') == std::string::npos) return v;
      break;
    case ParamType::text:
      if (v.is_string() && v.get<std::string>().find('\0') == std::string::npos &&
          (spec.pattern.empty() || std::regex_match(v.get<std::string>(), std::regex(spec.pattern))))
        return v;
      break;
  }
  reject(stage, spec, v.dump());
}

json parse_param_text(const std::string& stage, const ParamSpec& spec, const std::string& text) {
  switch (spec.type) {
    case ParamType::boolean:
      if (text == "true" || text == "1" || text == "yes") return true;
      if (text == "false" || text == "0" || text == "no") return false;
      reject(stage, spec, "'" + text + "'");
    case ParamType::integer:
    case ParamType::number: {
      char* end = nullptr;
      const double d = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0') reject(stage, spec, "'" + text + "'");
      return parse_param(stage, spec, json(d));
    }
    default:
      return parse_param(stage, spec, json(text));
  }
}

json resolve_params(const std::string& stage, const std::vector<ParamSpec>& specs, const json& given) {
  json out = json::object();
  for (const auto& s : specs) out[s.key] = s.default_value;
  if (given.is_null()) return out;
  if (!given.is_object()) throw Error(ErrorInfo{ErrorCode::usage, "parameters must be a JSON object", stage, {}, {}});
  for (const auto& [k, v] : given.items()) {
    const ParamSpec* spec = nullptr;
    for (const auto& s : specs)
      if (s.key == k) spec = &s;
    if (!spec) {
      std::string known;
      for (const auto& s : specs) known += (known.empty() ? "" : ", ") + s.key;
      throw Error(ErrorInfo{
          ErrorCode::usage, "unknown parameter (known: " + (known.empty() ? "none" : known) + ")", stage, k, {}});
    }
    out[k] = parse_param(stage, *spec, v);
  }
  return out;
}

cv::Scalar parse_color(const std::string& hex) {
  if (!is_color(hex)) throw Error(ErrorCode::usage, "not a colour: '" + hex + "' (#rrggbb)");
  const unsigned v = static_cast<unsigned>(std::stoul(hex.substr(1), nullptr, 16));
  return cv::Scalar(v & 255, (v >> 8) & 255, (v >> 16) & 255);
}

std::string format_color(const cv::Scalar& bgr) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", int(std::lround(bgr[2])), int(std::lround(bgr[1])),
                int(std::lround(bgr[0])));
  return buf;
}

}  // namespace likeness
