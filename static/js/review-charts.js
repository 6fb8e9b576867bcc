// Draws the feedback review's charts from the figures the page carries (json_script). The
// table below the charts holds the same numbers, so nothing is lost without JavaScript or for
// a screen reader.
(function () {
  "use strict";

  var source = document.getElementById("chart-data");
  if (!source || !window.Chart) { return; }
  var data = JSON.parse(source.textContent);
  // Colours that stay apart for the common kinds of colour blindness (Okabe-Ito).
  var PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"];
  var percent = {
    beginAtZero: true,
    suggestedMax: 100,
    ticks: { callback: function (value) { return value + "%"; } },
  };
  var tooltip = {
    callbacks: {
      label: function (item) {
        return item.dataset.label + ": " + (item.raw === null ? "nothing ended" : item.raw + "%");
      },
    },
  };

  new window.Chart(document.getElementById("overall-chart"), {
    type: "line",
    data: {
      labels: data.weeks,
      datasets: [{
        label: "All handoffs",
        data: data.overall,
        borderColor: "#D55E00",
        backgroundColor: "rgba(213, 94, 0, .15)",
        fill: true,
        spanGaps: false,
        tension: 0,
      }],
    },
    options: {
      maintainAspectRatio: false,
      scales: { y: percent },
      plugins: { legend: { display: false }, tooltip: tooltip },
    },
  });

  new window.Chart(document.getElementById("group-chart"), {
    type: "line",
    data: {
      labels: data.weeks,
      datasets: data.series.map(function (series, index) {
        var colour = PALETTE[index % PALETTE.length];
        return {
          label: series.label,
          data: series.rates,
          borderColor: colour,
          backgroundColor: colour,
          spanGaps: false,
          tension: 0,
        };
      }),
    },
    options: {
      maintainAspectRatio: false,
      scales: { y: percent },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } }, tooltip: tooltip },
    },
  });
})();
