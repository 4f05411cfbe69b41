/**
 * Talking to the apiserver: kubeconfig loading and `KubeClient`, a small client over
 * raw paths (custom resources, server-side apply, streaming watch) whose failures are typed
 * (api-errors.ts).
 *
 * Credentials and TLS come from @kubernetes/client-node's KubeConfig, so exec/OIDC credential
 * plugins, in-cluster tokens and proxies keep working; requests go out through undici's `request()`
 * (the HTTP client client-node itself ships) on one connection pool per client. Three things of
 * client-node 2.0.1 are deliberately avoided, each measured as the operator's CPU at fleet size
 * (a V8 CPU profile of `make bench SIZE=300`, see docs/performance.md):
 * - its request path is WHATWG `fetch` (Request/Headers objects, web streams, one AbortSignal chain
 *   per request): about twice the CPU of `request()` for the same exchange;
 * - `applySecurityAuthentication` builds a new undici Agent on every call (dist/config.js
 *   `createDispatcher`, uncached unlike `createAgent`), and closing the unused one throws and catches
 *   errors inside undici: here the dispatcher is made once and only the headers are asked for per
 *   request (`applyToHTTPSOptions`, which refreshes expiring tokens);
 * - `Watch` aborts a watch after 30 s without bytes (dist/watch.js `requestTimeoutMs`), and `ListWatch`
 *   stops for good on any other error (dist/cache.js `doneHandler`). `KubeClient.watch` streams instead,
 *   bounded by the server-side `timeoutSeconds` the caller sets.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { type Dispatcher as UndiciDispatcher, request as undiciRequest } from "undici";
import { FIELD_MANAGER } from "../api/labels.ts";
import { ApiError, isRecord, TransportError } from "./api-errors.ts";
import { credentials, deadline, sharedDispatcher } from "./transport.ts";

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
  /** One connection pool for every request of this client, made on the first request. */
  #dispatcher: Promise<UndiciDispatcher | undefined> | undefined;
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
    const serverTimeout = typeof query.timeoutSeconds === "number" ? query.timeoutSeconds : 1800;
    const d = deadline((serverTimeout + 30) * 1000, signal);
    try {
      const res = await this.#send("GET", path, { ...query, watch: 1 }, d.signal);
      if (res.statusCode >= 300) throw await this.#failure("GET", path, res);
      const decoder = new TextDecoder();
      let buffered = "";
      try {
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
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
        throw new TransportError("GET", path, d.reason(), err);
      }
      const rest = (buffered + decoder.decode()).trim();
      if (rest !== "") yield parseWatchLine(path, rest);
    } finally {
      // Releases the connection (or the HTTP/2 stream) when the consumer stops early (break, return, throw).
      d.abort();
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
    method: string,
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
    method: string,
    path: string,
    opts: RequestOptions,
    body?: unknown,
    contentType?: string,
  ): Promise<string> {
    const d = deadline(opts.timeoutMs ?? this.#timeoutMs, opts.signal);
    try {
      const res = await this.#send(method, path, opts.query ?? {}, d.signal, body, contentType);
      if (res.statusCode >= 300) throw await this.#failure(method, path, res);
      return await res.body.text();
    } catch (err) {
      if (err instanceof ApiError || err instanceof TransportError) throw err;
      throw new TransportError(method, path, d.reason(), err);
    } finally {
      d.done();
    }
  }

  async #send(
    method: string,
    path: string,
    query: Query,
    signal: AbortSignal,
    body?: unknown,
    contentType?: string,
  ): Promise<UndiciDispatcher.ResponseData> {
    const url = new URL(this.#server + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers = await credentials(this.#kc);
    headers.accept = "application/json";
    headers["user-agent"] = this.#userAgent;
    // JSON is YAML, so apply patches are sent as JSON under the apply-patch+yaml type.
    if (body !== undefined) headers["content-type"] = contentType ?? "application/json";
    this.#dispatcher ??= sharedDispatcher(this.#kc, this.#server);
    const dispatcher = await this.#dispatcher;
    this.#hooks.beforeSend?.(method, path);
    let res: UndiciDispatcher.ResponseData;
    try {
      res = await undiciRequest(url, {
        method: method as UndiciDispatcher.HttpMethod,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        signal,
        ...(dispatcher === undefined ? {} : { dispatcher }),
      });
    } catch (err) {
      this.#hooks.afterResponse?.(method, undefined);
      throw err;
    }
    this.#hooks.afterResponse?.(method, res.statusCode);
    return res;
  }

  async #failure(method: string, path: string, res: UndiciDispatcher.ResponseData): Promise<ApiError> {
    let status: unknown;
    try {
      status = JSON.parse(await res.body.text());
    } catch {
      status = undefined;
    }
    const retryAfter = res.headers["retry-after"];
    return new ApiError(
      method,
      path,
      res.statusCode,
      status,
      Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
    );
  }
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
