/**
 * A real Gateway data plane for a local cluster: Contour (the Gateway API controller, built from its Go
 * module) and the Envoy it configures, both inside the cluster's network namespace, where pod IPs answer.
 * Contour watches one Gateway (its gatewayRef mode), turns the HTTPRoutes attached to it into Envoy
 * configuration over xDS, and Envoy sends each request straight to a pod IP of a backend Service (from its
 * EndpointSlices; podsim answers as that pod), choosing between weighted backendRefs per request.
 *
 *   load (netns) ──Host: h──► envoy 127.0.1.K:8080 ──► pod IPs ◄─EDS─ contour 127.0.1.K:8001 ◄─watch─ apiserver
 *
 * One gateway per caller, each on a loopback address of its own (127.0.1.K, K claimed with a lock file in
 * the cluster's directory), so every port is the one Contour documents (a listener on port 80 is Envoy on
 * 8080, Envoy's stats on 8002, xDS on 8001) and test files running in parallel never collide; Envoy runs
 * without hot restart, so it needs no base id shared between them either. Logs go to the cluster's logs/
 * (gateway-K-contour.log, gateway-K-envoy.log, gateway-K-access.log).
 */
import { type ChildProcess, execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { alive, binDir, clusterPaths, recordPids, stopPid } from "./cluster.ts";
import { gatewayYaml } from "./gateway-api.ts";
import { type KeepOptions, logTail, spawnOn } from "./netns-ports.ts";
import { curlInNetns } from "./traffic.ts";
import { waitUntil } from "./wait.ts";

/** What Envoy binds for the Gateway's listener on port 80 (Contour adds 8000 below port 1024). */
export const ENVOY_HTTP_PORT = 8080;
const XDS_PORT = 8001;
const STATS_PORT = 8002;
const CONTOUR_METRICS_PORT = 8000;
const CONTOUR_DEBUG_PORT = 6060;

export interface GatewayOptions extends KeepOptions {
  /** The cluster's directory (BGO_CLUSTER_DIR in e2e tests; .cluster for `make cluster-up`). */
  readonly clusterDir: string;
  /** Where the Gateway object lives. */
  readonly namespace: string;
  /** Default "gateway". */
  readonly name?: string;
  /**
   * The namespaces Contour watches (Services, EndpointSlices, routes): the Gateway's and its routes'.
   * Default: the Gateway's own. Fewer watched namespaces keep Contour light beside parallel tests.
   */
  readonly routeNamespaces?: readonly string[];
}

export interface Gateway {
  readonly namespace: string;
  readonly name: string;
  /** The Gateway's own loopback address inside the network namespace. */
  readonly address: string;
  /** Envoy's HTTP listener inside the network namespace (send requests with the route's Host). */
  readonly url: string;
  /** Envoy's stats listener (/stats, /ready) inside the network namespace. */
  readonly statsUrl: string;
  readonly pids: Readonly<Record<string, number>>;
  /**
   * Resolves once a request for `host` (and `path`) through Envoy is answered `status` (default 200):
   * the route is programmed end to end. Returns the body of that answer.
   */
  waitServing(host: string, opts?: { path?: string; status?: number; timeoutMs?: number }): Promise<string>;
  /**
   * The shares Envoy routes `host` by right now, in percent per backend Service name (read from its live
   * configuration through the admin socket); undefined while it has no route for `host`.
   */
  routeWeights(host: string): Promise<Readonly<Record<string, number>> | undefined>;
  /** Resolves once Envoy routes `host` by exactly these shares (percent per Service; absent means 0). */
  waitWeights(host: string, want: Readonly<Record<string, number>>, timeoutMs?: number): Promise<void>;
  /** Stops Envoy and Contour (SIGTERM, then SIGKILL), deletes the Gateway object, frees the address. */
  stop(): Promise<void>;
}

/**
 * Claims 127.0.1.K: its lock file is created exclusively (with the claimer's pid in it, later its
 * processes' too). Only when every address is claimed is one taken over whose pids are all gone (a test
 * that died without stopping its gateway), so two callers starting at once never share an address.
 */
function claimAddress(clusterDir: string): { k: number; own: (pids: number[]) => void; release: () => void } {
  const dir = join(clusterDir, "gateways");
  mkdirSync(dir, { recursive: true });
  const claim = (k: number) => {
    const lock = join(dir, String(k));
    return {
      k,
      own: (pids: number[]) => writeFileSync(lock, [process.pid, ...pids].join(" ")),
      release: () => rmSync(lock, { force: true }),
    };
  };
  for (let k = 1; k < 255; k++) {
    try {
      writeFileSync(join(dir, String(k)), String(process.pid), { flag: "wx" });
      return claim(k);
    } catch {
      // claimed
    }
  }
  for (let k = 1; k < 255; k++) {
    const pids = readFileSync(join(dir, String(k)), "utf8")
      .split(" ")
      .map(Number);
    if (pids.every((p) => p > 0 && !alive(p))) {
      writeFileSync(join(dir, String(k)), String(process.pid));
      return claim(k);
    }
  }
  throw new Error(`every gateway address is in use (${dir})`);
}

function contourConfig(namespace: string, name: string): string {
  return `gateway:\n  gatewayRef:\n    namespace: ${namespace}\n    name: ${name}\n`;
}

/** Applies the Gateway, starts Contour and Envoy in the network namespace, and waits until Envoy is live. */
export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const { clusterDir, namespace } = opts;
  const name = opts.name ?? "gateway";
  // A namespace not made yet (a hook order slip) would quietly put the Gateway in "default".
  if (!namespace || opts.routeNamespaces?.some((n) => !n))
    throw new Error("startGateway: a namespace is empty");
  const paths = clusterPaths(clusterDir);
  const bin = binDir();
  const { k, own, release } = claimAddress(clusterDir);
  const address = `127.0.1.${k}`;
  const id = opts.keepAs ?? `gateway-${k}`;
  // Short: Envoy's admin socket path must fit a sockaddr_un.
  const dir = join(clusterDir, "gateways", `${k}.d`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "resources"), { recursive: true });
  const logOf = (what: string) => join(clusterDir, "logs", `${id}-${what}.log`);
  const keep = opts.keepAs !== undefined ? { keepAs: opts.keepAs } : {};
  const children: ChildProcess[] = [];
  const pids: Record<string, number> = {};
  const kubectl = (args: readonly string[], input?: string) =>
    execText(join(bin, "kubectl"), ["--kubeconfig", paths.kubeconfig, ...args], input);

  const stop = async () => {
    // Envoy first: the data plane goes before what configures it.
    for (const child of [...children].reverse()) await stopPid(child.pid, 5000);
    await kubectl(["delete", "gateway", name, "-n", namespace, "--ignore-not-found", "--wait=false"]).catch(
      () => {},
    );
    rmSync(dir, { recursive: true, force: true });
    release();
  };
  const start = (what: string, program: string, args: string[]) => {
    const child = spawnOn(clusterDir, "cluster", program, args, { log: logOf(what), ...keep });
    child.stdout?.destroy();
    if (child.pid === undefined) throw new Error(`could not start ${what}: ${logTail(logOf(what))}`);
    children.push(child);
    const key = `${id}-${what}`;
    pids[key] = child.pid;
    if (opts.keepAs !== undefined) recordPids(clusterDir, { [key]: child.pid });
    // A gateway kept past its starter holds its address as long as its processes run.
    own(Object.values(pids));
    return child;
  };
  try {
    await kubectl(["apply", "--server-side", "-f", "-"], gatewayYaml(namespace, name));
    writeFileSync(join(dir, "contour.yaml"), contourConfig(namespace, name));
    const watched = [...new Set([namespace, ...(opts.routeNamespaces ?? [])])];
    const contour = start("contour", join(bin, "contour"), [
      "serve",
      `--kubeconfig=${paths.kubeconfig}`,
      `--config-path=${join(dir, "contour.yaml")}`,
      "--insecure",
      "--disable-leader-election",
      `--watch-namespaces=${watched.join(",")}`,
      // The standard channel has no TLSRoute, TCPRoute or BackendTLSPolicy (gateway-api.ts).
      "--disable-feature=tlsroutes",
      "--disable-feature=tcproutes",
      "--disable-feature=backendtlspolicies",
      `--xds-address=${address}`,
      `--xds-port=${XDS_PORT}`,
      `--envoy-service-http-address=${address}`,
      `--stats-address=${address}`,
      `--stats-port=${STATS_PORT}`,
      `--http-address=${address}`,
      `--http-port=${CONTOUR_METRICS_PORT}`,
      `--health-address=${address}`,
      `--health-port=${CONTOUR_METRICS_PORT}`,
      `--debug-http-address=${address}`,
      `--debug-http-port=${CONTOUR_DEBUG_PORT}`,
      `--envoy-http-access-log=${logOf("access")}`,
    ]);
    await execText(join(bin, "contour"), [
      "bootstrap",
      join(dir, "envoy.json"),
      `--xds-address=${address}`,
      `--xds-port=${XDS_PORT}`,
      `--admin-address=${join(dir, "admin.sock")}`,
      `--resources-dir=${join(dir, "resources")}`,
    ]);
    const envoy = start("envoy", join(bin, "envoy"), [
      "-c",
      join(dir, "envoy.json"),
      // Envoy refuses to start without the two names; Contour serves every node alike.
      "--service-cluster",
      "projectcontour",
      "--service-node",
      id,
      // No shared memory or abstract socket named by a base id: gateways in parallel need none.
      "--disable-hot-restart",
      // One worker thread is plenty for a test's load and keeps the machine's cores for the cluster.
      "--concurrency",
      "1",
    ]);
    const statsUrl = `http://${address}:${STATS_PORT}`;
    // Envoy's stats listener comes from Contour over xDS: once it answers /ready LIVE, both are up.
    const outcome = await waitUntil(
      `gateway ${namespace}/${name}: Envoy live with Contour's configuration`,
      60_000,
      async () => {
        for (const [what, child] of [
          ["contour", contour],
          ["envoy", envoy],
        ] as const)
          if (child.exitCode !== null || child.signalCode !== null) return what;
        const { code, body } = await curlInNetns(paths.netnsExec, `${statsUrl}/ready`);
        return code === "200" && body.includes("LIVE") && "live";
      },
    ).catch(
      (e: Error) => new Error(`${e.message}\n${logTail(logOf("contour"))}\n${logTail(logOf("envoy"))}`),
    );
    if (outcome instanceof Error) throw outcome;
    if (outcome !== "live") throw new Error(`${outcome} exited: ${logTail(logOf(outcome))}`);
    const url = `http://${address}:${ENVOY_HTTP_PORT}`;
    const routeWeights = async (host: string) =>
      routeWeightsIn(
        JSON.parse(await adminGet(join(dir, "admin.sock"), "/config_dump?resource=dynamic_route_configs")),
        host,
      );
    return {
      namespace,
      name,
      address,
      url,
      statsUrl,
      pids,
      stop,
      routeWeights,
      waitWeights: async (host, want, timeoutMs = 60_000) => {
        const same = (got: Readonly<Record<string, number>>) =>
          [...new Set([...Object.keys(got), ...Object.keys(want)])].every(
            (svc) => Math.abs((got[svc] ?? 0) - (want[svc] ?? 0)) < 1e-9,
          );
        await waitUntil(`Envoy routing ${host} by ${JSON.stringify(want)}`, timeoutMs, async () => {
          const got = await routeWeights(host);
          return got !== undefined && same(got);
        });
      },
      waitServing: async (host, o = {}) => {
        const want = String(o.status ?? 200);
        return await waitUntil(
          `${host}${o.path ?? "/"} answering ${want} through Envoy`,
          o.timeoutMs ?? 60_000,
          async () => {
            const { code, body } = await curlInNetns(paths.netnsExec, `${url}${o.path ?? "/"}`, host);
            return code === want ? body : undefined;
          },
        );
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === "object" && v !== null ? (v as Json) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * The shares (percent per Service) of the first routing rule of `host`'s virtual host in an Envoy
 * config_dump of dynamic route configurations. Contour names a cluster namespace/service/port/hash; a rule
 * whose backends do not exist (yet) is a direct 500 answer, no shares.
 */
export function routeWeightsIn(configDump: unknown, host: string): Record<string, number> | undefined {
  const service = (cluster: unknown) => String(cluster).split("/")[1] ?? String(cluster);
  // ?resource=dynamic_route_configs lists each route configuration in `configs`; a whole dump nests them.
  const dynamics = list(obj(configDump).configs).flatMap((c) =>
    obj(c).route_config !== undefined ? [c] : list(obj(c).dynamic_route_configs),
  );
  for (const dynamic of dynamics)
    for (const vhost of list(obj(obj(dynamic).route_config).virtual_hosts)) {
      const domains = list(obj(vhost).domains);
      if (!domains.includes(host) && !domains.includes(`${host}:*`)) continue;
      for (const route of list(obj(vhost).routes)) {
        const action = obj(obj(route).route);
        if (typeof action.cluster === "string") return { [service(action.cluster)]: 100 };
        const clusters = list(obj(action.weighted_clusters).clusters).map(obj);
        if (clusters.length === 0) continue;
        const total = clusters.reduce((n, c) => n + Number(c.weight ?? 0), 0);
        const out: Record<string, number> = {};
        for (const c of clusters) {
          const name = service(c.name);
          out[name] = (out[name] ?? 0) + (total > 0 ? (Number(c.weight ?? 0) * 100) / total : 0);
        }
        return out;
      }
    }
  return undefined;
}

/** GET on Envoy's admin interface (a Unix socket, reachable from the host). */
function adminGet(socketPath: string, path: string): Promise<string> {
  return new Promise((res, rej) => {
    const req = request({ socketPath, path, timeout: 5000 }, (r) => {
      let body = "";
      r.setEncoding("utf8");
      r.on("data", (c: string) => {
        body += c;
      });
      r.on("end", () =>
        r.statusCode === 200 ? res(body) : rej(new Error(`admin ${path}: ${r.statusCode}`)),
      );
    });
    req.on("timeout", () => req.destroy(new Error(`admin ${path}: timed out`)));
    req.on("error", rej);
    req.end();
  });
}

/** Runs a short command and returns its stdout; a failure says what ran and what it printed. */
function execText(cmd: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((res, rej) => {
    const child = execFile(cmd, [...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      err ? rej(new Error(`${cmd} ${args.join(" ")}: ${stderr || err.message}`)) : res(stdout),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}
