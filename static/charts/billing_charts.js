// Billing charts: every <canvas data-chart-url="..."> on the page is drawn from its JSON
// endpoint with Chart.js (vendored beside this file, MIT, see chart.js.LICENSE.md).
//
// The endpoint answers {"title", "unit", "stacked", "labels": [...], "datasets": [{"label",
// "data": ["12.5", null, ...]}]}: numbers as decimal strings (exact on the wire). Reusable by
// any page (the admin's customer and contract pages, the embeddable dashboards):
//   <script src=".../charts/chart.umd.min.js"></script>
//   <script src=".../charts/billing_charts.js"></script>
//   <canvas data-chart-url="/path/to/chart.json"></canvas>
// or BillingCharts.draw(canvas, url) / BillingCharts.drawData(canvas, json) by hand. Drawn
// charts are kept in BillingCharts.charts (canvas id or url -> Chart) for tests and pages.
"use strict";
(function () {
    const PALETTE = [
        "#417690", "#e07b39", "#5b9f4a", "#b94a6e", "#7a5fb0",
        "#c9a227", "#3b9ea8", "#8c6d46", "#d1495b", "#6c757d", "#9aa5b1",
    ];

    function cssVar(name, fallback) {
        const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
        return value || fallback;
    }

    function formatValue(value, unit) {
        const number = Number(value);
        if (unit === "$") {
            return "$" + number.toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2});
        }
        return number.toLocaleString("en-US", {maximumFractionDigits: 6}) + (unit ? " " + unit : "");
    }

    function drawData(canvas, json) {
        const stacked = Boolean(json.stacked);
        const datasets = json.datasets.map(function (set, index) {
            const color = PALETTE[index % PALETTE.length];
            return {
                label: set.label,
                data: set.data.map(function (v) { return v === null ? null : Number(v); }),
                backgroundColor: color,
                borderColor: color,
                borderWidth: stacked ? 0 : 2,
                fill: false,
                tension: 0.1,
                spanGaps: false,
            };
        });
        const text = cssVar("--body-fg", "#333");
        const caption = canvas.parentElement.querySelector(".chart-caption");
        if (caption) {
            caption.textContent = json.labels.length ? json.title + " (" + json.unit + ")" :
                json.title + ": nothing to show yet in this period.";
        }
        const chart = new window.Chart(canvas, {
            type: stacked ? "bar" : "line",
            data: {labels: json.labels, datasets: datasets},
            options: {
                responsive: true,
                maintainAspectRatio: false,
                animation: false,
                interaction: {mode: "index", intersect: false},
                plugins: {
                    legend: {position: "bottom", labels: {color: text, boxWidth: 12}},
                    title: {display: false},
                    tooltip: {
                        callbacks: {
                            label: function (item) {
                                return item.dataset.label + ": " + formatValue(item.raw, json.unit);
                            },
                        },
                    },
                },
                scales: {
                    x: {stacked: stacked, ticks: {color: text, maxRotation: 0, autoSkip: true}},
                    y: {
                        stacked: stacked,
                        beginAtZero: true,
                        ticks: {
                            color: text,
                            callback: function (value) { return formatValue(value, json.unit); },
                        },
                    },
                },
            },
        });
        const key = canvas.id || canvas.dataset.chartUrl || String(Object.keys(BillingCharts.charts).length);
        BillingCharts.charts[key] = chart;
        canvas.dataset.chartDrawn = "true";
        return chart;
    }

    function draw(canvas, url) {
        return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
            .then(function (response) {
                if (!response.ok) {
                    // Errors answer {"message": "..."}: show it, else the status.
                    return response.json().then(
                        function (json) { throw new Error(json.message || String(response.status)); },
                        function () { throw new Error("chart data answered " + response.status); }
                    );
                }
                return response.json();
            })
            .then(function (json) { return drawData(canvas, json); })
            .catch(function (error) {
                const caption = canvas.parentElement.querySelector(".chart-caption");
                if (caption) {
                    caption.textContent = "The chart could not be loaded (" + error.message + ").";
                }
                canvas.dataset.chartDrawn = "error";
            });
    }

    function drawAll(root) {
        (root || document).querySelectorAll("canvas[data-chart-url]").forEach(function (canvas) {
            if (!canvas.dataset.chartDrawn) {
                canvas.dataset.chartDrawn = "loading";
                draw(canvas, canvas.dataset.chartUrl);
            }
        });
    }

    const BillingCharts = {charts: {}, draw: draw, drawData: drawData, drawAll: drawAll};
    window.BillingCharts = BillingCharts;
    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", function () { drawAll(); });
    } else {
        drawAll();
    }
}());
