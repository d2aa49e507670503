// A rater's task: two 1–5 scores, comment, submit or skip; the next task loads with the page.
"use strict";
(function () {
  const form = document.getElementById("rate-form");
  if (!form) return;
  makeScales(form);
  async function send(skip) {
    const body = { item: form.dataset.item, skip, comment: document.getElementById("rate-comment").value || null,
      instruction: scaleValue(form, "instruction"), aesthetics: scaleValue(form, "aesthetics") };
    if (!skip && (body.instruction === null || body.aesthetics === null)) { toast("Give both scores (or skip).", true); return; }
    try { await api("/api/rate", { json: body }); location.reload(); } catch (err) { toast(err.message, true); }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); send(false); });
  document.getElementById("rate-skip").addEventListener("click", () => send(true));
})();
