#include "stages/relight/patterns.hpp"

#include "likeness/error.hpp"

namespace likeness::relight {

const std::vector<Pattern>& patterns() {
  // Key-to-fill ratios follow portrait practice: 2:1 (fill 0.5) reads
  // open and flat, 4:1 (0.25) modelled, 8:1 (0.12) dramatic. Elevations are
  // above the eye line; azimuths from the camera axis toward the key side.
  static const std::vector<Pattern> p = {
      {"none", "the photo's own light", 0, 0, 0, 1, 0, 0, 5500, 5500, KeySide::photo},
      {"match", "the backdrop's declared light: its direction, softness and colour", 0, 0, 0, 0.3f, 0, 0, 5500, 5500,
       KeySide::photo},
      {"rembrandt", "key high and 45 degrees to the side: a lit triangle under the far eye", 50, 40, 0.3f, 0.2f, 0, 0,
       5200, 5800, KeySide::photo},
      {"loop", "key a little to the side and above: the nose's shadow loops down toward the cheek", 30, 30, 0.45f, 0.3f,
       0, 0, 5500, 5800, KeySide::photo},
      {"butterfly", "key high in front: a small shadow under the nose, cheekbones sculpted", 0, 45, 0.4f, 0.35f, 0, 0,
       5500, 5500, KeySide::photo},
      {"split", "key from the side: half the face lit, half in shadow", 80, 10, 0.3f, 0.3f, 0, 0, 5500, 5800,
       KeySide::photo},
      {"broad", "key on the side of the face turned toward the camera", 45, 30, 0.45f, 0.3f, 0, 0, 5500, 5800,
       KeySide::broad},
      {"short", "key on the side turned away: the near side in shadow, slimming", 50, 30, 0.4f, 0.22f, 0, 0, 5500, 5800,
       KeySide::narrow},
      {"rim", "a soft front key and a back light tracing the far edge of the head and shoulders", 25, 25, 0.55f, 0.4f,
       0.9f, 0, 5500, 5500, KeySide::photo},
      {"clamshell", "key above in front and a reflector below: even, glowing, beauty light", 0, 40, 0.6f, 0.45f, 0,
       0.35f, 5500, 5500, KeySide::photo},
      {"high-key", "big soft light from the front: open, bright, almost shadowless", 15, 20, 0.85f, 0.7f, 0, 0.15f,
       5800, 5800, KeySide::photo},
      {"low-key", "a hard key from the side and little fill: deep, dramatic shadows", 65, 30, 0.2f, 0.14f, 0, 0, 5200,
       5500, KeySide::photo},
      {"soft-morning", "low, soft, slightly warm daylight from the side", 55, 20, 0.7f, 0.4f, 0, 0, 5000, 7000,
       KeySide::photo},
      {"overcast-noon", "the sky overhead: soft light from above, cool and even", 10, 60, 0.9f, 0.6f, 0, 0, 6800, 7500,
       KeySide::photo},
      {"golden-hour", "a low, warm sun from the side and a cool sky for fill", 60, 12, 0.35f, 0.3f, 0.5f, 0, 3300, 8000,
       KeySide::photo},
      {"blue-hour", "the dusk sky: soft, low and cool, a warm practical light on one side", 40, 15, 0.75f, 0.55f, 0, 0,
       9500, 4200, KeySide::photo},
      {"window", "a large window beside the subject: soft side light falling off across the face", 70, 10, 0.65f, 0.25f,
       0, 0, 6000, 5500, KeySide::photo},
  };
  return p;
}

std::vector<std::string> pattern_names() {
  std::vector<std::string> n;
  for (const auto& p : patterns()) n.push_back(p.name);
  return n;
}

const Pattern& find_pattern(const std::string& name) {
  for (const auto& p : patterns())
    if (p.name == name) return p;
  std::string known;
  for (const auto& p : patterns()) known += (known.empty() ? "" : ", ") + p.name;
  throw Error(ErrorCode::usage, "unknown light '" + name + "' (lights: " + known + ")");
}

}  // namespace likeness::relight
