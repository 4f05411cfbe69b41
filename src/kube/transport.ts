/**
 * The pieces of KubeClient's transport that are not about the API: credentials and the connection
 * pool from the kubeconfig, and a request's own deadline (see kube.ts for why they are built this way).
 */
import type { RequestOptions as HttpsRequestOptions } from "node:https";
import { type KubeConfig, RequestContext } from "@kubernetes/client-node";
import type { Dispatcher } from "undici";

/**
 * The headers that authenticate a request (bearer token, basic auth, impersonation), asked of the
 * kubeconfig for every request: its authenticators refresh a token that expires (exec plugins,
 * OIDC, the in-cluster service account token file).
 */
export async function credentials(kc: KubeConfig): Promise<Record<string, string>> {
  const o: HttpsRequestOptions = {};
  await kc.applyToHTTPSOptions(o);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.headers ?? {}))
    if (v !== undefined) headers[k.toLowerCase()] = String(v);
  if (typeof o.auth === "string") headers.authorization = `Basic ${Buffer.from(o.auth).toString("base64")}`;
  return headers;
}

/**
 * The connection pool (TLS material, proxy) client-node builds from the kubeconfig, asked for once:
 * it makes a new one on every `applySecurityAuthentication`, i.e. a new TLS handshake per request.
 * `undefined` (no TLS options, no proxy) means undici's global pool.
 */
export async function sharedDispatcher(kc: KubeConfig, server: string): Promise<Dispatcher | undefined> {
  const ctx = new RequestContext(server, "GET" as never);
  await kc.applySecurityAuthentication(ctx);
  return ctx.getDispatcher() as Dispatcher | undefined;
}

/**
 * A request's own abort: after `ms`, or when `outer` aborts. A cleared timer rather than
 * `AbortSignal.timeout`, whose timer outlives the request and builds a DOMException when it fires.
 */
export function deadline(ms: number, outer: AbortSignal | undefined) {
  const ctl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort();
  }, ms);
  const onOuter = () => ctl.abort();
  if (outer?.aborted === true) ctl.abort();
  else outer?.addEventListener("abort", onOuter, { once: true });
  const done = () => {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onOuter);
  };
  return {
    signal: ctl.signal,
    done,
    /** Ends the request now (a consumer that stopped reading a stream) and clears the timer. */
    abort: () => {
      done();
      ctl.abort();
    },
    reason: () => (timedOut ? "client-side timeout" : ctl.signal.aborted ? "aborted" : "request failed"),
  };
}
