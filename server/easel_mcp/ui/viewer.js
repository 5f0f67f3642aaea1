/* Easel result viewer: shows an image tool's result (a display-size rendition read through the host, or
 * the previews the result carried), and runs Edit, Outpaint and the mask painter on it through the host's
 * tools/call. The painter opens inside this view (there is no separate painter resource). */
(() => {
  'use strict';
  const {Bridge, applyHostContext} = /** @type {any} */ (globalThis).EaselBridge;
  const C = /** @type {any} */ (globalThis).EaselCommon;
  const h = C.h;

  const RATIOS = ['16:9', '9:16', '1:1', '4:3', '3:2', '21:9'];
  const DONE = {generate: 'Generated', edit: 'Edited', inpaint: 'Inpainted', outpaint: 'Outpainted'};
  const NO_HOST = 'This Easel view needs a host that supports MCP Apps. The tool result holds the same ' +
    'information as text: the image ids, paths and cost.';
  const OUTPAINT_PROMPT = 'Continue the scene naturally beyond its borders.';
  const CONTEXT_ACTIONS = 5;  // how many of the view's recent actions the model is told about

  const state = {
    /** @type {any} */ bridge: null,
    /** @type {Record<string, any>} */ args: {},
    /** @type {any} */ result: null,
    /** @type {Array<{result: any, args: Record<string, any>}>} */ history: [],
    /** @type {string[]} what the user did in the view, oldest first (the last CONTEXT_ACTIONS) */ actions: [],
    selected: 0,
    busy: false,
    received: false,
    /** @type {any} */ painter: null,
    /** @type {HTMLElement | null} */ statusEl: null,
  };

  const app = () => /** @type {HTMLElement} */ (document.getElementById('app'));

  /** @param {string} text */
  function notice(text) {
    closePainter();
    app().replaceChildren(h('p', {class: 'notice', text}));
  }

  /** @param {string} text @param {boolean} [isError] */
  function say(text, isError) {
    if (!state.statusEl) return notice(text);
    state.statusEl.textContent = text;
    state.statusEl.classList.toggle('error', Boolean(isError));
  }

  function closePainter() {
    if (state.painter) state.painter.destroy();
    state.painter = null;
  }

  /** A tool result from the host (ui/notifications/tool-result). @param {any} callResult */
  async function receive(callResult) {
    const out = C.unpack(callResult);
    if (state.received) {
      // Hosts may also echo the view's own tools/call results: only new images are shown, and never
      // while the painter is open or a call of the view is under way.
      const shown = new Set(((state.result && state.result.images) || []).map((/** @type {any} */ i) => i.id));
      const seen = out.result && out.result.images.every((/** @type {any} */ i) => shown.has(i.id));
      if (!out.result || seen || state.busy || state.painter) return;
      return adopt(out.result, {}, 'tool');
    }
    state.received = true;
    try {
      if (out.error) return notice(out.error);
      const result = out.result || await C.follow(state.bridge, out, notice);
      show(result, state.args);
    } catch (error) {
      notice(error instanceof Error ? error.message : String(error));
    }
  }

  /** @param {any} result an ImageResult @param {Record<string, any>} args the call's arguments */
  function show(result, args) {
    closePainter();
    state.result = result;
    state.args = args || {};
    state.selected = 0;
    render();
  }

  function render() {
    const r = state.result;
    const back = state.history.length
      ? h('button', {text: '← Previous', attrs: {type: 'button'}, on: {click: previous}}) : null;
    const header = h('header', {class: 'bar'}, h('h1', {text: `${DONE[r.operation] || r.operation} · ${r.model}`}), back);
    const gallery = h('div', {class: 'gallery'}, ...r.images.map(figure));
    if (!r.images.length) gallery.append(h('p', {class: 'muted', text: r.dry_run ? 'Dry run: no image was made.' : 'No images.'}));
    const rows = [
      ['Prompt', state.args.prompt], ['Revised prompt', r.revised_prompt],
      ['Model', `${r.model} (${r.provider})`], ['Requested', `${r.size}, quality ${r.quality}`], ['Cost', C.costLine(r)],
    ].filter((row) => typeof row[1] === 'string' && row[1]);
    const meta = h('dl', {class: 'meta'}, ...rows.flatMap(([k, v]) => [h('dt', {text: k}), h('dd', {text: v})]));
    const warnings = (r.warnings || []).length
      ? h('ul', {class: 'warnings'}, ...r.warnings.map((/** @type {string} */ w) => h('li', {text: w}))) : null;
    state.statusEl = h('p', {class: 'status', attrs: {role: 'status', 'aria-live': 'polite'}});
    app().replaceChildren(h('section', {class: 'viewer'}, header, gallery, meta, warnings,
      r.images.length ? actions() : null, state.statusEl));
  }

  /** @param {any} image @param {number} index */
  function figure(image, index) {
    const img = h('img', {class: 'result', attrs: {alt: `Image ${index + 1}: ${image.width}×${image.height}`,
      width: image.width, height: image.height, 'data-id': image.id}});
    const caption = h('figcaption', {},
      h('span', {text: `${image.width}×${image.height} · ${String(image.format).toUpperCase()} · ${C.size(image.bytes)}`}),
      h('code', {class: 'path', text: image.relative_path, attrs: {title: image.path}}));
    const fig = h('figure', {class: index === state.selected ? 'selected' : '', attrs: {tabindex: 0},
      on: {click: () => select(index), keydown: (/** @type {KeyboardEvent} */ e) => e.key === 'Enter' && select(index)}},
    img, caption);
    C.imageSource(state.bridge, image).then((/** @type {string} */ src) => { img.setAttribute('src', src); })
      .catch((/** @type {Error} */ error) => { fig.classList.add('failed'); caption.prepend(h('span', {text: error.message})); });
    return fig;
  }

  /** @param {number} index */
  function select(index) {
    state.selected = index;
    document.querySelectorAll('.gallery figure').forEach((f, i) => f.classList.toggle('selected', i === index));
  }

  function actions() {
    const editPrompt = /** @type {HTMLTextAreaElement} */ (h('textarea', {attrs: {rows: 2, 'aria-label': 'Edit prompt',
      placeholder: 'Describe the change, e.g. "make it dusk, warm light"'}}));
    const ratio = /** @type {HTMLSelectElement} */ (h('select', {attrs: {'aria-label': 'Aspect ratio'}},
      ...RATIOS.map((r) => h('option', {text: r}))));
    const outPrompt = /** @type {HTMLInputElement} */ (h('input', {attrs: {type: 'text', 'aria-label': 'Outpaint prompt',
      placeholder: 'What the new area shows (optional)'}}));
    const id = () => state.result.images[state.selected].id;
    const button = (/** @type {string} */ text, /** @type {string} */ action, /** @type {() => void} */ fn) =>
      h('button', {text, attrs: {type: 'button', 'data-action': action}, on: {click: fn}});
    return h('div', {class: 'actions'},
      h('div', {class: 'row'}, editPrompt, button('Edit', 'edit', () => {
        const prompt = editPrompt.value.trim();
        if (!prompt) return say('Describe the change first.', true);
        run('edit_image', {prompt, images: [id()]});
      })),
      h('div', {class: 'row'}, h('label', {}, 'Outpaint to ', ratio), outPrompt, button('Outpaint', 'outpaint',
        () => run('outpaint', {image: id(), prompt: outPrompt.value.trim() || OUTPAINT_PROMPT, aspect_ratio: ratio.value}))),
      h('div', {class: 'row'}, button('Paint a mask…', 'paint', openPainter),
        h('span', {class: 'muted', text: 'Mark an area to repaint (inpaint).'})));
  }

  /** Run an image tool on the selected image through the host. @param {string} tool @param {Record<string, any>} args */
  async function run(tool, args) {
    if (state.busy) return;
    state.busy = true;
    document.querySelectorAll('.actions button').forEach((b) => b.setAttribute('disabled', ''));
    try {
      adopt(await C.runImageTool(state.bridge, tool, args, say), args, tool);
    } catch (error) {
      say(error instanceof Error ? error.message : String(error), true);
    } finally {
      state.busy = false;
      document.querySelectorAll('.actions button').forEach((b) => b.removeAttribute('disabled'));
    }
  }

  /** A result made from this view: keep the previous one, tell the model, show it. */
  function adopt(/** @type {any} */ result, /** @type {Record<string, any>} */ args, /** @type {string} */ tool) {
    state.history.push({result: state.result, args: state.args});
    const made = result.images.map((/** @type {any} */ i) => `${i.id} (${i.relative_path}, ${i.width}x${i.height})`);
    state.actions.push(`${tool} (${JSON.stringify(args)}) made ${made.join(', ') || 'no image'}; cost ${C.costLine(result)}`);
    state.actions = state.actions.slice(-CONTEXT_ACTIONS);
    if (state.bridge.can('updateModelContext')) {
      // The model context is replaced by each update: describe the session's recent actions, not just this one.
      const lines = state.actions.map((a, i) => `${i + 1}. ${a}`);
      const text = `Recent actions in the Easel view, oldest first (the newest image is the one shown):\n${lines.join('\n')}`;
      state.bridge.request('ui/update-model-context', {content: [{type: 'text', text}]}).catch(() => undefined);
    }
    show(result, args);
  }

  function previous() {
    const last = state.history.pop();
    if (last) show(last.result, last.args);
  }

  /** The painter's canvas height, from the host's container dimensions. */
  function stageHeight() {
    const dims = state.bridge.hostContext.containerDimensions || {};
    if (typeof dims.height === 'number') return Math.max(200, dims.height - 190);
    if (typeof dims.maxHeight === 'number') return Math.min(640, Math.max(240, dims.maxHeight - 190));
    return 520;
  }

  async function openPainter() {
    const image = state.result.images[state.selected];
    try {
      const source = await C.imageSource(state.bridge, image);
      closePainter();
      state.statusEl = null;
      const holder = h('div');
      app().replaceChildren(holder);
      state.painter = new /** @type {any} */ (globalThis).EaselPainter.Painter(holder, {
        bridge: state.bridge, image, source, height: stageHeight(), onResult: adopt, onCancel: () => show(state.result, state.args),
      });
      await state.painter.open();
    } catch (error) {
      say(`The painter could not open the image: ${error instanceof Error ? error.message : error}`, true);
    }
  }

  async function boot() {
    const bridge = new Bridge({appInfo: {name: 'easel-viewer', title: 'Easel', version: '0.1.0'},
      appCapabilities: {availableDisplayModes: ['inline']}});
    state.bridge = bridge;
    bridge.on('ui/notifications/tool-input', (/** @type {any} */ p) => {
      if (!state.received) state.args = (p && p.arguments) || {};
    });
    bridge.on('ui/notifications/tool-result', receive);
    bridge.on('ui/notifications/tool-cancelled', (/** @type {any} */ p) => {
      if (!state.result) notice(`The call was cancelled${p && p.reason ? `: ${p.reason}` : ''}.`);
    });
    bridge.on('ui/notifications/host-context-changed', applyHostContext);
    const slow = window.setTimeout(() => notice(NO_HOST), 6000);
    try {
      await bridge.connect(60000);
      window.clearTimeout(slow);
      applyHostContext(bridge.hostContext);
      if (!state.result) notice('Waiting for the image…');
    } catch (error) {
      window.clearTimeout(slow);
      notice(NO_HOST);
    }
  }

  /** @type {any} */ (globalThis).EaselViewer = {state, show, receive};
  boot().catch(() => notice(NO_HOST));
})();
