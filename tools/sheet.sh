#!/bin/bash
# The visual reference: one real photo through each crop, aspect and
# backdrop, plus 100% crops of hair edges. Writes docs/sheet.jpg and
# docs/edges.png (look at them before calling a matte or backdrop change done).
# Usage: tools/sheet.sh [PHOTO] [OUT_DIR]   (defaults: person04_1, docs/)
set -euo pipefail
cd "$(dirname "$0")/.."
photo=${1:-../shared/faces/people/person04_1.jpg}
out=${2:-docs}
bin=build/likeness
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LIKENESS_DATA=$work/data
mkdir -p "$work/refs" && cp "$photo" "$work/refs/"
$bin consent grant --subject sheet --by "likeness sheet" --purposes portraits,likeness --retention 1 --quiet >/dev/null
tiles=()
for crop in headshot head-and-shoulders half-body; do
  for size in 800x1000 900x900 800x1200; do
    case $size in 800x1000) bd="--backdrop-style gradient --backdrop-color #3b4652 --backdrop-color2 #8a96a3" ;;
                  900x900) bd="--backdrop-style solid --backdrop-color #d9d4cc" ;;
                  *) bd="--backdrop-style gradient --backdrop-color #2e3b2f --backdrop-color2 #6f7f66" ;; esac
    dir=$work/$crop-$size
    $bin shoot --refs "$work/refs" --out "$dir" --subject sheet --size "$size" --frame-crop "$crop" $bd \
      --export-format png --quiet >/dev/null
    vips thumbnail "$dir/portrait_01.png" "$work/t-$crop-$size.png" 400 --height 400
    vips gravity "$work/t-$crop-$size.png" "$work/g-$crop-$size.png" centre 400 400 --extend white
    tiles+=("$work/g-$crop-$size.png")
  done
done
vips arrayjoin "${tiles[*]}" "$out/sheet.jpg[Q=88]" --across 3 --shim 8 --background 255
# 100% crops of the hair edge of the head-and-shoulders portrait: left, top, right of the head.
p=$work/head-and-shoulders-800x1000/portrait_01.png
vips crop "$p" "$work/e1.png" 120 80 280 280
vips crop "$p" "$work/e2.png" 260 20 280 280
vips crop "$p" "$work/e3.png" 400 80 280 280
vips arrayjoin "$work/e1.png $work/e2.png $work/e3.png" "$out/edges.png" --across 3 --shim 8 --background 255
echo "wrote $out/sheet.jpg and $out/edges.png"
