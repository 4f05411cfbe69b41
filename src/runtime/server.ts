/** The operator's small HTTP endpoints: /healthz and /readyz, and Prometheus' /metrics. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { parseBindAddress } from "./flags.ts";

type Route = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface Endpoint {
  readonly server: Server;
  /** The address actually bound (`127.0.0.1:41234` when port 0 was asked for). */
  readonly address: string;
  close(): Promise<void>;
}

/** Serves `routes` (exact paths, GET) on `addr` (`:8080`, `127.0.0.1:0`...). */
export async function serve(addr: string, routes: Readonly<Record<string, Route>>): Promise<Endpoint> {
  const bind = parseBindAddress(addr);
  if (bind === undefined) throw new Error(`cannot serve on disabled address "${addr}"`);
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const route = routes[path];
    if (route === undefined || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    Promise.resolve(route(req, res)).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`${err instanceof Error ? err.message : String(err)}\n`);
    });
  });
  // Probes and scrapes are short; a stuck client must not hold a socket forever.
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(bind.port, bind.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const address = a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  return {
    server,
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** 200 "ok" when `check()` returns undefined, else 503 with the reason. */
export function probe(check: () => string | undefined): Route {
  return (_req, res) => {
    const why = check();
    res
      .writeHead(why === undefined ? 200 : 503, { "content-type": "text/plain; charset=utf-8" })
      .end(why === undefined ? "ok\n" : `${why}\n`);
  };
}

export function metricsRoute(registry: Registry): Route {
  return async (_req, res) => {
    const body = await registry.metrics();
    res.writeHead(200, { "content-type": registry.contentType }).end(body);
  };
}
