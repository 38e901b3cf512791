#!/usr/bin/env bash
# Refresh the vendored front-end files from npm at the versions pinned in package-lock.json.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --ignore-scripts
out=../static/vendor
rm -rf "$out" && mkdir -p "$out/leaflet/images"
cp node_modules/htmx.org/dist/htmx.min.js "$out/"
cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css "$out/leaflet/"
cp node_modules/leaflet/dist/images/*.png "$out/leaflet/images/"
cp node_modules/htmx.org/LICENSE "$out/htmx.LICENSE"
mkdir -p "$out/swagger"
cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
   node_modules/swagger-ui-dist/LICENSE "$out/swagger/"
cp node_modules/leaflet/LICENSE "$out/leaflet/LICENSE"
# axe-core: the accessibility checker the browser tests run on every page (not used by pages).
mkdir -p "$out/axe" "$out/markercluster" "$out/uplot"
cp node_modules/axe-core/axe.min.js node_modules/axe-core/LICENSE "$out/axe/"
cp node_modules/leaflet.markercluster/dist/leaflet.markercluster.js \
   node_modules/leaflet.markercluster/dist/MarkerCluster.css \
   node_modules/leaflet.markercluster/MIT-LICENCE.txt "$out/markercluster/"
cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css \
   node_modules/uplot/LICENSE "$out/uplot/"
# bootstrap re-vendors when the lock no longer matches what was installed
cp package-lock.json "$out/.package-lock.json"
echo "vendored: htmx $(node -p 'require("./node_modules/htmx.org/package.json").version'), leaflet $(node -p 'require("./node_modules/leaflet/package.json").version'), axe-core $(node -p 'require("./node_modules/axe-core/package.json").version')"
