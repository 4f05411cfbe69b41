/**
 * What every command needs from kubectl's global flags: the kubeconfig (--kubeconfig, --context), the
 * namespace (-n, else the context's, else "default"), and a client. Failures become `CliError`s with a
 * one-line message a person can act on and the exit code to leave with.
 */
import { API_VERSION, bgdCollection, bgdPath, GROUP, PLURAL } from "../api/labels.ts";
import { ApiError, TransportError } from "../kube/api-errors.ts";
import { KubeClient, PooledKubeConfig } from "../kube/kube.ts";
import { isRecord, str } from "./objects.ts";

/** Leaves the process with `exitCode` and prints `message` (already formatted, one line) on stderr. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

export type Output = "json" | "yaml" | "wide" | "name" | undefined;

export interface GlobalFlags {
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly namespace?: string;
  readonly allNamespaces?: boolean;
  readonly output?: string;
  readonly requestTimeout?: string;
}

export interface Session {
  readonly client: KubeClient;
  readonly namespace: string;
  /** -n was given or differs from the context's: hints then carry " -n NS" so they can be pasted. */
  readonly namespaceFlag: string;
  readonly allNamespaces: boolean;
  readonly output: Output;
  readonly server: string;
}

export const OUTPUTS = ["json", "yaml", "wide", "name"] as const;

export function parseOutput(v: string | undefined): Output {
  if (v === undefined || v === "") return undefined;
  if ((OUTPUTS as readonly string[]).includes(v)) return v as Output;
  throw new CliError(
    `error: unable to match a printer suitable for the output format "${v}", allowed formats are: ${OUTPUTS.join(",")}`,
  );
}

/** kubectl's --request-timeout: "0" (none), a number of seconds, or a duration like 30s, 2m, 1h. */
export function parseDuration(v: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (m === null) throw new CliError(`error: invalid ${flag} "${v}": use a duration such as 30s, 5m or 1h`);
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  return n * (unit === "ms" ? 1 : unit === "s" ? 1000 : unit === "m" ? 60_000 : 3_600_000);
}

export function openSession(flags: GlobalFlags, version: string): Session {
  const kc = new PooledKubeConfig();
  try {
    if (flags.kubeconfig !== undefined && flags.kubeconfig !== "") kc.loadFromFile(flags.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new CliError(`error: cannot load kubeconfig: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (flags.context !== undefined && flags.context !== "") {
    if (kc.getContextObject(flags.context) === null)
      throw new CliError(`error: context "${flags.context}" does not exist in the kubeconfig`);
    kc.setCurrentContext(flags.context);
  }
  const cluster = kc.getCurrentCluster();
  if (cluster === null) {
    throw new CliError(
      "error: no cluster configured: set KUBECONFIG, pass --kubeconfig, or choose one with --context",
    );
  }
  const contextNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  const namespace = flags.namespace ?? contextNamespace ?? "default";
  const timeoutMs = parseDuration(flags.requestTimeout ?? "30s", "--request-timeout");
  const client = new KubeClient(kc, {
    fieldManager: "kubectl-bluegreen",
    userAgent: `kubectl-bluegreen/${version}`,
    timeoutMs: timeoutMs === 0 ? 24 * 3_600_000 : timeoutMs,
  });
  return {
    client,
    namespace,
    namespaceFlag: namespace !== (contextNamespace ?? "default") ? ` -n ${namespace}` : "",
    allNamespaces: flags.allNamespaces === true,
    output: parseOutput(flags.output),
    server: cluster.server,
  };
}

export { bgdCollection, bgdPath };

/** Is the BlueGreenDeployment API served at all? (A 404 on an object may mean the CRD is missing.) */
async function apiInstalled(s: Session): Promise<boolean> {
  try {
    await s.client.get(`/apis/${API_VERSION}`);
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return false;
    return true;
  }
}

export interface Target {
  /** e.g. `bluegreendeployment "web"` or `deployment "web-blue"` */
  readonly kind: string;
  readonly name?: string;
  readonly namespace?: string;
}

/** The server's own message when it sent one (it names the user, verb and resource on a 403). */
const serverMessage = (e: ApiError): string => {
  const m = str(isRecord(e.status) ? e.status.message : undefined);
  return m !== undefined && m !== "" ? m : e.message;
};

/**
 * Turns any failure into a one-line CliError, the way kubectl words them: "Error from server (NotFound): ...",
 * "error: ...". A 404 for a BlueGreenDeployment is told apart from a cluster that lacks the CRD.
 */
export async function explain(err: unknown, s: Session, target?: Target): Promise<CliError> {
  if (err instanceof CliError) return err;
  if (err instanceof ApiError) {
    if (err.code === 404 && target !== undefined && err.path.startsWith(`/apis/${GROUP}/`)) {
      if (!(await apiInstalled(s))) return noCrd(s);
    }
    if (err.code === 404 && target?.name !== undefined) {
      const where = target.namespace !== undefined ? ` in namespace "${target.namespace}"` : "";
      return new CliError(`Error from server (NotFound): ${target.kind} "${target.name}" not found${where}`);
    }
    if (err.code === 401) return new CliError("error: You must be logged in to the server (Unauthorized)");
    return new CliError(`Error from server (${err.reason}): ${serverMessage(err)}`);
  }
  if (err instanceof TransportError) {
    // "GET /apis/...: request failed: fetch failed: connect ECONNREFUSED ..." → "connect ECONNREFUSED ..."
    const cause = err.message.replace(/^\S+ \S+: /, "").replace(/^(request failed: )?(fetch failed: )?/, "");
    return new CliError(`error: cannot reach the Kubernetes API server at ${s.server}: ${cause}`);
  }
  return new CliError(`error: ${err instanceof Error ? err.message : String(err)}`);
}

export function noCrd(s: Session): CliError {
  return new CliError(
    `error: the server at ${s.server} doesn't have a resource type "${PLURAL}.${GROUP}": the BlueGreenDeployment CRD is not installed (install it with: make install, or kubectl apply --server-side -f deploy/crd/)`,
  );
}

/** Runs `fn` and explains its failure in terms of `target`. */
export async function withTarget<T>(s: Session, target: Target, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw await explain(err, s, target);
  }
}

export const bgdTarget = (s: Session, name: string): Target => ({
  kind: "bluegreendeployment",
  name,
  namespace: s.namespace,
});
