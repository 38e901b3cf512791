// Map of the wall (/wall) and of the public page (/publik): markers coloured by status and,
// on the wall, backbone links. With data-poll, only the colours are refreshed (no reload).
(function () {
  var el = document.getElementById("wall-map") || document.getElementById("publik-map");
  if (!el || typeof L === "undefined") return;
  var colours = {up: "#2fbf5b", down: "#ff5a4f", unknown: "#8a99a8"};
  var map = L.map(el, {attributionControl: false, zoomControl: false});
  if (el.dataset.tiles) L.tileLayer(el.dataset.tiles, {maxZoom: 19}).addTo(map);
  var lines = [], dots = [];
  function label(text) {  // inventory text: given to Leaflet as a text node, never HTML
    var span = document.createElement("span");
    span.textContent = text;
    return span;
  }
  function draw(data) {
    lines.forEach(function (l) { map.removeLayer(l); });
    dots.forEach(function (d) { map.removeLayer(d); });
    lines = []; dots = [];
    (data.links || []).forEach(function (k) {
      lines.push(L.polyline([k.from, k.to], {color: k.status === "down" ? colours.down : "#5aa9ff",
        weight: 3, opacity: 0.7, dashArray: k.status === "unknown" ? "6 6" : null}).addTo(map));
    });
    (data.markers || []).forEach(function (m) {
      var radius = m.kind === "noc" ? 14 : (m.kind === "hotspot" ? 10 : 8);
      dots.push(L.circleMarker([m.lat, m.lon], {radius: radius, color: colours[m.status] || colours.unknown,
        fillOpacity: 0.9, weight: 2}).bindTooltip(label((m.name || m.title) + " (" + m.status + ")")).addTo(map));
    });
  }
  var first = {markers: JSON.parse(el.dataset.markers || "[]"), links: JSON.parse(el.dataset.links || "[]")};
  draw(first);
  var bounds = first.markers.map(function (m) { return [m.lat, m.lon]; });
  if (bounds.length) map.fitBounds(bounds, {padding: [30, 30]});
  el.classList.add("ready");
  if (!el.dataset.poll) return;
  setInterval(function () {
    fetch(el.dataset.poll, {credentials: "same-origin"}).then(function (r) {
      if (r.status === 401) { window.location = "/login?next=/wall"; return null; }
      return r.ok ? r.json() : null;
    }).then(function (data) { if (data) draw(data); }).catch(function () {});
  }, 1000 * (parseInt(el.dataset.every, 10) || 30));
})();
