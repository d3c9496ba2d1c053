// Whole-stream integrity of JPEG and PNG files, read by libjpeg-turbo and
// libpng themselves (see integrity.cpp for why libvips is not enough).
#pragma once
#include <string>
#include <string_view>

namespace likeness::io {

// "" when every byte of the stream decodes cleanly (format "jpeg" or "png";
// other formats are not checked here); else the library's own words.
std::string stream_damage(const std::string& format, std::string_view bytes);

}  // namespace likeness::io
