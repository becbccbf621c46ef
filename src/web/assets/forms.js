"use strict";
// Configuration forms (/settings/...): every field carries its configuration path
// (data-path), the key the checker names in its problems. Changed fields go to
// /api/config/edit/check as you type and to /api/config/edit on save; each problem
// lands next to the field its key names (or the nearest enclosing one).
(() => {
  const root = document.getElementById("forms");
  if (!root) return;
  const CSRF = (document.querySelector('meta[name="csrf"]') || {}).content || "";
  const base = Number(root.dataset.baseVersion);
  const saved = new URLSearchParams(location.search).get("saved");
  if (saved) root.insertAdjacentHTML("beforebegin", `<p class="ok" id="saved">Saved as version ${Number(saved)}; new calls use it.</p>`);
  async function post(path, body) {
    const r = await fetch(path, { method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": CSRF, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    let data = null;
    try { data = await r.json(); } catch (e) { /* no body */ }
    if (r.status === 401) location.href = "/login";
    return { ok: r.ok, status: r.status, data };
  }
  const changed = el => el.type === "checkbox" ? el.checked !== el.defaultChecked
    : el.tagName === "SELECT" ? [...el.options].some(o => o.selected !== o.defaultSelected)
    : el.value !== el.defaultValue;
  function value(el) {
    const k = el.dataset.kind;
    if (k === "bool") return el.checked;
    const v = el.value.trim();
    if (k === "list") { const a = v.split(",").map(s => s.trim()).filter(s => s); return a.length ? a : null; }
    if (k === "int" || k === "optint") { if (v === "") return k === "int" ? "" : null; return /^-?\d+$/.test(v) ? Number(v) : v; }
    if (k === "text") return v;
    return v === "" ? null : v;
  }
  // not inside a hidden (not added) or removed entry
  function live(el, form) {
    for (let f = el.closest("fieldset"); f && form.contains(f); f = f.parentElement.closest("fieldset"))
      if (f.hidden || f.classList.contains("removed")) return false;
    return true;
  }
  const box = el => el.closest("fieldset, form");
  function edits(form) {
    const out = [], fields = [...form.querySelectorAll("[data-path]")].filter(el => live(el, form));
    const fresh = new Set();
    for (const el of fields) if (changed(el)) {
      out.push({ path: el.dataset.path, value: value(el) });
      // a table not in the text yet gets its required keys too (and so do the new tables around it)
      for (let b = box(el); b && form.contains(b); b = b === form ? null : box(b.parentElement))
        if (b.classList.contains("fresh")) fresh.add(b);
    }
    for (const el of fields) if (!changed(el) && el.dataset.required && fresh.has(box(el)))
      out.push({ path: el.dataset.path, value: value(el) });
    for (const f of form.querySelectorAll("fieldset.item.removed")) if (!f.hidden) out.push({ path: f.dataset.item, value: null });
    return out;
  }
  function clear(form) {
    form.querySelectorAll(".field-error").forEach(e => e.textContent = "");
    form.querySelectorAll("[aria-invalid]").forEach(e => e.removeAttribute("aria-invalid"));
    form.querySelector("ul.problems").innerHTML = "";
    form.querySelector("p.state").textContent = "";
  }
  function show(form, res, okText) {
    clear(form);
    const state = form.querySelector("p.state");
    if (res.ok) { state.className = "state ok"; state.textContent = okText; return; }
    state.className = "state error";
    state.textContent = (res.data && res.data.error) || ("failed (" + res.status + ")");
    const list = form.querySelector("ul.problems");
    for (const p of (res.data && res.data.problems) || []) {
      let key = p.key, slot = null;
      while (key) {
        slot = form.querySelector(`.field-error[data-error-for="${CSS.escape(key)}"]`);
        if (slot && live(slot, form)) break;
        slot = null;
        const up = key.replace(/(\[\d+\]|\.[a-z0-9_]+)$/, "");
        if (up === key) break;
        key = up;
      }
      if (slot) {
        slot.textContent += (slot.textContent ? " " : "") + p.message;
        const field = form.querySelector(`[data-path="${CSS.escape(key)}"]`);
        if (field) field.setAttribute("aria-invalid", "true");
      } else {
        const li = document.createElement("li"); li.className = "problem";
        li.textContent = (p.line != null ? `line ${p.line}: ` : "") + (p.key ? p.key + ": " : "") + p.message;
        list.appendChild(li);
      }
    }
  }
  for (const form of root.querySelectorAll("form.cfg")) {
    let timer = null, seq = 0;
    const check = async () => {
      const e = edits(form), n = ++seq;
      if (!e.length) { clear(form); return; }
      const res = await post("/api/config/edit/check", { base_version: base, edits: e });
      if (n === seq) show(form, res, "valid: Save to make it a new version");
    };
    const soon = () => { clearTimeout(timer); timer = setTimeout(check, 500); };
    form.addEventListener("input", soon);
    form.addEventListener("change", ev => {
      if (ev.target.classList.contains("remove")) ev.target.closest("fieldset").classList.toggle("removed", ev.target.checked);
      soon();
    });
    form.addEventListener("click", ev => {
      const b = ev.target.closest("button.add-item");
      if (!b) return;
      const f = b.previousElementSibling; f.hidden = false; b.hidden = true;
      const first = f.querySelector("[data-path]"); if (first) first.focus();
    });
    form.addEventListener("submit", async ev => {
      ev.preventDefault(); clearTimeout(timer); seq++;
      const e = edits(form);
      if (!e.length) { show(form, { ok: true }, "nothing changed"); return; }
      const state = form.querySelector("p.state"); state.className = "state muted"; state.textContent = "saving…";
      const res = await post("/api/config/edit", { base_version: base, edits: e });
      if (res.ok) location.href = location.pathname + "?saved=" + res.data.version; else show(form, res, "");
    });
    const del = form.querySelector("button.delete");
    if (del) del.addEventListener("click", async () => {
      if (!confirm(del.textContent + "? It is saved as a new version at once.")) return;
      const res = await post("/api/config/edit", { base_version: base, edits: [{ path: form.dataset.item, value: null }] });
      if (res.ok) location.href = location.pathname + "?saved=" + res.data.version; else show(form, res, "");
    });
  }
})();
