// The embedded usage dashboard: a stacked bar chart per product (usage by day and group values,
// in the product's unit) and the spend so far, drawn with Chart.js from the data the page embeds.
(function () {
  "use strict";
  const source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") {
    return;
  }
  const data = JSON.parse(source.textContent);
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const palette = Array.from({ length: 10 }, (_, n) => color(`--usage-line-${n}`));
  const labels = data.windows.map((moment) =>
    new Date(moment).toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: "UTC" })
  );
  Chart.defaults.color = color("--gray-medium");
  Chart.defaults.borderColor = color("--gray-light");
  Chart.defaults.font.family = css.getPropertyValue("font-family");

  document.querySelectorAll(".swatch").forEach((swatch) => {
    swatch.style.background = palette[Number(swatch.dataset.series) % palette.length];
  });

  data.products.forEach((product, index) => {
    const canvas = document.getElementById(`usage-chart-${index}`);
    new Chart(canvas, {
      type: "bar",
      data: {
        labels,
        datasets: product.series.map((series, n) => ({
          label: series.label,
          data: series.quantities.map(Number),
          backgroundColor: palette[n % palette.length],
        })),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { position: "bottom" } },
        scales: {
          x: { stacked: true },
          y: { stacked: true, beginAtZero: true, title: { display: Boolean(product.unit), text: product.unit } },
        },
      },
    });
  });

  const spend = document.getElementById("spend-chart");
  if (spend) {
    new Chart(spend, {
      type: "line",
      data: {
        labels,
        datasets: [
          {
            label: `Spend so far (${data.spend.currency})`,
            data: data.spend.cumulative_display.map(Number),
            borderColor: color("--primary-medium"),
            backgroundColor: color("--primary-light"),
            fill: true,
            tension: 0,
          },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true } },
      },
    });
  }
})();
