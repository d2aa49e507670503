// The gallery: likes, the modal with every step, Replay on a new image.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let current = null;
  // One parameter as text; a nested one (`native`: the pipeline's own arguments) lists its entries.
  function showParam(name, value) {
    if (typeof value !== "object") return `${name} = ${value}`;
    const inner = Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => showParam(k, v)).join(", ");
    return `${name}: ${inner || "none"}`;
  }
  document.querySelectorAll(".like").forEach((b) => b.addEventListener("click", async () => {
    try { b.querySelector("span").textContent = (await api(`/api/publications/${b.dataset.id}/like`, { json: {} })).likes; }
    catch (err) { toast(err.message, true); }
  }));
  async function open(id) {
    const p = await api(`/api/publications/${id}`);
    current = p;
    $("modal-title").textContent = p.title;
    const steps = $("modal-steps");
    steps.replaceChildren(el("p", { class: "muted" }, p.description || ""));
    p.steps.forEach((s) => {
      const params = Object.entries(s.params || {}).filter(([, v]) => v !== null).map(([k, v]) => showParam(k, v)).join(" · ");
      steps.append(el("section", { class: "modal-step" },
        el("div", { class: "pair small-pair" }, el("figure", {}, el("img", { src: s.input_image, alt: "input" }), el("figcaption", {}, "input")),
          el("figure", {}, el("img", { src: s.picked_image, alt: "result" }), el("figcaption", {}, "result"))),
        el("div", {}, el("h3", {}, `Step ${s.number}: “${s.instruction}”`),
          el("p", { class: "small" }, `intent: ${(s.intent || "").replaceAll("_", " ")} · editor: ${s.model} · seed ${s.seed}`),
          el("p", { class: "small" }, `prompt: “${s.prompt || ""}”`),
          el("p", { class: "small muted" }, params || "default parameters"))));
    });
    $("replay-status").textContent = "";
    $("modal").showModal();
  }
  document.querySelectorAll(".open").forEach((b) => b.addEventListener("click", () => open(b.dataset.id).catch((err) => toast(err.message, true))));
  $("modal-close").addEventListener("click", () => $("modal").close());
  $("replay").addEventListener("click", async () => {
    const file = $("replay-file").files[0];
    if (!file) { toast("Choose an image to replay the workflow on.", true); return; }
    const form = new FormData(); form.append("image", file);
    try {
      const { job } = await api(`/api/publications/${current.id}/replay`, { form });
      for (;;) {
        const state = await api(`/api/jobs/${job}`);
        $("replay-status").textContent = `${state.phase}${state.total ? ` ${state.done}/${state.total}` : ""}`;
        if (state.status === "done") { $("replay-status").replaceChildren(el("a", { href: state.result.url }, "Open the replayed session →")); return; }
        if (state.status === "failed") throw new Error(state.error);
        await new Promise((r) => setTimeout(r, 250));
      }
    } catch (err) { toast(err.message, true); $("replay-status").textContent = ""; }
  });
  const wanted = new URLSearchParams(location.search).get("open");
  if (wanted) open(wanted).catch((err) => toast(err.message, true));
})();
