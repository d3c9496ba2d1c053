// Lighting patterns as data: where the key stands, how soft it is, how much
// fill and rim there is, and the colours of the key and the fill. A pattern
// by name (Rembrandt, loop, ...) or by time of day (golden hour, ...); the
// relight stage renders it on the subject's 3-D shape.
#pragma once
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace likeness::relight {

// Which side of the face the key comes from.
enum class KeySide {
  photo,   // the side the photo's own light comes from (else the subject's left)
  broad,   // the side of the face turned toward the camera
  narrow,  // the side turned away ("short" lighting)
};

struct Pattern {
  std::string name;
  std::string words;      // what it looks like, for people
  float azimuth = 45;     // degrees from the camera axis toward the key side (0 frontal, 90 from the side)
  float elevation = 30;   // degrees above the eyes
  float softness = 0.4f;  // 0 a bare bulb .. 1 an overcast sky: wrap, penumbra, specular spread
  float fill = 0.3f;      // fill light relative to the key (1:1 flat, 0.15 deep shadows)
  float rim = 0;          // a back light on the far edge of the head and shoulders, relative to the key
  float under = 0;        // a reflector below the face (clamshell), relative to the key
  float key_kelvin = 5500;
  float fill_kelvin = 5500;
  KeySide side = KeySide::photo;
};

// Every pattern, in the order people see them ("none" and "match" first:
// none changes nothing; match takes the backdrop's declared light).
const std::vector<Pattern>& patterns();
std::vector<std::string> pattern_names();
const Pattern& find_pattern(const std::string& name);  // throws usage for an unknown name

}  // namespace likeness::relight
