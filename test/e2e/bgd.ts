import { FAST_PODS, kubectl, kubectlJson, waitUntil } from "./lib.ts";

export interface BgdOptions {
  readonly image: string;
  readonly replicas?: number;
  /** Pods of this revision run but never become Ready (a bad release). */
  readonly neverReady?: boolean;
  readonly strategy?: Record<string, unknown>;
  readonly preview?: Record<string, unknown>;
  readonly extraSpec?: Record<string, unknown>;
  /** Extra pod labels; with `noSelector` the template labels alone identify the pods. */
  readonly labels?: Record<string, string>;
  readonly noSelector?: boolean;
}

/** A BGD with a full template whose pods kwok starts and readies in well under a second. */
export function bgdManifest(name: string, o: BgdOptions): string {
  const labels: Record<string, string> = { app: name, ...(o.labels ?? {}) };
  if (o.neverReady === true) labels["test.bluegreen.io/never-ready"] = "true";
  const doc = {
    apiVersion: "bluegreen.io/v1",
    kind: "BlueGreenDeployment",
    metadata: { name },
    spec: {
      replicas: o.replicas ?? 3,
      ...(o.noSelector === true ? {} : { selector: { matchLabels: { app: name } } }),
      template: {
        metadata: { labels, annotations: FAST_PODS },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: "app", image: o.image, ports: [{ containerPort: 8080 }] }],
        },
      },
      ...(o.strategy !== undefined ? { strategy: o.strategy } : {}),
      ...(o.preview !== undefined ? { preview: o.preview } : {}),
      ...(o.extraSpec ?? {}),
    },
  };
  return JSON.stringify(doc);
}

export async function applyBgd(ns: string, name: string, o: BgdOptions): Promise<void> {
  await kubectl(["apply", "-n", ns, "-f", "-"], bgdManifest(name, o));
}

export interface BgdStatus {
  phase?: string;
  message?: string;
  activeColor?: string;
  previewColor?: string;
  activeRevision?: string;
  previewRevision?: string;
  activeImage?: string;
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  selector?: string;
  conditions?: { type: string; status: string; reason: string; message: string }[];
  history?: { revision: string; image: string; promotedAt: string }[];
}

export async function getStatus(ns: string, name: string): Promise<BgdStatus> {
  const o = await kubectlJson<{ status?: BgdStatus }>(["get", "bgd", name, "-n", ns]);
  return o.status ?? {};
}

/** Waits until status matches every field given (and returns it). */
export async function waitStatus(
  ns: string,
  name: string,
  want: Partial<Record<keyof BgdStatus, string | number>>,
  timeoutMs = 60_000,
): Promise<BgdStatus> {
  return await waitUntil(`${ns}/${name} status ${JSON.stringify(want)}`, timeoutMs, async () => {
    const s = await getStatus(ns, name);
    for (const [k, v] of Object.entries(want)) if ((s as Record<string, unknown>)[k] !== v) return undefined;
    return s;
  });
}

/**
 * The common opening of many scenarios: `app:v1` Stable on blue, then `app:v2` previewed, approved by
 * its revision and Stable on green. Returns the two statuses a test compares against.
 */
export async function promotedV2(
  ns: string,
  name: string,
  strategy: Record<string, unknown>,
): Promise<{ v1: BgdStatus; waiting: BgdStatus }> {
  await applyBgd(ns, name, { image: `${name}:v1`, strategy });
  const v1 = await waitStatus(ns, name, { phase: "Stable", activeColor: "blue" });
  await applyBgd(ns, name, { image: `${name}:v2`, strategy });
  // 120 s: with the traffic and browser files beside it on 2 cores, a whole preview (new pods, endpoints)
  // once took longer than 60 s in a full run; the wait bounds a hang, it does not time the rollout.
  const waiting = await waitStatus(ns, name, { phase: "AwaitingPromotion" }, 120_000);
  await kubectl(["annotate", "-n", ns, "bgd", name, `bluegreen.io/promote=${waiting.previewRevision}`]);
  await waitStatus(ns, name, { phase: "Stable", activeColor: "green" }, 120_000);
  return { v1, waiting };
}

export async function serviceSelector(ns: string, svc: string): Promise<Record<string, string> | undefined> {
  const s = await kubectlJson<{ spec?: { selector?: Record<string, string> } }>([
    "get",
    "service",
    svc,
    "-n",
    ns,
  ]);
  return s.spec?.selector;
}

export async function deployment(
  ns: string,
  name: string,
): Promise<
  | {
      spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
      status: { readyReplicas?: number };
    }
  | undefined
> {
  try {
    return await kubectlJson(["get", "deployment", name, "-n", ns]);
  } catch {
    return undefined;
  }
}

// The audit log reader moved to audit.ts; these names stay importable from here.
export { type AuditEvent, describeRequests, operatorRequests } from "./audit.ts";

export interface EndpointWatch {
  /** Fewest ready endpoints seen in any state of the Service's EndpointSlices since the watch began. */
  readonly minReady: () => number;
  /** Every distinct set of ready pod names seen, in order. */
  readonly states: () => readonly string[][];
  stop(): Promise<void>;
}

/**
 * Watches a Service's EndpointSlices with `kubectl get --watch` (every change, not samples) and
 * tracks the ready endpoints across all its slices after each event.
 */
export async function watchEndpoints(ns: string, svc: string): Promise<EndpointWatch> {
  const { spawn } = await import("node:child_process");
  const { createInterface } = await import("node:readline");
  const child = spawn("kubectl", [
    "get",
    "endpointslices",
    "-n",
    ns,
    "-l",
    `kubernetes.io/service-name=${svc}`,
    "--watch",
    "--output-watch-events",
    "-o",
    "json",
  ]);
  type Slice = {
    metadata: { name: string };
    endpoints?: { conditions?: { ready?: boolean }; targetRef?: { name?: string } }[];
  };
  const slices = new Map<string, Slice>();
  let minReady = Number.POSITIVE_INFINITY;
  const states: string[][] = [];
  let first: () => void = () => {};
  const started = new Promise<void>((r) => {
    first = r;
  });
  createInterface({ input: child.stdout }).on("line", (line) => {
    // kubectl prints one compact JSON event per line with --output-watch-events.
    if (line.trim() === "") return;
    const ev = JSON.parse(line) as { type: string; object: Slice };
    if (ev.type === "DELETED") slices.delete(ev.object.metadata.name);
    else slices.set(ev.object.metadata.name, ev.object);
    const ready = [...slices.values()]
      .flatMap((s) => s.endpoints ?? [])
      .filter((e) => e.conditions?.ready === true)
      .map((e) => e.targetRef?.name ?? "")
      .sort();
    minReady = Math.min(minReady, new Set(ready).size);
    if (JSON.stringify(states.at(-1)) !== JSON.stringify(ready)) states.push(ready);
    first();
  });
  await started;
  return {
    minReady: () => minReady,
    states: () => states,
    async stop() {
      child.kill();
      await new Promise((r) => child.once("exit", r));
    },
  };
}

/**
 * Every pod of a color fails its readiness probe, as a kubelet would report it (kwok runs no probes):
 * the Ready condition set False through the status subresource. Returns the pods' names.
 */
export async function failReadiness(ns: string, color: string): Promise<string[]> {
  const pods = await kubectlJson<{ items: { metadata: { name: string } }[] }>([
    "get",
    "pods",
    "-n",
    ns,
    "-l",
    `bluegreen.io/color=${color}`,
  ]);
  const names = pods.items.map((p) => p.metadata.name);
  await Promise.all(
    names.map((name) =>
      kubectl([
        "patch",
        "pod",
        name,
        "-n",
        ns,
        "--subresource=status",
        "-p",
        '{"status":{"conditions":[{"type":"Ready","status":"False","reason":"ReadinessProbeFailed"}]}}',
      ]),
    ),
  );
  return names;
}
