/* Easel mask painter: its tool bar and shortcuts, and the form under the canvas (prompt, quality and the
 * estimate_cost figure; Inpaint sends the mask to the app-only tool save_mask, then calls inpaint with it). */
(() => {
  'use strict';
  const G = /** @type {any} */ (globalThis).EaselGeometry;
  const C = /** @type {any} */ (globalThis).EaselCommon;
  const h = C.h;
  const TOOLS = [['brush', 'Brush', 'b'], ['eraser', 'Eraser', 'e'], ['rect', 'Box', 'r'], ['ellipse', 'Ellipse', 'o'],
    ['pan', 'Pan', 'h']];

  /**
   * The painter's tool bar (sets painter.toolButtons, size, sizeLabel, zoomLabel and undoButton).
   * @param {any} p the Painter @returns {HTMLElement}
   */
  function toolbar(p) {
    const button = (/** @type {string} */ text, /** @type {() => void} */ fn, /** @type {string} */ title) =>
      h('button', {text, attrs: {type: 'button', title}, on: {click: fn}});
    p.toolButtons = TOOLS.map(([id, label, key]) => h('button', {
      class: 'tool', text: label, attrs: {type: 'button', 'data-tool': id, title: `${label} (${key.toUpperCase()})`},
      on: {click: () => p.setTool(id)},
    }));
    p.size = h('input', {attrs: {type: 'range', min: 1, max: 100, value: 8, 'aria-label': 'Brush size'},
      on: {input: () => p.setRadius(Number(p.size.value))}});
    p.sizeLabel = h('span', {class: 'muted num'});
    p.zoomLabel = h('span', {class: 'muted num'});
    p.undoButton = button('Undo', () => p.undo(), 'Undo (Ctrl+Z)');
    return h('div', {class: 'toolbar'},
      h('div', {class: 'group'}, ...p.toolButtons),
      h('label', {class: 'group'}, 'Size', p.size, p.sizeLabel),
      h('div', {class: 'group'}, button('Invert', () => p.commit({type: 'invert'}), 'Swap marked and unmarked'),
        button('Clear', () => p.commit({type: 'clear'}), 'Unmark everything'), p.undoButton),
      h('div', {class: 'group'}, button('Fit', () => p.fit(), 'Whole image (0)'),
        button('100%', () => p.zoomTo(1), 'Real pixels (1)'), button('−', () => p.zoomBy(1 / 1.5), 'Zoom out (−)'),
        button('+', () => p.zoomBy(1.5), 'Zoom in (+)'), p.zoomLabel));
  }

  /** Shortcuts: B E R O H tools, Ctrl/⌘+Z undo, + − zoom, 0 fit, 1 real pixels. @param {any} p @param {KeyboardEvent} e */
  function onKey(p, e) {
    const target = /** @type {HTMLElement} */ (e.target);
    if (target.tagName === 'TEXTAREA' || target.tagName === 'SELECT' || target.tagName === 'INPUT') return;
    const k = e.key.toLowerCase();
    const tool = TOOLS.find((t) => t[2] === k);
    if ((e.ctrlKey || e.metaKey) && k === 'z') p.undo();
    else if (tool && !e.ctrlKey && !e.metaKey) p.setTool(tool[0]);
    else if (k === '+' || k === '=') p.zoomBy(1.5);
    else if (k === '-') p.zoomBy(1 / 1.5);
    else if (k === '0') p.fit();
    else if (k === '1') p.zoomTo(1);
    else return;
    e.preventDefault();
  }

  /** Ctrl/⌘ + wheel zooms at the pointer (a plain wheel scrolls the page). @param {any} p @param {WheelEvent} e */
  function onWheel(p, e) {
    if (!p.ready || !(e.ctrlKey || e.metaKey)) return;
    e.preventDefault();
    const at = p.local(e);
    p.zoomBy(Math.exp(-e.deltaY / 300), at.x, at.y);
  }

  /** @param {Uint8Array} bytes @returns {string} */
  function base64(bytes) {
    let text = '';
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(text);
  }

  /**
   * The mask as a PNG at its exact size: white = repaint, black = keep.
   * @param {Uint8Array} mask @param {number} w @param {number} h @returns {Promise<string>} base64
   */
  async function maskPng(mask, w, h) {
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    const data = new ImageData(w, h);
    G.toRGBA(mask, w, data.data, {x0: 0, y0: 0, x1: w, y1: h}, [255, 255, 255, 255], [0, 0, 0, 255]);
    /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d')).putImageData(data, 0, 0);
    const blob = await new Promise((resolve, reject) => canvas.toBlob(
      (b) => (b ? resolve(b) : reject(new Error('The mask could not be encoded.'))), 'image/png'));
    return base64(new Uint8Array(await /** @type {Blob} */ (blob).arrayBuffer()));
  }

  class InpaintForm {
    /**
     * @param {any} painter the Painter whose mask is sent (its mask, w, h, busy, el)
     * @param {{bridge: any, image: any, onResult: (result: any, args: Record<string, any>, tool: string) => void,
     *          onCancel: () => void}} options
     */
    constructor(painter, options) {
      this.painter = painter;
      this.o = options;
      this.estimates = 0;
      this.prompt = /** @type {HTMLTextAreaElement} */ (h('textarea', {attrs: {rows: 2, 'aria-label': 'Prompt',
        placeholder: 'What should appear in the marked area?'}}));
      this.quality = /** @type {HTMLSelectElement} */ (h('select', {attrs: {'aria-label': 'Quality'},
        on: {change: () => this.estimate()}}, ...['auto', 'low', 'medium', 'high'].map((q) => h('option', {text: q}))));
      this.estimateLabel = h('span', {class: 'estimate muted'});
      this.submitButton = h('button', {class: 'primary', text: 'Inpaint', attrs: {type: 'button', 'data-action': 'submit'},
        on: {click: () => this.submit()}});
      this.status = h('p', {class: 'status', attrs: {role: 'status', 'aria-live': 'polite'}});
      this.el = h('div', {class: 'form'}, this.prompt,
        h('div', {class: 'row'}, h('label', {}, 'Quality ', this.quality), this.estimateLabel, h('span', {class: 'spacer'}),
          h('button', {text: 'Back', attrs: {type: 'button', title: 'Back to the image'}, on: {click: () => this.o.onCancel()}}),
          this.submitButton),
        this.status);
    }

    /** Ask the server what the inpaint would cost (estimate_cost) at the chosen quality. */
    async estimate() {
      const token = ++this.estimates;
      this.estimateLabel.textContent = 'Estimating the cost…';
      let text = 'Cost estimate unavailable';
      try {
        const res = await this.o.bridge.callTool('estimate_cost',
          {operation: 'inpaint', images: [this.o.image.id], quality: this.quality.value}, 30000);
        const data = C.structuredOf(res);
        if (res && !res.isError && data && typeof data.total_usd === 'number') {
          const range = typeof data.min_usd === 'number' && typeof data.max_usd === 'number'
            ? ` (${C.usd(data.min_usd)}–${C.usd(data.max_usd)})` : '';
          text = `Estimated cost ${C.usd(data.total_usd)}${range}`;
        }
      } catch (error) {
        text = 'Cost estimate unavailable';
      }
      if (token === this.estimates) this.estimateLabel.textContent = text;
    }

    /** @param {string} text @param {boolean} [isError] */
    say(text, isError) {
      this.status.textContent = text;
      this.status.classList.toggle('error', Boolean(isError));
    }

    /** save_mask (app-only tool), then inpaint with the saved mask, then hand the new result over. */
    async submit() {
      const p = this.painter;
      if (!p.ready || p.busy) return;
      const prompt = this.prompt.value.trim();
      if (!G.countMarked(p.mask)) return this.say('Paint the area to repaint first.', true);
      if (!prompt) {
        this.prompt.focus();
        return this.say('Describe what should appear in the marked area.', true);
      }
      p.setBusy(true);
      this.submitButton.setAttribute('disabled', '');
      try {
        this.say('Saving the mask…');
        const bridge = this.o.bridge;
        const png = await maskPng(p.mask, p.w, p.h);
        const saved = await bridge.callTool('save_mask', {image: this.o.image.id, mask_png_base64: png}, 60000);
        const data = C.structuredOf(saved);
        if (!saved || saved.isError || !data || typeof data.path !== 'string') {
          throw new Error(C.textOf(saved) || 'The mask could not be saved.');
        }
        const args = {image: this.o.image.id, prompt, mask: data.path, mask_convention: 'white', quality: this.quality.value};
        const result = await C.runImageTool(bridge, 'inpaint', args, (/** @type {string} */ t) => this.say(t));
        this.say('Done.');
        this.o.onResult(result, args, 'inpaint');
      } catch (error) {
        this.say(error instanceof Error ? error.message : String(error), true);
      } finally {
        p.setBusy(false);
        this.submitButton.removeAttribute('disabled');
      }
    }
  }

  /** @type {any} */ (globalThis).EaselPainterUI = {InpaintForm, toolbar, onKey, onWheel, maskPng, base64};
})();
