// tpulens site: table sort, filter (kept in the URL) and folded row groups, scroll cues, chart
// loading, Netron links.
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

function rowText(row) {
  // What a filter matches: the row's text and its cells' tooltips (full names, reason codes).
  return Array.from(row.cells, (c) => `${c.textContent} ${c.title}`).join(" ").toLowerCase();
}

function rowMatches(row, query, selects) {
  if (query && !rowText(row).includes(query)) return false;
  return selects.every((s) => !s.value || row.cells[Number(s.dataset.col)].textContent.trim() === s.value);
}

function applyFilters(id) {
  // Plain tables: rows that match. Grouped tables: with a filter, the groups holding a match
  // and the matching rows; without, every group's summary row and the rows of open groups.
  const table = document.getElementById(id);
  if (!table) return;
  const input = document.querySelector(`input[data-filter="${id}"]`);
  const query = input ? input.value.trim().toLowerCase() : "";
  const selects = Array.from(document.querySelectorAll(`select[data-filter-select="${id}"]`));
  const filtering = Boolean(query) || selects.some((s) => s.value);
  let shown = 0, total = 0;
  for (const body of table.tBodies) {
    const grouped = body.classList.contains("row-group");
    const rows = Array.from(body.rows).filter((r) => !r.classList.contains("group-head"));
    let matched = 0;
    for (const row of rows) {
      const ok = rowMatches(row, query, selects);
      row.hidden = grouped ? !(filtering ? ok : body.classList.contains("open")) : !ok;
      if (ok) matched += 1;
    }
    if (grouped) body.rows[0].hidden = filtering && matched === 0;
    shown += matched;
    total += rows.length;
  }
  const count = document.querySelector(`[data-count="${id}"]`);
  if (count) count.textContent = `${shown} of ${total} rows`;
}

function filterState(id) {
  // The filter of table `id` in the URL (?<id>=text&<id>.<label>=option): a link keeps the view.
  const url = new URL(location.href);
  const input = document.querySelector(`input[data-filter="${id}"]`);
  if (input && input.value) url.searchParams.set(id, input.value);
  else url.searchParams.delete(id);
  document.querySelectorAll(`select[data-filter-select="${id}"]`).forEach((s) => {
    const key = `${id}.${s.dataset.label}`;
    if (s.value) url.searchParams.set(key, s.value);
    else url.searchParams.delete(key);
  });
  if (url.href !== location.href) history.replaceState(history.state, "", url.href);
}

function filterChanged(id) {
  applyFilters(id);
  filterState(id);
}

function revealRow(hash) {
  // The row a link names (#op-0-12) is shown even if its group is closed or a filter hides it.
  if (!hash.startsWith("#op-")) return;
  let row = null;
  try {
    row = document.getElementById(decodeURIComponent(hash.slice(1)));
  } catch (err) {
    return;  // a malformed escape (#op-%E0%A4%A) names no row
  }
  if (!row || row.tagName !== "TR" || !row.hidden) return;
  const table = row.closest("table");
  const group = row.closest("tbody.row-group");
  if (group) setGroupOpen(group, true);
  if (row.hidden) {
    document.querySelectorAll(`input[data-filter="${table.id}"]`).forEach((i) => { i.value = ""; });
    document.querySelectorAll(`select[data-filter-select="${table.id}"]`).forEach((s) => { s.value = ""; });
    filterChanged(table.id);
  }
  row.scrollIntoView({ block: "center" });
}

function setGroupOpen(body, open) {
  body.classList.toggle("open", open);
  body.querySelector(".group-toggle").setAttribute("aria-expanded", String(open));
  applyFilters(body.closest("table").id);
}

function initTables() {
  document.querySelectorAll("table.sortable").forEach((table) => {
    table.querySelectorAll("thead tr:last-child th").forEach((th, col) => {
      th.addEventListener("click", () => sortTable(table, col, th));
    });
  });
  const params = new URLSearchParams(location.search);
  const ids = new Set();
  document.querySelectorAll("input[data-filter]").forEach((input) => {
    const id = input.dataset.filter;
    if (params.has(id)) input.value = params.get(id);
    input.addEventListener("input", () => filterChanged(id));
    ids.add(id);
  });
  document.querySelectorAll("select[data-filter-select]").forEach((s) => {
    const id = s.dataset.filterSelect;
    const wanted = params.get(`${id}.${s.dataset.label}`);
    if (wanted !== null && Array.from(s.options).some((o) => o.value === wanted)) s.value = wanted;
    s.addEventListener("change", () => filterChanged(id));
    ids.add(id);
  });
  document.querySelectorAll("tbody.row-group").forEach((body) => {
    body.querySelector(".group-toggle").addEventListener("click", () => {
      setGroupOpen(body, !body.classList.contains("open"));
    });
  });
  const keys = Array.from(params.keys());
  ids.forEach((id) => {
    if (keys.some((k) => k === id || k.startsWith(`${id}.`))) applyFilters(id);
  });
  window.addEventListener("hashchange", () => revealRow(location.hash));
  revealRow(location.hash);
}

function initScrollCues() {
  // A table wider than its column scrolls inside its frame; the frame says so while there is
  // more to see on either side.
  const update = (box) => {
    const more = box.scrollWidth - box.clientWidth;
    box.classList.toggle("more-right", box.scrollLeft < more - 1);
    box.classList.toggle("more-left", box.scrollLeft > 1);
  };
  document.querySelectorAll(".scroll").forEach((box) => {
    box.addEventListener("scroll", () => update(box), { passive: true });
    update(box);
  });
  window.addEventListener("resize", () => document.querySelectorAll(".scroll").forEach(update));
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
  initScrollCues();
  initCharts();
  initNetron();
});
