/* openvertex console: one page, four views, calling the admin API under /console/api/.
 * Plain ES2020, no framework, no build step, nothing loaded from elsewhere.
 * Everything inserted into the page goes in as text (textContent / createElement), never as HTML. */
"use strict";

const KEY_STORE = "openvertex.key";
const PAGES = ["usage", "projects", "models", "playground"];
const LOCATION = "us-central1";

const state = {
  key: null,          // the admin API key, when signed in with one (auth off: none)
  session: null,      // GET /console/api/session
  page: null,
  usage: null,        // the last usage answer, kept to redraw the charts on resize
  models: null,       // the last models answer, shared by the models page and the playground
  modelsTimer: null,
  modelsLoading: false,
  keyNotice: null,    // {project, filename} of the key file just downloaded
  codeTab: "openai",
  stream: null,       // the AbortController of the running playground request
};

// ---------------------------------------------------------------- helpers

const $ = (selector, root = document) => root.querySelector(selector);
const enc = encodeURIComponent;

/** An element; props set attributes (text/class/on* specially), children go in as nodes or text. */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// Plain digits, as `openvertex usage` prints them, so the page and the CLI read the same.
const count = (n) => String(Math.round(n || 0));
// Python's f"{x:.0f}" rounds halves to even; the totals table must print what the CLI prints.
function pyRound(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
const millis = (v) => (v === null || v === undefined ? "–" : String(Math.round(v)));
const localTime = (seconds) =>
  new Date(seconds * 1000).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });

function showError(box, err) {
  box.textContent = err instanceof Error ? err.message : String(err);
  box.hidden = false;
}

function hideError(box) {
  box.hidden = true;
  box.textContent = "";
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard API (insecure origin, permissions): the old selection route still works.
    const area = el("textarea", { readonly: true });
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}

/** Says "Copied" on the button for a moment, so a click visibly did something. */
async function copyFrom(button, text) {
  await copyText(text);
  const label = button.dataset.label || (button.dataset.label = button.textContent); // a second click mid-way
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = label; }, 1200);
}

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** The message of the server's error envelope {"error": {"code", "message", "status"}}. */
async function readError(resp) {
  try {
    const body = await resp.json();
    const error = body && body.error;
    if (typeof error === "string") return error;
    if (error && error.message) return error.message;
    if (body && body.detail) return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch {
    // not JSON: fall back to the status line
  }
  return `${resp.status} ${resp.statusText}`.trim();
}

function authHeaders(extra = {}) {
  return state.key ? { ...extra, "x-goog-api-key": state.key } : extra;
}

/** Calls the admin API; a 401 while signed in sends the user back to sign-in. */
async function api(method, path, body) {
  const init = { method, headers: authHeaders() };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(`/console/api${path}`, init);
  if (!resp.ok) {
    const message = await readError(resp);
    if (resp.status === 401 && state.session) {
      sessionStorage.removeItem(KEY_STORE); // revoked or expired: no use trying it again
      showLogin(message);
    }
    throw new ApiError(message, resp.status);
  }
  return resp.json();
}

// ---------------------------------------------------------------- sign-in

async function fetchSession(key) {
  const resp = await fetch("/console/api/session", { headers: key ? { "x-goog-api-key": key } : {} });
  if (!resp.ok) throw new ApiError(await readError(resp), resp.status);
  return resp.json();
}

async function boot() {
  wireEvents();
  const stored = sessionStorage.getItem(KEY_STORE);
  let message = "";
  if (stored) {
    try {
      enterApp(await fetchSession(stored), stored);
      return;
    } catch (err) {
      if (err.status === 401 || err.status === 403) sessionStorage.removeItem(KEY_STORE);
      message = `The saved key was refused: ${err.message}`;
    }
  }
  try {
    enterApp(await fetchSession(null), null); // the server may run with --no-auth
  } catch (err) {
    showLogin(err.status === 401 || err.status === 403 ? message : err.message);
  }
}

function enterApp(session, key) {
  state.session = session;
  state.key = key;
  $("#session-principal").textContent = session.principal;
  $("#session-project").textContent = session.project;
  $("#auth-off").hidden = session.auth !== false;
  $("#sign-out").hidden = !key;
  $("#session-info").hidden = false;
  $("#login-view").hidden = true;
  $("#app").hidden = false;
  if (!$("#pg-project").value) $("#pg-project").value = session.project;
  route();
}

function showLogin(message) {
  state.session = null;
  state.key = null;
  stopModelsTimer();
  if (state.stream) state.stream.abort();
  $("#app").hidden = true;
  $("#session-info").hidden = true;
  $("#login-view").hidden = false;
  const box = $("#login-error");
  if (message) showError(box, message);
  else hideError(box);
  $("#admin-key").focus();
}

async function onLogin(event) {
  event.preventDefault();
  const input = $("#admin-key");
  const box = $("#login-error");
  const key = input.value.trim();
  if (!key) {
    showError(box, "Enter the admin API key.");
    return;
  }
  hideError(box);
  $("#sign-in").disabled = true;
  try {
    const session = await fetchSession(key);
    sessionStorage.setItem(KEY_STORE, key);
    input.value = "";
    enterApp(session, key);
  } catch (err) {
    showError(box, err);
  } finally {
    $("#sign-in").disabled = false;
  }
}

function signOut() {
  sessionStorage.removeItem(KEY_STORE);
  showLogin("");
}

// ---------------------------------------------------------------- navigation

const LOADERS = {
  usage: loadUsage,
  projects: loadProjects,
  models: () => { loadModels(); startModelsTimer(); },
  playground: loadPlayground,
};

function route() {
  if (!state.session) return;
  const name = location.hash.slice(1);
  showPage(PAGES.includes(name) ? name : "usage");
}

function showPage(name) {
  state.page = name;
  for (const page of PAGES) $(`#page-${page}`).hidden = page !== name;
  for (const link of document.querySelectorAll("nav a[data-page]")) {
    const active = link.dataset.page === name;
    link.classList.toggle("active", active);
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  stopModelsTimer();
  LOADERS[name]();
}

// ---------------------------------------------------------------- usage

async function loadUsage() {
  const box = $("#usage-error");
  try {
    state.usage = await api("GET", `/usage?hours=${enc($("#usage-hours").value)}`);
    hideError(box);
    renderUsage(state.usage);
  } catch (err) {
    showError(box, err);
  }
}

function renderUsage(data) {
  const sum = (field) => data.totals.reduce((total, row) => total + row[field], 0);
  $("#usage-requests").textContent = count(sum("requests"));
  $("#usage-errors").textContent = count(sum("errors"));
  $("#usage-prompt-tokens").textContent = count(sum("prompt_tokens"));
  $("#usage-completion-tokens").textContent = count(sum("completion_tokens"));
  $("#usage-reasoning-tokens").textContent = count(sum("reasoning_tokens"));
  for (const metric of ["latency_ms", "ttft_ms"]) {
    const cells = $(`#usage-latency tr[data-metric="${metric}"]`).querySelectorAll("td");
    ["p50", "p90", "p99"].forEach((q, i) => { cells[i].textContent = millis(data[metric][q]); });
  }
  drawUsageCharts();
  renderBarList($("#usage-by-model"), data.by_model);
  renderBarList($("#usage-by-project"), data.by_project);
  renderTotals(data.totals);
}

function drawUsageCharts() {
  const data = state.usage;
  if (!data || state.page !== "usage") return;
  const label = bucketLabel(data);
  // Errors are a subset of requests: drawn over them rather than stacked on top.
  barChart($("#chart-requests"), data, label, false, [
    { key: "requests", name: "requests" },
    { key: "errors", name: "errors" },
  ]);
  barChart($("#chart-tokens"), data, label, true, [
    { key: "prompt_tokens", name: "prompt" },
    { key: "completion_tokens", name: "completion" },
    { key: "reasoning_tokens", name: "thinking" },
  ]);
}

/** Bucket start as local HH:MM, or as a date when the period spans days. */
function bucketLabel(data) {
  const days = data.until - data.since > 2 * 86400;
  return (at, full) => {
    const date = new Date(at * 1000);
    if (full) return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    return days
      ? date.toLocaleDateString(undefined, { month: "short", day: "numeric" })
      : date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hour12: false });
  };
}

/** A round axis maximum: four gridlines at 1, 2 or 5 times a power of ten. */
function niceMax(value) {
  const raw = Math.max(1, value / 4);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  return step * 4;
}

function shortNumber(n) {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/** Bars per time bucket, y gridlines, x labels, a legend beside it, a <title> tooltip per bucket.
 * Drawn at the SVG's real pixel width so text stays legible on a phone. */
function barChart(svg, data, label, stacked, series) {
  const rows = data.series;
  const width = Math.max(260, Math.round(svg.getBoundingClientRect().width) || 600);
  const height = 220;
  const pad = { top: 10, right: 8, bottom: 24, left: 42 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren();

  const heights = rows.map((row) => stacked
    ? series.reduce((total, s) => total + row[s.key], 0)
    : Math.max(...series.map((s) => row[s.key])));
  const max = niceMax(Math.max(...heights, 0));
  const y = (v) => pad.top + plotH - (v / max) * plotH;

  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    svg.append(svgEl("line", { class: i ? "grid" : "axis", x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }));
    svg.append(svgEl("text", { x: pad.left - 6, y: y(v) + 4, "text-anchor": "end" }, shortNumber(v)));
  }

  const slot = plotW / rows.length;
  const barW = Math.max(2, slot * 0.7);
  const labelEvery = Math.ceil(rows.length / Math.max(2, Math.floor(plotW / 64)));
  rows.forEach((row, i) => {
    const left = pad.left + i * slot;
    const group = svgEl("g");
    const lines = series.map((s) => `${s.name}: ${row[s.key]}`);
    group.append(svgEl("title", {}, `${label(row.at, true)} – ${label(row.at + data.bucket_s, true)}\n${lines.join("\n")}`));
    group.append(svgEl("rect", { class: "hover", x: left, y: pad.top, width: slot, height: plotH }));
    let base = 0;
    for (const s of series) {
      const value = row[s.key];
      if (!value) continue;
      const from = stacked ? base : 0;
      group.append(svgEl("rect", {
        class: `s-${s.key}`, x: left + (slot - barW) / 2, y: y(from + value),
        width: barW, height: Math.max(1, y(from) - y(from + value)), rx: 1,
      }));
      if (stacked) base += value;
    }
    svg.append(group);
    if (i % labelEvery === 0) {
      svg.append(svgEl("text", { x: left + slot / 2, y: height - 6, "text-anchor": "middle" }, label(row.at, false)));
    }
  });

  const legend = svg.parentElement.querySelector(".legend");
  legend.replaceChildren(...series.map((s) =>
    el("span", {}, el("i", { class: `swatch s-${s.key}` }), s.name)));
}

function renderBarList(box, counts) {
  const entries = Object.entries(counts || {});
  if (!entries.length) {
    box.replaceChildren(el("p", { class: "empty hint", text: "No requests in this period." }));
    return;
  }
  const max = Math.max(...entries.map(([, n]) => n));
  box.replaceChildren(...entries.map(([name, n]) => {
    const fill = el("span", { class: "barlist-fill" });
    fill.style.width = `${(100 * n) / max}%`;
    return el("div", { class: "barlist-row", title: `${name}: ${n} requests` },
      el("span", { class: "barlist-name", text: name || "(none: refused before a model was chosen)" }),
      el("span", { class: "barlist-count", text: count(n) }),
      el("span", { class: "barlist-track" }, fill));
  }));
}

function renderTotals(totals) {
  const body = $("#usage-totals tbody");
  if (!totals.length) {
    body.replaceChildren(el("tr", {}, el("td", { class: "empty", colspan: 9, text: "No requests in this period." })));
    return;
  }
  body.replaceChildren(...totals.map((t) => el("tr", { "data-principal": t.principal },
    el("td", { text: t.project }),
    el("td", { class: "email" }, emailParts(t.principal)),
    el("td", { text: t.model }),
    ...[t.requests, t.errors, t.prompt_tokens, t.completion_tokens, t.reasoning_tokens]
      .map((n) => el("td", { class: "num", text: count(n) })),
    el("td", { class: "num", text: String(pyRound(t.mean_latency_ms)) }))));
}

// ---------------------------------------------------------------- projects and keys

async function loadProjects() {
  const box = $("#projects-error");
  try {
    const data = await api("GET", "/projects");
    hideError(box);
    const cards = data.projects.map((p) => projectCard(p, data.defaults));
    if (!cards.length) cards.push(el("p", { class: "card empty", text: "No projects yet: create an API key in one above." }));
    $("#projects-list").replaceChildren(...cards);
  } catch (err) {
    showError(box, err);
  }
}

/** Runs a button's action: disabled meanwhile, its error shown beside it, the page re-read after. */
async function act(button, errorBox, work) {
  hideError(errorBox);
  button.disabled = true;
  try {
    await work();
    await loadProjects();
  } catch (err) {
    showError(errorBox, err);
  } finally {
    button.disabled = false;
  }
}

function table(headers, rows, emptyText) {
  const body = rows.length
    ? rows
    : [el("tr", {}, el("td", { class: "empty", colspan: headers.length, text: emptyText }))];
  return el("div", { class: "table-wrap" },
    el("table", { class: "table" },
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { text: h })))),
      el("tbody", {}, body)));
}

function statusCell(key) {
  const revoked = key.revoked_at !== null && key.revoked_at !== undefined;
  return el("td", { class: "status", title: revoked ? `revoked ${localTime(key.revoked_at)}` : null },
    el("span", { class: revoked ? "pill pill-off" : "pill pill-ok", text: revoked ? "revoked" : "active" }));
}

function projectCard(p, defaults) {
  const active = (keys) => keys.filter((k) => k.revoked_at === null || k.revoked_at === undefined).length;
  return el("div", { class: "project card", "data-project": p.project },
    el("div", { class: "card-head" },
      el("h2", { text: p.project }),
      el("span", { class: "hint", text: `${active(p.api_keys)} active API keys · ${active(p.keys)} active service-account keys` })),
    el("div", { class: "project-body" },
      el("div", { class: "project-keys" }, apiKeysBlock(p), serviceKeysBlock(p)),
      el("div", { class: "project-settings" }, quotaBlock(p, defaults), grantsBlock(p))));
}

// A quota of null keeps the server's default; 0 lifts the limit.
const limitText = (n) => (n === 0 ? "no limit" : String(n));
const quotaText = (value, fallback) => (value === null || value === undefined ? `default (${limitText(fallback)})` : limitText(value));

function quotaBlock(p, defaults) {
  const errorBox = el("p", { class: "error", hidden: true });
  const input = (cls, value, fallback) => el("input", {
    class: cls, type: "number", min: 0, step: 1, value: value === null ? null : value,
    placeholder: "default", title: `blank: the server's default (${limitText(fallback)})`,
  });
  const rpm = input("quota-rpm", p.quota.rpm, defaults.rpm);
  const tpm = input("quota-tpm", p.quota.tpm, defaults.tpm);
  const read = (field) => (field.value.trim() === "" ? null : Number(field.value)); // blank: keep default
  const save = el("button", {
    class: "quota-save btn", type: "button", text: "Save quota",
    onclick: (e) => act(e.currentTarget, errorBox, () =>
      api("PUT", `/projects/${enc(p.project)}/quota`, { rpm: read(rpm), tpm: read(tpm) })),
  });
  return el("div", { class: "block" },
    el("div", { class: "block-head" },
      el("h3", { text: "Quota" }),
      el("span", { class: "quota-current", text: `rpm ${quotaText(p.quota.rpm, defaults.rpm)} · tpm ${quotaText(p.quota.tpm, defaults.tpm)}` })),
    el("div", { class: "quota-form" },
      el("label", { class: "field" }, el("span", { text: "Requests / minute" }), rpm),
      el("label", { class: "field" }, el("span", { text: "Tokens / minute" }), tpm),
      save),
    el("p", { class: "hint", text: "Blank keeps the server's default; 0 means no limit. Applies at once." }),
    errorBox);
}

function apiKeysBlock(p) {
  const errorBox = el("p", { class: "error", hidden: true });
  const rows = p.api_keys.map((k) => el("tr", { "data-api-key-id": k.key_id },
    el("td", { class: "mono", text: k.key_id }),
    el("td", { text: localTime(k.created_at) }),
    statusCell(k),
    el("td", {}, k.admin ? el("span", { class: "badge", text: "admin" }) : null),
    el("td", {}, k.revoked_at === null || k.revoked_at === undefined
      ? el("button", {
        class: "revoke-apikey btn btn-small btn-danger", type: "button", text: "Revoke",
        onclick: (e) => act(e.currentTarget, errorBox, () => api("DELETE", `/apikeys/${enc(k.key_id)}`)),
      })
      : null)));
  const create = el("button", {
    class: "new-apikey btn", type: "button", text: "Create API key",
    onclick: (e) => act(e.currentTarget, errorBox, async () =>
      showSecret(await api("POST", `/projects/${enc(p.project)}/apikeys`))),
  });
  return el("div", { class: "block" },
    el("div", { class: "block-head" }, el("h3", { text: "API keys" }), create),
    table(["key id", "created", "status", "role", ""], rows, "No API keys."),
    errorBox);
}

function serviceKeysBlock(p) {
  const errorBox = el("p", { class: "error", hidden: true });
  const rows = p.keys.map((k) => el("tr", { "data-key-id": k.key_id },
    el("td", { class: "mono", title: k.key_id, text: k.key_id.length > 14 ? `${k.key_id.slice(0, 12)}…` : k.key_id }),
    el("td", { class: "wrap email" }, emailParts(k.email)),
    el("td", { text: localTime(k.created_at) }),
    statusCell(k),
    el("td", {}, k.revoked_at === null || k.revoked_at === undefined
      ? el("button", {
        class: "revoke-key btn btn-small btn-danger", type: "button", text: "Revoke",
        onclick: (e) => act(e.currentTarget, errorBox, () => api("DELETE", `/keys/${enc(k.key_id)}`)),
      })
      : null)));
  const name = el("input", { class: "new-key-name", value: "openvertex", autocomplete: "off", spellcheck: "false" });
  const create = el("button", {
    class: "new-key btn", type: "button", text: "Create key file",
    onclick: (e) => act(e.currentTarget, errorBox, async () => {
      const keyFile = await api("POST", `/projects/${enc(p.project)}/keys`, { name: name.value.trim() || "openvertex" });
      const filename = `${p.project}-${keyFile.private_key_id.slice(0, 12)}.json`;
      download(filename, `${JSON.stringify(keyFile, null, 2)}\n`);
      state.keyNotice = { project: p.project, filename };
    }),
  });
  const notice = state.keyNotice && state.keyNotice.project === p.project
    ? el("div", { class: "notice key-notice" },
      el("p", { text: "key file downloaded; it cannot be downloaded again" }),
      el("code", { text: `export GOOGLE_APPLICATION_CREDENTIALS=~/Downloads/${state.keyNotice.filename}` }))
    : null;
  return el("div", { class: "block" },
    el("div", { class: "block-head" }, el("h3", { text: "Service-account keys" })),
    table(["key id", "email", "created", "status", ""], rows, "No service-account keys."),
    el("div", { class: "inline-form" },
      el("label", { class: "field" }, el("span", { text: "Service account name (before the @)" }), name),
      create),
    notice, errorBox);
}

/** An email that may break after its @ (a <wbr>), so long service accounts fit narrow tables. */
function emailParts(email) {
  const at = email.indexOf("@");
  if (at < 0) return [email];
  return [el("span", { class: "nowrap", text: email.slice(0, at + 1) }), el("wbr"), email.slice(at + 1)];
}

function grantsBlock(p) {
  const errorBox = el("p", { class: "error", hidden: true });
  const email = el("input", { class: "grant-email", type: "email", placeholder: "sa@other-project.iam.gserviceaccount.com", autocomplete: "off" });
  const add = el("button", {
    class: "grant-add btn", type: "button", text: "Grant",
    onclick: (e) => act(e.currentTarget, errorBox, () =>
      api("POST", `/projects/${enc(p.project)}/grants`, { email: email.value.trim() })),
  });
  const list = p.grants.length
    ? el("ul", { class: "grants" }, p.grants.map((g) => el("li", { text: g })))
    : el("p", { class: "hint empty", text: "No other service accounts may act here." });
  return el("div", { class: "block" },
    el("div", { class: "block-head" }, el("h3", { text: "Grants" })),
    list,
    el("div", { class: "inline-form" },
      el("label", { class: "field" }, el("span", { text: "Let another project's service account in" }), email),
      add),
    errorBox);
}

/** A new API key's secret: shown once, here, and nowhere else. */
function showSecret(created) {
  $("#new-secret").textContent = created.key;
  $("#secret-meta").textContent = `key id ${created.key_id} · project ${created.project}${created.admin ? " · admin" : ""}`;
  const panel = $("#secret-panel");
  panel.hidden = false;
  panel.scrollIntoView({ block: "nearest" });
}

function closeSecret() {
  $("#new-secret").textContent = "";
  $("#secret-panel").hidden = true;
}

function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const link = el("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function createProjectKey(event) {
  const input = $("#new-project");
  const box = $("#new-project-error");
  const project = input.value.trim();
  if (!project) {
    showError(box, "Enter a project id.");
    return;
  }
  await act(event.currentTarget, box, async () => {
    showSecret(await api("POST", `/projects/${enc(project)}/apikeys`));
    input.value = "";
  });
}

// ---------------------------------------------------------------- models

async function loadModels() {
  if (state.modelsLoading) return;
  state.modelsLoading = true;
  const box = $("#models-error");
  try {
    state.models = await api("GET", "/models");
    hideError(box);
    renderModels(state.models);
    $("#models-updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    showError(box, err);
  } finally {
    state.modelsLoading = false;
  }
}

// Slots and queues change by the second: re-read while the page is in view.
function startModelsTimer() {
  stopModelsTimer();
  state.modelsTimer = setInterval(() => {
    if (state.page === "models" && !document.hidden && $("#models-auto").checked) loadModels();
  }, 5000);
}

function stopModelsTimer() {
  clearInterval(state.modelsTimer);
  state.modelsTimer = null;
}

function renderModels(data) {
  const rows = [];
  let previous = null;
  for (const m of data.served) {
    // Names served by the same weights on the same backend are one model: shown as a group.
    const group = `${m.backend}\n${m.weights}`;
    const cls = group === previous ? "same-group" : "group-start";
    previous = group;
    const ready = el("span", { class: m.ready ? "pill pill-ok" : "pill pill-warn", text: m.ready ? "ready" : "not ready" });
    rows.push(el("tr", { "data-model": m.name, class: cls },
      el("td", { class: "model-name", text: m.name }),
      el("td", { class: "wrap group-col" },
        el("div", { class: "weights", text: m.weights }), el("div", { class: "backend", text: m.backend })),
      el("td", { class: "num", text: String(m.context_window) }),
      el("td", { class: "wrap modalities", text: (m.input_modalities || []).join(", "), title: mediaNote(m) }),
      el("td", { text: (m.output_modalities || []).join(", ") }),
      el("td", { class: "wrap loaded" }, ready, m.loaded ? ` ${m.loaded}` : null),
      el("td", { class: "num", text: `${m.busy} / ${m.slots}` }),
      el("td", { class: "num", text: String(m.waiting) })));
    if (m.upstreams) {
      rows.push(el("tr", { class: "upstreams", "data-upstreams-for": m.name },
        el("td", { colspan: 8, text: `upstreams: ${m.upstreams}` })));
    }
  }
  if (!rows.length) rows.push(el("tr", {}, el("td", { class: "empty", colspan: 8, text: "No models served." })));
  $("#models-served tbody").replaceChildren(...rows);

  $("#models-catalog tbody").replaceChildren(...data.catalog.map((c) => el("tr", { "data-catalog": c.name },
    el("td", { class: "model-name", text: c.name }),
    el("td", { text: c.kind }),
    el("td", { class: "wrap", text: c.title }),
    el("td", { text: c.size }),
    el("td", { text: c.licence }),
    el("td", { class: "wrap narrow", text: c.speed }),
    el("td", { class: "wrap", text: c.capabilities }),
    el("td", { class: "state wrap" }, c.state === "-"
      ? el("code", { text: `openvertex models pull ${c.name}` })
      : el("span", { class: "pill pill-ok", text: c.state })))));
}

/** How a text model takes images or audio, as a tooltip on its input column. */
function mediaNote(m) {
  const media = m.media_input || {};
  return Object.entries(media).map(([kind, how]) => `${kind}: ${how}`).join("\n") || null;
}

// ---------------------------------------------------------------- playground

async function loadPlayground() {
  if (!state.models) await loadModels();
  fillModelSelect();
  if (!$("#pg-project").value) $("#pg-project").value = state.session.project;
  updateCode();
}

function fillModelSelect() {
  const select = $("#pg-model");
  const names = ((state.models && state.models.served) || [])
    .filter((m) => (m.output_modalities || []).includes("text"))
    .map((m) => m.name);
  const previous = select.value;
  select.replaceChildren(...names.map((name) => el("option", { value: name, text: name })));
  select.value = names.includes(previous)
    ? previous
    : names.find((n) => n.includes("flash") && !n.includes("lite")) || names.find((n) => n.includes("flash")) || names[0] || "";
}

/** A textarea's JSON, or null when blank; `errors` gets a message when it does not parse. */
function jsonField(selector, label, errors, check) {
  const text = $(selector).value.trim();
  if (!text) return null;
  try {
    const value = JSON.parse(text);
    const problem = check && check(value);
    if (problem) errors.push(`${label}: ${problem}`);
    return problem ? null : value;
  } catch (err) {
    errors.push(`${label} is not valid JSON: ${err.message}`);
    return null;
  }
}

/** The playground's settings, parsed: one source for the request and both code snippets. */
function readSettings() {
  const number = (selector) => {
    const text = $(selector).value.trim();
    return text === "" ? null : Number(text);
  };
  const errors = [];
  return {
    model: $("#pg-model").value,
    project: $("#pg-project").value.trim() || state.session.project,
    system: $("#pg-system").value,
    prompt: $("#pg-prompt").value,
    budget: number("#pg-thinking-budget"),
    showThoughts: $("#pg-show-thoughts").checked,
    temperature: number("#pg-temperature"),
    maxTokens: number("#pg-max-tokens"),
    tools: jsonField("#pg-tools", "Tools", errors, (v) => (Array.isArray(v) ? null : "expected a JSON array of tools")),
    schema: jsonField("#pg-schema", "Schema", errors, (v) => (v && typeof v === "object" && !Array.isArray(v) ? null : "expected a JSON object")),
    file: $("#pg-file").files[0] || null,
    errors,
  };
}

function thinkingConfig(s) {
  if (s.budget === null && !s.showThoughts) return null;
  const config = {};
  if (s.budget !== null) config.thinking_budget = s.budget;
  config.include_thoughts = s.showThoughts;
  return config;
}

const isImage = (file) => file.type.startsWith("image/");

function audioFormat(file) {
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  return { mpeg: "mp3", mpga: "mp3", oga: "ogg", opus: "ogg" }[ext] || ext || "wav";
}

function readDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function userContent(s) {
  if (!s.file) return s.prompt;
  const dataUrl = await readDataUrl(s.file);
  const parts = [{ type: "text", text: s.prompt }];
  if (isImage(s.file)) parts.push({ type: "image_url", image_url: { url: dataUrl } });
  else parts.push({ type: "input_audio", input_audio: { data: dataUrl.slice(dataUrl.indexOf(",") + 1), format: audioFormat(s.file) } });
  return parts;
}

function requestBody(s, content) {
  const messages = [];
  if (s.system.trim()) messages.push({ role: "system", content: s.system });
  messages.push({ role: "user", content });
  const body = { model: s.model, messages, stream: true, stream_options: { include_usage: true } };
  if (s.maxTokens !== null) body.max_tokens = s.maxTokens;
  if (s.temperature !== null) body.temperature = s.temperature;
  if (s.tools) body.tools = s.tools;
  if (s.schema) body.response_format = { type: "json_schema", json_schema: { name: "reply", schema: s.schema } };
  const thinking = thinkingConfig(s);
  if (thinking) body.google = { thinking_config: thinking };
  return body;
}

function setResultState(value) {
  $("#pg-result").dataset.state = value;
  $("#pg-send").disabled = value === "streaming";
  $("#pg-stop").disabled = value !== "streaming";
}

function resetResult() {
  $("#pg-output").textContent = "";
  $("#pg-thoughts").textContent = "";
  $("#pg-thoughts-box").hidden = true;
  $("#pg-tool-calls").textContent = "";
  $("#pg-tool-calls").hidden = true;
  $("#pg-usage").textContent = "";
  hideError($("#pg-error"));
}

async function sendPrompt(event) {
  event.preventDefault();
  if (state.stream) return;
  const s = readSettings();
  if (s.errors.length) {
    showError($("#pg-error"), s.errors.join("\n")); // nothing is sent
    return;
  }
  if (!s.model) {
    showError($("#pg-error"), "No text model is served.");
    return;
  }
  resetResult();
  setResultState("streaming");
  const controller = new AbortController();
  state.stream = controller;
  const run = { started: performance.now(), first: null, usage: null, calls: [], failed: false, stopped: false };
  try {
    const body = requestBody(s, await userContent(s));
    const path = `/v1/projects/${enc(s.project)}/locations/${LOCATION}/endpoints/openapi/chat/completions`;
    const resp = await fetch(path, {
      method: "POST",
      headers: authHeaders({ "Content-Type": "application/json" }),
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    if (!resp.ok) throw new ApiError(await readError(resp), resp.status);
    await readStream(resp, run);
  } catch (err) {
    if (err.name === "AbortError") run.stopped = true;
    else {
      run.failed = true;
      showError($("#pg-error"), err);
      controller.abort(); // a reply this page cannot read must not keep its slot busy
    }
  } finally {
    state.stream = null;
    run.ended = performance.now();
    showUsage(run);
    setResultState(run.failed ? "error" : "done");
  }
}

/** Server-sent events: one `data: {...}` line per chunk, `data: [DONE]` at the end. */
async function readStream(resp, run) {
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, "");
      buffer = buffer.slice(newline + 1);
      if (!line.startsWith("data:")) continue;
      const payload = line.slice(5).trim();
      if (payload === "[DONE]") return;
      handleChunk(JSON.parse(payload), run);
    }
    if (done) {
      // A failure after the stream began comes as an error event; silence is a cut connection.
      if (!run.failed) throw new Error("The connection ended before the reply was complete.");
      return;
    }
  }
}

function handleChunk(chunk, run) {
  if (chunk.error) {
    // A failure after the stream began comes as one last event.
    run.failed = true;
    showError($("#pg-error"), chunk.error.message || JSON.stringify(chunk.error));
    return;
  }
  if (chunk.usage) run.usage = chunk.usage;
  const choice = (chunk.choices || []).find((c) => (c.index || 0) === 0);
  const delta = choice && choice.delta;
  if (!delta) return;
  if (delta.content) {
    run.first = run.first || performance.now();
    const google = delta.extra_content && delta.extra_content.google;
    if (google && google.thought === true) {
      $("#pg-thoughts-box").hidden = false;
      $("#pg-thoughts").append(delta.content);
    } else {
      $("#pg-output").append(delta.content);
    }
  }
  if (delta.tool_calls) {
    run.first = run.first || performance.now();
    for (const call of delta.tool_calls) mergeToolCall(run.calls, call);
    const shown = $("#pg-tool-calls");
    shown.textContent = JSON.stringify(run.calls.filter(Boolean), null, 2);
    shown.hidden = false;
  }
}

/** Tool calls stream in pieces: the id and name first, then the arguments, by index. */
function mergeToolCall(calls, delta) {
  const index = delta.index || 0;
  const call = calls[index] || (calls[index] = { id: "", type: "function", function: { name: "", arguments: "" } });
  if (delta.id) call.id = delta.id;
  if (delta.function && delta.function.name) call.function.name += delta.function.name;
  if (delta.function && delta.function.arguments) call.function.arguments += delta.function.arguments;
}

function showUsage(run) {
  const parts = [];
  const u = run.usage;
  if (u) {
    const thinking = (u.completion_tokens_details && u.completion_tokens_details.reasoning_tokens) || 0;
    parts.push(`prompt ${u.prompt_tokens}`, `completion ${u.completion_tokens}`, `thinking ${thinking}`, `total ${u.total_tokens}`);
  }
  if (run.first) parts.push(`first token ${Math.round(run.first - run.started)} ms`);
  const took = run.ended - run.started;
  parts.push(took < 1000 ? `${Math.round(took)} ms` : `${(took / 1000).toFixed(1)} s`);
  if (run.stopped) parts.push("stopped");
  $("#pg-usage").textContent = parts.join(" · ");
}

// ---------------------------------------------------------------- copy as code

/** Python source that py() writes as is; `render(indent)` knows where it sits. */
class Py {
  constructor(render) { this.render = typeof render === "function" ? render : () => render; }
}

/** A JSON value as a Python literal (True/False/None), one line when short, else indented. */
function py(value, indent = 0) {
  if (value instanceof Py) return value.render(indent);
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "None";
  if (typeof value === "string") return JSON.stringify(value); // JSON's escapes are Python's too
  const isList = Array.isArray(value);
  const items = isList
    ? value.map((v) => py(v, indent + 4))
    : Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${py(v, indent + 4)}`);
  const [open, close] = isList ? ["[", "]"] : ["{", "}"];
  const flat = `${open}${items.join(", ")}${close}`;
  if (!items.length || (flat.length + indent <= 88 && !flat.includes("\n"))) return flat;
  const pad = " ".repeat(indent);
  return `${open}\n${items.map((item) => `${pad}    ${item},`).join("\n")}\n${pad}${close}`;
}

/** name(key=value, ...) with one argument per line. */
function pyCall(name, args, indent = 0) {
  const pad = " ".repeat(indent);
  const lines = args.map(([key, value]) => `${pad}    ${key}=${py(value, indent + 4)},`);
  return `${name}(\n${lines.join("\n")}\n${pad})`;
}

function baseUrl() {
  return (state.session.public_url || location.origin).replace(/\/+$/, "");
}

const safeMime = (file) => (file.type || "application/octet-stream").replace(/[^\w.+/-]/g, "");

function openaiSnippet(s) {
  const lines = ["import google.auth", "import google.auth.transport.requests", "import openai"];
  if (s.file) lines.push("import base64");
  lines.push("", `project_id = ${py(s.project)}`, `location = ${py(LOCATION)}`, "",
    'credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])',
    "credentials.refresh(google.auth.transport.requests.Request())", "",
    "client = openai.OpenAI(",
    `    base_url=f"${baseUrl().replace(/[{}]/g, "$&$&").replace(/["\\]/g, "\\$&")}/v1/projects/{project_id}/locations/{location}/endpoints/openapi",`,
    "    api_key=credentials.token,", ")", "");
  let content = s.prompt;
  if (s.file) {
    lines.push("# The attached file: read it and base64-encode it (put its path here).",
      `with open(${py(s.file.name)}, "rb") as f:`,
      "    file_b64 = base64.b64encode(f.read()).decode()", "");
    const media = isImage(s.file)
      ? { type: "image_url", image_url: { url: new Py(`f"data:${safeMime(s.file)};base64,{file_b64}"`) } }
      : { type: "input_audio", input_audio: { data: new Py("file_b64"), format: audioFormat(s.file) } };
    content = [{ type: "text", text: s.prompt }, media];
  }
  const messages = [];
  if (s.system.trim()) messages.push({ role: "system", content: s.system });
  messages.push({ role: "user", content });
  const args = [["model", s.model], ["messages", messages], ["stream", true]];
  if (s.maxTokens !== null) args.push(["max_tokens", s.maxTokens]);
  if (s.temperature !== null) args.push(["temperature", s.temperature]);
  if (s.tools) args.push(["tools", s.tools]);
  if (s.schema) args.push(["response_format", { type: "json_schema", json_schema: { name: "reply", schema: s.schema } }]);
  const thinking = thinkingConfig(s);
  if (thinking) args.push(["extra_body", { google: { thinking_config: thinking } }]);
  lines.push(`stream = ${pyCall("client.chat.completions.create", args)}`,
    "for chunk in stream:",
    "    if chunk.choices and chunk.choices[0].delta.content:",
    '        print(chunk.choices[0].delta.content, end="", flush=True)');
  return `${lines.join("\n")}\n`;
}

function genaiSnippet(s) {
  const lines = ["from google import genai", "from google.genai import types", "",
    `client = ${pyCall("genai.Client", [
      ["vertexai", true], ["project", s.project], ["location", LOCATION],
      ["http_options", new Py(`types.HttpOptions(base_url=${py(baseUrl())})`)],
    ])}`, ""];
  let contents = s.prompt;
  if (s.file) {
    lines.push("# The attached file: read it (put its path here).",
      `with open(${py(s.file.name)}, "rb") as f:`, "    file_bytes = f.read()", "");
    contents = [new Py(`types.Part.from_bytes(data=file_bytes, mime_type=${py(safeMime(s.file))})`), s.prompt];
  }
  const config = [];
  if (s.system.trim()) config.push(["system_instruction", s.system]);
  if (s.maxTokens !== null) config.push(["max_output_tokens", s.maxTokens]);
  if (s.temperature !== null) config.push(["temperature", s.temperature]);
  const thinking = thinkingConfig(s);
  if (thinking) {
    const parts = [];
    if (s.budget !== null) parts.push(`thinking_budget=${py(s.budget)}`);
    if (s.showThoughts) parts.push("include_thoughts=True");
    config.push(["thinking_config", new Py(`types.ThinkingConfig(${parts.join(", ")})`)]);
  }
  if (s.schema) config.push(["response_mime_type", "application/json"], ["response_json_schema", s.schema]);
  if (s.tools) {
    // OpenAI's tool objects become function declarations; their parameters are JSON Schema.
    const declarations = s.tools.filter((t) => t && t.function).map((t) => {
      const d = { name: t.function.name };
      if (t.function.description) d.description = t.function.description;
      if (t.function.parameters) d.parameters_json_schema = t.function.parameters;
      return d;
    });
    config.push(["tools", new Py((indent) => `[types.Tool(function_declarations=${py(declarations, indent)})]`)]);
  }
  const args = [["model", s.model.replace(/^google\//, "")], ["contents", contents]];
  if (config.length) args.push(["config", new Py((indent) => pyCall("types.GenerateContentConfig", config, indent))]);
  lines.push(`stream = ${pyCall("client.models.generate_content_stream", args)}`,
    "for chunk in stream:",
    "    if chunk.text:",
    '        print(chunk.text, end="")');
  return `${lines.join("\n")}\n`;
}

function updateCode() {
  if (!state.session) return;
  const s = readSettings(); // a field with invalid JSON is simply left out here
  $("#pg-code").textContent = state.codeTab === "openai" ? openaiSnippet(s) : genaiSnippet(s);
  for (const tab of ["openai", "genai"]) {
    const button = $(`#pg-code-${tab}`);
    button.classList.toggle("active", tab === state.codeTab);
    button.setAttribute("aria-selected", String(tab === state.codeTab));
  }
}

function showCodeTab(tab) {
  state.codeTab = tab;
  updateCode();
}

// ---------------------------------------------------------------- wiring

function wireEvents() {
  $("#login").addEventListener("submit", onLogin);
  $("#sign-out").addEventListener("click", signOut);
  window.addEventListener("hashchange", route);

  $("#usage-refresh").addEventListener("click", loadUsage);
  $("#usage-hours").addEventListener("change", loadUsage);
  let pending = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(drawUsageCharts);
  });

  $("#new-project-apikey").addEventListener("click", createProjectKey);
  $("#new-project").addEventListener("keydown", (e) => {
    if (e.key === "Enter") $("#new-project-apikey").click();
  });
  $("#secret-copy").addEventListener("click", (e) => copyFrom(e.currentTarget, $("#new-secret").textContent));
  $("#secret-close").addEventListener("click", closeSecret);

  $("#models-refresh").addEventListener("click", loadModels);

  const form = $("#pg-form");
  form.addEventListener("submit", sendPrompt);
  form.addEventListener("input", updateCode);
  form.addEventListener("change", updateCode);
  $("#pg-prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit();
  });
  $("#pg-stop").addEventListener("click", () => state.stream && state.stream.abort());
  $("#pg-code-openai").addEventListener("click", () => showCodeTab("openai"));
  $("#pg-code-genai").addEventListener("click", () => showCodeTab("genai"));
  $("#pg-copy").addEventListener("click", (e) => copyFrom(e.currentTarget, $("#pg-code").textContent));
}

document.addEventListener("DOMContentLoaded", boot);
