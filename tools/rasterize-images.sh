#!/usr/bin/env bash
# Make PNG versions of the sample site's SVG pictures (Gmail and Outlook do not show SVG in
# emails, and social cards want a raster og:image). Run once after changing an SVG, then
# commit the PNGs: uses Debian's headless Chromium, at the SVG's own 1200x630 size.
set -euo pipefail
cd "$(dirname "$0")/../templates/site/static/images"
for svg in *.svg; do
  png="${svg%.svg}.png"
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
    --default-background-color=00000000 --window-size=1200,630 \
    --screenshot="$PWD/$png" "file://$PWD/$svg" 2>/dev/null
  echo "$png"
done
