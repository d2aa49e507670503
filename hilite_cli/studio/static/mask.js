// A mask pad: an image with a canvas over it; brush strokes and boxes paint the mask (white on black)
// at the image's own resolution, shown as a red overlay.
"use strict";
class MaskPad {
  constructor(container) {
    this.container = container;
    this.tool = "brush";
    this.size = 24;
    this.painted = false;
  }

  load(url) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => { this._build(img); resolve(); };
      img.onerror = () => reject(new Error("the image did not load"));
      img.src = url;
    });
  }

  _build(img) {
    this.container.classList.remove("empty");
    this.container.replaceChildren();
    const w = img.naturalWidth, h = img.naturalHeight;
    img.className = "pad-image";
    this.overlay = el("canvas", { class: "pad-overlay", width: w, height: h });
    this.mask = el("canvas", { width: w, height: h });
    this.mctx = this.mask.getContext("2d");  // transparent, painted white where the mask is
    this.octx = this.overlay.getContext("2d");
    this.container.append(img, this.overlay);
    this.painted = false;
    let start = null;
    const at = (e) => {
      const r = this.overlay.getBoundingClientRect();
      return [(e.clientX - r.left) * w / r.width, (e.clientY - r.top) * h / r.height];
    };
    this.overlay.addEventListener("pointerdown", (e) => {
      this.overlay.setPointerCapture(e.pointerId);
      start = at(e);
      if (this.tool === "brush") this._dot(...start);
    });
    this.overlay.addEventListener("pointermove", (e) => {
      if (!start) return;
      const p = at(e);
      if (this.tool === "brush") { this._line(start, p); start = p; } else { this._redraw(); this._boxOutline(start, p); }
    });
    this.overlay.addEventListener("pointerup", (e) => {
      if (start && this.tool === "box") this._box(start, at(e));
      start = null;
      this._redraw();
    });
  }

  _scale() { return this.mask.width / this.overlay.getBoundingClientRect().width; }
  _dot(x, y) {
    const r = this.size * this._scale() / 2;
    this.mctx.fillStyle = "#fff"; this.mctx.beginPath(); this.mctx.arc(x, y, r, 0, 2 * Math.PI); this.mctx.fill();
    this.painted = true; this._redraw();
  }
  _line(a, b) {
    this.mctx.strokeStyle = "#fff"; this.mctx.lineCap = "round"; this.mctx.lineWidth = this.size * this._scale();
    this.mctx.beginPath(); this.mctx.moveTo(...a); this.mctx.lineTo(...b); this.mctx.stroke();
    this.painted = true; this._redraw();
  }
  _box(a, b) {
    const [x, y, w, h] = [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.abs(a[0] - b[0]), Math.abs(a[1] - b[1])];
    if (w < 2 || h < 2) return;
    this.mctx.fillStyle = "#fff"; this.mctx.fillRect(x, y, w, h);
    this.painted = true;
  }
  _boxOutline(a, b) {
    this.octx.strokeStyle = "#ff3b30"; this.octx.lineWidth = 2 * this._scale(); this.octx.setLineDash([6, 4]);
    this.octx.strokeRect(Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.abs(a[0] - b[0]), Math.abs(a[1] - b[1]));
  }
  _redraw() {
    const { width: w, height: h } = this.overlay;
    this.octx.clearRect(0, 0, w, h);
    this.octx.globalAlpha = 0.45;
    this.octx.drawImage(this.mask, 0, 0);
    this.octx.globalCompositeOperation = "source-in";
    this.octx.fillStyle = "#ff3b30"; this.octx.fillRect(0, 0, w, h);
    this.octx.globalCompositeOperation = "source-over";
    this.octx.globalAlpha = 1;
  }
  clear() {
    if (!this.mask) return;
    this.mctx.clearRect(0, 0, this.mask.width, this.mask.height);
    this.painted = false; this._redraw();
  }
  // The mask as the stages read it: white where to edit, on black.
  blob() {
    const out = el("canvas", { width: this.mask.width, height: this.mask.height });
    const ctx = out.getContext("2d");
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, out.width, out.height); ctx.drawImage(this.mask, 0, 0);
    return new Promise((resolve) => out.toBlob(resolve, "image/png"));
  }
}
