// tpulens site: table sort and filter, chart loading, the compare page, Netron links.
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

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function formatDelta(delta, unit) {
  if (unit === "fraction") return `${delta >= 0 ? "+" : ""}${(delta * 100).toFixed(2)} pp`;
  if (unit === "%") return `${delta >= 0 ? "+" : ""}${delta.toFixed(2)} pp`;
  if (unit === "bytes") return `${delta >= 0 ? "+" : ""}${Math.round(delta).toLocaleString("en")} B`;
  return `${delta >= 0 ? "+" : ""}${Number(delta.toPrecision(4))}${unit ? " " + unit : ""}`;
}

function renderCompare(data, a, b) {
  const A = data.variants[a], B = data.variants[b];
  const metrics = document.querySelector("#cmp-metrics tbody");
  metrics.replaceChildren();
  for (const meta of data.metrics) {
    const va = A.metrics[meta.key], vb = B.metrics[meta.key];
    if (!va && !vb) continue;
    const tr = el("tr");
    tr.append(el("th", meta.label));
    for (const v of [va, vb]) {
      const td = el("td", v ? v[1] : "–");
      if (v) {
        td.title = v[2];
        td.append(el("sup", v[3], `src src-${v[3]}`));
      }
      tr.append(td);
    }
    let cls = "";
    let text = "–";
    if (va && vb) {
      const delta = vb[0] - va[0];
      text = formatDelta(delta, meta.unit);
      if (delta !== 0 && meta.better !== "none") {
        cls = (delta > 0) === (meta.better === "higher") ? "better" : "worse";
      }
    }
    tr.append(el("td", text, cls));
    metrics.append(tr);
  }
  const models = document.getElementById("cmp-models");
  models.replaceChildren();
  for (const [label, v] of [["A", A], ["B", B]]) {
    if (!v.model) { models.append(`${label}: no analysis. `); continue; }
    const link = el("a", `${label}: ${v.name} diagnostics`);
    link.href = v.model;
    models.append(link, " ");
  }
  const counts = new Map();
  for (const [idx, v] of [[0, A], [1, B]]) {
    for (const [op, status, n] of v.table) {
      const key = JSON.stringify([op, status]);
      if (!counts.has(key)) counts.set(key, [op, status, 0, 0]);
      counts.get(key)[2 + idx] += n;
    }
  }
  const ops = document.querySelector("#cmp-ops tbody");
  ops.replaceChildren();
  document.getElementById("cmp-ops").hidden = counts.size === 0;
  for (const [op, status, na, nb] of Array.from(counts.values()).sort()) {
    const tr = el("tr", undefined, na !== nb ? "changed" : "");
    tr.append(el("td", op), el("td", status), el("td", String(na), na !== nb ? "worse" : ""),
      el("td", String(nb), na !== nb ? "worse" : ""));
    ops.append(tr);
  }
  const diff = document.getElementById("cmp-opdiff");
  diff.replaceChildren();
  if (A.sig === null || B.sig === null) return;
  if (A.sig !== B.sig) {
    diff.append(el("p", "The two models have different op sequences: compare the counts above.", "muted"));
    return;
  }
  const list = el("ul");
  const sig = data.opcodes[A.sig];
  for (let i = 0; i < sig.length; i += 1) {
    if (A.placement[i] === B.placement[i]) continue;
    const [sg, index, opcode] = sig[i];
    const li = el("li");
    const link = el("a", `#${index} ${opcode}`);
    link.href = `${B.model}#op-${sg}-${index}`;
    li.append(link, `: ${A.placement[i] === "T" ? "TPU" : "CPU"} → ${B.placement[i] === "T" ? "TPU" : "CPU"}`);
    list.append(li);
  }
  diff.append(el("p", list.children.length ? "Ops whose placement differs:" : "Same placement for every op."));
  diff.append(list);
}

function initCompare() {
  const script = document.getElementById("compare-data");
  if (!script) return;
  const data = JSON.parse(script.textContent);
  const sa = document.getElementById("cmp-a"), sb = document.getElementById("cmp-b");
  const params = new URLSearchParams(location.search);
  const pick = (name, select) => {
    const i = data.variants.findIndex((v) => v.name === params.get(name));
    if (i >= 0) select.value = String(i);
  };
  pick("a", sa);
  pick("b", sb);
  const update = () => renderCompare(data, Number(sa.value), Number(sb.value));
  sa.addEventListener("change", update);
  sb.addEventListener("change", update);
  update();
}

document.addEventListener("DOMContentLoaded", () => {
  initTables();
  initCharts();
  initNetron();
  initCompare();
});
