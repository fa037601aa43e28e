// The compare page: any variant as any run left it (A) against another (B). The pair is kept
// in the address (?a=variant&a_run=run id&b=…&b_run=…) and in the permalink, so a link
// reproduces the view; without a run the variant's latest record is shown.
"use strict";

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

function describe(data, entry) {
  const run = data.runs[entry.run];
  return `${entry.variant} · ${run.label}${entry.latest ? " (latest)" : ""}`;
}

function renderMetrics(data, A, B) {
  document.getElementById("cmp-head-a").textContent = `A: ${describe(data, A)}`;
  document.getElementById("cmp-head-b").textContent = `B: ${describe(data, B)}`;
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
}

function renderPlacement(data, A, B) {
  const models = document.getElementById("cmp-models");
  models.replaceChildren();
  for (const [label, v] of [["A", A], ["B", B]]) {
    if (v.model) {
      const link = el("a", `${label}: ${v.variant} diagnostics`);
      link.href = v.model;
      models.append(link, " ");
    } else {
      models.append(v.sig === null ? `${label}: no analysis. `
        : `${label}: analysis of an earlier run (no diagnostics page). `);
    }
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
  const side = (letter) => ({ T: "TPU", C: "CPU", d: "dropped" })[letter] || "?";
  for (let i = 0; i < sig.length; i += 1) {
    if (A.placement[i] === B.placement[i]) continue;
    const [sg, index, opcode] = sig[i];
    const li = el("li");
    const model = B.model || A.model;
    const name = model ? el("a", `#${index} ${opcode}`) : `#${index} ${opcode}`;
    if (model) name.href = `${model}#op-${sg}-${index}`;
    li.append(name, `: ${side(A.placement[i])} → ${side(B.placement[i])}`);
    list.append(li);
  }
  diff.append(el("p", list.children.length ? "Ops whose placement differs:" : "Same placement for every op."));
  diff.append(list);
}

// One side of the page: a variant and one of the runs that measured it.
class Side {
  constructor(data, name) {
    this.data = data;
    this.name = name;
    this.variant = document.getElementById(`cmp-${name}`);
    this.run = document.getElementById(`cmp-${name}-run`);
  }

  entries() {
    const variant = this.data.variants[Number(this.variant.value)];
    return this.data.entries.filter((e) => e.variant === variant);
  }

  fillRuns(wanted) {
    const entries = this.entries().slice().reverse(); // newest first
    this.run.replaceChildren(...entries.map((e) => {
      const option = el("option", this.data.runs[e.run].label + (e.latest ? " (latest)" : ""));
      option.value = this.data.runs[e.run].id;
      return option;
    }));
    if (wanted && entries.some((e) => this.data.runs[e.run].id === wanted)) this.run.value = wanted;
    return !wanted || this.run.value === wanted;
  }

  entry() {
    return this.entries().find((e) => this.data.runs[e.run].id === this.run.value);
  }

  // The pick named in the address; false when it names something this site does not have.
  pick(params) {
    const variant = params.get(this.name);
    const found = variant === null ? -1 : this.data.variants.indexOf(variant);
    if (found >= 0) this.variant.value = String(found);
    return this.fillRuns(params.get(`${this.name}_run`)) && (variant === null || found >= 0);
  }

  query() {
    return [[this.name, this.data.variants[Number(this.variant.value)]],
      [`${this.name}_run`, this.run.value]];
  }
}

function initCompare() {
  const script = document.getElementById("compare-data");
  if (!script) return;
  const data = JSON.parse(script.textContent);
  const sides = [new Side(data, "a"), new Side(data, "b")];
  const params = new URLSearchParams(location.search);
  const found = sides.map((side) => side.pick(params));
  document.getElementById("cmp-note").textContent = found.every(Boolean) ? ""
    : "The link names a variant or run this site does not have (retention may have dropped "
      + "the run): showing the closest pick.";
  const update = () => {
    const query = new URLSearchParams(sides.flatMap((side) => side.query())).toString();
    document.getElementById("cmp-permalink").href = `?${query}`;
    try {
      history.replaceState(null, "", `?${query}`);
    } catch (err) {
      // some browsers refuse to change a file:// address; the permalink still has the pair
    }
    const [A, B] = sides.map((side) => side.entry());
    renderMetrics(data, A, B);
    renderPlacement(data, A, B);
  };
  for (const side of sides) {
    side.variant.addEventListener("change", () => { side.fillRuns(null); update(); });
    side.run.addEventListener("change", update);
  }
  update();
}

document.addEventListener("DOMContentLoaded", initCompare);
