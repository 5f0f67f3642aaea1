/* Easel views: shared helpers (result unpacking, image loading through the host, formatting, DOM). */
(() => {
  'use strict';

  /**
   * @typedef {{id: string, path: string, relative_path: string, uri: string, width: number, height: number,
   *            format: string, bytes: number, sha256: string}} ImageOut
   */
  /**
   * @typedef {{images: ImageOut[], provider: string, model: string, operation: string, size: string,
   *            quality: string, cost_usd?: number | null, estimated_cost_usd?: number | null,
   *            cost_is_estimate?: boolean, revised_prompt?: string | null, warnings?: string[],
   *            status?: string, job_id?: string | null}} ImageResult
   */
  /** @typedef {{result?: ImageResult, job?: {job_id: string, stage?: string}, error?: string}} Unpacked */

  /** @param {any} callResult a CallToolResult @returns {string} its text blocks, joined */
  function textOf(callResult) {
    const blocks = (callResult && Array.isArray(callResult.content)) ? callResult.content : [];
    return blocks.filter((b) => b && b.type === 'text' && typeof b.text === 'string').map((b) => b.text).join('\n');
  }

  /** @param {any} callResult @returns {any} structuredContent, or the JSON text Easel mirrors it in */
  function structuredOf(callResult) {
    if (callResult && callResult.structuredContent && typeof callResult.structuredContent === 'object') {
      return callResult.structuredContent;
    }
    const text = textOf(callResult).trim();
    if (!text.startsWith('{')) return null;
    try {
      return JSON.parse(text.split('\n')[0]);
    } catch (error) {
      return null;
    }
  }

  /**
   * Read an image tool's or get_job's CallToolResult: done images, a job still running, or an error.
   * @param {any} callResult @returns {Unpacked}
   */
  function unpack(callResult) {
    if (!callResult || typeof callResult !== 'object') return {error: 'The host sent no result.'};
    rememberPreviews(callResult);
    if (callResult.isError) return {error: textOf(callResult) || 'The tool failed.'};
    const data = structuredOf(callResult);
    if (!data || typeof data !== 'object') return {error: 'This result has no images.'};
    if (Array.isArray(data.images)) {
      if (data.status === 'running' && data.job_id) return {job: {job_id: data.job_id, stage: 'running'}};
      return {result: data};
    }
    if (typeof data.job_id === 'string' && typeof data.status === 'string') {  // get_job's JobView
      if (data.result && Array.isArray(data.result.images)) return {result: data.result};
      if (['failed', 'cancelled', 'unknown'].includes(data.status)) {
        return {error: data.error || `The job ${data.job_id} ended: ${data.status}.`};
      }
      return {job: {job_id: data.job_id, stage: data.stage || data.status}};
    }
    return {error: 'This result has no images.'};
  }

  /**
   * Follow a job with get_job (wait_s=20) until it is done.
   * @param {any} bridge @param {Unpacked} first @param {(text: string) => void} onStatus
   * @returns {Promise<ImageResult>}
   */
  async function follow(bridge, first, onStatus) {
    let out = first;
    for (let polls = 0; out.job && !out.result && !out.error && polls < 120; polls++) {
      onStatus(`Working in the background: ${out.job.stage || 'running'}…`);
      out = unpack(await bridge.callTool('get_job', {job_id: out.job.job_id, wait_s: 20}, 90000));
    }
    if (out.error) throw new Error(out.error);
    if (!out.result) throw new Error('The call did not finish.');
    return out.result;
  }

  /**
   * Call an image tool through the host and wait for its images (polling get_job while it runs).
   * @param {any} bridge @param {string} name @param {Record<string, any>} args
   * @param {(text: string) => void} onStatus @returns {Promise<ImageResult>}
   */
  async function runImageTool(bridge, name, args, onStatus) {
    onStatus(`Running ${name}…`);
    return follow(bridge, unpack(await bridge.callTool(name, args, 600000)), onStatus);
  }

  /** @type {Map<string, Promise<string>>} */
  const sources = new Map();
  /** @type {Map<string, string>} image uri -> the preview the tool result carried, as a data: URL */
  const previews = new Map();

  /**
   * Remember the previews of a CallToolResult: each image's ResourceLink is followed by its preview.
   * @param {any} callResult
   */
  function rememberPreviews(callResult) {
    const blocks = (callResult && Array.isArray(callResult.content)) ? callResult.content : [];
    let uri = null;
    for (const b of blocks) {
      if (b && b.type === 'resource_link' && typeof b.uri === 'string') uri = b.uri;
      else if (b && b.type === 'image' && uri && typeof b.data === 'string' && /^image\/(jpeg|webp|png)$/.test(b.mimeType)) {
        previews.set(uri, `data:${b.mimeType};base64,${b.data}`);
        uri = null;
      }
    }
  }

  /**
   * The picture to show for an image, as a data: URL (the hosts' default CSP allows `img-src data:` but not
   * `blob:`). With a host that reads resources: the display rendition (`<uri>/display`, at most 2048 px and
   * 700 KB, never the multi-MB original). Without one, or when the read fails: the preview the tool
   * result already carried.
   * @param {any} bridge @param {ImageOut} image @returns {Promise<string>}
   */
  function imageSource(bridge, image) {
    const cached = sources.get(image.uri);
    if (cached) return cached;
    const preview = () => {
      const data = previews.get(image.uri);
      if (data) return data;
      throw new Error('This host does not let the view read images, and the result has no preview of this one.');
    };
    if (!bridge.can('serverResources')) return Promise.resolve().then(preview);
    const loading = bridge.readResource(`${image.uri}/display`).then((/** @type {any} */ read) => {
      const contents = (read && Array.isArray(read.contents)) ? read.contents : [];
      const item = contents.find((c) => c && typeof c.blob === 'string');
      if (!item) throw new Error(`The host returned no image data for ${image.uri}.`);
      const mime = /^image\/(png|jpeg|webp|gif)$/.test(item.mimeType || '') ? item.mimeType : 'image/png';
      return `data:${mime};base64,${item.blob}`;
    }).catch((/** @type {Error} */ error) => {
      if (previews.has(image.uri)) return preview();
      throw error;
    });
    loading.catch(() => sources.delete(image.uri));
    sources.set(image.uri, loading);
    return loading;
  }

  /** @param {number | null | undefined} usd @returns {string} */
  function usd(usd) {
    if (typeof usd !== 'number' || !isFinite(usd)) return '—';
    if (usd === 0) return '$0';
    return usd < 0.1 ? `$${usd.toFixed(3)}` : `$${usd.toFixed(2)}`;
  }

  /** @param {number} bytes @returns {string} */
  function size(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  /** @param {ImageResult} r @returns {string} */
  function costLine(r) {
    if (typeof r.cost_usd === 'number') {
      const est = typeof r.estimated_cost_usd === 'number' ? ` (estimate before the call ${usd(r.estimated_cost_usd)})` : '';
      return `${usd(r.cost_usd)}${r.cost_is_estimate ? ' estimated' : ''}${est}`;
    }
    return typeof r.estimated_cost_usd === 'number' ? `${usd(r.estimated_cost_usd)} estimated` : 'unknown';
  }

  /**
   * Create an element: h('button', {class: 'x', text: 'Go', on: {click: fn}, attrs: {type: 'button'}}, ...children).
   * @param {string} tag @param {Record<string, any>} [props] @param {...(Node | string | null | undefined)} children
   * @returns {HTMLElement}
   */
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    const p = props || {};
    if (p.class) el.className = p.class;
    if (p.text !== undefined) el.textContent = String(p.text);
    for (const [key, value] of Object.entries(p.attrs || {})) {
      if (value !== undefined && value !== null && value !== false) el.setAttribute(key, value === true ? '' : String(value));
    }
    for (const [type, fn] of Object.entries(p.on || {})) el.addEventListener(type, fn);
    for (const child of children) {
      if (child !== null && child !== undefined) el.append(child);
    }
    return el;
  }

  /** @type {any} */ (globalThis).EaselCommon = {
    textOf, structuredOf, unpack, follow, runImageTool, imageSource, usd, size, costLine, h,
  };
})();
