// The project's data files (data/ in the source tree: purposes, the prompt's
// vocabulary), compiled into the library by CMakeLists.txt so the binary
// needs nothing beside it at run time.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace likeness {

struct DataFile {
  std::string_view path;  // relative to data/: "purposes/corporate.json"
  std::string_view text;
};
const std::vector<DataFile>& data_files();  // sorted by path
// The files under a folder of data/ ("purposes/"), sorted by path.
std::vector<DataFile> data_files_under(std::string_view folder);

}  // namespace likeness
