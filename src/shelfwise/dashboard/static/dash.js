// shelfwise dashboard: charts (uPlot, served from this package) and self-refreshing figures.
(function () {
  "use strict";
  var COLOURS = ["#0b5cad", "#c0392b", "#1f7a3a", "#8e44ad", "#b36200", "#00788a", "#5d6d7e", "#a61b6b", "#2c3e50"];
  function data(id) { var el = document.getElementById(id); return el ? JSON.parse(el.textContent) : null; }
  function width(el) { return Math.max(280, el.clientWidth || 600); }

  function lines(el, xs, series, opts) {
    if (!el || !window.uPlot || !xs.length) { return; }
    var names = Object.keys(series);
    var spec = {
      width: width(el), height: opts.height || 260, scales: { x: { time: !!opts.time } },
      axes: [{ label: opts.xlabel || "" }, { label: opts.ylabel || "" }],
      series: [{ label: opts.xname || "x" }].concat(names.map(function (n, i) {
        return { label: n, stroke: COLOURS[i % COLOURS.length], width: 2 };
      }))
    };
    new uPlot(spec, [xs].concat(names.map(function (n) { return series[n]; })), el);
  }

  // a small SVG scatter: points (x, y) with labels
  function scatter(el, points, xlabel, ylabel, yNames) {
    if (!el || !points.length) { return; }
    var w = width(el), h = 240, pad = 46, left = yNames ? 130 : 46, ns = "http://www.w3.org/2000/svg";
    var xs = points.map(function (p) { return p.x; }), ys = points.map(function (p) { return p.y; });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    if (x1 === x0) { x1 = x0 + 1; } if (y1 === y0) { y1 = y0 + 1; }
    if (yNames) { y0 = 0; y1 = yNames.length - 1; } else {  // a margin, so no point sits on an axis
      var mx = (x1 - x0) * 0.12, my = (y1 - y0) * 0.12; x0 -= mx; x1 += mx; y0 -= my; y1 += my;
    }
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", w); svg.setAttribute("height", h); svg.setAttribute("aria-hidden", "true");
    function sx(v) { return left + (v - x0) / (x1 - x0) * (w - left - pad); }
    function sy(v) { return h - pad + 10 - (v - y0) / (y1 - y0) * (h - 2 * pad); }
    function add(tag, attrs, text) {
      var n = document.createElementNS(ns, tag);
      Object.keys(attrs).forEach(function (k) { n.setAttribute(k, attrs[k]); });
      if (text !== undefined) { n.textContent = text; }
      svg.appendChild(n); return n;
    }
    add("line", { x1: left, y1: h - pad + 10, x2: w - pad, y2: h - pad + 10, stroke: "#4d5560" });
    add("line", { x1: left, y1: 10, x2: left, y2: h - pad + 10, stroke: "#4d5560" });
    add("text", { x: w / 2, y: h - 6, "text-anchor": "middle" }, xlabel);
    if (yNames) {
      yNames.forEach(function (n, i) { add("text", { x: left - 6, y: sy(i) + 4, "text-anchor": "end" }, n); });
    } else {
      add("text", { x: 12, y: h / 2, transform: "rotate(-90 12 " + h / 2 + ")", "text-anchor": "middle" }, ylabel);
    }
    points.forEach(function (p, i) {
      add("circle", { cx: sx(p.x), cy: sy(p.y), r: p.r || 5, fill: p.colour || COLOURS[i % COLOURS.length], "fill-opacity": 0.8 });
      if (p.label) {
        var right = sx(p.x) > w - 110;
        add("text", { x: sx(p.x) + (right ? -7 : 7), y: sy(p.y) - 6, "text-anchor": right ? "end" : "start" }, p.label);
      }
    });
    if (!yNames) {
      add("text", { x: left, y: h - pad + 24, "text-anchor": "middle" }, x0.toFixed(3));
      add("text", { x: w - pad, y: h - pad + 24, "text-anchor": "middle" }, x1.toFixed(3));
      add("text", { x: left - 4, y: sy(y0), "text-anchor": "end" }, y0.toFixed(3));
      add("text", { x: left - 4, y: sy(y1) + 8, "text-anchor": "end" }, y1.toFixed(3));
    }
    el.appendChild(svg);
  }

  function get(obj, path) { return path.split(".").reduce(function (o, k) { return o == null ? o : o[k]; }, obj); }

  var overview = data("overview-data");
  if (overview) {
    lines(document.getElementById("per-day"), overview.per_day.days, overview.per_day.series,
          { time: true, ylabel: "events", xname: "day" });
    setInterval(function () {
      fetch("/dashboard/overview.json", { credentials: "same-origin" }).then(function (r) {
        if (r.status !== 200) { return null; } return r.json();
      }).then(function (fresh) {
        if (!fresh) { return; }
        fresh.fallbacks_total = Object.values(fresh.service.fallbacks).reduce(function (a, b) { return a + b; }, 0);
        document.querySelectorAll("[data-fig]").forEach(function (el) {
          var v = get(fresh, el.getAttribute("data-fig"));
          if (v !== undefined) { el.textContent = v === null ? "-" : (typeof v === "number" ? v.toLocaleString("en") : v); }
        });
        var t = document.getElementById("refreshed");
        if (t) { t.textContent = "Last refreshed " + new Date().toLocaleTimeString("en-GB") + "."; }
      }).catch(function () {});
    }, 15000);
  }

  var report = data("report-data");
  if (report) {
    var f1 = report.f1_by_k, names = Object.keys(f1);
    if (names.length) {
      var ks = f1[names[0]].map(function (_, i) { return i + 1; });
      lines(document.getElementById("f1-chart"), ks, f1, { xlabel: "list length K", ylabel: "F1@K", xname: "K" });
    }
    var pts = Object.keys(report.models).filter(function (m) {
      return report.models[m].diversity !== undefined && report.models[m]["ndcg@10"] !== undefined;
    }).map(function (m) { return { x: report.models[m].diversity, y: report.models[m]["ndcg@10"], label: m }; });
    scatter(document.getElementById("ad-chart"), pts, "intra-list diversity", "NDCG@10");
  }

  var timeline = data("timeline-data");
  if (timeline && timeline.t.length) {
    var t0 = Math.min.apply(null, timeline.t), t1 = Math.max.apply(null, timeline.t);
    var pts2 = timeline.t.map(function (t, i) {
      return { x: (t - t0) / 86400, y: timeline.y[i], r: 4, colour: COLOURS[timeline.y[i] % COLOURS.length] };
    });
    scatter(document.getElementById("timeline"), pts2,
            "days since " + new Date(t0 * 1000).toISOString().slice(0, 10) + " (to " + new Date(t1 * 1000).toISOString().slice(0, 10) + ")",
            "", timeline.types);
  }

  var state = document.getElementById("training-state");
  if (state && state.getAttribute("data-running") === "yes") { setTimeout(function () { location.reload(); }, 5000); }
})();
