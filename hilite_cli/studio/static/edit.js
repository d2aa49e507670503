// The edit page: start a session, masks, Translate, Run (background job + progress), pick + feedback,
// steps with revert, publish.
"use strict";
(function () {
  const startForm = document.getElementById("start-form");
  if (startForm) {
    startForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const form = new FormData(startForm);
      try {
        const session = await api("/api/sessions", { form });
        location.href = `/edit?session=${encodeURIComponent(session.name)}`;
      } catch (err) { toast(err.message, true); }
    });
    return;
  }
  const dataNode = document.getElementById("session-data");
  if (!dataNode) return;
  let session = JSON.parse(dataNode.textContent);
  const $ = (id) => document.getElementById(id);
  const basePad = new MaskPad($("base-pad"));
  const refPad = new MaskPad($("reference-pad"));
  let reference = null;
  let shownStep = null;

  const pads = [basePad, refPad];
  document.querySelectorAll(".tool").forEach((b) => b.addEventListener("click", () => {
    document.querySelectorAll(".tool").forEach((t) => t.classList.toggle("on", t === b));
    pads.forEach((p) => { p.tool = b.dataset.tool; });
  }));
  $("brush-size").addEventListener("input", (e) => pads.forEach((p) => { p.size = Number(e.target.value); }));
  $("clear-masks").addEventListener("click", () => pads.forEach((p) => p.clear()));

  document.querySelectorAll('input[type="range"][data-knob]').forEach((r) => r.addEventListener("input", () => {
    document.querySelector(`.knob-default[data-knob="${r.dataset.knob}"]`).checked = false;
    showKnob(r.dataset.knob);
  }));
  document.querySelectorAll(".knob-default").forEach((c) => c.addEventListener("change", () => showKnob(c.dataset.knob)));
  function showKnob(name) {
    const auto = document.querySelector(`.knob-default[data-knob="${name}"]`).checked;
    $(`out-${name}`).textContent = auto ? "default" : $(`knob-${name}`).value;
  }
  function knobs() {
    const out = {};
    document.querySelectorAll(".knob-default").forEach((c) => { out[c.dataset.knob] = c.checked ? null : Number($(`knob-${c.dataset.knob}`).value); });
    return out;
  }

  $("reference-file").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    const form = new FormData(); form.append("file", file);
    try {
      const up = await api("/api/uploads", { form });
      reference = up.blob;
      await refPad.load(up.url);
    } catch (err) { toast(err.message, true); }
  });

  async function uploadMask(pad) {
    if (!pad.painted) return null;
    const form = new FormData(); form.append("file", await pad.blob(), "mask.png");
    return (await api("/api/uploads", { form })).blob;
  }
  async function inputs() {
    const instruction = $("instruction").value.trim();
    if (!instruction) throw new Error("Type an instruction first.");
    return { instruction, reference, mask: await uploadMask(basePad), reference_mask: reference ? await uploadMask(refPad) : null };
  }

  $("translate").addEventListener("click", async () => {
    try {
      const t = await api(`/api/sessions/${encodeURIComponent(session.name)}/translate`, { json: await inputs() });
      const box = $("translation");
      box.replaceChildren(el("p", {}, "Intent: ", el("strong", { id: "intent" }, t.intent.replaceAll("_", " ")),
        el("span", { class: "muted small" }, ` (${t.router.provider})`)));
      const list = el("ul", { class: "prompts" });
      t.prompts.forEach((p) => list.append(el("li", {}, el("span", { class: "label" }, p.label), p.prompt)));
      box.append(list);
      box.hidden = false;
    } catch (err) { toast(err.message, true); }
  });

  $("run").addEventListener("click", async () => {
    let job;
    try {
      job = (await api(`/api/sessions/${encodeURIComponent(session.name)}/run`, { json: { ...(await inputs()), knobs: knobs() } })).job;
    } catch (err) { toast(err.message, true); return; }
    $("run").disabled = true;
    $("progress").hidden = false;
    setProgress("queued", 0, 0);
    try {
      const state = await poll(job);
      await refresh();
      const step = state.result.step;
      if (step.status === "failed") toast(`The step failed: ${step.error}`, true);
      showCandidates(session.steps.find((s) => s.id === step.id));
    } catch (err) { toast(err.message, true); }
    $("run").disabled = false;
    $("progress").hidden = true;
  });

  async function poll(job) {
    for (;;) {
      const state = await api(`/api/jobs/${job}`);
      setProgress(state.phase, state.done, state.total);
      if (state.status === "done") return state;
      if (state.status === "failed") throw new Error(state.error);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  function setProgress(phase, done, total) {
    $("progress-text").textContent = total ? `${phase} ${done}/${total}` : phase;
    $("progress-bar").style.width = total ? `${Math.round(100 * done / total)}%` : "8%";
  }

  let chosen = null;
  function showCandidates(step) {
    shownStep = step;
    const grid = $("candidates");
    grid.replaceChildren();
    $("results").hidden = !step || (!step.candidates.length && !step.error);
    if (!step) return;
    $("step-problem").hidden = !step.error;
    $("step-problem").textContent = step.error || "";
    chosen = step.pick;
    step.candidates.forEach((c) => {
      const card = el("button", { type: "button", class: "candidate" + (c.slot === step.pick ? " on" : ""), "data-slot": c.slot },
        el("img", { src: c.image, alt: `slot ${c.slot}` }), el("span", { class: "slot" }, c.slot));
      if (c.model) card.append(el("span", { class: "model" }, c.model));
      card.addEventListener("click", () => {
        if (step.pick) return;
        chosen = c.slot;
        grid.querySelectorAll(".candidate").forEach((b) => b.classList.toggle("on", b === card));
        $("keep-slot").textContent = c.slot;
      });
      grid.append(card);
    });
    const picked = step.pick !== null;
    $("feedback").hidden = picked || !step.candidates.length;
    if (!picked) { makeScales($("feedback")); $("keep-slot").textContent = "–"; $("comment").value = ""; $("offensive").checked = false; $("offensive-description").hidden = true; }
    const reveal = $("reveal");
    reveal.hidden = !picked;
    if (picked) {
      reveal.replaceChildren(el("p", {}, `Step ${step.number}: you kept slot ${step.pick}.`));
      const list = el("ul", { class: "prompts" });
      step.candidates.forEach((c) => list.append(el("li", {}, el("span", { class: "label" }, `slot ${c.slot}`), `${c.model} · seed ${c.seed} · “${c.prompt || ""}”`)));
      reveal.append(list);
    }
  }

  $("offensive").addEventListener("change", (e) => { $("offensive-description").hidden = !e.target.checked; });
  $("feedback").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!chosen) { toast("Click the candidate you want to keep first.", true); return; }
    const offensive = $("offensive").checked;
    try {
      const step = await api(`/api/steps/${shownStep.id}/pick`, { json: {
        slot: chosen, matches_instruction: scaleValue($("feedback"), "matches_instruction"),
        matches_original: scaleValue($("feedback"), "matches_original"), offensive,
        offensive_description: offensive ? $("offensive-description").value : null, comment: $("comment").value || null } });
      await refresh();
      showCandidates(session.steps.find((s) => s.id === step.id));
      $("instruction").value = "";
      $("translation").hidden = true;
      toast(`Kept slot ${step.pick}: it is now the current image.`);
    } catch (err) { toast(err.message, true); }
  });

  async function revertTo(number) {
    try {
      session = await api(`/api/sessions/${encodeURIComponent(session.name)}/revert`, { json: { step: number } });
      render();
      showCandidates(null);
      toast(number ? `Back to step ${number}.` : "Back to the original image.");
    } catch (err) { toast(err.message, true); }
  }
  $("revert-0").addEventListener("click", () => revertTo(0));

  $("publish-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const satisfaction = $("pub-satisfaction").value;
    try {
      const out = await api(`/api/sessions/${encodeURIComponent(session.name)}/publish`, { json: {
        title: $("pub-title").value, description: $("pub-description").value,
        public: document.querySelector('input[name="visibility"]:checked').value === "public",
        satisfaction: satisfaction ? Number(satisfaction) : null } });
      $("publish-result").replaceChildren("Published. ", el("a", { href: out.url, id: "publication-link" }, "See it in the gallery →"));
    } catch (err) { toast(err.message, true); }
  });

  async function refresh() {
    session = await api(`/api/sessions/${encodeURIComponent(session.name)}`);
    render();
  }

  function render() {
    const list = $("steps");
    list.replaceChildren();
    session.steps.forEach((s) => {
      const item = el("li", { class: `step ${s.reverted ? "reverted" : s.status}`, "data-number": s.number },
        el("div", { class: "step-head" }, el("strong", {}, `Step ${s.number}`), el("span", { class: "tag" }, s.reverted ? "reverted" : s.status)),
        el("p", { class: "small" }, s.instruction));
      if (s.picked_image) item.prepend(el("img", { src: s.picked_image, alt: `step ${s.number}` }));
      const actions = el("div", { class: "step-actions" });
      if (s.status === "ready" && !s.reverted) actions.append(el("button", { class: "ghost small", onclick: () => showCandidates(s) }, "Pick…"));
      if (s.picked_image && !s.reverted) actions.append(el("button", { class: "ghost small revert", "data-step": s.number, onclick: () => revertTo(s.number) }, "Revert to here"));
      if (s.pick) actions.append(el("button", { class: "ghost small", onclick: () => showCandidates(s) }, "Details"));
      item.append(actions);
      list.append(item);
    });
    if (!session.steps.length) list.append(el("li", { class: "muted small" }, "No steps yet: type an instruction and Run."));
    $("current-image").src = session.current_image;
    $("base-note").textContent = session.current_step ? `from step ${session.current_step}` : "original";
    if (basePad.loaded !== session.current_image) { basePad.loaded = session.current_image; basePad.load(session.current_image).catch((err) => toast(err.message, true)); }
  }
  render();
  const pending = [...session.steps].reverse().find((s) => s.status === "ready" && !s.reverted);
  if (pending) showCandidates(pending);
})();
