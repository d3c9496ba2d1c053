#pragma once
#include <string>
#include <string_view>

namespace likeness {

// Writes bytes atomically: temp file in the same directory, fsync, rename,
// fsync the directory. Readers see the old file or the new one, never half.
void write_file_atomic(const std::string& path, std::string_view bytes);
// Whether a file name is one of write_file_atomic's temp files
// (".name.XXXXXX"), which a killed process can leave behind.
bool is_atomic_temp_name(const std::string& name);

// Reads a whole file; throws bad_input naming the file when it cannot.
std::string read_file(const std::string& path, size_t max_bytes);

// A path's extension, lowercase, without the dot ("photo.JPG" -> "jpg").
std::string lower_extension(const std::string& path);

// $XDG_CACHE_HOME/likeness or ~/.cache/likeness, or $LIKENESS_CACHE.
std::string cache_dir();

// Where people's data lives (face analyses, set records; consent later):
// $LIKENESS_DATA, else $XDG_DATA_HOME/likeness or ~/.local/share/likeness.
// Everything in it concerns a person and is deleted with them.
std::string data_dir();

}  // namespace likeness
