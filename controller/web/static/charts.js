// Graphs of use (in/out, bit/s) against the limit in force (allocation, contract, speed), drawn with the vendored uPlot
// from GET /api/v1/series (each .chart-box's data-src). Range links refetch in place; without
// JavaScript they reload the page and the server-rendered table carries the numbers.
(function () {
  if (typeof uPlot === "undefined") return;
  var UNITS = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];

  // Three significant digits and an SI prefix, as controller/units.py format_bps writes it.
  function si(v) {
    if (v == null) return "–";
    var r = +v.toPrecision(3);
    for (var i = 0; i < UNITS.length; i++) {
      if (Math.abs(r) >= UNITS[i][0]) return +(r / UNITS[i][0]).toPrecision(3) + " " + UNITS[i][1] + "bit/s";
    }
    return r + " bit/s";
  }
  function value(u, v) { return si(v); }

  // Bucket starts and the allocation's step times on one x axis: in/out are `undefined` at a
  // step time (joined over), `null` where nothing was measured (a gap in the line).
  function columns(d) {
    var xs = d.t.slice();
    var seen = {};
    xs.forEach(function (t) { seen[t] = true; });
    d.allocation.forEach(function (s) { if (!seen[s.t] && s.t >= d.start) { xs.push(s.t); seen[s.t] = true; } });
    if (!seen[d.end]) xs.push(d.end);
    xs.sort(function (a, b) { return a - b; });
    var index = {};
    d.t.forEach(function (t, i) { index[t] = i; });
    var ins = [], outs = [], downs = [], ups = [], k = -1;
    xs.forEach(function (x) {
      var i = index[x];
      ins.push(i === undefined ? undefined : d.in_bps[i]);
      outs.push(i === undefined ? undefined : d.out_bps[i]);
      while (k + 1 < d.allocation.length && d.allocation[k + 1].t <= x) k++;
      downs.push(k >= 0 ? d.allocation[k].down_bps : null);
      ups.push(k >= 0 ? d.allocation[k].up_bps : null);
    });
    return [xs, ins, outs, downs, ups];
  }

  // Time ticks in 24-hour time in the site's zone (the axis label names it): "HH:mm", with
  // the date (DD/MM) below where the day changes; days alone once ticks are a day apart.
  var HM = uPlot.fmtDate("{HH}:{mm}"), DM = uPlot.fmtDate("{DD}/{MM}");
  function timeTicks(zone) {
    return function (u, ticks, axis, space, incr) {
      var lastDay = null;
      return ticks.map(function (ts) {
        var t = uPlot.tzDate(new Date(ts * 1e3), zone), day = DM(t);
        if (incr >= 86400) return day;
        var label = HM(t) + (day !== lastDay ? "\n" + day : "");
        lastDay = day;
        return label;
      });
    };
  }

  function options(box, d) {
    var stepped = uPlot.paths.stepped({align: 1});
    var ds = box.dataset;
    return {
      width: Math.max(320, box.clientWidth || 640), height: 260,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), d.timezone); },
      scales: {y: {range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; }}},
      series: [
        {label: ds.labelTime + " (" + d.zone + ")", value: "{YYYY}-{MM}-{DD} {HH}:{mm}"},
        {label: ds.labelIn, stroke: "#0b5c86", width: 1.5, value: value},
        {label: ds.labelOut, stroke: "#b35200", width: 1.5, value: value},
        {label: ds.labelAllocDown, stroke: "#b3261e", width: 1.5, dash: [6, 4], paths: stepped, value: value},
        {label: ds.labelAllocUp, stroke: "#6a1b9a", width: 1.5, dash: [2, 3], paths: stepped, value: value}
      ],
      axes: [
        {label: ds.labelTime + " (" + d.zone + ")", values: timeTicks(d.timezone), size: 56},
        {label: "bit/s", size: 84, values: function (u, ticks) { return ticks.map(si); }}
      ]
    };
  }

  function draw(box, d) {
    if (box._plot) { box._plot.destroy(); box._plot = null; }
    box.textContent = "";
    if (!d.in_bps.some(function (v) { return v != null; })) {
      var p = document.createElement("p");
      p.className = "muted";
      p.textContent = box.dataset.labelEmpty;
      box.appendChild(p);
    }
    box._plot = new uPlot(options(box, d), columns(d), box);
    box.dataset.drawn = d.range;
    box.classList.add("ready");
  }

  function load(box, range) {
    var url = box.dataset.src + (box.dataset.src.indexOf("?") < 0 ? "?" : "&") + "range=" + encodeURIComponent(range);
    box.classList.remove("ready");
    return fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (d) { draw(box, d); });
  }

  document.querySelectorAll("[data-graph]").forEach(function (block) {
    var box = block.querySelector(".chart-box");
    var numbers = block.querySelector(".graph-numbers");
    var first = box.dataset.range;
    load(box, first).then(function () { if (numbers) numbers.open = false; }).catch(function () {});
    block.querySelectorAll(".ranges a[data-range]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var range = link.dataset.range;
        block.querySelectorAll(".ranges a").forEach(function (a) { a.removeAttribute("aria-current"); });
        link.setAttribute("aria-current", "true");
        // The table holds the range the page was rendered with: offered only for that one.
        if (numbers) numbers.hidden = range !== first;
        load(box, range).catch(function () { window.location = link.href; });
      });
    });
    window.addEventListener("resize", function () {
      if (box._plot) box._plot.setSize({width: Math.max(320, box.clientWidth), height: 260});
    });
  });
})();
