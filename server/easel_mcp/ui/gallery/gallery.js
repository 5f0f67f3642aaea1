// Easel gallery: plain JavaScript, no build step, no external requests. Builds every element with the DOM
// API (never innerHTML with data), so prompts and sidecar text are always shown as text.
"use strict";

const PAGE = 50;
const SVG_NS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const state = { cursor: null, loading: false, done: false, seq: 0, shown: 0, total: 0 };

// ------------------------------------------------------------------ helpers
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.setAttribute("class", value);
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  let body = null;
  try { body = await response.json(); } catch (_) { /* not JSON */ }
  if (!response.ok) throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
  return body;
}

function money(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const text = Math.abs(value).toFixed(4).replace(/0{1,2}$/, "");
  const [whole, frac] = text.split(".");
  return `${value < 0 ? "-" : ""}$${Number(whole).toLocaleString("en-US")}.${frac}`;
}

function when(iso, style) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso || "—";
  return date.toLocaleString(undefined, style || { dateStyle: "medium", timeStyle: "short" });
}

function bytes(n) {
  if (!Number.isFinite(n)) return "—";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

const thumbUrl = (id, size) => `api/images/${id}/thumb?size=${size || 256}`;
const fileUrl = (id) => `api/images/${id}/file`;
const titleOf = (image) => image.name_slug || image.id;

// ------------------------------------------------------------------ filters
function filters() {
  let since = $("since").value;
  if (since === "date") since = $("since-date").value;
  return { q: $("q").value.trim(), model: $("model").value, tool: $("tool").value, since };
}

function syncUrl() {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filters())) if (value) params.set(key, value);
  const query = params.toString();
  history.replaceState(history.state, "", `${location.pathname}${query ? "?" + query : ""}${location.hash}`);
}

function restoreFilters() {
  const params = new URLSearchParams(location.search);
  $("q").value = params.get("q") || "";
  const since = params.get("since") || "";
  if (/^\d{4}-\d{2}-\d{2}/.test(since)) {
    $("since").value = "date";
    $("since-date").value = since.slice(0, 10);
    $("since-date-label").hidden = false;
  } else {
    $("since").value = since;
  }
  return params;
}

async function loadFacets(params) {
  try {
    const facets = await api("api/facets");
    for (const [id, values] of [["model", facets.models], ["tool", facets.tools]]) {
      const select = $(id);
      for (const value of values) select.append(el("option", { value, text: value }));
      const wanted = params.get(id);
      if (wanted && values.includes(wanted)) select.value = wanted;
    }
  } catch (error) {
    console.warn("facets:", error);
  }
}

// --------------------------------------------------------------------- grid
function card(image) {
  const img = el("img", { src: thumbUrl(image.id), alt: image.prompt || titleOf(image), loading: "lazy",
                          decoding: "async", width: 256, height: 256 });
  const frame = el("span", { class: "thumb" }, img);
  img.addEventListener("error", () => { frame.classList.add("broken"); frame.textContent = "no preview"; });
  const meta = el("span", { class: "card-meta" },
    el("span", { class: `badge ${image.operation}`, text: image.operation }),
    el("span", { class: "model", text: image.model || "" }),
    image.cost_usd ? el("span", { class: "cost", text: money(image.cost_usd) }) : null);
  return el("a", { class: "card", href: `#/image/${image.id}`, "data-id": image.id, title: image.prompt || "" },
    frame,
    el("span", { class: "card-body" },
      el("span", { class: "card-head" },
        el("span", { class: "card-title", text: titleOf(image) }),
        el("span", { class: "date", text: when(image.created_at, { month: "short", day: "numeric" }),
                     title: when(image.created_at) })),
      el("span", { class: "card-prompt", text: image.prompt || "(no prompt: added by hand)" }),
      meta));
}

function updateCount() {
  const f = filters();
  const filtered = f.q || f.model || f.tool || f.since;
  const total = `${state.total.toLocaleString()} image${state.total === 1 ? "" : "s"} in the workspace`;
  $("count").textContent = filtered ? `${state.shown.toLocaleString()}${state.done ? "" : "+"} shown · ${total}` : total;
}

async function loadMore() {
  if (state.loading || state.done) return;
  state.loading = true;
  const seq = state.seq;
  const params = new URLSearchParams({ limit: String(PAGE) });
  for (const [key, value] of Object.entries(filters())) if (value) params.set(key, value);
  if (state.cursor) params.set("cursor", state.cursor);
  $("more").hidden = true;
  try {
    const page = await api(`api/images?${params}`);
    if (seq !== state.seq) return;  // the filters changed meanwhile
    $("error").hidden = true;
    $("grid").append(...page.images.map(card));
    state.shown += page.images.length;
    state.total = page.total;
    state.cursor = page.next_cursor;
    state.done = !page.next_cursor;
    $("more").hidden = state.done;
    const empty = state.shown === 0;
    $("empty").hidden = !empty;
    if (empty) {
      $("empty").textContent = state.total ? "No image matches these filters."
        : "No images yet: ask your agent to generate one, then come back.";
    }
    updateCount();
  } catch (error) {
    if (seq !== state.seq) return;
    $("error").hidden = false;
    $("error").textContent = `Could not load images: ${error.message}`;
    $("more").hidden = false;
  } finally {
    if (seq === state.seq) state.loading = false;
  }
  if (seq === state.seq && !state.done && sentinelVisible()) loadMore();
}

function sentinelVisible() {
  const rect = $("sentinel").getBoundingClientRect();
  return rect.top < window.innerHeight + 400;
}

function resetGrid() {
  state.seq += 1;
  Object.assign(state, { cursor: null, loading: false, done: false, shown: 0 });
  $("grid").replaceChildren();
  $("empty").hidden = true;
  syncUrl();
  loadMore();
}

// -------------------------------------------------------------------- spend
async function loadSpend() {
  try {
    const [daily, models] = await Promise.all([api("api/spend?since=30d&by=day"), api("api/spend?since=month&by=model")]);
    const t = daily.totals;
    $("spend-today").textContent = money(t.today.cost_usd);
    $("spend-month").textContent = money(t.month.cost_usd);
    $("spend-all").textContent = money(t.all_time.cost_usd);
    $("spend-calls").textContent =
      `${t.all_time.calls.toLocaleString()} calls, ${t.all_time.images.toLocaleString()} images all time` +
      (t.all_time.failed ? `, ${t.all_time.failed} failed` : "");
    drawChart(daily.report.groups);
    const list = $("spend-models");
    list.replaceChildren(...(models.report.groups.length ? models.report.groups.map((g) =>
      el("li", {}, el("span", { text: g.key }), el("span", { class: "amount", text: money(g.cost_usd) })))
      : [el("li", { class: "muted", text: "Nothing spent this month." })]));
  } catch (error) {
    $("spend-calls").textContent = `Spend unavailable: ${error.message}`;
  }
}

function drawChart(groups) {
  const byDay = new Map(groups.map((g) => [g.key, g]));
  const days = [];
  const today = new Date();
  for (let i = 29; i >= 0; i -= 1) {
    const d = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - i));
    days.push(d.toISOString().slice(0, 10));
  }
  const values = days.map((d) => (byDay.get(d) ? byDay.get(d).cost_usd : 0));
  const max = Math.max(...values, 0);
  const W = 264, H = 120, top = 14, bottom = 18, step = W / days.length, barW = Math.max(step - 2, 2);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img",
                             "aria-label": `Spend per day for the last 30 days, highest ${money(max)}` });
  chart.append(svg("line", { class: "axis", x1: 0, x2: W, y1: H - bottom + 0.5, y2: H - bottom + 0.5 }));
  days.forEach((day, i) => {
    const v = values[i];
    const h = max > 0 ? Math.max((v / max) * (H - top - bottom), v > 0 ? 2 : 0) : 0;
    const calls = byDay.get(day) ? byDay.get(day).calls : 0;
    chart.append(svg("rect", { class: v > 0 ? "bar" : "zero", x: i * step + 1, width: barW, rx: 1.5,
                               y: H - bottom - Math.max(h, 1), height: Math.max(h, 1) },
                     svg("title", { text: `${day}: ${money(v)} (${calls} call${calls === 1 ? "" : "s"})` })));
  });
  chart.append(svg("text", { x: 0, y: 10, text: max > 0 ? `max ${money(max)}` : "no spend in these 30 days" }));
  chart.append(svg("text", { x: 0, y: H - 4, text: days[0].slice(5) }));
  chart.append(svg("text", { x: W, y: H - 4, "text-anchor": "end", text: "today" }));
  $("spend-chart").replaceChildren(chart);
}

// ------------------------------------------------------------------- detail
function currentId() {
  const match = /^#\/image\/([0-9a-f]{12})$/.exec(location.hash);
  return match ? match[1] : null;
}

async function showDetail() {
  const id = currentId();
  if (!id) { $("detail").hidden = true; document.body.style.overflow = ""; return; }
  $("detail").hidden = false;
  document.body.style.overflow = "hidden";
  $("d-title").textContent = "Loading…";
  try {
    const data = await api(`api/images/${id}`);
    if (currentId() !== id) return;
    renderDetail(data);
  } catch (error) {
    $("d-title").textContent = `Image ${id}: ${error.message}`;
    $("d-img").removeAttribute("src");
  }
}

function closeDetail() {
  history.pushState(null, "", `${location.pathname}${location.search}`);
  showDetail();
}

function renderDetail({ entry, sidecar, lineage }) {
  $("d-title").textContent = titleOf(entry);
  $("d-path").textContent = entry.relative_path;
  $("d-img").src = fileUrl(entry.id);
  $("d-img").alt = entry.prompt || titleOf(entry);
  $("d-open").href = fileUrl(entry.id);
  $("d-prompt").textContent = entry.prompt || "No prompt: this image was added by hand, without a sidecar.";
  const chip = (label, value) => el("span", { class: "chip" }, `${label} `, el("b", { text: value }));
  $("d-chips").replaceChildren(
    el("span", { class: `badge ${entry.operation}`, text: entry.operation }),
    chip("cost", money(entry.cost_usd)),
    entry.model ? chip("model", entry.model) : null,
    entry.provider ? chip("provider", entry.provider) : null,
    entry.width ? chip("size", `${entry.width}×${entry.height}`) : null,
    chip("file", `${entry.format.toUpperCase()} ${bytes(entry.bytes)}`),
    chip("created", when(entry.created_at)));
  $("d-fields").replaceChildren(sidecar ? fieldsTable(sidecar)
    : el("p", { class: "muted", text: "This image has no sidecar (it was added by hand)." }));
  drawLineage(lineage);
  for (const pane of $("detail").querySelectorAll(".detail-body, .detail-main, .detail-side")) pane.scrollTop = 0;
}

function idLink(id) {
  return el("a", { class: "id-link", href: `#/image/${id}`, text: id });
}

function renderValue(key, value) {
  if (value === null || value === undefined || value === "") return el("span", { class: "null", text: "—" });
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") {
    if (/(^|_)usd$/.test(key)) return money(value);
    return Math.abs(value) >= 10000 ? value.toLocaleString("en-US") : String(value);
  }
  if (typeof value === "string") {
    if (/^(id|parents|siblings)$/.test(key) && /^[0-9a-f]{12}$/.test(value)) return idLink(value);
    if (/_at$/.test(key)) return el("span", { title: value, text: when(value) });
    return value;
  }
  if (Array.isArray(value)) {
    if (!value.length) return el("span", { class: "null", text: "none" });
    if (value.every((v) => v === null || typeof v !== "object")) {
      if (/^(parents|siblings)$/.test(key) && value.every((v) => typeof v === "string" && /^[0-9a-f]{12}$/.test(v))) {
        return el("span", {}, ...value.flatMap((v, i) => (i ? [", ", idLink(v)] : [idLink(v)])));
      }
      return value.map((v) => (v === null ? "—" : String(v))).join(key === "warnings" ? "\n" : ", ");
    }
    return el("div", {}, ...value.map((v) => el("div", { class: "list-item" }, renderValue(key, v))));
  }
  return fieldsTable(value);
}

function fieldsTable(object) {
  return el("table", { class: "fields" }, el("tbody", {}, ...Object.entries(object).map(([key, value]) =>
    el("tr", {}, el("th", { scope: "row", text: key.replace(/_/g, " ") }), el("td", {}, renderValue(key, value))))));
}

function drawLineage(lineage) {
  const box = $("d-lineage");
  const nodes = lineage.nodes;
  if (nodes.length <= 1) {
    box.replaceChildren(el("p", { class: "muted small", text: "No parents or children: this image stands alone." }));
    return;
  }
  const levels = [...new Set(nodes.map((n) => n.level))].sort((a, b) => a - b);
  const W = 112, H = 84, labelH = 30, gapX = 56, gapY = 16, pad = 6, head = 16;
  const place = new Map();
  let rows = 0;
  levels.forEach((level, column) => {
    const inColumn = nodes.filter((n) => n.level === level);
    rows = Math.max(rows, inColumn.length);
    inColumn.forEach((n, row) => place.set(n.id, { x: pad + column * (W + gapX), y: head + pad + row * (H + labelH + gapY) }));
  });
  const width = pad * 2 + levels.length * W + (levels.length - 1) * gapX;
  const height = head + pad * 2 + rows * (H + labelH) + (rows - 1) * gapY;
  const graph = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
                             "aria-label": "Lineage: parents on the left, children on the right" });
  const defs = svg("defs");
  graph.append(defs);
  levels.forEach((level, column) => graph.append(svg("text", { class: "col-label", x: pad + column * (W + gapX), y: 11,
    text: level === 0 ? "this image" : level < 0 ? (level === -1 ? "parent" : `ancestor −${-level}`)
      : (level === 1 ? "child" : `descendant +${level}`) })));
  for (const [parent, child] of lineage.edges) {
    const a = place.get(parent), b = place.get(child);
    if (!a || !b) continue;
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mid = (x1 + x2) / 2;
    graph.append(svg("path", { class: "edge", d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` }));
  }
  nodes.forEach((n, i) => {
    const p = place.get(n.id);
    const clip = `clip-${i}`;
    defs.append(svg("clipPath", { id: clip }, svg("rect", { x: p.x, y: p.y, width: W, height: H, rx: 7 })));
    const g = svg("g", { class: `node${n.id === lineage.root ? " current" : ""}${n.present ? "" : " missing"}`,
                         tabindex: n.present ? 0 : -1, role: n.present ? "link" : "img",
                         "aria-label": n.present ? `${n.name_slug || n.id} (${n.operation})` : `missing image ${n.id}` },
      svg("title", { text: n.present ? `${n.prompt || n.name_slug || n.id}\n${n.operation} · ${n.id}` : `${n.id}: not in the workspace any more` }),
      svg("rect", { class: "frame", x: p.x, y: p.y, width: W, height: H, rx: 7 }));
    if (n.present) {
      g.append(svg("image", { href: thumbUrl(n.id, 128), x: p.x, y: p.y, width: W, height: H,
                              preserveAspectRatio: "xMidYMid slice", "clip-path": `url(#${clip})` }));
      const go = () => { location.hash = `#/image/${n.id}`; };
      g.addEventListener("click", go);
      g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); } });
    } else {
      g.append(svg("text", { class: "sub", x: p.x + W / 2, y: p.y + H / 2 + 4, "text-anchor": "middle", text: "missing" }));
    }
    g.append(svg("rect", { class: "outline", x: p.x, y: p.y, width: W, height: H, rx: 7 }));
    const label = (n.name_slug || n.id);
    g.append(svg("text", { x: p.x + 2, y: p.y + H + 13, text: label.length > 17 ? label.slice(0, 16) + "…" : label }));
    g.append(svg("text", { class: "sub", x: p.x + 2, y: p.y + H + 26, text: n.present ? n.operation : n.id }));
    graph.append(g);
  });
  box.replaceChildren(graph);
}

// --------------------------------------------------------------------- wire
function init() {
  const params = restoreFilters();
  let timer = 0;
  $("q").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(resetGrid, 250); });
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); clearTimeout(timer); resetGrid(); });
  for (const id of ["model", "tool", "since-date"]) $(id).addEventListener("change", resetGrid);
  $("since").addEventListener("change", () => {
    const custom = $("since").value === "date";
    $("since-date-label").hidden = !custom;
    if (!custom || $("since-date").value) resetGrid();
    else $("since-date").focus();
  });
  $("more").addEventListener("click", loadMore);
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, { rootMargin: "400px" }).observe($("sentinel"));
  $("d-close").addEventListener("click", closeDetail);
  $("detail").addEventListener("click", (e) => { if (e.target === $("detail")) closeDetail(); });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("detail").hidden) closeDetail(); });
  window.addEventListener("hashchange", showDetail);
  loadFacets(params).then(resetGrid);
  loadSpend();
  showDetail();
}

document.addEventListener("DOMContentLoaded", init);
