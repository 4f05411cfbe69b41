"use strict";
/**
 * What the bundled operator takes from undici, in place of its package root (hack/bundle-operator.ts
 * resolves `undici` to this file). The root loads and runs every part of undici at startup — fetch,
 * WebSocket, EventSource, the cache storage, the mock agents, the interceptors — although the operator
 * only sends through `request()` on an Agent (src/kube/kube.ts), and client-node's kubeconfig code only
 * builds an Agent or a ProxyAgent (its dist/config.js). `fetch` (client-node's own watch and
 * generated API client, which the operator does not call) is loaded on first use only.
 * `request` is undici's index.js `makeDispatcher(api.request)`, same checks, same defaults.
 */
const Dispatcher = require("undici/lib/dispatcher/dispatcher");
const Agent = require("undici/lib/dispatcher/agent");
const ProxyAgent = require("undici/lib/dispatcher/proxy-agent");
const api = require("undici/lib/api");
const util = require("undici/lib/core/util");
const { InvalidArgumentError } = require("undici/lib/core/errors");
const { getGlobalDispatcher, setGlobalDispatcher } = require("undici/lib/global");

Object.assign(Dispatcher.prototype, api);

function request(url, opts) {
  if (!url || (typeof url !== "string" && typeof url !== "object" && !(url instanceof URL))) {
    throw new InvalidArgumentError("invalid url");
  }
  if (opts != null && typeof opts !== "object") {
    throw new InvalidArgumentError("invalid opts");
  }
  if (opts && opts.path != null) {
    if (typeof opts.path !== "string") {
      throw new InvalidArgumentError("invalid opts.path");
    }
    const path = opts.path.startsWith("/") ? opts.path : `/${opts.path}`;
    url = new URL(util.parseOrigin(url).origin + path);
  } else {
    if (!opts) {
      opts = typeof url === "object" ? url : {};
    }
    url = util.parseURL(url);
  }
  const { agent, dispatcher = getGlobalDispatcher(), ...restOpts } = opts;
  if (agent) {
    throw new InvalidArgumentError("unsupported opts.agent. Did you mean opts.client?");
  }
  return api.request.call(dispatcher, {
    ...restOpts,
    origin: url.origin,
    path: url.search ? `${url.pathname}${url.search}` : url.pathname,
    method: opts.method || (opts.body ? "PUT" : "GET"),
  });
}

module.exports = {
  Dispatcher,
  Agent,
  ProxyAgent,
  request,
  getGlobalDispatcher,
  setGlobalDispatcher,
  fetch: (init, options) => require("undici/lib/web/fetch").fetch(init, options),
};
