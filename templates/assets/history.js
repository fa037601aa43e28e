// History charts: a click on a point opens the compare page on that run and the one before
// (each point carries its permalink as the last item of its customdata).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("#history .plotly-chart").forEach((chart) => {
    if (typeof chart.on !== "function") return;
    chart.on("plotly_click", (event) => {
      const data = event.points[0].customdata;
      if (data) location.href = new URL(data[data.length - 1], location.href).href;
    });
  });
});
