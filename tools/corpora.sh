#!/bin/bash
# Fetches the bad-input corpora of ../shared/ROBUSTNESS.md into DEST for
# tests/corpus_test: each Debian package below, at its pinned version, with
# `apt-get download` into DEST/debs (never installed, nothing system-wide),
# checked against the pinned SHA-256 (the archive's own Packages record), then
# `dpkg -x` into DEST/<package>/ keeping only its image test files (paths as in
# the package). Idempotent: a package whose stamp matches is skipped; a .deb
# already in DEST/debs is reused when its hash matches and refused otherwise.
# Needs root (or sudo) only for `apt-get update` when the apt lists are empty.
#
# usage: tools/corpora.sh DEST          (`make corpora` uses ~/.cache/likeness/corpora)
set -euo pipefail

# name=version sha256 (Debian 12 "bookworm", amd64; gdk-pixbuf-tests is the
# only architecture-specific one). A pin that leaves the archive (a security
# update supersedes it) fails below with a message; update the line then.
PINS="
golang-1.19-src=1.19.8-2 2dfa82fe4f08f4e0193c532e561af4c91871f5235608f04f2bb8d57bb288df5a
gdk-pixbuf-tests=2.42.10+dfsg-1+deb12u4 171a99bae12ef6196806a0ac2389ce800be8c2a8db86e9389eba031c7e99ee8d
golang-github-rwcarlsen-goexif-dev=0.0~git20190401.9e8deec-2 807ff4c29f59ef6624a8e5b3454981ce1a05cefe1f0c4a53bfb005710b0338d7
golang-github-disintegration-imaging-dev=1.6.2-2 f7750767c5fe5f78c31730405746adf862f7faf734266ca1086ec52ea2e24b0a
golang-golang-x-image-dev=0.5.0-1 f0920a91f9184bcd579af7bfba72266a65ff0b1b9b5a73cd3ffeb03d6b271e9b
afl++-doc=4.04c-4 a7828cea1c48219f0681851aa723ad3945f70fc36ef138b436bd75338e9b3db1
"

# What is kept of each package: "name ext DIR" keeps the files under DIR with
# an image extension (case-insensitive), "name all DIR" every file under DIR
# (crafted and fuzzed inputs, whatever they are called). Every rule must match
# at least one file, so a changed package layout fails loudly.
IMAGE_EXT='jpg|jpeg|png|gif|webp|tif|tiff|bmp|ico|icns|ani|heic|heif|avif|jxl|jp2|jxr|pnm|ppm|pgm|pbm|pam|xbm|xpm|tga|qtif|pixdata'
KEEP="
golang-1.19-src ext usr/share/go-1.19/src/image
gdk-pixbuf-tests ext usr/libexec/installed-tests/gdk-pixbuf
gdk-pixbuf-tests all usr/libexec/installed-tests/gdk-pixbuf/test-images/fail
gdk-pixbuf-tests all usr/libexec/installed-tests/gdk-pixbuf/test-images/randomly-modified
golang-github-rwcarlsen-goexif-dev ext usr/share/gocode/src/github.com/rwcarlsen/goexif
golang-github-disintegration-imaging-dev ext usr/share/gocode/src/github.com/disintegration/imaging/testdata
golang-golang-x-image-dev ext usr/share/gocode/src/golang.org/x/image
afl++-doc all usr/share/doc/afl++-doc/afl/testcases/images
"

die() {
  echo "corpora.sh: $*" >&2
  exit 1
}

[ $# -eq 1 ] || die "usage: $0 DEST"
DEST=$1
SELF_SHA=$(sha256sum "$0" | cut -c1-64)
mkdir -p "$DEST/debs"
DEST=$(cd "$DEST" && pwd)
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The apt lists know NAME=VERSION (after one `apt-get update` if they are empty).
ensure_listed() {
  local name=$1 version=$2
  apt-cache show "$name=$version" >/dev/null 2>&1 && return 0
  if ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
    echo "corpora.sh: the apt lists are empty; apt-get update"
    $SUDO apt-get update -qq
    apt-cache show "$name=$version" >/dev/null 2>&1 && return 0
  fi
  die "$name=$version is not in the apt lists (apt-cache policy $name): superseded by an update? Pin the new version and its SHA256 (apt-cache show $name) in $0"
}

sha_of() { sha256sum "$1" | cut -c1-64; }

# DEST/debs/NAME_VERSION.deb, downloaded if missing, its hash checked.
fetch_deb() {
  local name=$1 version=$2 sha=$3
  local deb="$DEST/debs/${name}_${version//:/%3a}.deb"
  if [ -f "$deb" ]; then
    local have
    have=$(sha_of "$deb")
    [ "$have" = "$sha" ] || die "$deb has SHA-256 $have, pinned $sha: delete it (or fix the pin) and run again"
    echo "$deb"
    return 0
  fi
  ensure_listed "$name" "$version"
  local dl="$TMP/dl-$name"
  mkdir -p "$dl"
  # apt drops privileges to _apt for downloading; let it write here.
  if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
    chmod 711 "$TMP"
    chown _apt "$dl"
  fi
  (cd "$dl" && apt-get download -q=2 "$name=$version") >&2 || die "apt-get download $name=$version failed"
  local got=("$dl"/*.deb)
  if [ ${#got[@]} -ne 1 ] || [ ! -f "${got[0]}" ]; then die "apt-get download $name=$version gave no single .deb"; fi
  local have
  have=$(sha_of "${got[0]}")
  [ "$have" = "$sha" ] || die "apt-get download $name=$version gave SHA-256 $have, pinned $sha: refusing it"
  rm -f "$DEST/debs/${name}_"*.deb  # an older pin's file
  mv "${got[0]}" "$deb"
  echo "$deb"
}

# Extracts the deb and keeps the files the KEEP rules name, in DEST/NAME.
extract() {
  local name=$1 deb=$2
  local x="$TMP/x-$name" out="$DEST/.$name.new"
  rm -rf "$x" "$out"
  mkdir -p "$x" "$out"
  dpkg -x "$deb" "$x"
  local rules=0 pkg mode dir
  while read -r pkg mode dir; do
    [ "$pkg" = "$name" ] || continue
    rules=$((rules + 1))
    [ -d "$x/$dir" ] || die "$name: $dir is not in the package (its layout changed?)"
    local list="$TMP/list-$name-$rules"
    if [ "$mode" = all ]; then
      (cd "$x" && find "$dir" -type f) >"$list"
    else
      (cd "$x" && find "$dir" -type f -regextype posix-extended -iregex ".*\\.($IMAGE_EXT)") >"$list"
    fi
    [ -s "$list" ] || die "$name: no files kept under $dir (its layout changed?)"
    (cd "$x" && xargs -d '\n' cp --parents -t "$out") <"$list"
  done <<<"$KEEP"
  [ "$rules" -gt 0 ] || die "$name: no KEEP rule"
  chmod -R u+rwX,go+rX "$out"
  rm -rf "$x" "${DEST:?}/$name"
  mv "$out" "$DEST/$name"
}

manifest="$TMP/MANIFEST"
while read -r pin sha; do
  [ -n "$pin" ] || continue
  name=${pin%%=*}
  version=${pin#*=}
  stamp="$DEST/$name/.corpora-stamp"
  want="$name=$version $sha $SELF_SHA"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "corpora.sh: $name $version is in place"
  else
    deb=$(fetch_deb "$name" "$version" "$sha")
    extract "$name" "$deb"
    echo "$want" >"$stamp"
    echo "corpora.sh: $name $version: $(find "$DEST/$name" -type f ! -name '.*' | wc -l) files in $DEST/$name"
  fi
  echo "$name=$version $sha $(find "$DEST/$name" -type f ! -name '.*' | wc -l)" >>"$manifest"
done <<<"$PINS"
# name=version sha256 files, for the record.
mv "$manifest" "$DEST/MANIFEST"
