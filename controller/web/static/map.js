// Dashboard map: site markers coloured by status. Works without tiles (plain background).
(function () {
  var el = document.getElementById("map");
  if (!el || typeof L === "undefined") return;
  var markers = JSON.parse(el.dataset.markers || "[]");
  var map = L.map(el, {attributionControl: false});
  if (el.dataset.tiles) L.tileLayer(el.dataset.tiles, {maxZoom: 19}).addTo(map);
  var colours = {up: "#1b7f3b", down: "#b3261e", unknown: "#6b7a88"};
  var bounds = [];
  markers.forEach(function (m) {
    var radius = m.kind === "noc" ? 10 : (m.kind === "hotspot" ? 7 : 5);
    // The name is inventory text: give Leaflet a node holding it as text, never HTML.
    var label = document.createElement("span");
    label.textContent = m.name + " (" + m.status + ")";
    L.circleMarker([m.lat, m.lon], {radius: radius, color: colours[m.status] || "#6b7a88",
      fillOpacity: 0.8, weight: m.kind === "hotspot" ? 3 : 1})
      .bindTooltip(label)
      .on("click", function () { window.location = "/sites/" + encodeURIComponent(m.code); })
      .addTo(map);
    bounds.push([m.lat, m.lon]);
  });
  if (bounds.length) map.fitBounds(bounds, {padding: [20, 20]});
  el.classList.add("ready");
})();
