// The dashboard's charts, drawn with the vendored Chart.js from the figures the page
// carries as JSON (#dashboard-data). Hidden cells arrive as null and are not drawn.
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var colours = ["#0b6e4f", "#5fb49c", "#c9d6df", "#e8a87c", "#9a3412"];
  var percent = { min: 0, max: 100, ticks: { callback: function (v) { return v + " %"; } } };
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.maintainAspectRatio = false;

  // A long statement on the side of a horizontal chart, in lines a phone has room for
  // (Chart.js draws an array of strings as lines): never cut off.
  function wrapped(label) {
    var width = window.innerWidth < 600 ? 22 : 48;
    var lines = [""];
    label.split(" ").forEach(function (word) {
      var last = lines[lines.length - 1];
      if (last && (last + " " + word).length > width) lines.push(word);
      else lines[lines.length - 1] = last ? last + " " + word : word;
    });
    return lines;
  }
  function withN(labels, n) {
    return labels.map(function (label, i) { return label + " (n = " + n[i] + ")"; });
  }
  function tooltip(ctx) {
    return ctx.dataset.label + ": " + (ctx.raw === null ? "hidden" : ctx.raw + " %");
  }
  var options = function (stacked, horizontal) {
    return {
      indexAxis: horizontal ? "y" : "x",
      plugins: { tooltip: { callbacks: { label: tooltip } }, legend: { position: "bottom" } },
      scales: horizontal
        ? { x: Object.assign({ stacked: stacked }, percent), y: { stacked: stacked } }
        : { y: Object.assign({ stacked: stacked }, percent), x: { stacked: stacked } },
    };
  };
  // One bar per group (n beside its name), a series per [label, field] of `d`.
  function groupBars(canvas, d, stacked, series) {
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: withN(data.groups, d.n),
        datasets: series.map(function (s, i) {
          return { label: s[0], data: d[s[1]], backgroundColor: colours[i] };
        }),
      },
      options: options(stacked, false),
    });
  }
  var draw = {
    employment: function (canvas) {
      return groupBars(canvas, data.employment, true, [
        ["Wage employment", "wage"],
        ["Self-employment", "self"],
      ]);
    },
    first_job: function (canvas) {
      return groupBars(canvas, data.first_job, false, [
        ["Within 3 months", "within3"],
        ["Within 6 months", "within6"],
      ]);
    },
    scales: function (canvas) {
      var names = data.scales.length ? data.scales[0].choices.map(function (c) { return c.label; }) : [];
      return new Chart(canvas, {
        type: "bar",
        data: {
          labels: data.scales.map(function (s) { return wrapped(s.label + " (n = " + s.n + ")"); }),
          datasets: names.map(function (name, i) {
            return {
              label: name,
              data: data.scales.map(function (s) { return s.choices[i] ? s.choices[i].percent : null; }),
              backgroundColor: ["#9a3412", "#e8a87c", "#c9d6df", "#5fb49c", "#0b6e4f"][i % 5],
            };
          }),
        },
        options: options(true, true),
      });
    },
    skills: function (canvas) {
      var parts = [["improved", "Improved", colours[0]], ["unchanged", "Unchanged", colours[2]], ["worse", "Worse", colours[4]]];
      return new Chart(canvas, {
        type: "bar",
        data: {
          labels: data.skills.map(function (s) { return wrapped(s.label + " (n = " + s.n + ")"); }),
          datasets: parts.map(function (p) {
            return { label: p[1], backgroundColor: p[2], data: data.skills.map(function (s) { return s[p[0]]; }) };
          }),
        },
        options: options(true, true),
      });
    },
  };
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var make = draw[canvas.getAttribute("data-chart")];
    if (make) make(canvas);
  });
})();
