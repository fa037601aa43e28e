// tpulens site: table sort and filter, chart loading, Netron links.
// One small file shared by every page; no external requests.
"use strict";

function cellKey(td) {
  if (!td) return null;
  const v = td.dataset.v;
  if (v !== undefined) return v;
  const text = td.textContent.trim();
  return text === "–" || text === "" ? null : text;
}

function sortTable(table, col, th) {
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
  const keys = rows.map((r) => cellKey(r.cells[col]));
  const numeric = keys.every((k) => k === null || !isNaN(Number(k)));
  const order = rows.map((r, i) => i).sort((a, b) => {
    const ka = keys[a], kb = keys[b];
    if (ka === null || kb === null) return ka === kb ? a - b : ka === null ? 1 : -1;
    const c = numeric ? Number(ka) - Number(kb) : ka.localeCompare(kb);
    return c === 0 ? a - b : c * dir;
  });
  table.querySelectorAll("th[aria-sort]").forEach((h) => h.removeAttribute("aria-sort"));
  th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
  body.append(...order.map((i) => rows[i]));
}

function applyFilters(id) {
  const table = document.getElementById(id);
  if (!table) return;
  const input = document.querySelector(`input[data-filter="${id}"]`);
  const query = input ? input.value.trim().toLowerCase() : "";
  const selects = Array.from(document.querySelectorAll(`select[data-filter-select="${id}"]`));
  let shown = 0;
  const rows = table.tBodies[0].rows;
  for (const row of rows) {
    let ok = !query || row.textContent.toLowerCase().includes(query);
    for (const s of selects) {
      if (s.value && row.cells[Number(s.dataset.col)].textContent.trim() !== s.value) ok = false;
    }
    row.hidden = !ok;
    if (ok) shown += 1;
  }
  const count = document.querySelector(`[data-count="${id}"]`);
  if (count) count.textContent = `${shown} of ${rows.length} rows`;
}

function initTables() {
  document.querySelectorAll("table.sortable").forEach((table) => {
    table.querySelectorAll("thead th").forEach((th, col) => {
      th.addEventListener("click", () => sortTable(table, col, th));
    });
  });
  document.querySelectorAll("input[data-filter]").forEach((input) => {
    input.addEventListener("input", () => applyFilters(input.dataset.filter));
  });
  document.querySelectorAll("select[data-filter-select]").forEach((s) => {
    s.addEventListener("change", () => applyFilters(s.dataset.filterSelect));
  });
}

function initCharts() {
  if (typeof Plotly === "undefined") return;
  document.querySelectorAll("script[data-chart]").forEach((script) => {
    const fig = JSON.parse(script.textContent);
    Plotly.newPlot(script.dataset.chart, fig.data, fig.layout,
      { responsive: true, displaylogo: false });
  });
}

function initNetron() {
  // Netron fetches the model by URL: only possible when the site is served over http(s).
  if (!location.protocol.startsWith("http")) return;
  document.querySelectorAll("a.netron[data-model]").forEach((a) => {
    const url = new URL(a.dataset.model, location.href).href;
    a.href = "https://netron.app/?url=" + encodeURIComponent(url);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  initTables();
  initCharts();
  initNetron();
});
