// The prompt's vocabulary (data/vocabulary/*.json): every phrase it
// understands, what each means to the stages, and what refining a real
// photo cannot do. Read once, checked against the stages' declarations.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "likeness/params.hpp"

namespace likeness::vocab {

// One reading of a phrase. The first sense whose `needs` the clause has
// (an anchor another phrase in it sets: garment, backdrop, light, tone,
// skin) applies; a sense without needs is the reading by default.
struct Sense {
  std::string needs;
  std::string anchor;   // this phrase is a garment / backdrop / light / tone / skin word
  std::string garment;  // outer or inner (a garment word)
  json sets = json::object();
  std::string refuse;           // why refining a real photo cannot do this
  bool light_modifier = false;  // shapes a light (soft, dramatic, from the left ...)
  bool dramatic = false;
};

enum class Kind { word, colour, understood, glue };

struct Entry {
  Kind kind = Kind::word;
  std::string layer;  // subject, setting, lighting, style, polish, composition, output
  int rank = 0;       // of places named together, the higher wins (a skyline over an office)
  std::vector<Sense> senses;
  // A colour: its name, its hex, and the wardrobe stage's fabric name when
  // it has one (its own dyed-cloth shade), else the hex.
  std::string colour, hex, fabric;
};

struct Vocabulary {
  std::vector<Entry> entries;
  std::map<std::string, int> phrases;  // lower-case phrase -> entry
  int longest = 1;                     // words in the longest phrase
};

// Error{internal} naming the data file and the fault if the vocabulary is
// invalid (a sense setting an unknown stage parameter or value, a phrase
// listed twice, a fabric name the wardrobe stage does not know).
const Vocabulary& vocabulary();
// The same from the two files' JSON (what vocabulary() reads): for tests.
Vocabulary build_vocabulary(const json& colours, const json& words);

}  // namespace likeness::vocab
