#!/bin/bash
# The visual reference: one real photo through each crop and aspect, each on
# another backdrop (studio and defocused places), plus 100% crops of hair
# edges of two people on plain, busy and bright backdrops, plus every colour
# grade with a 100% crop of the cheek under it, plus every light on three
# people. Writes docs/sheet.jpg, docs/edges.jpg, docs/looks.jpg and
# docs/lights.jpg (look at them before calling a matte, backdrop, grade or
# light change done).
# Usage: tools/sheet.sh [PHOTO] [OUT_DIR] [DARK_HAIRED_PHOTO]
#   (defaults: person04_1, docs/, person03_1)
set -euo pipefail
cd "$(dirname "$0")/.."
photo=${1:-../shared/faces/people/person04_1.jpg}
out=${2:-docs}
dark=${3:-../shared/faces/people/person03_1.jpg}
bin=build/likeness
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LIKENESS_DATA=$work/data
$bin consent grant --subject sheet --by "likeness sheet" --purposes portraits,likeness --retention 1 --quiet >/dev/null

# shoot REFS_DIR OUT_DIR SIZE CROP BACKDROP-ARGS...
shoot() {
  local refs=$1 dir=$2 size=$3 crop=$4
  shift 4
  $bin shoot --refs "$refs" --out "$dir" --subject sheet --size "$size" --frame-crop "$crop" "$@" \
    --export-format png --quiet >/dev/null
}

mkdir -p "$work/refs" && cp "$photo" "$work/refs/"
backdrops=("--backdrop-style paper --backdrop-color #c9c2b6" "--backdrop-style office" "--backdrop-style city"
  "--backdrop-style gradient" "--backdrop-style greenery" "--backdrop-style cafe"
  "--backdrop-style canvas" "--backdrop-style sky" "--backdrop-style solid --backdrop-color #d9d4cc")
tiles=()
i=0
for crop in headshot head-and-shoulders half-body; do
  for size in 800x1000 900x900 800x1200; do
    dir=$work/$crop-$size
    # shellcheck disable=SC2086
    shoot "$work/refs" "$dir" "$size" "$crop" ${backdrops[$i]}
    vips thumbnail "$dir/portrait_01.png" "$work/t-$i.png" 400 --height 400
    vips gravity "$work/t-$i.png" "$work/g-$i.png" centre 400 400 --extend white
    tiles+=("$work/g-$i.png")
    i=$((i + 1))
  done
done
vips arrayjoin "${tiles[*]}" "$out/sheet.jpg[Q=88]" --across 3 --shim 8 --background 255

# 100% crops of the hair at the left, top and right of the head, one row per
# person and backdrop, placed from the face the portrait was framed on (eyes
# at 36% of the height, centred).
mkdir -p "$work/dark" && cp "$dark" "$work/dark/"
rows=()
for who in refs dark; do
  for bd in "--backdrop-style gradient" "--backdrop-style greenery" "--backdrop-style paper --backdrop-color #e8e4dc"; do
    dir=$work/edge-$who-${#rows[@]}
    # shellcheck disable=SC2086
    shoot "$work/$who" "$dir" 800x1000 head-and-shoulders $bd
    p=$dir/portrait_01.png
    vips crop "$p" "$dir/e1.png" 110 60 240 240
    vips crop "$p" "$dir/e2.png" 280 0 240 240
    vips crop "$p" "$dir/e3.png" 450 60 240 240
    vips arrayjoin "$dir/e1.png $dir/e2.png $dir/e3.png" "$dir/row.png" --across 3 --shim 4 --background 255
    rows+=("$dir/row.png")
  done
done
vips arrayjoin "${rows[*]}" "$out/edges.jpg[Q=92]" --across 2 --shim 8 --background 255

# Every grade (the stage's declared looks) on the first photo, the corporate
# backdrop: the portrait, and under it a 100% crop of the cheek and the eye
# (grey shadows, plastic skin or a cast show there first).
looks=$($bin stages | sed -n 's/^  look  *choice  *one of \(.*\) default.*/\1/p' | tr -d ',')
[ -n "$looks" ] || { echo "sheet.sh: no looks in 'likeness stages'" >&2; exit 1; }
cells=()
for look in $looks; do
  dir=$work/look-$look
  shoot "$work/refs" "$dir" 800x1000 head-and-shoulders --grade-look "$look"
  p=$dir/portrait_01.png
  vips thumbnail "$p" "$dir/t.png" 280
  vips crop "$p" "$dir/c.png" 250 330 280 200
  vips arrayjoin "$dir/t.png $dir/c.png" "$dir/cell.png" --across 1 --shim 4 --background 255
  cells+=("$dir/cell.png")
done
vips arrayjoin "${cells[*]}" "$out/looks.jpg[Q=90]" --across 5 --shim 8 --background 255

# Every light (the relight stage's declared patterns) on three people, the
# corporate backdrop: one row per person, the photo's own light first; under
# each row a 100% crop of the cheek and the nose (a painted gradient, grey
# shadows or a seam where the mesh ends show there first).
patterns=$($bin stages | sed -n 's/^  pattern  *choice  *one of \(.*\) default.*/\1/p' | tr -d ',')
[ -n "$patterns" ] || { echo "sheet.sh: no patterns in 'likeness stages'" >&2; exit 1; }
rows=()
for who in "$photo" ../shared/faces/people/person13_2.jpg ../shared/faces/people/person05_1.jpg; do
  name=$(basename "$who" .jpg)
  mkdir -p "$work/lr-$name" && cp "$who" "$work/lr-$name/"
  cells=()
  crops=()
  for pattern in $patterns; do
    [ "$pattern" = match ] && continue
    dir=$work/light-$name-$pattern
    shoot "$work/lr-$name" "$dir" 640x800 headshot --backdrop-style gradient --relight-pattern "$pattern"
    vips thumbnail "$dir/portrait_01.png" "$dir/t.png" 200
    vips crop "$dir/portrait_01.png" "$dir/c.png" 200 260 200 200
    cells+=("$dir/t.png")
    crops+=("$dir/c.png")
  done
  vips arrayjoin "${cells[*]} ${crops[*]}" "$work/row-$name.png" --across ${#cells[@]} --shim 4 --background 255
  rows+=("$work/row-$name.png")
done
vips arrayjoin "${rows[*]}" "$out/lights.jpg[Q=88]" --across 1 --shim 8 --background 255
echo "wrote $out/sheet.jpg, $out/edges.jpg, $out/looks.jpg and $out/lights.jpg"
