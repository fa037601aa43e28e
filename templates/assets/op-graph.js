// tpulens op graph: pan (drag, wheel), zoom (ctrl/⌘ + wheel, pinch, buttons), and the
// link between a graph node and its table row (#op-S-I in the URL selects both).
// Works on every <svg class="op-graph" data-width data-height> of the page; no requests.
"use strict";

const OP_GRAPH_MIN_READABLE = 0.8; // the smallest first-view scale: labels stay legible
const OP_GRAPH_DRAG_PX = 4; // a press that moves more than this pans instead of clicking

function opGraph(svg) {
  const full = { w: Number(svg.dataset.width), h: Number(svg.dataset.height) };
  const view = { x: 0, y: 0, scale: 1 };
  svg.removeAttribute("width");
  svg.style.width = "100%";
  svg.style.height = Math.round(Math.min(full.h + 16, window.innerHeight * 0.75)) + "px";
  svg.style.touchAction = "none";
  svg.style.cursor = "grab";
  svg.setAttribute("preserveAspectRatio", "xMinYMin meet");

  const size = () => ({ w: svg.clientWidth || 1, h: svg.clientHeight || 1 });

  function clamp() {
    // Keep at least a quarter of the view over the graph.
    const s = size(), vw = s.w / view.scale, vh = s.h / view.scale;
    view.x = Math.min(Math.max(view.x, -vw * 0.75), full.w - vw * 0.25);
    view.y = Math.min(Math.max(view.y, -vh * 0.75), full.h - vh * 0.25);
  }

  function apply() {
    clamp();
    const s = size();
    svg.setAttribute("viewBox",
      [view.x, view.y, s.w / view.scale, s.h / view.scale].map((v) => v.toFixed(1)).join(" "));
  }

  function zoomAt(factor, px, py) {
    // Zoom around the point (px, py) in screen pixels relative to the svg.
    const scale = Math.min(4, Math.max(0.02, view.scale * factor));
    view.x += px / view.scale - px / scale;
    view.y += py / view.scale - py / scale;
    view.scale = scale;
    apply();
  }

  function fit() {
    const s = size();
    view.scale = Math.min(s.w / full.w, s.h / full.h, 1);
    view.x = (full.w - s.w / view.scale) / 2;
    view.y = 0;
    apply();
  }

  function centreOn(node) {
    const r = node.querySelector("rect"), s = size();
    const cx = Number(r.getAttribute("x")) + Number(r.getAttribute("width")) / 2;
    const cy = Number(r.getAttribute("y")) + Number(r.getAttribute("height")) / 2;
    view.scale = Math.max(view.scale, OP_GRAPH_MIN_READABLE);
    view.x = cx - s.w / view.scale / 2;
    view.y = cy - s.h / view.scale / 2;
    apply();
  }

  function start() {
    // Readable first view: the top of the graph, centred on the first op.
    const s = size();
    view.scale = Math.min(1, Math.max(s.w / full.w, OP_GRAPH_MIN_READABLE));
    const first = svg.querySelector("a[data-op] rect");
    const cx = first ? Number(first.getAttribute("x")) : full.w / 2;
    view.x = full.w * view.scale <= s.w ? (full.w - s.w / view.scale) / 2 : cx - s.w / view.scale / 2;
    view.y = 0;
    apply();
  }

  svg.addEventListener("wheel", (e) => {
    const box = svg.getBoundingClientRect();
    if (e.ctrlKey || e.metaKey) {
      e.preventDefault();
      zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - box.left, e.clientY - box.top);
      return;
    }
    const before = [view.x, view.y];
    view.x += e.deltaX / view.scale;
    view.y += e.deltaY / view.scale;
    apply();
    if (view.x !== before[0] || view.y !== before[1]) e.preventDefault(); // else the page scrolls
  }, { passive: false });

  let press = null, dragged = false;
  svg.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    press = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y, id: e.pointerId };
    dragged = false;
  });
  svg.addEventListener("pointermove", (e) => {
    if (!press || e.pointerId !== press.id) return;
    const dx = e.clientX - press.x, dy = e.clientY - press.y;
    if (!dragged && Math.hypot(dx, dy) < OP_GRAPH_DRAG_PX) return;
    if (!dragged) {
      dragged = true;
      svg.setPointerCapture(e.pointerId);
      svg.style.cursor = "grabbing";
    }
    view.x = press.vx - dx / view.scale;
    view.y = press.vy - dy / view.scale;
    apply();
  });
  const release = () => { press = null; svg.style.cursor = "grab"; };
  svg.addEventListener("pointerup", release);
  svg.addEventListener("pointercancel", release);
  svg.addEventListener("click", (e) => {
    if (dragged) { e.preventDefault(); e.stopPropagation(); dragged = false; }
  }, true);

  const bar = document.createElement("div");
  bar.className = "op-graph-tools";
  for (const [label, title, action] of [
    ["−", "zoom out", () => zoomAt(1 / 1.4, size().w / 2, size().h / 2)],
    ["+", "zoom in", () => zoomAt(1.4, size().w / 2, size().h / 2)],
    ["fit", "the whole graph", fit],
    ["top", "back to the first op at a readable size", start],
  ]) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.title = title;
    button.addEventListener("click", action);
    bar.append(button);
  }
  svg.before(bar);

  start();
  return { centreOn, size, view };
}

function opGraphSelect(graphs, hash) {
  // Mark the op named by the URL fragment in every graph and the table; bring its node into view.
  document.querySelectorAll(".op-graph .selected, tr.selected").forEach(
    (el) => el.classList.remove("selected"));
  if (!hash.startsWith("#op-")) return;
  let row = null;
  try {
    row = document.getElementById(decodeURIComponent(hash.slice(1)));
  } catch (err) {
    return;  // a malformed escape (#op-%E0%A4%A) names no op
  }
  if (row && row.tagName === "TR") row.classList.add("selected");
  for (const [svg, graph] of graphs) {
    const node = Array.from(svg.querySelectorAll("a[data-op]"))
      .find((a) => a.getAttribute("href") === hash);
    if (!node) continue;
    node.classList.add("selected");
    const r = node.getBoundingClientRect(), box = svg.getBoundingClientRect();
    const visible = r.left >= box.left && r.right <= box.right &&
      r.top >= box.top && r.bottom <= box.bottom;
    if (!visible) graph.centreOn(node);
  }
}

function initOpGraphs() {
  const graphs = [];
  document.querySelectorAll("svg.op-graph[data-width]").forEach((svg) => {
    graphs.push([svg, opGraph(svg)]);
  });
  if (!graphs.length) return;
  window.addEventListener("hashchange", () => opGraphSelect(graphs, location.hash));
  opGraphSelect(graphs, location.hash);
}

document.addEventListener("DOMContentLoaded", initOpGraphs);
