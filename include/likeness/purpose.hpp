// Purposes as data: each is a file in data/purposes/ naming the default
// parameters of the look stages and the output sizes it offers, validated
// against the stages' own parameter declarations when first read. This is
// the one list of purposes: the CLI, the prompt, tests and docs ask it.
#pragma once
#include <string>
#include <vector>

#include "likeness/params.hpp"

namespace likeness {

struct OutputSize {
  std::string name;  // "profile", "4:5", "2:3"
  int width = 0, height = 0;
};

struct Purpose {
  std::string name;
  std::vector<std::string> aliases;  // other words for it ("casting")
  std::string summary, why;
  std::string use;  // personal or commercial: what its portraits are for by default (the consent must permit it)
  json stages = json::object();  // stage id -> {key: value}, each checked against the stage's declarations
  // What a shoot's variations vary, of what the person did not ask for:
  // source (the photo), backdrop (within its family), light (the key's
  // side), crop. E-commerce varies little (consistency), social all.
  std::vector<std::string> vary;
  bool varies(const std::string& what) const;
  std::vector<OutputSize> sizes;
  std::string file;  // "purposes/corporate.json"
  int order = 1000;  // where it stands in purposes() (corporate 1)
};

// Every purpose, in a fixed order (corporate first, then by name). Throws
// Error{internal} naming the file and the fault when a data file is invalid.
const std::vector<Purpose>& purposes();
// By name or alias; Error{usage} listing the purposes otherwise.
const Purpose& find_purpose(const std::string& name);
std::vector<std::string> purpose_names();  // names only, in purposes()'s order
std::string purpose_list();                // "corporate, actor, artist, ..." for help texts
// Checks one purpose file's JSON (what purposes() does to each): Error{internal}.
Purpose parse_purpose(const std::string& file, const std::string& text);

}  // namespace likeness
