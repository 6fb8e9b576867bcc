// Draws the feedback review's charts from the figures the page carries (json_script). The
// table below the charts holds the same numbers, so nothing is lost without JavaScript or for
// a screen reader. No animation: the figures are read, not watched.
(function () {
  "use strict";

  var source = document.getElementById("chart-data");
  if (!source || !window.Chart) { return; }
  var data = JSON.parse(source.textContent);
  var REJECTED = "#D55E00";  // Okabe-Ito vermilion: apart from blue for every colour vision.
  var percent = {
    beginAtZero: true,
    max: 100,
    ticks: { callback: function (value) { return value + "%"; } },
  };
  window.Chart.defaults.animation = false;

  new window.Chart(document.getElementById("overall-chart"), {
    type: "line",
    data: {
      labels: data.weeks,
      datasets: [{
        label: "Rejected or returned",
        data: data.overall,
        borderColor: REJECTED,
        backgroundColor: "rgba(213, 94, 0, .15)",
        fill: true,
        spanGaps: false,
        tension: 0,
      }],
    },
    options: {
      maintainAspectRatio: false,
      scales: { y: percent },
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            label: function (item) {
              var week = item.dataIndex;
              if (item.raw === null) { return "nothing ended"; }
              return item.raw + "%: " + data.rejected[week] + " of " + data.ended[week] + " ended";
            },
          },
        },
      },
    },
  });

  new window.Chart(document.getElementById("group-chart"), {
    type: "bar",
    data: {
      labels: data.groups.map(function (group) { return group.label; }),
      datasets: [{
        label: "Rejected or returned",
        data: data.groups.map(function (group) { return group.rate; }),
        backgroundColor: REJECTED,
        maxBarThickness: 28,
      }],
    },
    options: {
      indexAxis: "y",
      maintainAspectRatio: false,
      scales: { x: percent },
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            label: function (item) {
              var group = data.groups[item.dataIndex];
              return group.rate + "%: " + group.rejected + " of " + group.ended + " ended";
            },
          },
        },
      },
    },
  });
})();
