/**
 * podsim: one process, inside the cluster's network namespace, that answers HTTP on every pod IP
 * at every declared containerPort as the pod owning that address would. kwok runs no containers;
 * this gives its pods a body, so traffic through a ClusterIP (kube-proxy's DNAT to a pod IP) is
 * answered by the pod kube-proxy chose, and a test can tell which revision served each request.
 *
 * It watches every pod (list + watch) and keeps one listener per podIP:port (pod IPs are local
 * addresses in the namespace: `ip route add local 10.244.0.0/16 dev lo`), so a pod that has no
 * listener refuses connections the way the kernel does. Behaviour, from the pod's labels or
 * annotations (annotation wins):
 *   test.bluegreen.io/error-rate: "0.3"  → 30 % of requests answer 500
 *   test.bluegreen.io/latency: "200ms"   → every answer waits that long first
 *   test.bluegreen.io/refuse: "true"     → no listener: connections are refused
 *   test.bluegreen.io/statuses: "500-200" → the pod's answers take these codes in turn, cycling (a
 *                                          flapping smoke test, deterministic where error-rate is random;
 *                                          dashes, so a label can carry it)
 * A terminating pod (deletionTimestamp set) keeps serving until the pod object is gone; then its
 * listeners close and its open connections are reset, as a container killed after its grace period.
 *
 * Every pod serves `/healthz` and `/metrics` (its own counters in Prometheus text format, so a
 * Prometheus with pod discovery scrapes per-pod, per-revision error rates); any other path answers
 * JSON naming pod, namespace, color, revision and image. The admin port (127.0.0.1 in the
 * namespace) serves `/healthz` once the first pod list is in and `/metrics` of all pods.
 */

import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { parse as parseYaml } from "yaml";

const LABEL_PREFIX = "test.bluegreen.io/";

export interface PodBehaviour {
  readonly errorRate: number;
  readonly latencyMs: number;
  readonly refuse: boolean;
  /** Codes the pod's answers take in turn (empty: errorRate decides). */
  readonly statuses: readonly number[];
}

interface SimPod {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly ip: string;
  readonly ports: readonly number[];
  readonly color: string;
  readonly revision: string;
  readonly image: string;
  readonly behaviour: PodBehaviour;
}

/** Parses "250ms", "1.5s" or a bare number of milliseconds; anything else is 0. */
export function parseDurationMs(v: string | undefined): number {
  if (v === undefined) return 0;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$/.exec(v);
  if (m?.[1] === undefined) return 0;
  return Number(m[1]) * (m[2] === "s" ? 1000 : 1);
}

export function behaviourOf(
  labels: Record<string, string>,
  annotations: Record<string, string>,
): PodBehaviour {
  const get = (k: string) => annotations[LABEL_PREFIX + k] ?? labels[LABEL_PREFIX + k];
  const rate = Number(get("error-rate") ?? "0");
  return {
    errorRate: Number.isFinite(rate) ? Math.min(1, Math.max(0, rate)) : 0,
    latencyMs: parseDurationMs(get("latency")),
    refuse: get("refuse") === "true",
    statuses: (get("statuses") ?? "")
      .split(/[-,]/)
      .map((c) => Number(c.trim()))
      .filter((c) => Number.isInteger(c) && c >= 100 && c <= 599),
  };
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === "object" && v !== null ? (v as Json) : {});
const strMap = (v: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(obj(v)).filter((e): e is [string, string] => typeof e[1] === "string"));

/** The pod as podsim serves it, or undefined when it has no IP yet (or shares the node's). */
export function simPod(raw: unknown): SimPod | undefined {
  const meta = obj(obj(raw).metadata);
  const spec = obj(obj(raw).spec);
  const status = obj(obj(raw).status);
  const ip = status.podIP;
  if (typeof ip !== "string" || ip === "" || spec.hostNetwork === true) return undefined;
  const labels = strMap(meta.labels);
  const annotations = strMap(meta.annotations);
  const containers = Array.isArray(spec.containers) ? spec.containers.map(obj) : [];
  const ports = containers.flatMap((c) =>
    (Array.isArray(c.ports) ? c.ports.map(obj) : [])
      .filter((p) => p.protocol === undefined || p.protocol === "TCP")
      .map((p) => p.containerPort)
      .filter((p): p is number => typeof p === "number"),
  );
  return {
    uid: String(meta.uid ?? ""),
    name: String(meta.name ?? ""),
    namespace: String(meta.namespace ?? ""),
    ip,
    ports: [...new Set(ports)],
    color: labels["bluegreen.io/color"] ?? "",
    revision: labels["bluegreen.io/revision"] ?? "",
    image: String(containers[0]?.image ?? ""),
    behaviour: behaviourOf(labels, annotations),
  };
}

/** Per-pod request counters by status code. */
class Counters {
  private readonly byPod = new Map<string, { pod: SimPod; codes: Map<number, number> }>();
  count(pod: SimPod, code: number): void {
    const key = `${pod.namespace}/${pod.name}`;
    let entry = this.byPod.get(key);
    if (entry === undefined) {
      entry = { pod, codes: new Map() };
      this.byPod.set(key, entry);
    }
    entry.codes.set(code, (entry.codes.get(code) ?? 0) + 1);
  }
  forget(pod: SimPod): void {
    this.byPod.delete(`${pod.namespace}/${pod.name}`);
  }
  /** Prometheus text: one pod's (as the pod itself exposes it) or all of them (admin port). */
  render(only?: SimPod): string {
    const lines = [
      "# HELP podsim_http_requests_total HTTP requests this pod answered, by status code.",
      "# TYPE podsim_http_requests_total counter",
    ];
    for (const { pod, codes } of this.byPod.values()) {
      if (only !== undefined && (pod.namespace !== only.namespace || pod.name !== only.name)) continue;
      const who = only === undefined ? `namespace="${pod.namespace}",pod="${pod.name}",` : "";
      for (const [code, n] of [...codes].sort((a, b) => a[0] - b[0]))
        lines.push(`podsim_http_requests_total{${who}revision="${pod.revision}",code="${code}"} ${n}`);
    }
    return `${lines.join("\n")}\n`;
  }
}

interface Listener {
  readonly server: Server;
  readonly sockets: Set<Socket>;
}

class PodSim {
  /** The pod that owns each IP now (kwok may hand a freed IP to a new pod before the old one is gone). */
  private readonly byIp = new Map<string, SimPod>();
  private readonly listeners = new Map<string, Listener>();
  /** Answers given per pod uid (not /healthz or /metrics): the position in its `statuses`. */
  private readonly answered = new Map<string, number>();
  readonly counters = new Counters();

  /** Reconciles listeners with the pods now known: one per ip:port of a pod that does not refuse. */
  set(pods: readonly SimPod[]): void {
    this.byIp.clear();
    for (const p of pods) this.byIp.set(p.ip, p);
    this.sync();
  }
  upsert(p: SimPod): void {
    this.byIp.set(p.ip, p);
    this.sync();
  }
  remove(uid: string, ip: string): void {
    const owner = this.byIp.get(ip);
    if (owner?.uid === uid) {
      this.byIp.delete(ip);
      this.counters.forget(owner);
      this.answered.delete(uid);
    }
    this.sync();
  }

  private sync(): void {
    const want = new Set<string>();
    for (const p of this.byIp.values())
      if (!p.behaviour.refuse) for (const port of p.ports) want.add(`${p.ip}:${port}`);
    for (const [key, l] of this.listeners) {
      if (want.has(key)) continue;
      this.listeners.delete(key);
      l.server.close();
      // The pod is gone: what it still had open is reset, as a killed container's would be.
      for (const s of l.sockets) s.destroy();
    }
    for (const key of want) if (!this.listeners.has(key)) this.listen(key);
  }

  private listen(key: string): void {
    const [ip, port] = key.split(":");
    const sockets = new Set<Socket>();
    const server = createServer((req, res) => this.answer(ip ?? "", req, res));
    server.on("connection", (s) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    server.on("error", (err) => {
      console.error(`podsim: listen ${key}: ${err.message}`);
      if (this.listeners.get(key)?.server === server) this.listeners.delete(key);
    });
    server.listen(Number(port), ip);
    this.listeners.set(key, { server, sockets });
  }

  private answer(ip: string, req: IncomingMessage, res: ServerResponse): void {
    const pod = this.byIp.get(ip);
    if (pod === undefined) {
      res.destroy();
      return;
    }
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    if (path === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(this.counters.render(pod));
      return;
    }
    const reply = () => {
      const { statuses } = pod.behaviour;
      const nth = this.answered.get(pod.uid) ?? 0;
      this.answered.set(pod.uid, nth + 1);
      const code =
        statuses.length > 0
          ? (statuses[nth % statuses.length] ?? 200)
          : Math.random() < pod.behaviour.errorRate
            ? 500
            : 200;
      const failed = code >= 400;
      this.counters.count(pod, code);
      const body = {
        pod: pod.name,
        namespace: pod.namespace,
        color: pod.color,
        revision: pod.revision,
        image: pod.image,
        ip: pod.ip,
        ...(failed
          ? { error: `injected by test.bluegreen.io/${statuses.length > 0 ? "statuses" : "error-rate"}` }
          : {}),
      };
      res.writeHead(code, { "content-type": "application/json" }).end(`${JSON.stringify(body)}\n`);
    };
    if (pod.behaviour.latencyMs > 0) setTimeout(reply, pod.behaviour.latencyMs);
    else reply();
  }
}

interface ClientConfig {
  readonly host: string;
  readonly port: number;
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

function clientConfig(kubeconfigPath: string): ClientConfig {
  const kc = obj(parseYaml(readFileSync(kubeconfigPath, "utf8")));
  const cluster = obj(obj((kc.clusters as unknown[] | undefined)?.[0]).cluster);
  const user = obj(obj((kc.users as unknown[] | undefined)?.[0]).user);
  const url = new URL(String(cluster.server));
  const b64 = (v: unknown) => Buffer.from(String(v), "base64");
  return {
    host: url.hostname,
    port: Number(url.port || 443),
    ca: b64(cluster["certificate-authority-data"]),
    cert: b64(user["client-certificate-data"]),
    key: b64(user["client-key-data"]),
  };
}

/** GET on the API; the response as a stream of lines (watch) or one body. */
function get(cfg: ClientConfig, path: string, onLine?: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: cfg.host, port: cfg.port, path, ca: cfg.ca, cert: cfg.cert, key: cfg.key, method: "GET" },
      (res) => {
        let buf = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buf += chunk;
          if (onLine === undefined) return;
          let i = buf.indexOf("\n");
          while (i >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (line.trim() !== "") onLine(line);
            i = buf.indexOf("\n");
          }
        });
        res.on("end", () =>
          res.statusCode === 200 ? resolve(buf) : reject(new Error(`GET ${path}: ${res.statusCode} ${buf}`)),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** List, then watch from the list's resourceVersion; relist whenever the watch cannot resume. */
async function watchPods(cfg: ClientConfig, sim: PodSim, onSynced: () => void): Promise<never> {
  for (;;) {
    try {
      const list = obj(JSON.parse(await get(cfg, "/api/v1/pods?limit=0")));
      let rv = String(obj(list.metadata).resourceVersion ?? "");
      const items = Array.isArray(list.items) ? list.items : [];
      sim.set(items.map(simPod).filter((p): p is SimPod => p !== undefined));
      onSynced();
      for (;;) {
        let gone = false;
        await get(
          cfg,
          `/api/v1/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=${rv}`,
          (line) => {
            const ev = obj(JSON.parse(line));
            const o = obj(ev.object);
            const meta = obj(o.metadata);
            if (ev.type === "ERROR") {
              gone = true;
              return;
            }
            if (typeof meta.resourceVersion === "string") rv = meta.resourceVersion;
            if (ev.type === "BOOKMARK") return;
            const status = obj(o.status);
            if (ev.type === "DELETED") {
              sim.remove(String(meta.uid ?? ""), String(status.podIP ?? ""));
              return;
            }
            const p = simPod(o);
            if (p !== undefined) sim.upsert(p);
          },
        );
        if (gone) break;
      }
    } catch (err) {
      console.error(`podsim: ${err instanceof Error ? err.message : String(err)}`);
      await sleep(500);
    }
  }
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (import.meta.main) {
  const kubeconfig = flag("kubeconfig") ?? process.env.KUBECONFIG;
  const admin = flag("admin") ?? "127.0.0.1:9901";
  if (kubeconfig === undefined) {
    console.error("usage: podsim.ts --kubeconfig FILE [--admin 127.0.0.1:PORT]");
    process.exit(2);
  }
  const sim = new PodSim();
  let synced = false;
  const [adminHost, adminPort] = admin.split(":");
  createServer((req, res) => {
    if (req.url === "/healthz")
      res.writeHead(synced ? 200 : 503, { "content-type": "text/plain" }).end(synced ? "ok\n" : "syncing\n");
    else if (req.url === "/metrics")
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(sim.counters.render());
    else res.writeHead(404).end();
  }).listen(Number(adminPort), adminHost);
  for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => process.exit(0));
  await watchPods(clientConfig(kubeconfig), sim, () => {
    if (!synced) console.log("podsim: pods listed, serving");
    synced = true;
  });
}
