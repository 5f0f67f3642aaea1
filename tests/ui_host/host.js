/* A stand-in MCP Apps host for the browser tests. It loads an Easel view into a sandboxed iframe (with the
 * spec's restrictive default CSP), speaks the MCP Apps bridge to it, makes the tool call the view belongs
 * to, and forwards the view's tools/call and resources/read to a real Easel server (POST /rpc).
 * Query: ?app=viewer&tool=<name>&args=<json>&theme=light|dark&silent=1 (never answer ui/initialize)
 * &echo=1 (also send the view's own tools/call results as tool-input/tool-result, as some hosts do)
 * &resources=0 (a host without serverResources: resources/read is refused)
 * &height=<px> (a host that fixes the view's height: containerDimensions.height). */
'use strict';
(() => {
  const query = new URLSearchParams(window.location.search);
  const appName = query.get('app') || 'viewer';
  const tool = query.get('tool') || 'generate_image';
  const args = JSON.parse(query.get('args') || '{}');
  const silent = query.get('silent') === '1';
  const echo = query.get('echo') === '1';
  const theme = query.get('theme') === 'dark' ? 'dark' : 'light';
  const resources = query.get('resources') !== '0';
  const fixedHeight = query.get('height') ? Number(query.get('height')) : null;
  const CSP = "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; " +
    "img-src 'self' data:; media-src 'self' data:; connect-src 'none'; frame-src 'none'; object-src 'none'; " +
    "base-uri 'self'";
  const iframe = /** @type {HTMLIFrameElement} */ (document.getElementById('frame'));
  const host = {initialized: false, toolResult: null, sizes: [], modelContext: [], logs: [], messages: []};
  window.host = host;
  document.body.classList.toggle('dark', theme === 'dark');
  document.getElementById('tool').textContent = `${tool} ${JSON.stringify(args)}`;

  /** @param {any} message */
  function send(message) {
    host.messages.push({dir: 'out', method: message.method, id: message.id});
    iframe.contentWindow.postMessage(message, '*');  // the sandboxed view has an opaque origin
  }

  /** @param {string} method @param {any} params @returns {Promise<{result?: any, error?: any}>} */
  async function forward(method, params) {
    const response = await fetch('/rpc', {method: 'POST', headers: {'content-type': 'application/json'},
      body: JSON.stringify({method, params})});
    return response.json();
  }

  function initializeResult(/** @type {any} */ params) {
    return {
      protocolVersion: params.protocolVersion === '2026-01-26' ? params.protocolVersion : '2026-01-26',
      hostInfo: {name: 'easel-test-host', version: '1.0.0'},
      hostCapabilities: {serverTools: {}, ...(resources ? {serverResources: {}} : {}), logging: {},
        updateModelContext: {text: {}}},
      hostContext: {
        theme, displayMode: 'inline', availableDisplayModes: ['inline'], platform: 'web', locale: 'en-US',
        containerDimensions: fixedHeight ? {width: 860, height: fixedHeight} : {width: 860, maxHeight: 1400},
        toolInfo: {tool: {name: tool, inputSchema: {type: 'object'}}},
        styles: {variables: {'--border-radius-md': '10px'}},
      },
    };
  }

  /** @param {any} message a request from the view */
  async function onRequest(message) {
    const {id, method, params} = message;
    /** @type {{result?: any, error?: any}} */
    let reply;
    if (method === 'ui/initialize') {
      if (silent) return;
      reply = {result: initializeResult(params || {})};
    } else if (method === 'tools/call' || (method === 'resources/read' && resources)) {
      reply = await forward(method, params);
    } else if (method === 'ui/update-model-context') {
      host.modelContext.push(params);
      reply = {result: {}};
    } else if (method === 'ui/request-display-mode') {
      reply = {result: {mode: 'inline'}};
    } else if (method === 'ping') {
      reply = {result: {}};
    } else {
      reply = {error: {code: -32601, message: `Method not found: ${method}`}};
    }
    send({jsonrpc: '2.0', id, ...reply});
    if (echo && method === 'tools/call' && reply.result) {
      send({jsonrpc: '2.0', method: 'ui/notifications/tool-input', params: {arguments: params.arguments}});
      send({jsonrpc: '2.0', method: 'ui/notifications/tool-result', params: reply.result});
    }
  }

  /** @param {any} message a notification from the view */
  async function onNotification(message) {
    const params = message.params || {};
    if (message.method === 'ui/notifications/initialized') {
      host.initialized = true;
      send({jsonrpc: '2.0', method: 'ui/notifications/tool-input', params: {arguments: args}});
      const reply = await forward('tools/call', {name: tool, arguments: args});
      host.toolResult = reply.result || null;
      if (reply.result) send({jsonrpc: '2.0', method: 'ui/notifications/tool-result', params: reply.result});
      else send({jsonrpc: '2.0', method: 'ui/notifications/tool-cancelled', params: {reason: reply.error.message}});
    } else if (message.method === 'ui/notifications/size-changed') {
      host.sizes.push(params);
      if (fixedHeight) iframe.style.height = `${fixedHeight}px`;
      else if (typeof params.height === 'number') iframe.style.height = `${Math.min(1400, params.height)}px`;
    } else if (message.method === 'notifications/message') {
      host.logs.push(params);
    }
  }

  window.addEventListener('message', (event) => {
    if (event.source !== iframe.contentWindow) return;
    const message = event.data;
    if (!message || message.jsonrpc !== '2.0' || typeof message.method !== 'string') return;
    const params = message.method === 'tools/call' ? {name: message.params.name} : message.params;
    host.messages.push({dir: 'in', method: message.method, id: message.id, params});
    if (message.id !== undefined) onRequest(message);
    else onNotification(message);
  });

  fetch(`/app/${appName}.html`).then((r) => r.text()).then((html) => {
    iframe.srcdoc = html.replace('<head>', `<head>\n<meta http-equiv="Content-Security-Policy" content="${CSP}">`);
  });
})();
