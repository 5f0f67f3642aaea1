/* Easel mask painter: mark the area to repaint on the image at its real resolution (brush, eraser, box,
 * ellipse, invert, clear, undo; zoom and pan). The geometry and the mask itself live in geometry.js (pure,
 * tested); the tool bar, shortcuts and the prompt/cost/Inpaint form live in painter-ui.js. */
(() => {
  'use strict';
  const G = /** @type {any} */ (globalThis).EaselGeometry;
  const UI = /** @type {any} */ (globalThis).EaselPainterUI;
  const h = /** @type {any} */ (globalThis).EaselCommon.h;

  const MARK = [255, 40, 110, 150];   // how the marked area shows over the image
  const CLEAR = [0, 0, 0, 0];
  const KEEP_ACTIONS = 60;            // undo steps kept; older ones are folded into a base mask
  const PAD = 8;

  class Painter {
    /**
     * @param {HTMLElement} root
     * @param {{bridge: any, image: any, source: string, height: number,
     *          onResult: (result: any, args: Record<string, any>, tool: string) => void, onCancel: () => void}} options
     */
    constructor(root, options) {
      this.o = options;
      this.img = new Image();
      this.w = this.h = 0;                   // the image's real size, once decoded
      /** @type {Uint8Array} 1 = repaint, at the image's real size */
      this.mask = new Uint8Array(0);
      /** @type {Uint8Array | null} the mask before actions[0] once old actions are folded in */
      this.base = null;
      /** @type {any[]} the actions since `base`, replayed by undo */
      this.actions = [];
      this.tool = 'brush';
      this.radius = 8;
      this.view = {scale: 1, panX: 0, panY: 0};
      this.fitted = true;
      /** @type {any} the pointer drag under way */
      this.drag = null;
      /** @type {{x: number, y: number} | null} */
      this.pointer = null;
      this.ready = this.busy = false;
      this.frame = 0;
      this.overlay = document.createElement('canvas');
      this.build(root);
      /** @type {any} */ (globalThis).EaselPainter.current = this;
    }

    /** @param {HTMLElement} root */
    build(root) {
      this.canvas = /** @type {HTMLCanvasElement} */ (h('canvas', {attrs: {tabindex: 0,
        'aria-label': 'The image: paint the area to repaint'}}));
      this.stage = h('div', {class: 'stage'}, this.canvas);
      this.stage.style.height = `${Math.round(this.o.height)}px`;
      this.form = new UI.InpaintForm(this, this.o);
      this.el = h('section', {class: 'painter'}, UI.toolbar(this), this.stage, this.form.el);
      const c = this.canvas;
      c.addEventListener('pointerdown', (e) => this.down(e));
      c.addEventListener('pointermove', (e) => this.move(e));
      c.addEventListener('pointerup', (e) => this.up(e));
      c.addEventListener('pointercancel', (e) => this.up(e));
      c.addEventListener('pointerleave', () => { this.pointer = null; this.render(); });
      c.addEventListener('wheel', (e) => UI.onWheel(this, e), {passive: false});
      this.el.addEventListener('keydown', (e) => UI.onKey(this, e));
      root.append(this.el);
      this.observer = new ResizeObserver(() => this.resize());
      this.observer.observe(this.stage);
      this.setTool('brush');
    }

    /** Decode the image, size the mask to its real pixels, fit it in view and ask for the cost. */
    async open() {
      this.img.src = this.o.source;
      await this.img.decode();
      // The mask is at the image's real size; the picture may be a smaller rendition of it.
      this.w = this.o.image.width || this.img.naturalWidth;
      this.h = this.o.image.height || this.img.naturalHeight;
      this.mask = new Uint8Array(this.w * this.h);
      this.overlay.width = this.w;
      this.overlay.height = this.h;
      this.overlayData = new ImageData(this.w, this.h);
      this.size.setAttribute('max', String(Math.max(8, Math.round(Math.min(this.w, this.h) / 4))));
      this.setRadius(Math.max(2, Math.round(Math.min(this.w, this.h) / 40)));
      this.ready = true;
      this.resize();
      this.fit();
      this.form.estimate();
    }

    destroy() {
      this.observer.disconnect();
      this.el.remove();
      const ns = /** @type {any} */ (globalThis).EaselPainter;
      if (ns.current === this) ns.current = null;
    }

    /** @param {string} tool */
    setTool(tool) {
      this.tool = tool;
      for (const b of this.toolButtons) b.setAttribute('aria-pressed', String(b.dataset.tool === tool));
      this.canvas.dataset.tool = tool;
      this.render();
    }

    /** @param {number} radius brush radius in image pixels */
    setRadius(radius) {
      this.radius = Math.max(1, Math.round(radius));
      this.size.value = String(this.radius);
      this.sizeLabel.textContent = `${this.radius * 2} px`;
    }

    resize() {
      const dpr = window.devicePixelRatio || 1;
      const w = this.stage.clientWidth;
      const h = this.stage.clientHeight;
      this.canvas.width = Math.max(1, Math.round(w * dpr));
      this.canvas.height = Math.max(1, Math.round(h * dpr));
      this.canvas.style.width = `${w}px`;
      this.canvas.style.height = `${h}px`;
      if (this.fitted) this.fit();
      else this.setView(this.view);
    }

    /** @param {any} view */
    setView(view) {
      if (!this.ready) return;
      this.view = G.clampPan(view, this.w, this.h, this.stage.clientWidth, this.stage.clientHeight);
      this.zoomLabel.textContent = `${Math.round(this.view.scale * 100)}%`;
      this.render();
    }

    fit() {
      if (!this.ready) return;
      const v = G.fitView(this.w, this.h, Math.max(1, this.stage.clientWidth - 2 * PAD),
        Math.max(1, this.stage.clientHeight - 2 * PAD));
      this.fitted = true;
      this.setView({scale: v.scale, panX: v.panX + PAD, panY: v.panY + PAD});
    }

    /** @param {number} factor */
    zoomBy(factor, cx = this.stage.clientWidth / 2, cy = this.stage.clientHeight / 2) {
      this.fitted = false;
      this.setView(G.zoomAt(this.view, factor, cx, cy));
    }

    /** @param {number} scale */
    zoomTo(scale) {
      this.zoomBy(scale / this.view.scale);
    }

    /** @param {PointerEvent | WheelEvent} e @returns {{x: number, y: number}} canvas CSS px */
    local(e) {
      const r = this.canvas.getBoundingClientRect();
      return {x: e.clientX - r.left, y: e.clientY - r.top};
    }

    /** @param {PointerEvent} e */
    down(e) {
      if (!this.ready || this.busy || (e.button !== 0 && e.button !== 1)) return;
      e.preventDefault();
      this.canvas.focus();
      this.canvas.setPointerCapture(e.pointerId);
      const p = this.local(e);
      const q = G.viewToImage(this.view, p.x, p.y);
      const tool = e.button === 1 ? 'pan' : this.tool;
      if (tool === 'pan') {
        this.drag = {tool, start: p, view: this.view};
      } else if (tool === 'brush' || tool === 'eraser') {
        const action = {type: 'stroke', value: tool === 'brush' ? 1 : 0, radius: this.radius, points: [q.x, q.y]};
        this.drag = {tool, action};
        this.refresh(G.paintStroke(this.mask, this.w, this.h, action.points, action.radius, action.value));
      } else {
        this.drag = {tool, action: {type: tool, value: 1, a: q, b: q}};
      }
    }

    /** @param {PointerEvent} e */
    move(e) {
      const p = this.local(e);
      this.pointer = p;
      const d = this.drag;
      if (d && d.tool === 'pan') {
        this.fitted = false;
        this.setView({scale: d.view.scale, panX: d.view.panX + p.x - d.start.x, panY: d.view.panY + p.y - d.start.y});
        return;
      }
      if (d) {
        const q = G.viewToImage(this.view, p.x, p.y);
        const a = d.action;
        if (a.type === 'stroke') {
          const last = {x: a.points[a.points.length - 2], y: a.points[a.points.length - 1]};
          a.points.push(q.x, q.y);
          this.refresh(G.paintSegment(this.mask, this.w, this.h, last, q, a.radius, a.value));
        } else {
          a.b = q;
        }
      }
      this.render();
    }

    /** @param {PointerEvent} e */
    up(e) {
      if (!this.drag) return;
      if (e.type === 'pointerup') this.move(e);
      const d = this.drag;
      this.drag = null;
      if (d.tool === 'pan') return;
      const a = d.action;
      if (a.type === 'stroke') this.remember(a);
      else if (Math.abs(a.b.x - a.a.x) >= 1 && Math.abs(a.b.y - a.a.y) >= 1) this.commit(a);
      this.render();
    }

    /** Apply an action to the mask and remember it. @param {any} action */
    commit(action) {
      if (!this.ready || this.busy) return;
      this.refresh(G.applyAction(this.mask, this.w, this.h, action));
      this.remember(action);
    }

    /** @param {any} action an action already applied to the mask */
    remember(action) {
      this.actions.push(action);
      if (this.actions.length > KEEP_ACTIONS) {
        this.base = this.base || new Uint8Array(this.w * this.h);
        G.applyAction(this.base, this.w, this.h, this.actions.shift());
      }
      this.render();
    }

    undo() {
      if (!this.ready || this.busy || !this.actions.length) return;
      this.actions.pop();
      this.mask = this.base ? this.base.slice() : new Uint8Array(this.w * this.h);
      for (const action of this.actions) G.applyAction(this.mask, this.w, this.h, action);
      this.refresh({x0: 0, y0: 0, x1: this.w, y1: this.h});
    }

    /** Redraw the marked-area overlay inside `rect`. @param {{x0: number, y0: number, x1: number, y1: number}} rect */
    refresh(rect) {
      const width = rect.x1 - rect.x0;
      const height = rect.y1 - rect.y0;
      if (width > 0 && height > 0 && this.overlayData) {
        G.toRGBA(this.mask, this.w, this.overlayData.data, rect, MARK, CLEAR);
        const ctx = /** @type {CanvasRenderingContext2D} */ (this.overlay.getContext('2d'));
        ctx.putImageData(this.overlayData, 0, 0, rect.x0, rect.y0, width, height);
      }
      this.render();
    }

    render() {
      if (this.frame) return;
      this.frame = window.requestAnimationFrame(() => {
        this.frame = 0;
        this.draw();
      });
    }

    draw() {
      const ctx = /** @type {CanvasRenderingContext2D} */ (this.canvas.getContext('2d'));
      const dpr = window.devicePixelRatio || 1;
      const {scale, panX, panY} = this.view;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
      if (!this.ready) return;
      ctx.setTransform(dpr * scale, 0, 0, dpr * scale, dpr * panX, dpr * panY);
      ctx.imageSmoothingEnabled = scale < 1;
      ctx.drawImage(this.img, 0, 0, this.w, this.h);
      ctx.drawImage(this.overlay, 0, 0);
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = 'rgba(255, 255, 255, 0.9)';
      const d = this.drag;
      if (d && d.action && d.action.type !== 'stroke') {
        const a = G.imageToView(this.view, d.action.a.x, d.action.a.y);
        const b = G.imageToView(this.view, d.action.b.x, d.action.b.y);
        ctx.setLineDash([6, 4]);
        ctx.beginPath();
        if (d.action.type === 'rect') ctx.rect(a.x, a.y, b.x - a.x, b.y - a.y);
        else ctx.ellipse((a.x + b.x) / 2, (a.y + b.y) / 2, Math.abs(b.x - a.x) / 2, Math.abs(b.y - a.y) / 2, 0, 0, 2 * Math.PI);
        ctx.stroke();
        ctx.setLineDash([]);
      }
      if (this.pointer && (this.tool === 'brush' || this.tool === 'eraser')) {
        ctx.beginPath();
        ctx.arc(this.pointer.x, this.pointer.y, Math.max(1, this.radius * scale), 0, 2 * Math.PI);
        ctx.stroke();
      }
      this.undoButton.toggleAttribute('disabled', !this.actions.length || this.busy);
    }

    /** @param {boolean} busy while the mask is being sent and inpainted, the canvas does not change */
    setBusy(busy) {
      this.busy = busy;
      this.el.classList.toggle('busy', busy);
      this.render();
    }
  }

  /** @type {any} */ (globalThis).EaselPainter = {Painter, current: null};
})();
