#include "stages/stages.hpp"

namespace likeness {

cv::Mat canvas_layer(const Frame& f, const char* name) {
  auto it = f.layers.find(name);
  if (it == f.layers.end() || it->second.data.size() != f.image.size()) return {};
  cv::Mat m;
  it->second.data.convertTo(m, CV_32F, it->second.data.depth() == CV_8U ? 1.0 / 255 : 1.0);
  return m;
}

}  // namespace likeness
