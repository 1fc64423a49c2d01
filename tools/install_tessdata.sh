#!/usr/bin/env bash
# Install the Tesseract models requirements/tessdata.txt lists into DEST (default .venv/share/tessdata):
# the Debian packages are downloaded (not installed) and only their .traineddata files and copyright notices
# are kept. Used by the Makefile and by functions/Dockerfile, so both carry the same models. Needs apt.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$here/.venv/share/tessdata}"
list="${2:-$here/requirements/tessdata.txt}"
mkdir -p "$dest" && dest="$(cd "$dest" && pwd)"
list="$(cd "$(dirname "$list")" && pwd)/$(basename "$list")"
packages=$(sed -e 's/#.*//' "$list" | tr -s ' \t' '\n' | grep -v '^$')
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download $packages >/dev/null 2>&1; then
  # A fresh machine has no package lists yet (apt-get update needs root, as on CI and in the image build).
  apt-get update -qq
  apt-get download $packages
fi
mkdir -p "$dest/licenses"
for deb in ./*.deb; do
  dpkg-deb -x "$deb" extracted
  name="$(dpkg-deb -f "$deb" Package)"
  cp extracted/usr/share/doc/"$name"/copyright "$dest/licenses/$name.copyright"
done
find extracted -name '*.traineddata' -exec cp {} "$dest/" \;
count=$(find "$dest" -maxdepth 1 -name '*.traineddata' | wc -l)
echo "tessdata: $count models in $dest"
