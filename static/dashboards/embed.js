// The embedded dashboards' charts, drawn with Chart.js from the data each page embeds: usage (a
// stacked bar chart per product, by day and group values in the product's unit, and the spend
// so far) and commits and credits (each balance's burn-down).
(function () {
  "use strict";
  // A select that submits its form when changed (a listener here: the CSP allows no inline handler).
  document.querySelectorAll("select[data-submit-on-change]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
  const source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") {
    return;
  }
  const data = JSON.parse(source.textContent);
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const palette = Array.from({ length: 10 }, (_, n) => color(`--usage-line-${n}`));
  const currency = (code) =>
    code === "USD"
      ? new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" })
      : { format: (value) => `${value} ${code}` };
  Chart.defaults.color = color("--gray-medium");
  Chart.defaults.borderColor = color("--gray-light");
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;

  function moneyChart(canvas, { labels, values, money, line, fill, stepped }) {
    return new Chart(canvas, {
      type: "line",
      data: {
        labels,
        datasets: [{ data: values, borderColor: line, backgroundColor: fill, fill: true, stepped }],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: (item) => money.format(item.parsed.y) } },
        },
        scales: { y: { beginAtZero: true, ticks: { callback: (value) => money.format(value) } } },
      },
    });
  }

  function usage() {
    const labels = data.windows.map((moment) =>
      new Date(moment).toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: "UTC" })
    );
    document.querySelectorAll(".swatch").forEach((swatch) => {
      swatch.style.background = palette[Number(swatch.dataset.series) % palette.length];
    });
    data.products.forEach((product, index) => {
      new Chart(document.getElementById(`usage-chart-${index}`), {
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
            y: {
              stacked: true,
              beginAtZero: true,
              title: { display: Boolean(product.unit), text: product.unit },
            },
          },
        },
      });
    });
    const spend = document.getElementById("spend-chart");
    if (spend) {
      moneyChart(spend, {
        labels,
        values: data.spend.cumulative_display.map(Number),
        money: currency(data.spend.currency),
        line: color("--primary-medium"),
        fill: color("--primary-light"),
        stepped: false,
      });
    }
  }

  function balances() {
    data.balances.forEach((balance, index) => {
      moneyChart(document.getElementById(`burn-down-${index}`), {
        labels: balance.burn_down.map((point) => point.date),
        values: balance.burn_down.map((point) => Number(point.balance_display)),
        money: currency(balance.currency),
        line: color("--progress-bar"),
        fill: color("--progress-bar-background"),
        stepped: true,
      });
    });
  }

  if (data.products) {
    usage();
  }
  if (data.balances) {
    balances();
  }
})();
