// Shared helpers: CSRF-carrying fetch, toasts, 1–5 scales.
"use strict";
const CSRF = document.querySelector('meta[name="csrf-token"]').content;

async function api(path, { json, form, method } = {}) {
  const options = { method: method || (json || form ? "POST" : "GET"), headers: { "X-CSRF-Token": CSRF }, credentials: "same-origin" };
  if (json !== undefined) { options.headers["Content-Type"] = "application/json"; options.body = JSON.stringify(json); }
  if (form !== undefined) options.body = form;
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function toast(message, bad = false) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = "toast show" + (bad ? " bad" : "");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.className = "toast"; }, 2500);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

// A row of 1–5 buttons; the chosen value is read from the container's dataset.
function makeScales(root) {
  root.querySelectorAll(".scale").forEach((scale) => {
    scale.replaceChildren();
    delete scale.dataset.value;
    for (let i = 1; i <= 5; i++) {
      scale.append(el("button", { type: "button", class: "score", "data-value": i, onclick: () => {
        scale.dataset.value = i;
        scale.querySelectorAll(".score").forEach((b) => b.classList.toggle("on", Number(b.dataset.value) === i));
      } }, String(i)));
    }
  });
}

function scaleValue(root, name) {
  const v = root.querySelector(`.scale[data-name="${name}"]`).dataset.value;
  return v === undefined ? null : Number(v);
}
