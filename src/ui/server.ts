/**
 * The dashboard's HTTP server: the page (one bundled script, one stylesheet), a Server-Sent Events stream
 * of `DashboardState` pushed whenever a watch sees a change, and POST /api/actions, which acts through
 * the plugin's own commands with the user's credentials (so RBAC is the user's).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  abort,
  type Outcome,
  pause,
  promote,
  resume,
  retry,
  rollbackKeepSpec,
} from "../cli/commands/actions.ts";
import { rollback } from "../cli/commands/edit.ts";
import { bgdView } from "../cli/objects.ts";
import { CliError, explain, type Session } from "../cli/session.ts";
import type { UiAssets } from "./assets.ts";
import { detailOf, sortedRows } from "./model.ts";
import { TrafficFeed, type TrafficOptions } from "./traffic.ts";
import {
  ACTION_NAMES,
  type ActionName,
  type ActionRequest,
  type ActionResult,
  type DashboardState,
  type Detail,
} from "./view.ts";
import { ClusterWatch } from "./watch.ts";

export interface DashboardOptions {
  readonly session: Session;
  /** undefined: all namespaces. */
  readonly namespace: string | undefined;
  readonly readOnly: boolean;
  readonly address: string;
  readonly port: number;
  readonly assets: UiAssets;
  /** Where the traffic chart's series come from; without it the chart says none is configured. */
  readonly traffic?: TrafficOptions;
  /** Coalesces bursts of watch events into one push (a rollout step changes several objects at once). */
  readonly pushDelayMs?: number;
}

interface Subscriber {
  readonly res: ServerResponse;
  /** `namespace/name` of the BGD the page shows in detail. */
  readonly detail: string | undefined;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export class DashboardServer {
  readonly #opts: DashboardOptions;
  readonly #watch: ClusterWatch;
  readonly #http: Server;
  readonly #subscribers = new Set<Subscriber>();
  readonly #traffic: TrafficFeed | undefined;
  #pushTimer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(opts: DashboardOptions) {
    this.#opts = opts;
    this.#watch = new ClusterWatch(
      opts.session.client,
      opts.session.server,
      { namespace: opts.namespace },
      () => this.#schedulePush(),
    );
    this.#traffic =
      opts.traffic === undefined
        ? undefined
        : new TrafficFeed(
            opts.traffic,
            (key) => revisionsToChart(this.#detail(key)),
            () => this.#schedulePush(),
          );
    this.#http = createServer((req, res) => {
      this.#route(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(err instanceof Error ? err.message : String(err));
      });
    });
  }

  /** Starts the watches and listens; resolves with the page's URL. */
  async start(): Promise<string> {
    this.#watch.start();
    await new Promise<void>((resolve, reject) => {
      this.#http.once("error", reject);
      this.#http.listen(this.#opts.port, this.#opts.address, () => resolve());
    });
    // A comment line now and then lets the page (and proxies) notice a connection that silently died.
    this.#heartbeat = setInterval(() => {
      for (const s of this.#subscribers) s.res.write(": keep-alive\n\n");
    }, 15_000);
    const { port } = this.#http.address() as AddressInfo;
    const host = this.#opts.address.includes(":") ? `[${this.#opts.address}]` : this.#opts.address;
    return `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}/`;
  }

  async stop(): Promise<void> {
    clearInterval(this.#heartbeat);
    clearTimeout(this.#pushTimer);
    this.#traffic?.stop();
    for (const s of this.#subscribers) s.res.end();
    this.#subscribers.clear();
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
    await this.#watch.stop();
  }

  state(detail: string | undefined): DashboardState {
    const bgds = this.#watch.bgds();
    return {
      scope: this.#opts.namespace === undefined ? "all namespaces" : `namespace ${this.#opts.namespace}`,
      readOnly: this.#opts.readOnly,
      connection: this.#watch.connection(),
      rows: sortedRows(bgds),
      detail: detail === undefined ? null : this.#detail(detail),
      traffic:
        this.#traffic === undefined || detail === undefined ? { state: "off" } : this.#traffic.view(detail),
      now: Date.now(),
    };
  }

  /** `namespace/name` in detail, or null when there is no such BGD (any more). */
  #detail(key: string): Detail | null {
    const [ns = "", name = ""] = key.split("/");
    const raw = this.#watch.bgd(ns, name);
    if (raw === undefined) return null;
    const v = bgdView(raw);
    const svcs = [v.activeServiceName, ...(v.previewServiceName !== undefined ? [v.previewServiceName] : [])];
    return detailOf(raw, this.#watch.related(ns, name, svcs), this.#opts.readOnly);
  }

  #schedulePush(): void {
    if (this.#pushTimer !== undefined) return;
    this.#pushTimer = setTimeout(() => {
      this.#pushTimer = undefined;
      for (const s of this.#subscribers) this.#send(s);
    }, this.#opts.pushDelayMs ?? 50);
  }

  #send(s: Subscriber): void {
    s.res.write(`event: state\ndata: ${JSON.stringify(this.state(s.detail))}\n\n`);
  }

  /**
   * Only this machine may use a dashboard on loopback: a web page elsewhere could otherwise reach it
   * through the browser (DNS rebinding changes the Host; a cross-site form changes the Origin).
   */
  #allowed(req: IncomingMessage): boolean {
    const host = req.headers.host ?? "";
    if (LOOPBACK.has(this.#opts.address)) {
      const hostname = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
      if (!LOOPBACK.has(hostname)) return false;
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== "null") {
      try {
        if (new URL(origin).host !== host) return false;
      } catch {
        return false;
      }
    }
    return true;
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.#allowed(req)) {
      res.writeHead(403, { "content-type": "text/plain" }).end("forbidden: unexpected Host or Origin\n");
      return;
    }
    const url = new URL(req.url ?? "/", "http://dashboard");
    const headers = {
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      // Nothing is fetched from anywhere else; the page could not even if it tried.
      "content-security-policy":
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    };
    const a = this.#opts.assets;
    if (req.method === "GET" && url.pathname === "/") {
      res.writeHead(200, { ...headers, "content-type": "text/html; charset=utf-8" }).end(a.html);
    } else if (req.method === "GET" && url.pathname === "/app.js") {
      res.writeHead(200, { ...headers, "content-type": "text/javascript; charset=utf-8" }).end(a.js);
    } else if (req.method === "GET" && url.pathname === "/app.css") {
      res.writeHead(200, { ...headers, "content-type": "text/css; charset=utf-8" }).end(a.css);
    } else if (req.method === "GET" && url.pathname === "/api/events") {
      this.#subscribe(req, res, url.searchParams.get("detail") ?? undefined);
    } else if (req.method === "GET" && url.pathname === "/api/state") {
      const body = JSON.stringify(this.state(url.searchParams.get("detail") ?? undefined));
      res.writeHead(200, { ...headers, "content-type": "application/json" }).end(body);
    } else if (req.method === "POST" && url.pathname === "/api/actions") {
      const result = await this.#act(req);
      res
        .writeHead(result.ok ? 200 : 422, { ...headers, "content-type": "application/json" })
        .end(JSON.stringify(result));
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  }

  #subscribe(req: IncomingMessage, res: ServerResponse, detail: string | undefined): void {
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    res.write("retry: 1000\n\n");
    const sub: Subscriber = { res, detail };
    this.#subscribers.add(sub);
    // Prometheus is asked about a BGD only while some page shows it.
    if (detail !== undefined) this.#traffic?.acquire(detail);
    this.#send(sub);
    req.on("close", () => {
      this.#subscribers.delete(sub);
      if (detail !== undefined) this.#traffic?.release(detail);
    });
  }

  async #act(req: IncomingMessage): Promise<ActionResult> {
    // A JSON body cannot be sent cross-site without a CORS preflight, which this server never answers.
    if (!(req.headers["content-type"] ?? "").startsWith("application/json"))
      return { ok: false, message: "error: expected a JSON body" };
    const request = parseRequest(await readBody(req));
    if (typeof request === "string") return { ok: false, message: `error: ${request}` };
    if (this.#opts.readOnly)
      return { ok: false, message: "error: the dashboard runs read-only (--read-only)" };
    if (this.#opts.namespace !== undefined && request.namespace !== this.#opts.namespace)
      return { ok: false, message: `error: this dashboard shows namespace ${this.#opts.namespace} only` };
    const s: Session = {
      ...this.#opts.session,
      namespace: request.namespace,
      namespaceFlag: ` -n ${request.namespace}`,
    };
    try {
      const o = await run(s, request);
      return { ok: o.exitCode === 0, message: o.message };
    } catch (err) {
      const e = err instanceof CliError ? err : await explain(err, s);
      return { ok: false, message: e.message };
    }
  }
}

/** The revisions a chart of this BGD shows: both colors' now, and those promoted before. */
export function revisionsToChart(d: Detail | null): string[] | undefined {
  if (d === null) return undefined;
  const revs = [...d.colors.map((c) => c.revision), ...d.history.slice(0, 10).map((h) => h.revision)];
  return [...new Set(revs.filter((r): r is string => r !== undefined && r !== "?"))];
}

function run(s: Session, r: ActionRequest): Promise<Outcome> {
  const rev = r.revision;
  switch (r.action) {
    case "promote":
      // Never "whatever is in preview now": the page names the revision the person saw.
      if (rev === undefined) throw new CliError("error: promote needs the revision shown on the page");
      return promote(s, r.name, rev);
    case "abort":
      return abort(s, r.name, rev);
    case "retry":
      return retry(s, r.name);
    case "rollback":
      return rollback(s, r.name, rev);
    case "rollbackKeepSpec":
      // The live revision the page showed: refused if another one went live meanwhile.
      return rollbackKeepSpec(s, r.name, rev);
    case "pause":
      return pause(s, r.name);
    case "resume":
      return resume(s, r.name);
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = "";
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > 10_000) throw new CliError("error: request too large");
  }
  return body;
}

/** The request as the page sent it, or what is wrong with it. */
export function parseRequest(body: string): ActionRequest | string {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return "the request is not JSON";
  }
  if (typeof v !== "object" || v === null) return "the request is not an object";
  const o = v as Record<string, unknown>;
  const name = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
  if (!ACTION_NAMES.includes(o.action as ActionName)) return `unknown action ${String(o.action)}`;
  if (typeof o.namespace !== "string" || !name.test(o.namespace)) return "namespace missing or invalid";
  if (typeof o.name !== "string" || !name.test(o.name)) return "name missing or invalid";
  if (o.revision !== undefined && (typeof o.revision !== "string" || !/^[a-z0-9]+$/.test(o.revision)))
    return "revision invalid";
  return {
    action: o.action as ActionName,
    namespace: o.namespace,
    name: o.name,
    ...(typeof o.revision === "string" ? { revision: o.revision } : {}),
  };
}
