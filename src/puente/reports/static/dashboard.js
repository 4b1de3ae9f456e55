// Draws the dashboard's charts from the JSON the page carries, with Plotly
// served by Puente itself. Each chart gets a div; data-drawn marks success.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  var holder = document.getElementById("charts");
  var lang = document.documentElement.lang || "en";
  data.charts.forEach(function (chart, n) {
    var div = document.createElement("div");
    div.className = "chart";
    div.id = "chart-" + n;
    holder.appendChild(div);
    var traces;
    if (chart.kind === "lines") {
      traces = chart.series.map(function (s) {
        return { type: "scatter", mode: "lines+markers", name: s.name, x: s.x, y: s.y };
      });
    } else if (chart.kind === "hbar") {
      traces = [{ type: "bar", orientation: "h", x: chart.y, y: chart.x, marker: { color: "#2a6f97" } }];
    } else if (chart.kind === "step") {
      traces = [{ type: "scatter", mode: "lines", line: { shape: "hv", color: "#468faf" }, x: chart.x, y: chart.y, fill: "tozeroy" }];
    } else {
      traces = [{ type: "bar", x: chart.x, y: chart.y, marker: { color: "#01497c" } }];
    }
    var layout = {
      title: { text: chart.title, font: { size: 14 } },
      separators: data.separators,
      margin: { l: chart.kind === "hbar" ? 220 : 50, r: 20, t: 40, b: 60 },
      height: 340,
      showlegend: chart.kind === "lines",
      legend: { orientation: "h" },
      yaxis: { automargin: true },
      xaxis: { automargin: true },
    };
    Plotly.newPlot(div, traces, layout, { displaylogo: false, responsive: true, locale: lang })
      .then(function () { div.setAttribute("data-drawn", "true"); });
  });
})();
