// Parameter declarations, validation messages, recipes and their keys.
#include <gtest/gtest.h>

#include <functional>

#include "likeness/data.hpp"
#include "likeness/error.hpp"
#include "likeness/purpose.hpp"
#include "likeness/recipe.hpp"
#include "likeness/studio.hpp"

using namespace likeness;

namespace {
const ParamSpec& spec(const std::string& stage, const std::string& key) {
  for (const Stage* s : all_stages())
    if (s->id() == stage)
      for (const auto& p : s->params())
        if (p.key == key) {
          static thread_local ParamSpec copy;
          copy = p;
          return copy;
        }
  throw std::runtime_error("no such parameter");
}

ErrorInfo usage_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.info();
  }
  return {};
}
}  // namespace

TEST(Params, EveryDefaultSatisfiesItsOwnDeclaration) {
  for (const Stage* s : all_stages())
    for (const auto& p : s->params())
      EXPECT_NO_THROW(parse_param(s->id(), p, p.default_value)) << s->id() << "." << p.key;
}

TEST(Params, OutOfRangeNamesStageParameterValueAndRange) {
  ErrorInfo e = usage_error([] { parse_param_text("frame", spec("frame", "width"), "99999"); });
  EXPECT_EQ(e.code, ErrorCode::usage);
  EXPECT_EQ(e.stage, "frame");
  EXPECT_EQ(e.param, "width");
  EXPECT_NE(e.message.find("99999"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("64..8192"), std::string::npos) << e.message;
}

TEST(Params, BadChoiceColourAndTypeAreRejected) {
  EXPECT_EQ(usage_error([] { parse_param_text("backdrop", spec("backdrop", "style"), "plaid"); }).param, "style");
  EXPECT_NE(usage_error([] {
              parse_param_text("backdrop", spec("backdrop", "style"), "plaid");
            }).message.find("solid, gradient"),
            std::string::npos);
  EXPECT_EQ(usage_error([] { parse_param_text("backdrop", spec("backdrop", "color"), "navy"); }).code,
            ErrorCode::usage);
  EXPECT_EQ(usage_error([] { parse_param_text("export", spec("export", "quality"), "ninety"); }).code,
            ErrorCode::usage);
  EXPECT_EQ(usage_error([] { parse_param_text("export", spec("export", "quality"), "90.5"); }).code, ErrorCode::usage);
  EXPECT_EQ(parse_param_text("export", spec("export", "quality"), "90"), json(90));
  EXPECT_EQ(parse_param_text("backdrop", spec("backdrop", "color"), "#1F2A44"), json("#1f2a44"));
}

TEST(Params, UnknownParameterListsTheKnownOnes) {
  ErrorInfo e = usage_error([] { resolve_params("matte", find_stage("matte").params(), {{"feather", 3}}); });
  EXPECT_EQ(e.param, "feather");
  EXPECT_NE(e.message.find("refine"), std::string::npos);
}

TEST(Params, ColoursRoundTrip) {
  EXPECT_EQ(format_color(parse_color("#1f2a44")), "#1f2a44");
  const cv::Scalar c = parse_color("#102030");
  EXPECT_EQ(c[0], 0x30);  // BGR order
  EXPECT_EQ(c[2], 0x10);
}

TEST(Recipe, StepKeysNameOnlyTheModelTheStepRuns) {
  const Stage& segment = find_stage("segment");
  const json fast = resolve_params("segment", segment.params(), {{"resolution", "640"}, {"fuse", "none"}});
  const json fine = resolve_params("segment", segment.params(), {{"fuse", "none"}});
  EXPECT_EQ(segment.models_for(fast), std::vector<std::string>{"isnet_640"});
  EXPECT_EQ(segment.models_for(fine), std::vector<std::string>{"isnet_640x1024"});
  const json square = resolve_params("segment", segment.params(), {{"resolution", "1024"}, {"fuse", "none"}});
  EXPECT_EQ(segment.models_for(square), std::vector<std::string>{"isnet"});
  EXPECT_EQ(segment.models().size(), 4u);  // isnet_640x1024, isnet, isnet_640, selfie
  const json fused = resolve_params("segment", segment.params(), {{"fuse", "selfie"}});
  EXPECT_EQ(segment.models_for(fused), (std::vector<std::string>{"isnet_640x1024", "selfie"}));
  EXPECT_NE(step_key("k", segment, fused), step_key("k", segment, fine));
  EXPECT_NE(step_key("k", segment, fast), step_key("k", segment, fine));
}

TEST(Recipe, RoundTripsThroughJson) {
  Recipe r = build_recipe(plan_prompt("navy backdrop, headshot", "corporate"), 1).resolved();
  const json j = r.to_json();
  const Recipe back = Recipe::from_json(json::parse(j.dump()));
  EXPECT_EQ(back.to_json(), j);
  EXPECT_EQ(back.resolved().to_json(), j);
}

TEST(Recipe, VersionMismatchAndUnknownStageAreErrors) {
  EXPECT_EQ(usage_error([] { Recipe::from_json({{"steps", {{{"stage", "sparkle"}}}}}); }).code, ErrorCode::usage);
  Recipe r = Recipe::from_json({{"steps", {{{"stage", "matte"}, {"version", 99}}}}});
  EXPECT_EQ(usage_error([&] { r.resolved(); }).stage, "matte");
}

TEST(Prompt, LayeredPromptMapsToStagesAndReportsTheRest) {
  PromptPlan p = plan_prompt(
      "navy suit, modern office with a blurred skyline, soft morning light, grey backdrop, headshot", "corporate");
  EXPECT_EQ(p.params["backdrop"]["color"], "#7a7f85");
  EXPECT_EQ(p.params["backdrop"]["style"], "city");  // an office with a skyline: the city window
  EXPECT_EQ(p.params["frame"]["crop"], "headshot");
  EXPECT_EQ(p.params["relight"]["pattern"], "soft-morning");
  EXPECT_EQ(p.params["relight"]["softness"], 0.3);
  EXPECT_EQ(p.params["wardrobe"]["color"], "navy");
  EXPECT_EQ(p.params["wardrobe"]["garment"], "outer");
  EXPECT_TRUE(p.not_applied.empty());
  EXPECT_EQ(usage_error([] { plan_prompt("", "wedding"); }).code, ErrorCode::usage);
}

TEST(Prompt, PlacesAndStudioBackdropsByName) {
  EXPECT_EQ(plan_prompt("warm cafe", "social").params["backdrop"]["style"], "cafe");
  EXPECT_EQ(plan_prompt("modern office", "corporate").params["backdrop"]["style"], "office");
  EXPECT_EQ(plan_prompt("in a garden", "nonprofit").params["backdrop"]["style"], "greenery");
  EXPECT_EQ(plan_prompt("moody sky", "artist").params["backdrop"]["style"], "sky");
  EXPECT_EQ(plan_prompt("grey seamless paper", "corporate").params["backdrop"]["style"], "paper");
  EXPECT_EQ(plan_prompt("painted canvas backdrop", "artist").params["backdrop"]["style"], "canvas");
}

TEST(Prompt, GradesByNameAndPurpose) {
  auto look = [](const char* prompt, const char* purpose = "corporate") {
    return plan_prompt(prompt, purpose).params["grade"]["look"].get<std::string>();
  };
  EXPECT_EQ(look(""), "natural");
  EXPECT_EQ(look("", "nonprofit"), "warm");
  EXPECT_EQ(plan_prompt("", "nonprofit").params["grade"]["strength"], 0.5);
  EXPECT_EQ(look("warm tones"), "warm");
  EXPECT_EQ(look("cool colour palette"), "cool");
  EXPECT_EQ(look("black and white"), "black-and-white");
  EXPECT_EQ(look("cinematic"), "cinematic");
  EXPECT_EQ(look("film look"), "film");
  EXPECT_EQ(look("high-key lighting"), "high-key");
  EXPECT_EQ(look("low key"), "low-key");
  EXPECT_EQ(look("flatter my skin tone"), "flatter");
  // "warm" alone, beside a backdrop or a place, is their colour, not a grade.
  PromptPlan warm_backdrop = plan_prompt("warm backdrop", "corporate");
  EXPECT_EQ(warm_backdrop.params["grade"]["look"], "natural");
  EXPECT_EQ(warm_backdrop.params["backdrop"]["color"], "#8a7560");
  EXPECT_EQ(look("moody sky"), "natural");
  // Golden-hour light is a relight, not a warm grade.
  PromptPlan golden = plan_prompt("golden hour light", "corporate");
  EXPECT_EQ(golden.params["grade"]["look"], "natural");
  EXPECT_EQ(golden.params["relight"]["pattern"], "golden-hour");
  EXPECT_TRUE(golden.not_applied.empty());
}

TEST(Prompt, PolishByPurposeAndWords) {
  auto polish = [](const char* prompt, const char* purpose = "corporate") {
    return plan_prompt(prompt, purpose).params["retouch"]["polish"].get<double>();
  };
  EXPECT_GT(polish(""), polish("", "nonprofit"));            // corporate leans polished, nonprofit warm
  EXPECT_GT(polish("", "nonprofit"), polish("", "artist"));  // an artist's portfolio keeps everything
  EXPECT_EQ(polish("no retouching"), 0.0);
  EXPECT_LT(polish("natural skin"), polish(""));
  EXPECT_GT(polish("polished skin", "artist"), polish("", "artist"));
  // "flatter my skin tone" is a grade, not a polish.
  EXPECT_EQ(plan_prompt("flatter my skin tone", "corporate").params["grade"]["look"], "flatter");
  EXPECT_EQ(polish("flatter my skin tone"), polish(""));
}

TEST(Prompt, WardrobeColoursByNameOrHex) {
  auto w = [](const char* prompt) { return plan_prompt(prompt, "corporate").params.value("wardrobe", json::object()); };
  EXPECT_EQ(w("charcoal blazer")["color"], "charcoal");
  EXPECT_EQ(w("light blue shirt")["color"], "light blue");  // the longest name that fits
  EXPECT_EQ(w("light blue shirt")["garment"], "inner");
  EXPECT_EQ(w("a #6d2a35 jacket")["color"], "#6d2a35");
  EXPECT_TRUE(w("").empty());  // the photo's own clothes
  // Two garments take a colour each; a third colour for one of them is
  // reported, not applied.
  PromptPlan two = plan_prompt("navy suit, white shirt", "corporate");
  EXPECT_EQ(two.params["wardrobe"]["color"], "navy");
  EXPECT_EQ(two.params["wardrobe"]["inner_color"], "white");
  EXPECT_TRUE(two.not_applied.empty());
  PromptPlan three = plan_prompt("navy suit, white shirt, grey shirt", "corporate");
  EXPECT_EQ(three.params["wardrobe"]["inner_color"], "white");
  ASSERT_EQ(three.not_applied.size(), 1u);
  EXPECT_NE(three.not_applied[0].find("one colour per garment"), std::string::npos);
  // A word not in the vocabulary is reported, never dropped in silence.
  PromptPlan odd = plan_prompt("sparkly suit", "corporate");
  EXPECT_EQ(odd.not_understood, std::vector<std::string>{"sparkly"});
  EXPECT_FALSE(odd.params.contains("wardrobe"));
  for (const char* p : {"charcoal blazer", "light blue shirt", "a #6d2a35 jacket"})
    EXPECT_NO_THROW(resolve_params("wardrobe", find_stage("wardrobe").params(), w(p))) << p;
}

TEST(Prompt, LightsByPatternTimeOfDayAndPurpose) {
  auto light = [](const char* prompt, const char* purpose = "corporate") {
    return plan_prompt(prompt, purpose).params["relight"];
  };
  EXPECT_EQ(light("")["pattern"], "match");
  EXPECT_EQ(light("", "artist")["pattern"], "none");  // an artist's portfolio keeps the photo's light
  EXPECT_EQ(light("", "ecommerce")["pattern"], "high-key");
  EXPECT_EQ(light("rembrandt lighting")["pattern"], "rembrandt");
  EXPECT_EQ(light("dramatic split light from the left")["pattern"], "split");
  EXPECT_EQ(light("dramatic split light from the left")["side"], "left");
  EXPECT_EQ(light("dramatic split light from the left")["strength"], 0.9);
  EXPECT_EQ(light("blue hour")["pattern"], "blue-hour");
  EXPECT_EQ(light("window light")["pattern"], "window");
  EXPECT_EQ(light("soft light")["pattern"], "match");  // softer, on the purpose's own light
  EXPECT_EQ(light("soft light")["softness"], 0.3);
  EXPECT_EQ(light("high-key lighting")["pattern"], "high-key");
  // A window is a place when no light is named.
  EXPECT_EQ(plan_prompt("city window", "corporate").params["backdrop"]["style"], "city");
  // Every planned light is a valid relight step.
  for (const char* p : {"", "rembrandt lighting", "golden hour", "soft light from the right", "hard rim light"})
    EXPECT_NO_THROW(resolve_params("relight", find_stage("relight").params(), light(p))) << p;
}

TEST(Prompt, PurposesDiffer) {
  EXPECT_EQ(plan_prompt("", "ecommerce").params["backdrop"]["style"], "solid");
  EXPECT_NE(plan_prompt("", "nonprofit").params["backdrop"]["color"],
            plan_prompt("", "corporate").params["backdrop"]["color"]);
}

// Purposes are data (data/purposes/*.json), one list for the whole code base.
TEST(Purposes, EveryDataFileIsValidAndNamedOnce) {
  const std::vector<std::string> names = purpose_names();
  const std::vector<std::string> want = {"corporate", "nonprofit", "artist", "ecommerce", "social", "actor", "dating"};
  EXPECT_EQ(names, want);
  for (const Purpose& p : purposes()) {
    SCOPED_TRACE(p.name);
    EXPECT_FALSE(p.summary.empty());
    // Each stage's parameters resolve against its declarations.
    for (const auto& [id, params] : p.stages.items())
      EXPECT_NO_THROW(resolve_params(id, find_stage(id).params(), params)) << id;
    // A square profile picture of at least 800 px, a 4:5 and a 2:3 print size.
    auto has = [&](int w, int h, int min_side) {
      return std::any_of(p.sizes.begin(), p.sizes.end(), [&](const OutputSize& o) {
        return o.width * h == o.height * w && std::min(o.width, o.height) >= min_side;
      });
    };
    EXPECT_TRUE(has(1, 1, 800));
    EXPECT_TRUE(has(4, 5, 1));
    EXPECT_TRUE(has(2, 3, 1));
  }
  EXPECT_EQ(find_purpose("casting").name, "actor");
  try {
    find_purpose("linkedin");
    ADD_FAILURE() << "an unknown purpose was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::usage);
    EXPECT_NE(std::string(e.what()).find("corporate, nonprofit, artist"), std::string::npos) << e.what();
  }
}

TEST(Purposes, EachProducesItsDocumentedDefaults) {
  for (const Purpose& p : purposes()) {
    const PromptPlan plan = plan_prompt("", p.name);
    EXPECT_EQ(plan.params, p.stages) << p.name;
    EXPECT_TRUE(plan.not_applied.empty()) << p.name;
  }
  auto polish = [](const char* n) { return find_purpose(n).stages["retouch"]["polish"].get<double>(); };
  EXPECT_LT(polish("artist"), polish("corporate"));
  EXPECT_EQ(polish("actor"), 0.0);  // casting: no retouch
  EXPECT_EQ(find_purpose("actor").stages["relight"]["pattern"], "none");
  EXPECT_EQ(find_purpose("dating").stages["grade"]["look"], "warm");
}

// A broken purpose file is refused at load, naming the file and the fault.
TEST(Purposes, ABrokenFileIsRefusedWithItsFault) {
  const std::string good = std::string(data_files_under("purposes/corporate.json").at(0).text);
  auto verdict = [&](const std::function<void(json&)>& edit, const std::string& file = "purposes/corporate.json") {
    json j = json::parse(good);
    edit(j);
    try {
      parse_purpose(file, j.dump());
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::internal);
      EXPECT_NE(std::string(e.what()).find("data/" + file), std::string::npos) << e.what();
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  auto says = [](const std::string& v, const char* what) { return v.find(what) != std::string::npos; };
  EXPECT_EQ(verdict([](json&) {}), "accepted");  // the control
  EXPECT_PRED2(says, verdict([](json& j) { j["stages"]["retouch"]["polish"] = 1.5; }), "polish");
  EXPECT_PRED2(says, verdict([](json& j) { j["stages"]["backdrop"]["style"] = "beach"; }), "style");
  EXPECT_PRED2(says, verdict([](json& j) { j["stages"]["relight"]["colour"] = "warm"; }), "colour");
  EXPECT_PRED2(says, verdict([](json& j) { j["stages"]["lens"] = json::object(); }), "no stage 'lens'");
  EXPECT_PRED2(says, verdict([](json& j) { j["stages"].erase("grade"); }), "states no 'grade'");
  EXPECT_PRED2(says, verdict([](json& j) { j["sizes"].erase(0); }), "no square profile size");
  EXPECT_PRED2(says, verdict([](json& j) { j["sizes"][0]["width"] = j["sizes"][0]["height"] = 640; }),
               "no square profile size");
  EXPECT_PRED2(says, verdict([](json& j) { j["sizes"].erase(2); }), "no 2:3");
  EXPECT_PRED2(says, verdict([](json& j) { j["stages"]["frame"]["width"] = 800; }), "frame's size");
  EXPECT_PRED2(says, verdict([](json& j) { j["slogan"] = "x"; }), "unknown field 'slogan'");
  EXPECT_PRED2(says, verdict([](json&) {}, "purposes/linkedin.json"), "not its file's name");
  try {
    parse_purpose("purposes/x.json", "{ not json");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not JSON"), std::string::npos) << e.what();
  }
}
