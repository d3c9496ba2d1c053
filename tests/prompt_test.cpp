// The layered prompt, read against data/vocabulary/: a table of prompts
// (the four layers, mixed, misspelled, contradictory, empty, multi-word
// colours, unknown words, requests refining cannot honour) with the
// parameters each must produce and the phrases each must report.
#include <gtest/gtest.h>

#include "likeness/data.hpp"
#include "likeness/error.hpp"
#include "likeness/studio.hpp"
#include "studio/vocabulary.hpp"
#include "testing.hpp"

using namespace likeness;

namespace {
struct Case {
  const char* prompt;
  const char* purpose;
  const char* expect;  // JSON: stage -> {key: value} the plan must hold (a subset)
  std::vector<std::string> not_understood;
  std::vector<std::string> refused;  // the phrases refused, in order
  int not_applied = 0;               // understood phrases that cannot apply (reported with why)
};

const Case kCases[] = {
    // Empty and purpose only.
    {"", "corporate", R"({"backdrop":{"style":"gradient","color":"#3c4650"},"relight":{"pattern":"match"}})", {}, {}},
    {"   ", "artist", R"({"relight":{"pattern":"none"},"retouch":{"polish":0.1}})", {}, {}},
    {",,,;", "nonprofit", R"({"grade":{"look":"warm"}})", {}, {}},
    // Subject and attire.
    {"navy blazer", "corporate", R"({"wardrobe":{"color":"navy","garment":"outer"}})", {}, {}},
    {"navy blue blazer", "corporate", R"({"wardrobe":{"color":"navy","garment":"outer"}})", {}, {}},
    {"a woman in a charcoal grey suit", "corporate", R"({"wardrobe":{"color":"charcoal"}})", {}, {}},
    {"light blue shirt", "corporate", R"({"wardrobe":{"color":"light blue","garment":"inner"}})", {}, {}},
    {"crisp white shirt", "corporate", R"({"wardrobe":{"color":"white","garment":"inner"}})", {}, {}},
    {"a #6d2a35 jacket", "corporate", R"({"wardrobe":{"color":"#6d2a35"}})", {}, {}},
    {"burgundy sweater", "social", R"({"wardrobe":{"color":"burgundy","garment":"outer"}})", {}, {}},
    {"forest green cardigan", "nonprofit", R"({"wardrobe":{"color":"forest green"}})", {}, {}},
    {"a man in a suit", "corporate", R"({})", {}, {}},
    {"navy suit, white shirt",
     "corporate",
     R"({"wardrobe":{"color":"navy","garment":"outer","inner_color":"white"}})",
     {},
     {}},
    {"white shirt under a charcoal jacket",
     "corporate",
     R"({"wardrobe":{"color":"charcoal","garment":"outer","inner_color":"white"}})",
     {},
     {}},
    {"navy blazer, white shirt, red shirt",
     "corporate",
     R"({"wardrobe":{"color":"navy","inner_color":"white"}})",
     {},
     {},
     1},
    {"blazer in camel", "corporate", R"({"wardrobe":{"color":"camel"}})", {}, {}},
    {"a woman in a navy blazer with a crisp white shirt",
     "corporate",
     R"({"wardrobe":{"color":"navy","inner_color":"white"}})",
     {},
     {}},
    // Setting and background.
    {"light grey backdrop", "corporate", R"({"backdrop":{"color":"#b4b6b8"}})", {}, {}},
    {"grey backdrop", "corporate", R"({"backdrop":{"color":"#7a7f85"}})", {}, {}},
    {"navy blue background", "corporate", R"({"backdrop":{"color":"#1f2a44"}})", {}, {}},
    {"dark grey seamless paper", "artist", R"({"backdrop":{"style":"paper","color":"#333638"}})", {}, {}},
    {"plain white wall", "ecommerce", R"({"backdrop":{"style":"solid","color":"#f2f2f2"}})", {}, {}},
    {"painted canvas backdrop", "artist", R"({"backdrop":{"style":"canvas"}})", {}, {}},
    {"slate gradient", "corporate", R"({"backdrop":{"style":"gradient","color":"#4a5560"}})", {}, {}},
    {"modern office", "corporate", R"({"backdrop":{"style":"office"}})", {}, {}},
    {"modern office with a blurred city skyline through a large window",
     "corporate",
     R"({"backdrop":{"style":"city","aperture":1.8}})",
     {},
     {}},
    {"coffee shop", "social", R"({"backdrop":{"style":"cafe"}})", {}, {}},
    {"in a garden", "nonprofit", R"({"backdrop":{"style":"greenery"}})", {}, {}},
    {"outdoors, sharp background", "dating", R"({"backdrop":{"style":"greenery","aperture":8.0}})", {}, {}},
    {"warm backdrop", "corporate", R"({"backdrop":{"color":"#8a7560"},"grade":{"look":"natural"}})", {}, {}},
    {"moody sky", "artist", R"({"backdrop":{"style":"sky"},"grade":{"look":"natural"}})", {}, {}},
    // Lighting.
    {"rembrandt lighting", "corporate", R"({"relight":{"pattern":"rembrandt","strength":0.7}})", {}, {}},
    {"dramatic split light from the left",
     "corporate",
     R"({"relight":{"pattern":"split","side":"left","strength":0.9}})",
     {},
     {}},
    {"soft warm morning light",
     "corporate",
     R"({"relight":{"pattern":"soft-morning","softness":0.3,"kelvin":4300.0}})",
     {},
     {}},
    {"golden hour", "dating", R"({"relight":{"pattern":"golden-hour"},"grade":{"look":"warm"}})", {}, {}},
    {"blue hour", "corporate", R"({"relight":{"pattern":"blue-hour"}})", {}, {}},
    {"window light from the right", "corporate", R"({"relight":{"pattern":"window","side":"right"}})", {}, {}},
    {"natural window light", "nonprofit", R"({"relight":{"pattern":"window"}})", {}, {}},
    {"soft light", "corporate", R"({"relight":{"pattern":"match","softness":0.3}})", {}, {}},
    {"soft light", "artist", R"({"relight":{"pattern":"loop","softness":0.3}})", {}, {}},
    {"hard rim light", "corporate", R"({"relight":{"pattern":"rim","softness":-0.3}})", {}, {}},
    {"subtle butterfly lighting", "ecommerce", R"({"relight":{"pattern":"butterfly","strength":0.4}})", {}, {}},
    {"clamshell", "social", R"({"relight":{"pattern":"clamshell"}})", {}, {}},
    {"overcast noon", "corporate", R"({"relight":{"pattern":"overcast-noon"}})", {}, {}},
    {"high-key lighting", "corporate", R"({"relight":{"pattern":"high-key"},"grade":{"look":"high-key"}})", {}, {}},
    {"light matching the background", "artist", R"({"relight":{"pattern":"match"}})", {}, {}},
    // Composition, style, polish and output.
    {"close-up portrait", "corporate", R"({"frame":{"crop":"headshot"}})", {}, {}},
    {"head and shoulders, square",
     "social",
     R"({"frame":{"crop":"head-and-shoulders","width":1024,"height":1024}})",
     {},
     {}},
    {"waist up, 2:3", "corporate", R"({"frame":{"crop":"half-body","height":1536}})", {}, {}},
    {"black and white", "artist", R"({"grade":{"look":"black-and-white"}})", {}, {}},
    {"cinematic", "corporate", R"({"grade":{"look":"cinematic"}})", {}, {}},
    {"warm tones", "corporate", R"({"grade":{"look":"warm"}})", {}, {}},
    {"cool colour palette", "corporate", R"({"grade":{"look":"cool"}})", {}, {}},
    {"flatter my skin tone", "corporate", R"({"grade":{"look":"flatter"},"retouch":{"polish":0.5}})", {}, {}},
    {"no retouching", "corporate", R"({"retouch":{"polish":0.0}})", {}, {}},
    {"natural skin", "corporate", R"({"retouch":{"polish":0.15}})", {}, {}},
    {"polished skin", "artist", R"({"retouch":{"polish":0.8}})", {}, {}},
    {"png", "corporate", R"({"export":{"format":"png"}})", {}, {}},
    // Mixed, as people write.
    {"navy suit, modern office with a blurred skyline, soft morning light, grey backdrop, headshot",
     "corporate",
     R"({"wardrobe":{"color":"navy"},"backdrop":{"style":"city","color":"#7a7f85"},"relight":{"pattern":"soft-morning"},"frame":{"crop":"headshot"}})",
     {},
     {}},
    {"charcoal blazer. light grey backdrop. rembrandt lighting. black and white.",
     "artist",
     R"({"wardrobe":{"color":"charcoal"},"backdrop":{"color":"#b4b6b8"},"relight":{"pattern":"rembrandt"},"grade":{"look":"black-and-white"}})",
     {},
     {}},
    {"Navy Blazer; LIGHT GREY BACKDROP",
     "corporate",
     R"({"wardrobe":{"color":"navy"},"backdrop":{"color":"#b4b6b8"}})",
     {},
     {}},
    // Contradictory: the later clause wins.
    {"rembrandt lighting, butterfly lighting", "corporate", R"({"relight":{"pattern":"butterfly"}})", {}, {}},
    {"headshot, half body", "corporate", R"({"frame":{"crop":"half-body"}})", {}, {}},
    // Misspelled and unknown words: reported as written, the rest applied.
    {"nvy blazer", "corporate", R"({})", {"nvy"}, {}},
    {"rembrant lighting", "corporate", R"({"relight":{"pattern":"match"}})", {"rembrant"}, {}},
    {"sparkly suit", "corporate", R"({})", {"sparkly"}, {}},
    {"grey backdrop with vibrant neon accents",
     "corporate",
     R"({"backdrop":{"color":"#7a7f85"}})",
     {"vibrant neon accents"},
     {}},
    {"quantum flux", "corporate", R"({})", {"quantum flux"}, {}},
    // A colour of nothing in particular.
    {"teal", "corporate", R"({})", {}, {}, 1},
    // What refining a real photo cannot do.
    {"wearing a red hat", "corporate", R"({})", {}, {"hat"}, 1},
    {"full body, standing", "corporate", R"({})", {}, {"full body", "standing"}},
    {"make me look younger and slimmer", "corporate", R"({})", {}, {"younger", "slimmer"}},
    {"arms crossed, navy blazer", "corporate", R"({"wardrobe":{"color":"navy"}})", {}, {"arms crossed"}},
    {"different face", "corporate", R"({})", {}, {"different face"}},
};

void PrintTo(const Case& c, std::ostream* os) { *os << "\"" << c.prompt << "\" (" << c.purpose << ")"; }

// Does `got` hold every key of `want` (recursively)?
::testing::AssertionResult holds(const json& got, const json& want, const std::string& at = "") {
  for (const auto& [k, v] : want.items()) {
    if (!got.contains(k)) return ::testing::AssertionFailure() << at << k << " missing";
    if (v.is_object()) {
      auto r = holds(got[k], v, at + k + ".");
      if (!r) return r;
    } else if (got[k] != v) {
      return ::testing::AssertionFailure() << at << k << " is " << got[k].dump() << ", want " << v.dump();
    }
  }
  return ::testing::AssertionSuccess();
}
}  // namespace

class PromptTable : public ::testing::TestWithParam<Case> {};
INSTANTIATE_TEST_SUITE_P(Prompts, PromptTable, ::testing::ValuesIn(kCases));

TEST_P(PromptTable, GivesItsRecipeAndReportsTheRest) {
  const Case& c = GetParam();
  SCOPED_TRACE(std::string("prompt: \"") + c.prompt + "\" (" + c.purpose + ")");
  const PromptPlan plan = plan_prompt(c.prompt, c.purpose);
  EXPECT_TRUE(holds(plan.params, json::parse(c.expect)));
  EXPECT_EQ(plan.not_understood, c.not_understood);
  std::vector<std::string> refused;
  for (const auto& r : plan.refused) {
    refused.push_back(r.phrase);
    EXPECT_FALSE(r.why.empty());
  }
  EXPECT_EQ(refused, c.refused);
  EXPECT_EQ(int(plan.not_applied.size()), c.not_applied) << ::testing::PrintToString(plan.not_applied);
  // Whatever the prompt, the recipe is valid for every stage.
  EXPECT_NO_THROW(build_recipe(plan, 0).resolved());
}

TEST(Prompt, HasSixtyCasesOrMore) { EXPECT_GE(std::size(kCases), 60u); }

// Structured fields are read after the free text: they win.
TEST(Prompt, StructuredFieldsOverrideTheText) {
  PromptFields f;
  f.attire = "charcoal blazer";
  f.setting = "light grey backdrop";
  f.lighting = "loop lighting";
  f.composition = "headshot";
  const PromptPlan p = plan_prompt("navy blazer, white backdrop, rembrandt lighting, half body", "corporate", f);
  EXPECT_EQ(p.params["wardrobe"]["color"], "charcoal");
  EXPECT_EQ(p.params["backdrop"]["color"], "#b4b6b8");
  EXPECT_EQ(p.params["relight"]["pattern"], "loop");
  EXPECT_EQ(p.params["frame"]["crop"], "headshot");
  EXPECT_EQ(p.origins["wardrobe"]["color"], "--attire 'charcoal blazer'");
}

// `likeness plan --json`: the recipe with every parameter's origin, and
// what was not understood or refused.
TEST(Prompt, PlanJsonNamesEachParametersOrigin) {
  const PromptPlan p = plan_prompt("navy blazer, sparkly wings, wearing a hat", "corporate");
  const json j = plan_json(p, "corporate");
  ASSERT_TRUE(j.contains("recipe"));
  EXPECT_EQ(j["origins"]["wardrobe"]["color"], "prompt 'navy blazer'");
  EXPECT_EQ(j["origins"]["retouch"]["polish"], "purpose corporate");
  EXPECT_EQ(j["origins"]["denoise"]["strength"], "default");
  EXPECT_EQ(j["not_understood"], json::array({"sparkly wings"}));
  ASSERT_EQ(j["refused"].size(), 1u);
  EXPECT_EQ(j["refused"][0]["phrase"], "hat");
  const auto r = likeness::testing::run_cli({"plan", "--prompt", "navy blazer, sparkly wings", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["not_understood"], json::array({"sparkly wings"}));
  EXPECT_EQ(likeness::testing::run_cli({"plan", "--purpose", "wedding"}).exit_code, 2);
}

// A broken vocabulary file is refused when read, naming the file and fault.
TEST(Vocabulary, ABrokenFileIsRefusedWithItsFault) {
  auto file = [](const char* path) { return json::parse(data_files_under(path).at(0).text); };
  const json colours = file("vocabulary/colours.json"), words = file("vocabulary/words.json");
  EXPECT_NO_THROW(vocab::build_vocabulary(colours, words));  // the control
  auto fault = [&](json c, json w) {
    try {
      vocab::build_vocabulary(c, w);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::internal);
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  auto says = [](const std::string& v, const char* what) { return v.find(what) != std::string::npos; };
  json w = words;
  w["entries"][0]["phrases"].push_back("navy");  // a colour's phrase again
  EXPECT_PRED2(says, fault(colours, w), "'navy' is listed twice");
  w = words;
  w["entries"].push_back(
      {{"phrases", {"sparkle"}}, {"layer", "style"}, {"senses", {{{"sets", {{"grade", {{"look", "sparkly"}}}}}}}}});
  EXPECT_PRED2(says, fault(colours, w), "sparkly");
  w = words;
  w["entries"].push_back({{"phrases", {"glow"}}, {"layer", "style"}, {"senses", {{{"needs", "aura"}}}}});
  EXPECT_PRED2(says, fault(colours, w), "unknown anchor 'aura'");
  w = words;
  w["entries"].push_back({{"phrases", {"glow"}}, {"layer", "mood"}, {"senses", {{{"anchor", "light"}}}}});
  EXPECT_PRED2(says, fault(colours, w), "unknown layer 'mood'");
  json c = colours;
  c["colours"][0]["hex"] = "navy";
  EXPECT_PRED2(says, fault(c, words), "is not #rrggbb");
  c = colours;
  c["colours"].erase(
      std::remove_if(c["colours"].begin(), c["colours"].end(), [](const json& x) { return x["name"] == "camel"; }),
      c["colours"].end());
  EXPECT_PRED2(says, fault(c, words), "the wardrobe's fabric 'camel' is missing");
}
