/* Easel MCP Apps bridge: the View side of the MCP Apps protocol (SEP-1865, protocol 2026-01-26).
 * JSON-RPC 2.0 over window.postMessage to window.parent; hand-written, no dependencies, no eval.
 * Part of easel-mcp (MIT licence). */
(() => {
  'use strict';

  const PROTOCOL_VERSION = '2026-01-26';

  /** @typedef {string | number} RequestId */
  /** @typedef {{code: number, message: string, data?: unknown}} RpcErrorObject */
  /**
   * @typedef {{jsonrpc: '2.0', id?: RequestId, method?: string, params?: any,
   *            result?: any, error?: RpcErrorObject}} RpcMessage
   */
  /** @typedef {{resolve: (value: any) => void, reject: (error: Error) => void, timer: number}} Pending */
  /** @typedef {{name: string, version: string, title?: string}} AppInfo */
  /**
   * @typedef {{protocolVersion: string, hostInfo?: {name: string, version: string},
   *            hostCapabilities?: Record<string, any>, hostContext?: Record<string, any>}} InitializeResult
   */
  /** @typedef {{content?: Array<Record<string, any>>, structuredContent?: any, isError?: boolean}} CallToolResult */

  /** A JSON-RPC error answered by the host, or a local failure (timeout, closed bridge). */
  class BridgeError extends Error {
    /** @param {string} message @param {number} code @param {unknown} [data] */
    constructor(message, code, data) {
      super(message);
      this.name = 'BridgeError';
      this.code = code;
      this.data = data;
    }
  }

  /** @param {unknown} value @returns {value is RpcMessage} */
  function isRpcMessage(value) {
    return typeof value === 'object' && value !== null && /** @type {any} */ (value).jsonrpc === '2.0';
  }

  class Bridge {
    /**
     * @param {{appInfo: AppInfo, appCapabilities?: Record<string, any>, target?: Window, timeoutMs?: number}} options
     */
    constructor(options) {
      this.appInfo = options.appInfo;
      this.appCapabilities = options.appCapabilities || {};
      /** @type {Window} */
      this.target = options.target || window.parent;
      this.timeoutMs = options.timeoutMs || 60000;
      this.nextId = 1;
      /** @type {Map<RequestId, Pending>} */
      this.pending = new Map();
      /** @type {Map<string, Array<(params: any) => void>>} */
      this.listeners = new Map();
      /** @type {Map<string, (params: any) => any>} */
      this.handlers = new Map();
      /** @type {Map<string, any>} the last params of each notification, for late subscribers */
      this.last = new Map();
      /** @type {string | null} the host's origin, pinned by its first message */
      this.origin = null;
      /** @type {Record<string, any>} */
      this.hostContext = {};
      /** @type {Record<string, any>} */
      this.hostCapabilities = {};
      this.connected = false;
      this.handlers.set('ping', () => ({}));
      this.handlers.set('ui/resource-teardown', () => ({}));
      this.on('ui/notifications/host-context-changed', (params) => Object.assign(this.hostContext, params));
      this.listener = (/** @type {MessageEvent} */ event) => this.receive(event);
      window.addEventListener('message', this.listener);
      // Uncaught errors reach the host's log (a sandboxed view's console is often out of sight).
      window.addEventListener('error', (event) => this.log('error', `${event.message} (${event.lineno}:${event.colno})`));
      window.addEventListener('unhandledrejection', (event) => this.log('error', String(event.reason)));
    }

    /**
     * Handshake: `ui/initialize`, then the `ui/notifications/initialized` notification.
     * @param {number} [timeoutMs] @returns {Promise<InitializeResult>}
     */
    async connect(timeoutMs) {
      if (this.target === window) throw new BridgeError('not embedded in an MCP Apps host', -32000);
      /** @type {InitializeResult} */
      const result = await this.request('ui/initialize', {
        appInfo: this.appInfo, appCapabilities: this.appCapabilities, protocolVersion: PROTOCOL_VERSION,
      }, timeoutMs);
      this.hostContext = Object.assign({}, (result && result.hostContext) || {});
      this.hostCapabilities = (result && result.hostCapabilities) || {};
      this.connected = true;
      this.notify('ui/notifications/initialized', {});
      this.autoResize();
      return result;
    }

    /**
     * Send a request; resolves with its result, rejects with a BridgeError (host error or timeout).
     * @param {string} method @param {Record<string, any>} [params] @param {number} [timeoutMs]
     * @returns {Promise<any>}
     */
    request(method, params, timeoutMs) {
      const id = this.nextId++;
      const ms = timeoutMs || this.timeoutMs;
      return new Promise((resolve, reject) => {
        const timer = window.setTimeout(() => {
          this.pending.delete(id);
          reject(new BridgeError(`${method}: no answer from the host after ${Math.round(ms / 1000)} s`, -32001));
        }, ms);
        this.pending.set(id, {resolve, reject, timer});
        if (!this.post({jsonrpc: '2.0', id, method, params: params || {}})) {
          window.clearTimeout(timer);
          this.pending.delete(id);
          reject(new BridgeError(`${method}: could not be sent to the host`, -32002));
        }
      });
    }

    /** @param {string} method @param {Record<string, any>} [params] */
    notify(method, params) {
      this.post({jsonrpc: '2.0', method, params: params || {}});
    }

    /**
     * Subscribe to a host notification; a notification already received is replayed at once.
     * @param {string} method @param {(params: any) => void} callback
     */
    on(method, callback) {
      const list = this.listeners.get(method) || [];
      list.push(callback);
      this.listeners.set(method, list);
      if (this.last.has(method)) this.safely(callback, this.last.get(method));
    }

    /** @param {string} name @param {Record<string, any>} args @param {number} [timeoutMs] @returns {Promise<CallToolResult>} */
    callTool(name, args, timeoutMs) {
      return this.request('tools/call', {name, arguments: args}, timeoutMs);
    }

    /** @param {string} uri @returns {Promise<{contents: Array<{uri: string, mimeType?: string, text?: string, blob?: string}>}>} */
    readResource(uri) {
      return this.request('resources/read', {uri});
    }

    /** @param {'debug' | 'info' | 'warning' | 'error'} level @param {unknown} data */
    log(level, data) {
      this.notify('notifications/message', {level, logger: 'easel', data});
    }

    /** @param {string} capability a hostCapabilities key, e.g. 'updateModelContext' */
    can(capability) {
      return Boolean(this.hostCapabilities && this.hostCapabilities[capability]);
    }

    /** @param {RpcMessage} message @returns {boolean} */
    post(message) {
      try {
        this.target.postMessage(message, this.origin && this.origin !== 'null' ? this.origin : '*');
        return true;
      } catch (error) {
        return false;
      }
    }

    /** @param {MessageEvent} event */
    receive(event) {
      if (event.source !== this.target || !isRpcMessage(event.data)) return;  // only the host window speaks
      if (this.origin === null) this.origin = event.origin;
      else if (event.origin !== this.origin) return;
      const message = event.data;
      if (typeof message.method === 'string') {
        if (message.id !== undefined && message.id !== null) this.answer(message);
        else this.dispatch(message.method, message.params || {});
        return;
      }
      const pending = message.id === undefined ? undefined : this.pending.get(message.id);
      if (!pending) return;
      this.pending.delete(/** @type {RequestId} */ (message.id));
      window.clearTimeout(pending.timer);
      if (message.error) {
        const {code, message: text, data} = message.error;
        pending.reject(new BridgeError(String(text || 'host error'), Number(code) || -32603, data));
      } else {
        pending.resolve(message.result);
      }
    }

    /** @param {RpcMessage} message a request from the host */
    answer(message) {
      const handler = this.handlers.get(/** @type {string} */ (message.method));
      if (!handler) {
        this.post({jsonrpc: '2.0', id: message.id, error: {code: -32601, message: `Method not found: ${message.method}`}});
        return;
      }
      try {
        this.post({jsonrpc: '2.0', id: message.id, result: handler(message.params || {}) || {}});
      } catch (error) {
        this.post({jsonrpc: '2.0', id: message.id, error: {code: -32603, message: String(error)}});
      }
    }

    /** @param {string} method @param {any} params */
    dispatch(method, params) {
      this.last.set(method, params);
      for (const callback of this.listeners.get(method) || []) this.safely(callback, params);
    }

    /** @param {(params: any) => void} callback @param {any} params */
    safely(callback, params) {
      try {
        callback(params);
      } catch (error) {
        this.log('error', String(error && /** @type {Error} */ (error).stack || error));
      }
    }

    /** Report the document's size (`ui/notifications/size-changed`) whenever it changes. */
    autoResize() {
      let scheduled = false;
      let width = 0;
      let height = 0;
      const measure = () => {
        if (scheduled) return;
        scheduled = true;
        window.requestAnimationFrame(() => {
          scheduled = false;
          const fixed = fixedHeight(this.hostContext);
          const root = document.documentElement;
          const {height: savedHeight, overflow: savedOverflow} = root.style;
          root.style.height = 'max-content';
          root.style.overflow = 'hidden';  // measure at the full width, without a scrollbar
          const h = fixed === null ? Math.ceil(root.getBoundingClientRect().height) : fixed;
          root.style.height = savedHeight;
          root.style.overflow = savedOverflow;
          const w = Math.ceil(window.innerWidth);
          if (w !== width || h !== height) {
            width = w;
            height = h;
            this.notify('ui/notifications/size-changed', {width: w, height: h});
          }
        });
      };
      measure();
      if (typeof ResizeObserver === 'function') {
        const observer = new ResizeObserver(measure);
        observer.observe(document.documentElement);
        observer.observe(document.body);
      }
    }

    close() {
      window.removeEventListener('message', this.listener);
      for (const pending of this.pending.values()) {
        window.clearTimeout(pending.timer);
        pending.reject(new BridgeError('bridge closed', -32003));
      }
      this.pending.clear();
    }
  }

  /**
   * The height the host fixed for the view (`containerDimensions.height`), or null when the view sizes itself.
   * @param {Record<string, any>} context @returns {number | null}
   */
  function fixedHeight(context) {
    const dims = (context && context.containerDimensions) || {};
    return typeof dims.height === 'number' && dims.height > 0 ? Math.floor(dims.height) : null;
  }

  /**
   * Apply the host's theme, CSS variables, fonts and a fixed container height (hostContext.theme / styles /
   * containerDimensions) to the document. With a fixed height the view fits it and scrolls inside.
   * @param {Record<string, any>} context
   */
  function applyHostContext(context) {
    const root = document.documentElement;
    if (context.containerDimensions) {
      const fixed = fixedHeight(context);
      root.classList.toggle('fixed-height', fixed !== null);
      if (fixed === null) root.style.removeProperty('--fixed-height');
      else root.style.setProperty('--fixed-height', `${fixed}px`);
    }
    if (context.theme === 'light' || context.theme === 'dark') {
      root.dataset.theme = context.theme;
      root.style.colorScheme = context.theme;
    }
    const styles = context.styles || {};
    for (const [key, value] of Object.entries(styles.variables || {})) {
      if (key.startsWith('--') && typeof value === 'string') root.style.setProperty(key, value);
    }
    const fonts = styles.css && styles.css.fonts;
    if (typeof fonts === 'string' && !document.getElementById('host-fonts')) {
      const style = document.createElement('style');
      style.id = 'host-fonts';
      style.textContent = fonts;
      document.head.appendChild(style);
    }
  }

  /** @type {any} */ (globalThis).EaselBridge = {Bridge, BridgeError, PROTOCOL_VERSION, applyHostContext, fixedHeight, isRpcMessage};
})();
