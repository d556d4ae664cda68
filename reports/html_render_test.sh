#!/usr/bin/env bash
# Renders an HTML report in headless Chromium: takes a screenshot and checks
# that the page Chromium parsed has the report's lanes, in order, and that
# the screenshot is not blank.
#   html_render_test.sh IOCPSIM SOURCE_DIR WORK_DIR
# Exit 77 (skipped) when chromium is absent; scripts/setup installs it.
set -euo pipefail
cli=$1 src=$2 work=$3
if ! command -v chromium >/dev/null; then
  echo "SKIP: chromium is not installed (scripts/setup installs Debian's chromium)"
  exit 77
fi
rm -rf "$work" && mkdir -p "$work" && cd "$work"
replay="$src/corpus/crashes/subprocess-finish-order.replay"
"$cli" report "$replay" --format html -o report.html
"$cli" report "$replay" --format json -o report.json
echo '<!DOCTYPE html><html><body></body></html>' > blank.html
# The flags keep Chromium off the network this machine does not have.
chrome() {
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/profile" --window-size=1400,900 "$@" 2>chromium.log
}
chrome --screenshot="$work/report.png" "file://$work/report.html"
chrome --screenshot="$work/blank.png" "file://$work/blank.html"
chrome --dump-dom "file://$work/report.html" > dom.html
python3 - <<'PY'
import html, json, os, re
report = json.load(open("report.json"))
dom = open("dom.html").read()
lanes = [html.unescape(m) for m in re.findall(r'<g class="lane" data-lane="([^"]*)"', dom)]
assert lanes == report["lanes"], (lanes, report["lanes"])
assert any(l.startswith("thread#") for l in lanes) and any(l.startswith("h=0x") for l in lanes), lanes
assert len(re.findall(r'class="choice deviating"', dom)) == report["deviations"] > 0
png = open("report.png", "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n", "no PNG screenshot"
blank = os.path.getsize("blank.png")
assert len(png) > 3 * blank, f"the screenshot looks blank ({len(png)} bytes, blank page {blank})"
print(f"ok: {len(lanes)} lanes, {report['deviations']} deviating choice(s), screenshot {len(png)} bytes (blank page {blank})")
PY
