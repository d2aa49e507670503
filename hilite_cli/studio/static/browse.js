// Browse: swap the edited image for its difference map |I_e − I_0| and back.
"use strict";
document.querySelectorAll(".diff-toggle").forEach((b) => b.addEventListener("click", () => {
  const card = b.closest(".row-card");
  const img = card.querySelector("img.edited");
  const diff = img.dataset.showing !== "diff";
  img.dataset.showing = diff ? "diff" : "edited";
  img.src = diff ? img.dataset.diff : img.dataset.edited;
  card.querySelector(".edited-caption").textContent = diff ? "|I_e − I_0|" : "edited";
  b.textContent = diff ? "Show edited" : "Show |I_e − I_0|";
}));
