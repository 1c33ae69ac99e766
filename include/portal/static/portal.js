// Manager portal dashboards: draws the charts from the page's JSON data block, and keeps the page live by asking
// the server every few seconds whether a newer analytics publish has landed (GET /dashboard/live?after=<id>:
// 204 = nothing new, 200 = the new data section, which replaces the old one). No inline script: the pages'
// Content-Security-Policy allows scripts from this origin only.
(function () {
  "use strict";
  var BLUE = "#1f5fae", ORANGE = "#e07b00", RED = "#b42318", GREY = "#8a94a3";
  var charts = [];

  function bar(labels, datasets, horizontal) {
    return {
      type: "bar",
      data: { labels: labels, datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        animation: { duration: 250 },
        plugins: { legend: { display: datasets.length > 1 } },
        scales: { x: { ticks: { autoSkip: true } }, y: { beginAtZero: true } }
      }
    };
  }

  var SPECS = {
    stock_by_warehouse: function (s) {
      return bar(s.labels, [{ label: "Stock value", data: s.stock_value, backgroundColor: BLUE }]);
    },
    aging: function (s) {
      return bar(s.labels, [{ label: "Units", data: s.units, backgroundColor: [BLUE, ORANGE, RED, GREY] }]);
    },
    reconciliation: function (s) {
      return bar(s.labels, [{ label: "Discrepancy value", data: s.discrepancy_value, backgroundColor: RED }]);
    },
    top_products: function (s) {
      return bar(s.labels, [{ label: "Revenue", data: s.revenue, backgroundColor: BLUE }], true);
    },
    sales_by_warehouse: function (s) {
      return bar(s.labels, [{ label: "Revenue", data: s.revenue, backgroundColor: BLUE }]);
    },
    trend: function (s) {
      return {
        type: "bar",
        data: {
          labels: s.labels,
          datasets: [
            { type: "line", label: "Revenue", data: s.revenue, yAxisID: "y", borderColor: BLUE,
              backgroundColor: BLUE, tension: 0.2, pointRadius: 2 },
            { type: "bar", label: "Units", data: s.units, yAxisID: "units", backgroundColor: "rgba(224,123,0,0.45)" }
          ]
        },
        options: {
          responsive: true,
          animation: { duration: 250 },
          interaction: { mode: "index", intersect: false },
          scales: {
            y: { beginAtZero: true, position: "left", title: { display: true, text: "Revenue" } },
            units: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false },
                     title: { display: true, text: "Units" } }
          }
        }
      };
    }
  };

  function draw(root) {
    while (charts.length) charts.pop().destroy();
    var node = root.querySelector("script.chart-data");
    if (!node || typeof window.Chart === "undefined") return;
    var data = JSON.parse(node.textContent || "{}");
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var name = canvas.getAttribute("data-chart");
      if (SPECS[name] && data[name]) charts.push(new window.Chart(canvas, SPECS[name](data[name])));
    });
  }

  var live = document.getElementById("live");
  if (!live) return;
  draw(live);

  var status = document.getElementById("live-status");
  var url = live.getAttribute("data-live-url");
  var every = Math.max(1, parseFloat(live.getAttribute("data-poll-seconds") || "5")) * 1000;
  var busy = false;

  function now() { return new Date().toLocaleTimeString(); }
  function publishId() {
    var section = live.querySelector(".live-data");
    return section ? section.getAttribute("data-publish-id") || "" : "";
  }
  function say(text, problem) {
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("stale", !!problem);
  }

  function poll() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(url + "?after=" + encodeURIComponent(publishId()), {
      credentials: "same-origin", headers: { "Accept": "text/html" }, cache: "no-store"
    }).then(function (response) {
      if (response.status === 401) { window.location.assign("/"); return null; }
      if (response.status === 204) {
        live.setAttribute("data-checked-at", now());
        if (status && status.classList.contains("stale")) say("Live: checking for new data again.");
        return null;
      }
      if (!response.ok) { say("Could not check for new data (HTTP " + response.status + "); retrying.", true); return null; }
      return response.text().then(function (html) {
        live.innerHTML = html;
        draw(live);
        say("Updated at " + now() + ": new data was published.");
      });
    }).catch(function () {
      say("Cannot reach the portal; retrying.", true);
    }).then(function () { busy = false; });
  }

  window.setInterval(poll, every);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });
})();
