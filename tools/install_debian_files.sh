#!/usr/bin/env bash
# Take files of the Debian packages LIST names into DEST: the packages are downloaded (not installed) and only
# their files matching PATTERN, and each package's copyright notice (DEST/licenses), are kept.
#   tools/install_debian_files.sh DEST [LIST [PATTERN]]
# Defaults: the Tesseract models of requirements/tessdata.txt into .venv/share/tessdata. Used by the Makefile
# and by functions/Dockerfile, so both carry the same models; the Makefile also takes the test suite's fonts
# (requirements/test-fonts.txt) this way. Needs apt.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$here/.venv/share/tessdata}"
list="${2:-$here/requirements/tessdata.txt}"
pattern="${3:-*.traineddata}"
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
find extracted -name "$pattern" -exec cp {} "$dest/" \;
count=$(find "$dest" -maxdepth 1 -name "$pattern" | wc -l)
echo "$(basename "$list"): $count files ($pattern) in $dest"
