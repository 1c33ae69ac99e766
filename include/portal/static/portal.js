// Manager portal dashboards: draws the charts from the page's JSON data block, and keeps the page live by asking
// the server every few seconds whether a newer analytics publish has landed (GET /dashboard/live?after=<id>, with
// the page's own query string: the stock list's search, filters, sort and page). 204 = nothing new; 200 = the new
// data, in parts ([data-live-part]) that replace the page's parts of the same name. What is not in a part (the
// stock list's search form) is left alone, so nothing being typed is lost. No inline script: the pages'
// Content-Security-Policy allows scripts from this origin only.
(function () {
  "use strict";
  var BLUE = "#1f5fae", ORANGE = "#e07b00", RED = "#b42318", GREY = "#8a94a3";
  var charts = [];
  var liveRoot = document.getElementById("live");
  var currency = (liveRoot && liveRoot.getAttribute("data-currency")) || "USD";
  var moneyFormat = new Intl.NumberFormat("en-US", { style: "currency", currency: currency, maximumFractionDigits: 0 });
  // Axis labels of amounts carry the currency, as the page's tables do.
  var moneyTicks = { callback: function (value) { return moneyFormat.format(value); } };

  function bar(labels, datasets, horizontal, money) {
    var spec = {
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
    if (money) spec.options.scales[horizontal ? "x" : "y"].ticks = moneyTicks;
    return spec;
  }

  var SPECS = {
    stock_by_warehouse: function (s) {
      return bar(s.labels, [{ label: "Stock value", data: s.stock_value, backgroundColor: BLUE }], false, true);
    },
    aging: function (s) {
      return bar(s.labels, [{ label: "Units", data: s.units, backgroundColor: [BLUE, ORANGE, RED, GREY] }]);
    },
    reconciliation: function (s) {
      return bar(s.labels, [{ label: "Discrepancy value", data: s.discrepancy_value, backgroundColor: RED }], false, true);
    },
    top_products: function (s) {
      return bar(s.labels, [{ label: "Revenue", data: s.revenue, backgroundColor: BLUE }], true, true);
    },
    sales_by_warehouse: function (s) {
      return bar(s.labels, [{ label: "Revenue", data: s.revenue, backgroundColor: BLUE }], false, true);
    },
    stock_trend: function (s) {
      return {
        type: "bar",
        data: {
          labels: s.labels,
          datasets: [
            { type: "line", label: "Stock value", data: s.stock_value, yAxisID: "y", borderColor: BLUE,
              backgroundColor: BLUE, tension: 0.2, pointRadius: 2 },
            { type: "bar", label: "Out of stock (pairs)", data: s.stock_outs, yAxisID: "outs",
              backgroundColor: "rgba(180,35,24,0.45)" }
          ]
        },
        options: {
          responsive: true,
          animation: { duration: 250 },
          interaction: { mode: "index", intersect: false },
          scales: {
            y: { beginAtZero: true, position: "left", ticks: moneyTicks, title: { display: true, text: "Stock value" } },
            outs: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false },
                    ticks: { precision: 0 }, title: { display: true, text: "Out of stock" } }
          }
        }
      };
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
            y: { beginAtZero: true, position: "left", ticks: moneyTicks, title: { display: true, text: "Revenue" } },
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

  // The stock list's filters: a choice in a list applies at once (the form also works without this script).
  var stockForm = document.getElementById("stock-form");
  if (stockForm) {
    stockForm.querySelectorAll("select").forEach(function (select) {
      select.addEventListener("change", function () {
        if (stockForm.requestSubmit) stockForm.requestSubmit(); else stockForm.submit();
      });
    });
  }

  var live = liveRoot;
  if (!live) return;
  draw(live);

  var status = document.getElementById("live-status");
  var url = live.getAttribute("data-live-url");
  var every = Math.max(1, parseFloat(live.getAttribute("data-poll-seconds") || "5")) * 1000;
  var busy = false;

  function now() { return new Date().toLocaleTimeString(); }
  function publishId() {
    var section = live.querySelector("[data-publish-id]");
    return section ? section.getAttribute("data-publish-id") || "" : "";
  }
  function say(text, problem) {
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("stale", !!problem);
  }

  // Replace each part of the page with the part of the same name from `html`. False when the two do not have the
  // same parts (the data became ready, or the page changed shape): then the caller reloads the page.
  function swap(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    var fresh = template.content.querySelectorAll("[data-live-part]");
    var current = live.querySelectorAll("[data-live-part]");
    if (fresh.length === 0 || fresh.length !== current.length) return false;
    var pairs = [];
    for (var i = 0; i < fresh.length; i++) {
      var name = fresh[i].getAttribute("data-live-part");
      var old = live.querySelector('[data-live-part="' + name + '"]');
      if (!old) return false;
      pairs.push([old, fresh[i]]);
    }
    pairs.forEach(function (pair) { pair[0].replaceWith(pair[1]); });
    return true;
  }

  function pollUrl() {
    var params = new URLSearchParams(window.location.search);
    params.set("after", publishId());
    return url + "?" + params.toString();
  }

  function poll() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(pollUrl(), {
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
        if (!swap(html)) { window.location.reload(); return; }
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
