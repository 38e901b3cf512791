// Dashboard map as a network: site markers by status (clustered where dense, with the vendored
// Leaflet.markercluster), backbone links as lines coloured by use, a legend, and tooltips in
// the viewer's language (written by the server). With data-poll it redraws every data-every
// seconds without reloading the page. Works without tiles (plain background).
(function () {
  var el = document.getElementById("map");
  if (!el || typeof L === "undefined") return;
  var data = JSON.parse(el.dataset.map || "{}");
  var map = L.map(el, {attributionControl: false, maxZoom: 18});  // markercluster needs one
  if (el.dataset.tiles) L.tileLayer(el.dataset.tiles, {maxZoom: 19}).addTo(map);
  // Colours keep 3:1 contrast on the map's background (WCAG 1.4.11).
  var LINK = {low: "#1b7f3b", busy: "#a35f00", full: "#b3261e", none: "#56626e", down: "#1d2733"};
  var DASH = {none: "6 6", down: "2 6"};
  var bounds = (data.markers || []).map(function (m) { return [m.lat, m.lon]; });
  if (bounds.length) map.fitBounds(bounds, {padding: [20, 20]}); else map.setView([-2, 114], 8);
  // Lines first, so markers and clusters stay on top of them.
  var lines = L.layerGroup().addTo(map);
  var sites = typeof L.markerClusterGroup === "function"
    ? L.markerClusterGroup({maxClusterRadius: 35, showCoverageOnHover: false})
    : L.layerGroup();
  sites.addTo(map);

  function text(value) {  // inventory text: given to Leaflet as a text node, never HTML
    var span = document.createElement("span");
    span.textContent = value;
    return span;
  }

  function icon(m) {
    return L.divIcon({className: "site-dot " + m.status + " kind-" + m.kind,
      iconSize: m.kind === "noc" ? [20, 20] : (m.kind === "hotspot" ? [16, 16] : [12, 12])});
  }
  function line(k) {
    return L.polyline([k.from, k.to], {color: LINK[k.use] || LINK.none, weight: 4, opacity: 0.85,
      dashArray: DASH[k.use] || null, className: "link link-" + k.use})
      .bindTooltip(text(k.tooltip || k.name), {sticky: true});
  }

  // A redraw changes what changed (a line's colour, a marker's status) and leaves the rest
  // alone, so an open tooltip or a hovered marker survives a refresh.
  var drawnLines = {}, drawnSites = {};
  function draw(d) {
    var keep = {};
    (d.links || []).forEach(function (k, i) {
      var key = i + "|" + k.name, old = drawnLines[key];
      keep[key] = true;
      if (old && old.use === k.use) { old.layer.setTooltipContent(text(k.tooltip || k.name)); return; }
      if (old) lines.removeLayer(old.layer);
      drawnLines[key] = {use: k.use, layer: line(k).addTo(lines)};
    });
    Object.keys(drawnLines).forEach(function (key) {
      if (!keep[key]) { lines.removeLayer(drawnLines[key].layer); delete drawnLines[key]; }
    });
    var fresh = [], seen = {};
    (d.markers || []).forEach(function (m) {
      var old = drawnSites[m.code];
      seen[m.code] = true;
      var tip = text(m.tooltip || (m.name + " (" + m.status + ")"));
      if (old && old.lat === m.lat && old.lon === m.lon) {
        if (old.status !== m.status || old.kind !== m.kind) old.layer.setIcon(icon(m));
        old.layer.setTooltipContent(tip);
        old.status = m.status; old.kind = m.kind;
        return;
      }
      if (old) sites.removeLayer(old.layer);
      var marker = L.marker([m.lat, m.lon], {icon: icon(m), keyboard: true})
        .bindTooltip(tip)
        .on("click", function () { window.location = "/sites/" + encodeURIComponent(m.code); });
      drawnSites[m.code] = {status: m.status, kind: m.kind, lat: m.lat, lon: m.lon, layer: marker};
      fresh.push(marker);
    });
    Object.keys(drawnSites).forEach(function (code) {
      if (!seen[code]) { sites.removeLayer(drawnSites[code].layer); delete drawnSites[code]; }
    });
    if (sites.addLayers) sites.addLayers(fresh); else fresh.forEach(function (l) { sites.addLayer(l); });
    el.dataset.updated = String(Date.now());
  }

  function legend(d) {
    if (!d.legend || !d.legend.length) return;
    var control = L.control({position: "bottomright"});
    control.onAdd = function () {
      var box = L.DomUtil.create("div", "map-legend");
      var title = document.createElement("strong");
      title.textContent = d.title || "";
      box.appendChild(title);
      d.legend.forEach(function (item) {
        var row = document.createElement("div");
        var swatch = document.createElement("span");
        swatch.className = (item.kind === "link" ? "swatch-line link-" : "swatch-dot site-dot ") + item.cls;
        row.appendChild(swatch);
        row.appendChild(document.createTextNode(" " + item.label));
        box.appendChild(row);
      });
      return box;
    };
    control.addTo(map);
  }

  draw(data);
  legend(data);
  el.classList.add("ready");
  if (!el.dataset.poll) return;
  setInterval(function () {
    fetch(el.dataset.poll, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) {
        if (r.status === 401) { window.location = "/login?next=/"; return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (d) { if (d) draw(d); })
      .catch(function () {});
  }, 1000 * Math.max(2, parseInt(el.dataset.every, 10) || 30));
})();
