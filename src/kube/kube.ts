/**
 * Talking to the apiserver: kubeconfig loading and `KubeClient`, a small client over
 * raw paths (custom resources, server-side apply, streaming watch) whose failures are typed
 * (api-errors.ts).
 *
 * Requests go through @kubernetes/client-node's own fetch stack (`RequestContext` +
 * `applySecurityAuthentication` + `IsomorphicFetchHttpLibrary`, i.e. undici with the kubeconfig's TLS
 * and credentials), so exec/OIDC credential plugins keep working. Two things of client-node 2.0.1 are
 * deliberately avoided:
 * - `applySecurityAuthentication` builds a new undici Agent (a new connection pool, so a new TLS
 *   handshake) on every call (dist/config.js `createDispatcher`, uncached unlike `createAgent`).
 *   Here one pool per cluster+user is reused (`PooledKubeConfig`, and in `KubeClient` for any config).
 * - `Watch` aborts a watch after 30 s without bytes (dist/watch.js `requestTimeoutMs`), and `ListWatch`
 *   stops for good on any other error (dist/cache.js `doneHandler`). `KubeClient.watch` streams instead,
 *   bounded by the server-side `timeoutSeconds` the caller sets.
 */
import {
  type HttpMethod,
  IsomorphicFetchHttpLibrary,
  type KubeConfig,
  RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";
import { FIELD_MANAGER } from "../api/labels.ts";
import { ApiError, isRecord, TransportError } from "./api-errors.ts";
import { type Dispatcher, pooled } from "./config.ts";

export { loadKubeConfig, PooledKubeConfig } from "./config.ts";

/** The API path of a resource collection or object, e.g. `/apis/apps/v1/namespaces/ns/deployments/app`. */
export function resourcePath(r: {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
}): string {
  const e = encodeURIComponent;
  let p = r.group === "" ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  if (r.namespace !== undefined && r.namespace !== "") p += `/namespaces/${e(r.namespace)}`;
  p += `/${r.plural}`;
  if (r.name !== undefined) p += `/${e(r.name)}`;
  if (r.subresource !== undefined) p += `/${r.subresource}`;
  return p;
}

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface RequestOptions {
  readonly query?: Query;
  readonly signal?: AbortSignal;
  /** Client-side limit for the whole request; default 30 s. Watches use the server's `timeoutSeconds`. */
  readonly timeoutMs?: number;
}

export interface WriteOptions extends RequestOptions {
  /** Server-side dry run: validated and defaulted, not persisted. */
  readonly dryRun?: boolean;
}

/**
 * merge: RFC 7386 (nulls delete); json: RFC 6902 operations (`test` gives optimistic concurrency);
 * strategic: Kubernetes strategic merge (built-in kinds only); apply: server-side apply, forced,
 * as field manager `bluegreen-operator`.
 */
export type PatchType = "merge" | "json" | "strategic" | "apply";
const PATCH_CONTENT_TYPES: Readonly<Record<PatchType, string>> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
  apply: "application/apply-patch+yaml",
};

export interface ListPage {
  readonly items: readonly unknown[];
  readonly resourceVersion: string;
  /** Set when more pages follow; pass it back as `continue`. */
  readonly continue: string | undefined;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK";
export interface WatchEvent {
  readonly type: WatchEventType;
  readonly object: Readonly<Record<string, unknown>>;
}

/** What an informer needs from the apiserver; `KubeClient` is the real one, tests bring fakes. */
export interface ListWatcher {
  list(path: string, query: Query, signal?: AbortSignal): Promise<ListPage>;
  /** Ends when the server closes the stream; throws ApiError for an ERROR event (410: relist). */
  watch(path: string, query: Query, signal?: AbortSignal): AsyncIterable<WatchEvent>;
}

/** Observes (and may veto) every request; the runtime's metrics and leader-election fencing use it. */
export interface RequestHooks {
  /**
   * Called as late as possible before a request goes out. Throwing refuses the request: a replica
   * that lost its Lease must not write, even from a reconcile that was already running.
   */
  beforeSend?(method: string, path: string): void;
  /** The HTTP status once response headers arrived, or `undefined` when no answer came (rest_client_requests_total). */
  afterResponse?(method: string, code: number | undefined): void;
}

export interface KubeClientOptions {
  readonly fieldManager?: string;
  readonly userAgent?: string;
  readonly timeoutMs?: number;
  readonly hooks?: RequestHooks;
}

/**
 * A client over raw API paths, e.g. `/apis/bluegreen.io/v1/namespaces/ns/bluegreendeployments/app`.
 * Collection paths for list/create/watch, object paths (optionally with `/status` or `/scale`) for the
 * rest. Every failure is an `ApiError` (the server said no) or a `TransportError` (no answer).
 */
export class KubeClient implements ListWatcher {
  readonly #kc: KubeConfig;
  readonly #server: string;
  readonly #http = new IsomorphicFetchHttpLibrary();
  readonly #pools = new Map<string, Dispatcher>();
  readonly #fieldManager: string;
  readonly #userAgent: string;
  readonly #timeoutMs: number;
  readonly #hooks: RequestHooks;

  constructor(kc: KubeConfig, opts: KubeClientOptions = {}) {
    const cluster = kc.getCurrentCluster();
    if (cluster === null) throw new Error("kubeconfig has no current cluster");
    this.#kc = kc;
    this.#server = cluster.server.replace(/\/+$/, "");
    this.#fieldManager = opts.fieldManager ?? FIELD_MANAGER;
    this.#userAgent = opts.userAgent ?? FIELD_MANAGER;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#hooks = opts.hooks ?? {};
  }

  async get<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
    return (await this.#json("GET", path, opts)) as T;
  }

  /** A GET whose answer is text, not JSON (a pod's log). */
  async getText(path: string, opts: RequestOptions = {}): Promise<string> {
    return await this.#text("GET", path, opts);
  }

  /** One page of a list. */
  async list(path: string, query: Query = {}, signal?: AbortSignal): Promise<ListPage> {
    const body = await this.#json("GET", path, signal === undefined ? { query } : { query, signal });
    if (!isRecord(body) || !Array.isArray(body.items)) {
      throw new TransportError("GET", path, "list response has no items array");
    }
    const meta = isRecord(body.metadata) ? body.metadata : {};
    return {
      items: body.items,
      resourceVersion: typeof meta.resourceVersion === "string" ? meta.resourceVersion : "",
      continue: typeof meta.continue === "string" && meta.continue !== "" ? meta.continue : undefined,
    };
  }

  /** Every page of a list (`limit` per request), with the resourceVersion of the first page. */
  async listAll(path: string, query: Query = {}, signal?: AbortSignal): Promise<ListPage> {
    const items: unknown[] = [];
    let page = await this.list(path, { limit: 500, ...query }, signal);
    const resourceVersion = page.resourceVersion;
    items.push(...page.items);
    while (page.continue !== undefined) {
      const next: Query = { ...query, limit: query.limit ?? 500, continue: page.continue };
      // The continue token pins the snapshot; resourceVersion with continue is refused.
      page = await this.list(
        path,
        { ...next, resourceVersion: undefined, resourceVersionMatch: undefined },
        signal,
      );
      items.push(...page.items);
    }
    return { items, resourceVersion, continue: undefined };
  }

  async create<T = unknown>(path: string, body: unknown, opts: WriteOptions = {}): Promise<T> {
    return (await this.#json("POST", path, this.#write(opts), body, "application/json")) as T;
  }

  /** PUT: a full replace, refused with 409 Conflict when `metadata.resourceVersion` is stale. */
  async replace<T = unknown>(path: string, body: unknown, opts: WriteOptions = {}): Promise<T> {
    return (await this.#json("PUT", path, this.#write(opts), body, "application/json")) as T;
  }

  async patch<T = unknown>(
    path: string,
    body: unknown,
    type: PatchType,
    opts: WriteOptions = {},
  ): Promise<T> {
    const w = this.#write(opts);
    const query = type === "apply" ? { ...w.query, force: true } : (w.query ?? {});
    return (await this.#json("PATCH", path, { ...w, query }, body, PATCH_CONTENT_TYPES[type])) as T;
  }

  /** Server-side apply of `body` (a full intent: apiVersion, kind, metadata.name...), forced. */
  async apply<T = unknown>(path: string, body: unknown, opts: WriteOptions = {}): Promise<T> {
    return await this.patch<T>(path, body, "apply", opts);
  }

  async delete(
    path: string,
    opts: WriteOptions & {
      readonly propagationPolicy?: "Foreground" | "Background" | "Orphan";
      readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
    } = {},
  ): Promise<unknown> {
    const body = {
      apiVersion: "v1",
      kind: "DeleteOptions",
      ...(opts.propagationPolicy === undefined ? {} : { propagationPolicy: opts.propagationPolicy }),
      ...(opts.preconditions === undefined ? {} : { preconditions: opts.preconditions }),
    };
    const query = opts.dryRun === true ? { ...opts.query, dryRun: "All" } : opts.query;
    return await this.#json("DELETE", path, { ...opts, query: query ?? {} }, body, "application/json");
  }

  /**
   * Streams watch events from `path` (a collection). Pass `resourceVersion`, `allowWatchBookmarks`
   * and `timeoutSeconds` in `query`; the stream ends when the server closes it. There is no client
   * idle timeout (quiet resources stay watched); only `timeoutSeconds + 30 s` bounds a stream, so a
   * half-open connection cannot hang a watch forever. An ERROR event is thrown as `ApiError`.
   */
  async *watch(path: string, query: Query, signal?: AbortSignal): AsyncGenerator<WatchEvent> {
    const local = new AbortController();
    const serverTimeout = typeof query.timeoutSeconds === "number" ? query.timeoutSeconds : 1800;
    const bound = AbortSignal.timeout((serverTimeout + 30) * 1000);
    const all = AbortSignal.any(signal === undefined ? [local.signal, bound] : [local.signal, bound, signal]);
    try {
      const res = await this.#send("GET", path, { ...query, watch: 1 }, all);
      if (res.httpStatusCode >= 300) throw await this.#failure("GET", path, res);
      const stream = res.body.stream();
      if (stream === null) throw new TransportError("GET", path, "watch response has no body");
      const decoder = new TextDecoder();
      let buffered = "";
      try {
        for await (const chunk of stream) {
          buffered += decoder.decode(chunk, { stream: true });
          let nl = buffered.indexOf("\n");
          while (nl >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line !== "") yield parseWatchLine(path, line);
            nl = buffered.indexOf("\n");
          }
        }
      } catch (err) {
        if (err instanceof ApiError || err instanceof TransportError) throw err;
        throw new TransportError("GET", path, failureReason(all, bound), err);
      }
      const rest = (buffered + decoder.decode()).trim();
      if (rest !== "") yield parseWatchLine(path, rest);
    } finally {
      // Releases the connection when the consumer stops early (break, return, throw).
      local.abort();
    }
  }

  #write(opts: WriteOptions): RequestOptions {
    const query: Record<string, string | number | boolean | undefined> = {
      ...opts.query,
      fieldManager: this.#fieldManager,
    };
    if (opts.dryRun === true) query.dryRun = "All";
    return { ...opts, query };
  }

  async #json(
    method: HttpMethod,
    path: string,
    opts: RequestOptions,
    body?: unknown,
    contentType?: string,
  ): Promise<unknown> {
    const text = await this.#text(method, path, opts, body, contentType);
    try {
      return text === "" ? undefined : (JSON.parse(text) as unknown);
    } catch (err) {
      throw new TransportError(method, path, "malformed JSON", err);
    }
  }

  async #text(
    method: HttpMethod,
    path: string,
    opts: RequestOptions,
    body?: unknown,
    contentType?: string,
  ): Promise<string> {
    const bound = AbortSignal.timeout(opts.timeoutMs ?? this.#timeoutMs);
    const signal = AbortSignal.any(opts.signal === undefined ? [bound] : [bound, opts.signal]);
    try {
      const res = await this.#send(method, path, opts.query ?? {}, signal, body, contentType);
      if (res.httpStatusCode >= 300) throw await this.#failure(method, path, res);
      return await res.body.text();
    } catch (err) {
      if (err instanceof ApiError || err instanceof TransportError) throw err;
      throw new TransportError(method, path, failureReason(signal, bound), err);
    }
  }

  async #send(
    method: HttpMethod,
    path: string,
    query: Query,
    signal: AbortSignal,
    body?: unknown,
    contentType?: string,
  ): Promise<ResponseContext> {
    const url = new URL(this.#server + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), method);
    await this.#kc.applySecurityAuthentication(ctx);
    const d = pooled(this.#pools, this.#kc, ctx.getDispatcher());
    if (d !== undefined) ctx.setDispatcher(d);
    ctx.setHeaderParam("Accept", "application/json");
    ctx.setHeaderParam("User-Agent", this.#userAgent);
    if (body !== undefined) {
      // JSON is YAML, so apply patches are sent as JSON under the apply-patch+yaml type.
      ctx.setHeaderParam("Content-Type", contentType ?? "application/json");
      ctx.setBody(JSON.stringify(body));
    }
    ctx.setSignal(signal);
    this.#hooks.beforeSend?.(method, path);
    let res: ResponseContext;
    try {
      res = await this.#http.send(ctx).toPromise();
    } catch (err) {
      this.#hooks.afterResponse?.(method, undefined);
      throw err;
    }
    this.#hooks.afterResponse?.(method, res.httpStatusCode);
    return res;
  }

  async #failure(method: string, path: string, res: ResponseContext): Promise<ApiError> {
    let status: unknown;
    try {
      status = JSON.parse(await res.body.text());
    } catch {
      status = undefined;
    }
    return new ApiError(method, path, res.httpStatusCode, status, res.headers["retry-after"]);
  }
}

function failureReason(signal: AbortSignal, bound: AbortSignal): string {
  if (bound.aborted) return "client-side timeout";
  if (signal.aborted) return "aborted";
  return "request failed";
}

function parseWatchLine(path: string, line: string): WatchEvent {
  let ev: unknown;
  try {
    ev = JSON.parse(line);
  } catch (err) {
    throw new TransportError("GET", path, "malformed watch event", err);
  }
  if (!isRecord(ev) || typeof ev.type !== "string" || !isRecord(ev.object)) {
    throw new TransportError("GET", path, "malformed watch event");
  }
  const { type, object } = ev;
  switch (type) {
    case "ADDED":
    case "MODIFIED":
    case "DELETED":
    case "BOOKMARK":
      return { type, object };
    case "ERROR":
      throw new ApiError("GET", path, typeof object.code === "number" ? object.code : 500, object);
    default:
      throw new TransportError("GET", path, `unknown watch event type ${type}`);
  }
}
