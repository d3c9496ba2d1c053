#!/bin/sh
# Installs the Debian packages likeness needs, skipping what is present.
# Idempotent; needs root (or sudo) only when something is missing.
set -eu
PKGS="build-essential cmake pkg-config git ca-certificates
libopencv-dev libopencv-contrib-dev opencv-data libvips-dev libexiv2-dev libssl-dev libsqlite3-dev
nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
python3 python3-numpy python3-onnx python3-skimage libimage-exiftool-perl clang libclang-rt-14-dev llvm python3-pil
libjpeg-turbo-progs libheif-examples libvips-tools libpng-dev libjpeg62-turbo-dev ccache
libcpp-httplib-dev chromium fonts-dejavu-core wrk
postgresql-15 libpq-dev iproute2"

missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node.js may come from elsewhere than Debian (the machine image ships one).
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
[ -z "$missing" ] && exit 0

echo "installing Debian packages:$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# PostgreSQL is for the tests' own throw-away clusters (initdb/pg_ctl in a
# temporary folder) and for a studio's chosen database server: the package
# must not create and start a system cluster of its own.
case "$missing" in *postgresql-15*)
  $SUDO mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/likeness.conf >/dev/null ;;
esac
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
