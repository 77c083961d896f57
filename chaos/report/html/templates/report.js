// Draws the report's charts with plotly.js from the figures' JSON in #report-data: the
// heatmap at once, each cell's timelines when its section is opened.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var config = { displaylogo: false, responsive: true };

  function draw(element) {
    if (element.dataset.drawn) {
      return Promise.resolve(element);
    }
    element.dataset.drawn = "yes";
    // a copy: plotly keeps (and changes) what it is given, and charts may share a figure
    var figure = JSON.parse(JSON.stringify(data.figures[element.dataset.figure]));
    var layout = Object.assign(figure.layout, { template: data.template });
    return Plotly.newPlot(element, figure.data, layout, config);
  }

  function drawIn(root) {
    root.querySelectorAll(".chart[data-figure]").forEach(draw);
  }

  document.querySelectorAll("details.cell").forEach(function (details) {
    details.addEventListener("toggle", function () {
      if (details.open) {
        drawIn(details);
      }
    });
    if (details.open) {
      drawIn(details);
    }
  });

  function openFromHash() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var target = id ? document.getElementById(id) : null;
    if (target && target.tagName === "DETAILS") {
      target.open = true;
      target.scrollIntoView();
    }
  }
  window.addEventListener("hashchange", openFromHash);

  var heatmap = document.getElementById("heatmap");
  if (heatmap) {
    draw(heatmap).then(function (plot) {
      plot.on("plotly_click", function (event) {
        var anchor = event.points.length ? event.points[0].customdata : null;
        if (anchor) {
          window.location.hash = anchor;
        }
      });
    });
  }

  function setAll(open) {
    document.querySelectorAll("details.cell").forEach(function (details) {
      details.open = open;
    });
  }
  var openAll = document.getElementById("open-all");
  var closeAll = document.getElementById("close-all");
  if (openAll) {
    openAll.addEventListener("click", function () { setAll(true); });
  }
  if (closeAll) {
    closeAll.addEventListener("click", function () { setAll(false); });
  }
  openFromHash();
})();
