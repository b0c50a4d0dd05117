#!/usr/bin/env bash
# Fetch MathJax 3, RequireJS and the ipywidgets HTML manager from the npm registry into vendor_js/vendor/,
# which the book publishes as static files (html_static_path in _config.yml), so that the rendered book
# typesets math and shows widgets with no network access at read time. vendor_js/ is never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=vendor_js/vendor
stamp=$out/.versions
versions="mathjax@3.2.2 @jupyter-widgets/html-manager@1.0.15 requirejs@2.3.8 widget-paths@1"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$versions" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "scripts/vendor_js.sh: npm is needed to fetch MathJax and the widget manager (install Node.js)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
npm install --prefix "$work" --no-audit --no-fund --no-save --silent ${versions% widget-paths@1}
rm -rf "$out"
mkdir -p "$out/requirejs"
cp -r "$work/node_modules/mathjax/es5" "$out/mathjax"
cp -r "$work/node_modules/@jupyter-widgets/html-manager/dist" "$out/html-manager"
cp "$work/node_modules/requirejs/require.js" "$out/requirejs/require.js"
# RequireJS resolves the widget manager's module (and so its icon fonts) relative to the page unless
# told where the bundle lives: point it at this build's copy, found from this script's own address.
cat > "$out/requirejs/widget-paths.js" <<'JS'
(function () {
  var base = document.currentScript.src.replace(/requirejs\/widget-paths\.js.*$/, "");
  require.config({paths: {"@jupyter-widgets/html-manager/dist": base + "html-manager"}});
})();
JS
echo "$versions" > "$stamp"
echo "vendored into $out: $versions"
