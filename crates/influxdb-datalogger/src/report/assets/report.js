// Draws the report's charts with uPlot from the JSON in #report-data: one line per series,
// events as shaded bands, change points as dashed lines, a tooltip with time, value and tags.
// Sets data-drawn on each chart and data-charts-drawn on <html>, and lists errors in
// #report-errors, so that a headless browser can tell that every chart drew.
(function () {
  "use strict";
  var started = performance.now();
  var errors = window.reportErrors;
  function fail(message) {
    errors.push(message);
    var list = document.getElementById("report-errors");
    if (!list) {
      list = document.createElement("pre");
      list.id = "report-errors";
      document.body.insertBefore(list, document.body.firstChild);
    }
    list.textContent = errors.join("\n");
  }
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var events = data.events.map(function (e) {
    return { s: e.s / 1e6, e: e.e / 1e6, text: e.text, tags: e.tags };
  });

  function iso(seconds) {
    var d = new Date(seconds * 1000);
    return isNaN(d.getTime()) ? String(seconds) : d.toISOString().replace("T", " ").replace("Z", "");
  }

  // Axis labels short enough for the axis: 12k, 3.4M, 0.00025.
  function short(v) {
    if (v == null) return "";
    var a = Math.abs(v);
    var units = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e4, "k"]];
    for (var i = 0; i < units.length; i++) {
      if (a >= units[i][0]) {
        var d = units[i][0] === 1e4 ? 1e3 : units[i][0];
        return +(v / d).toPrecision(3) + (units[i][0] === 1e4 ? "k" : units[i][1]);
      }
    }
    return a === 0 ? "0" : String(+v.toPrecision(3));
  }

  function columns(series) {
    var xs = new Array(series.dt.length), t = series.t0;
    for (var i = 0; i < xs.length; i++) {
      t += series.dt[i];
      xs[i] = t / 1e6;
    }
    // The first delta is 0 (t0 is the first time).
    return [xs, series.v];
  }

  // `text`, cut with an ellipsis to at most `width` canvas pixels.
  function fit(ctx, text, width) {
    if (ctx.measureText(text).width <= width) return text;
    var low = 0, high = text.length;
    while (low < high) {
      var mid = (low + high + 1) >> 1;
      if (ctx.measureText(text.slice(0, mid) + "…").width <= width) low = mid;
      else high = mid - 1;
    }
    return text.slice(0, low) + "…";
  }

  function drawBands(u) {
    var ctx = u.ctx, box = u.bbox, min = u.scales.x.min, max = u.scales.x.max;
    ctx.save();
    ctx.font = Math.round(11 * devicePixelRatio) + "px system-ui, sans-serif";
    ctx.textBaseline = "top";
    ctx.textAlign = "left"; // uPlot leaves its axes' alignment on the context
    var visible = events.filter(function (e) { return e.e >= min && e.s <= max; });
    visible.forEach(function (e, i) {
      var x0 = Math.max(u.valToPos(e.s, "x", true), box.left);
      var x1 = Math.min(u.valToPos(e.e, "x", true), box.left + box.width);
      var w = Math.max(x1 - x0, 2 * devicePixelRatio);
      ctx.fillStyle = "rgba(255, 170, 0, 0.16)";
      ctx.fillRect(x0, box.top, w, box.height);
      // The label runs until the next event starts, so that labels never overlap.
      var next = i + 1 < visible.length ? u.valToPos(visible[i + 1].s, "x", true) : box.left + box.width;
      var room = next - x0 - 6 * devicePixelRatio;
      if (room < 40 * devicePixelRatio) return; // too narrow: the tooltip names it
      ctx.fillStyle = "rgba(150, 90, 0, 0.9)";
      ctx.fillText(fit(ctx, e.text || e.tags, room), x0 + 3 * devicePixelRatio, box.top + 2 * devicePixelRatio);
    });
    ctx.restore();
  }

  function drawChanges(u, changes) {
    var ctx = u.ctx, box = u.bbox, min = u.scales.x.min, max = u.scales.x.max;
    ctx.save();
    ctx.setLineDash([5 * devicePixelRatio, 4 * devicePixelRatio]);
    ctx.lineWidth = 1.5 * devicePixelRatio;
    ctx.font = Math.round(11 * devicePixelRatio) + "px system-ui, sans-serif";
    ctx.textBaseline = "bottom";
    ctx.textAlign = "left";
    changes.forEach(function (c) {
      var t = c.t / 1e6;
      if (t < min || t > max || !u.series[c.series + 1].show) return;
      var x = u.valToPos(t, "x", true);
      ctx.strokeStyle = "rgba(200, 0, 40, 0.85)";
      ctx.beginPath();
      ctx.moveTo(x, box.top);
      ctx.lineTo(x, box.top + box.height);
      ctx.stroke();
      ctx.fillStyle = "rgba(200, 0, 40, 0.95)";
      ctx.fillText(c.text, x + 3 * devicePixelRatio, box.top + box.height - 2 * devicePixelRatio);
    });
    ctx.restore();
  }

  // The series whose line passes nearest the cursor, and its point nearest the cursor's index.
  function nearest(u) {
    var idx = u.cursor.idx, top = u.cursor.top, best = null;
    if (idx == null || top == null || top < 0) return null;
    for (var s = 1; s < u.series.length; s++) {
      if (!u.series[s].show) continue;
      var ys = u.data[s];
      for (var d = 0; d < 64; d++) {
        var j = ys[idx - d] != null ? idx - d : ys[idx + d] != null ? idx + d : -1;
        if (j < 0) continue;
        var dist = Math.abs(u.valToPos(ys[j], "y") - top);
        if (!best || dist < best.dist) best = { s: s, j: j, dist: dist };
        break;
      }
    }
    return best;
  }

  function chart(element, spec) {
    var tables = spec.series.map(columns);
    var aligned = tables.length === 1 ? tables[0] : uPlot.join(tables);
    var drawn = tables.reduce(function (n, t) { return n + t[0].length; }, 0);
    var tooltip = document.createElement("div");
    tooltip.className = "tooltip";
    var opts = {
      width: Math.max(element.clientWidth, 320),
      height: 300,
      // Times in UTC, as the tooltips and tables show them: a report read in another time zone
      // says the same.
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      scales: spec.log ? { x: { time: true }, y: { distr: 3 } } : { x: { time: true } },
      legend: { live: false },
      axes: [{}, { size: 64, values: function (u, splits) { return splits.map(short); } }],
      cursor: { drag: { x: true, y: false, setScale: true }, points: { size: 6 } },
      series: [{ label: "time", value: function (u, v) { return v == null ? "" : iso(v); } }].concat(
        spec.series.map(function (s) {
          return {
            label: s.label,
            stroke: s.color,
            width: 1.25,
            spanGaps: true,
            points: { show: tables.length === 1 && drawn < 200 },
          };
        })
      ),
      hooks: {
        draw: [
          function (u) { drawBands(u); drawChanges(u, spec.changes); },
        ],
        setCursor: [
          function (u) {
            var hit = nearest(u);
            if (!hit) { tooltip.style.display = "none"; return; }
            var x = u.data[0][hit.j], v = u.data[hit.s][hit.j];
            var at = u.posToVal(u.cursor.left, "x");
            var during = events.filter(function (e) { return e.s <= at && at <= e.e; });
            tooltip.innerHTML = "";
            var lines = [iso(x), String(v), u.series[hit.s].label].concat(during.slice(0, 3).map(function (e) {
              return "during " + (e.text || e.tags);
            }));
            lines.forEach(function (text, i) {
              var line = document.createElement(i === 1 ? "b" : "div");
              line.textContent = text;
              tooltip.appendChild(line);
              if (i === 1) tooltip.appendChild(document.createElement("br"));
            });
            tooltip.style.display = "block";
            var left = u.valToPos(x, "x"), topPx = u.valToPos(v, "y");
            tooltip.style.left = Math.min(left + 12, u.over.clientWidth - 160) + "px";
            tooltip.style.top = Math.max(topPx - 48, 0) + "px";
          },
        ],
      },
    };
    var plot = new uPlot(opts, aligned, element);
    plot.over.appendChild(tooltip);
    plot.over.addEventListener("mouseleave", function () { tooltip.style.display = "none"; });
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(element.clientWidth, 320), height: 300 });
    });
    element.dataset.drawn = String(drawn);
    return plot;
  }

  // Summary tables sort by a column when its header is clicked (again: the other way).
  function sortable(table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (head, column) {
      head.title = "sort by " + head.textContent;
      head.addEventListener("click", function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var down = head.dataset.sorted !== "down";
        Array.prototype.forEach.call(heads, function (h) { delete h.dataset.sorted; });
        head.dataset.sorted = down ? "down" : "up";
        rows.sort(function (a, b) {
          var x = a.cells[column].textContent, y = b.cells[column].textContent;
          var nx = parseFloat(x), ny = parseFloat(y);
          var order = isNaN(nx) || isNaN(ny) ? x.localeCompare(y) : nx - ny;
          return down ? -order : order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.summary"), sortable);

  // `#hover-check` in the address moves the mouse over the middle of the first chart and
  // records what its tooltip says in data-hover on <html>: how the browser tests check hover.
  function hoverCheck(plot) {
    var rect = plot.over.getBoundingClientRect();
    var at = { clientX: rect.left + rect.width / 2, clientY: rect.top + rect.height / 2, bubbles: true };
    plot.over.dispatchEvent(new MouseEvent("mouseenter", at));
    plot.over.dispatchEvent(new MouseEvent("mousemove", at));
    setTimeout(function () {
      var tip = plot.over.querySelector(".tooltip");
      document.documentElement.dataset.hover = tip && tip.style.display !== "none" ? tip.innerText : "";
    }, 50);
  }

  var drawnCharts = 0, plots = [];
  data.charts.forEach(function (spec) {
    var element = document.getElementById("chart-" + spec.id);
    try {
      plots.push(chart(element, spec));
      drawnCharts++;
    } catch (e) {
      element.innerHTML = "";
      var p = document.createElement("p");
      p.className = "error";
      p.textContent = "This chart could not be drawn: " + e;
      element.appendChild(p);
      fail("chart of " + spec.measurement + " " + spec.field + ": " + e);
    }
  });
  document.documentElement.dataset.chartsDrawn = String(drawnCharts);
  document.documentElement.dataset.drawMs = (performance.now() - started).toFixed(0);
  if (location.hash === "#hover-check" && plots.length) hoverCheck(plots[0]);
  // Errors raised before this script ran (window.reportErrors) are shown too.
  if (errors.length) fail(errors.pop());
})();
