"use strict";
// Switchboard page script: uses the same JSON API as everyone else (/api/openapi.json).
const CSRF = (document.querySelector('meta[name="csrf"]') || {}).content || "";
async function api(method, path, body) {
  const opt = { method, credentials: "same-origin", headers: { "X-CSRF-Token": CSRF } };
  if (body !== undefined) { opt.headers["Content-Type"] = "application/json"; opt.body = JSON.stringify(body); }
  const r = await fetch(path, opt);
  let data = null;
  try { data = await r.json(); } catch (e) { /* no body */ }
  if (r.status === 401 && !location.pathname.match(/^\/(login|setup)$/)) location.href = "/login";
  return { ok: r.ok, status: r.status, data };
}
function esc(s) { return String(s == null ? "" : s).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
function clearErrors(form) { form.querySelectorAll(".field-error,.form-error").forEach(e => e.textContent = ""); }
function showError(form, res) {
  const msg = (res.data && res.data.error) || ("failed (" + res.status + ")");
  const m = msg.match(/^(\w+): (.*)$/);
  const slot = m && form.querySelector('[data-error-for="' + m[1] + '"]');
  if (slot) slot.textContent = m[2]; else form.querySelector(".form-error").textContent = msg;
}
// <form data-api="/api/x" data-next="/">: fields as JSON, errors next to the field.
document.querySelectorAll("form[data-api]").forEach(form => form.addEventListener("submit", async ev => {
  ev.preventDefault(); clearErrors(form);
  const body = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    body[el.name] = el.type === "number" ? Number(el.value) : el.value;
  }
  if (form.dataset.confirm && body.password !== body.password2) {
    form.querySelector('[data-error-for="password2"]').textContent = "the two passwords differ: type the same one twice"; return;
  }
  delete body.password2;
  const res = await api(form.dataset.method || "POST", form.dataset.api, form.dataset.nobody ? undefined : body);
  if (!res.ok) { showError(form, res); return; }
  if (form.dataset.next) location.href = form.dataset.next; else location.reload();
}));
document.querySelectorAll("[data-post]").forEach(b => b.addEventListener("click", async () => {
  if (b.dataset.ask && !confirm(b.dataset.ask)) return;
  const res = await api("POST", b.dataset.post);
  const out = document.getElementById(b.dataset.out || "action-result");
  if (!res.ok) { if (out) out.textContent = (res.data && res.data.error) || ("failed (" + res.status + ")"); return; }
  if (b.dataset.next) location.href = b.dataset.next.replace("{version}", res.data && res.data.version);
  else location.reload();
}));
// <button data-listen="textarea id" data-language="en">: the text as the box speaks it.
document.querySelectorAll("[data-listen]").forEach(b => b.addEventListener("click", async () => {
  const text = document.getElementById(b.dataset.listen).value;
  const r = await fetch("/api/prompts/render", { method: "POST", credentials: "same-origin",
    headers: { "X-CSRF-Token": CSRF, "Content-Type": "application/json" }, body: JSON.stringify({ text, language: b.dataset.language }) });
  const form = b.closest("form"); const out = form && form.querySelector(".form-error");
  if (!r.ok) { const d = await r.json().catch(() => ({})); if (out) out.textContent = d.error || ("failed (" + r.status + ")"); return; }
  if (out) out.textContent = "";
  const a = document.getElementById("listen-audio-" + b.dataset.listen);
  a.src = URL.createObjectURL(await r.blob()); a.hidden = false; a.play().catch(() => {});
}));
// <button data-upload="/api/x" data-file="input id" data-out="id">: the chosen file as the body.
document.querySelectorAll("[data-upload]").forEach(b => b.addEventListener("click", async () => {
  const input = document.getElementById(b.dataset.file), out = document.getElementById(b.dataset.out);
  const f = input.files && input.files[0];
  if (!f) { out.textContent = "choose a file first"; return; }
  out.textContent = "uploading…"; out.className = "muted";
  const r = await fetch(b.dataset.upload + "?name=" + encodeURIComponent(f.name), { method: "POST", credentials: "same-origin",
    headers: { "X-CSRF-Token": CSRF, "Content-Type": "application/octet-stream" }, body: f });
  const d = await r.json().catch(() => ({}));
  if (!r.ok) { out.textContent = d.error || ("failed (" + r.status + ")"); out.className = "error"; return; }
  location.reload();
}));
document.querySelectorAll("[data-delete]").forEach(b => b.addEventListener("click", async () => {
  const res = await api("DELETE", b.dataset.delete);
  if (!res.ok) { document.getElementById(b.dataset.out).textContent = (res.data && res.data.error) || ("failed (" + res.status + ")"); return; }
  location.reload();
}));
const logout = document.getElementById("logout");
if (logout) logout.addEventListener("click", async () => { await api("POST", "/api/logout"); location.href = "/login"; });

// Dashboard: status every 2 s, live call events over SSE.
function renderStatus(s) {
  const ports = document.getElementById("ports");
  if (!ports) return;
  ports.innerHTML = s.ports.map(p => `<tr><td>${esc(p.id)}</td><td>${esc(p.kind)}</td><td><span class="pill ${p.state === "idle" ? "idle" : "busy"}">${esc(p.state)}</span></td><td>${p.call == null ? "" : esc(p.call)}</td></tr>`).join("");
  const m = s.modem;
  document.getElementById("modem").innerHTML = m ? `<tr><th>ready</th><td>${m.ready}</td></tr><tr><th>registration</th><td>${esc(m.registration)}</td></tr><tr><th>signal</th><td>${m.signal_dbm == null ? "" : esc(m.signal_dbm) + " dBm"}</td></tr><tr><th>operator</th><td>${esc(m.operator)}</td></tr><tr><th>SIM</th><td>${esc(m.sim)}</td></tr>` : "<tr><td>no modem</td></tr>";
  document.getElementById("summary").textContent = `${s.site} · board ${s.board} · version ${s.version} · configuration v${s.config_version == null ? "?" : s.config_version} (generation ${s.generation}) · ${s.calls_total} calls since start · ${s.queued} queued`;
  const calls = document.getElementById("live-calls");
  calls.innerHTML = s.calls.length ? s.calls.map(c => `<tr data-call="${esc(c.id)}"><td>${esc(c.id)}</td><td>${esc(c.routing_number)}</td><td class="phase">${esc(c.phase)}</td><td><button class="light" data-hangup="${esc(c.id)}">hang up</button></td></tr>`).join("") : '<tr class="none"><td colspan="4" class="muted">no call in progress</td></tr>';
}
async function refreshStatus() { const r = await api("GET", "/api/status"); if (r.ok) renderStatus(r.data); }
async function refreshLast() {
  const el = document.getElementById("last-calls"); if (!el) return;
  const r = await api("GET", "/api/cdrs?limit=10");
  if (r.ok) el.innerHTML = r.data.length ? r.data.map(c => `<tr data-cdr="${esc(c.id)}"><td>${esc(c.started_at.replace("T", " ").slice(0, 19))}</td><td>${esc(c.routing_number)}</td><td>${esc(c.caller_id)}</td><td>${esc(c.end_reason)}</td><td>${esc(c.duration_seconds.toFixed(1))} s</td></tr>`).join("") : '<tr><td colspan="5" class="muted">no calls yet</td></tr>';
}
if (document.getElementById("ports")) {
  refreshStatus(); refreshLast(); setInterval(refreshStatus, 2000);
  document.getElementById("live-calls").addEventListener("click", async ev => {
    const id = ev.target.dataset && ev.target.dataset.hangup; if (id) await api("POST", "/api/calls/" + id + "/hangup");
  });
  const log = document.getElementById("events");
  const es = new EventSource("/api/events");
  es.addEventListener("call", m => {
    const e = JSON.parse(m.data);
    const li = document.createElement("li");
    li.className = "ev-" + e.event; li.dataset.call = e.call;
    li.textContent = `${new Date().toLocaleTimeString()} call ${e.call}: ${e.event}` + (e.phase ? " " + e.phase : "") + (e.reason ? " " + JSON.stringify(e.reason) : "") + (e.routing_number ? " on " + e.routing_number : "");
    log.prepend(li);
    while (log.children.length > 30) log.lastChild.remove();
    refreshStatus();
    if (e.event === "ended") setTimeout(refreshLast, 1000);
  });
}

// Configuration: check as you type, save, located problems.
const cfg = document.getElementById("config-text");
if (cfg) {
  const list = document.getElementById("config-problems");
  const state = document.getElementById("config-state");
  const show = res => {
    list.innerHTML = "";
    if (res.ok) { state.textContent = "valid"; state.className = "ok"; return; }
    state.textContent = (res.data && res.data.error) || ("failed (" + res.status + ")"); state.className = "error";
    for (const p of (res.data && res.data.problems) || []) {
      const li = document.createElement("li"); li.className = "problem";
      li.dataset.line = p.line == null ? "" : p.line;
      li.textContent = (p.line != null ? `line ${p.line}` + (p.column != null ? `, column ${p.column}` : "") + ": " : "") + (p.key ? `${p.key}: ` : "") + p.message;
      li.addEventListener("click", () => goLine(p.line));
      list.appendChild(li);
    }
  };
  const goLine = line => {
    if (line == null) return;
    const lines = cfg.value.split("\n"); let pos = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
    cfg.focus(); cfg.setSelectionRange(pos, pos + (lines[line - 1] || "").length);
  };
  let timer = null;
  cfg.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(async () => show(await api("POST", "/api/config/check", { toml: cfg.value })), 600); });
  document.getElementById("config-save").addEventListener("click", async () => {
    state.textContent = "saving…"; state.className = "muted";
    const res = await api("POST", "/api/config", { toml: cfg.value });
    if (res.ok) { location.href = "/config?saved=" + res.data.version; } else show(res);
  });
}
// the System page's test call: start it, then wait for its result in /api/test-calls
document.querySelectorAll("form[data-test-call]").forEach(form => form.addEventListener("submit", async ev => {
  ev.preventDefault();
  const out = document.getElementById("test-call-result");
  const number = form.elements.number.value.trim();
  const res = await api("POST", "/api/test-call", { number });
  if (!res.ok) { out.className = "error"; out.textContent = (res.data && res.data.error) || ("failed (" + res.status + ")"); return; }
  const id = res.data.test_id;
  out.className = "muted"; out.textContent = "test call " + id + " to " + number + ": dialling…";
  const t0 = Date.now();
  while (Date.now() - t0 < 180000) {
    await new Promise(r => setTimeout(r, 2000));
    const list = await api("GET", "/api/test-calls?limit=20");
    const row = list.ok && list.data.find(t => t.manual && t.test_id === id && t.number === number);
    if (row) {
      out.className = row.passed ? "ok" : "error";
      out.textContent = "test call " + id + " to " + number + ": " + (row.passed ? "passed (" : "FAILED (") + row.detail + ")";
      return;
    }
  }
  out.className = "error"; out.textContent = "test call " + id + ": no result after 3 minutes (see the log below)";
}));
