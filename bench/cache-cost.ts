/**
 * What one BGD costs in the operator's informer caches, per kind, in V8's heap: N distinct copies of
 * objects a real kube-apiserver returned (test/unit/support/cached-objects.json: one Stable BGD and what
 * it owns) are parsed and slimmed the way the informers do (src/controller/slim.ts), kept, and the heap
 * after a forced full GC is compared with the heap before. Also with a typical production pod template
 * (two containers, env, probes, resources, volumes), since the template is most of a Deployment.
 * No cluster: the caches' share of the operator's memory, which `BENCH_HEAP=1 make bench SIZE=N`
 * measures on the whole process.
 *   make bench-cache   (node --expose-gc bench/cache-cost.ts [N], default 2,000 copies per kind)
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { slimBgd, slimDeployment, slimEndpointSlice, slimPod, slimService } from "../src/controller/slim.ts";
import type { KubeObject } from "../src/kube/informer.ts";

const repo = resolve(import.meta.dirname, "..");
const N = Number(process.argv[2] ?? 2000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc (make bench-cache does)");

const real = JSON.parse(readFileSync(join(repo, "test/unit/support/cached-objects.json"), "utf8")) as Record<
  "bgd" | "deployment" | "pod" | "service" | "endpointSlice",
  KubeObject
>;

/** The fixture's Deployment with a pod template like a production one (what a user's BGD carries). */
function productionDeployment(): KubeObject {
  const d = structuredClone(real.deployment) as KubeObject & { spec: { template: { spec: object } } };
  const container = (name: string, image: string) => ({
    name,
    image,
    imagePullPolicy: "IfNotPresent",
    ports: [{ name: "http", containerPort: 8080, protocol: "TCP" }],
    env: Array.from({ length: 12 }, (_, i) => ({ name: `SETTING_${i}`, value: `value-of-setting-${i}` })),
    resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "512Mi" } },
    readinessProbe: {
      httpGet: { path: "/ready", port: "http", scheme: "HTTP" },
      periodSeconds: 5,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    },
    livenessProbe: {
      httpGet: { path: "/live", port: "http", scheme: "HTTP" },
      periodSeconds: 10,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    },
    volumeMounts: [
      { name: "config", mountPath: "/etc/app", readOnly: true },
      { name: "tmp", mountPath: "/tmp" },
    ],
    securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "File",
  });
  d.spec.template.spec = {
    ...d.spec.template.spec,
    containers: [
      container("app", "registry.example/app:v1.2.3"),
      container("sidecar", "registry.example/proxy:v2"),
    ],
    volumes: [
      { name: "config", configMap: { name: "app-config", defaultMode: 420 } },
      { name: "tmp", emptyDir: {} },
    ],
    serviceAccountName: "app",
    serviceAccount: "app",
  };
  return d;
}

/** Heap bytes per object of N distinct parsed copies of `o`, kept after `transform`. */
function heapPerObject(o: KubeObject, transform: (o: KubeObject) => KubeObject): number {
  const text = JSON.stringify(o);
  const keep: KubeObject[] = [];
  gc?.();
  gc?.();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < N; i++) {
    // Distinct strings per copy, as separate API responses are (a name and a uid per object).
    keep.push(transform(JSON.parse(text.replaceAll('"uid":"', `"uid":"${i}-`)) as KubeObject));
  }
  gc?.();
  gc?.();
  const after = process.memoryUsage().heapUsed;
  if (keep.length !== N) throw new Error("lost objects");
  return (after - before) / N;
}

const kinds: { kind: string; perBgd: number; obj: KubeObject; slim: (o: KubeObject) => KubeObject }[] = [
  { kind: "BlueGreenDeployment", perBgd: 1, obj: real.bgd, slim: slimBgd },
  { kind: "Deployment (fixture's template)", perBgd: 2, obj: real.deployment, slim: slimDeployment },
  {
    kind: "Deployment (production-like template)",
    perBgd: 0,
    obj: productionDeployment(),
    slim: slimDeployment,
  },
  { kind: "Pod", perBgd: 1, obj: real.pod, slim: slimPod },
  { kind: "Service", perBgd: 2, obj: real.service, slim: slimService },
  { kind: "EndpointSlice", perBgd: 2, obj: real.endpointSlice, slim: slimEndpointSlice },
];

const rows = kinds.map((k) => ({
  kind: k.kind,
  perBgd: k.perBgd,
  jsonBytes: JSON.stringify(k.obj).length,
  slimJsonBytes: JSON.stringify(k.slim(k.obj)).length,
  heapWhole: Math.round(heapPerObject(k.obj, (o) => o)),
  heapSlim: Math.round(heapPerObject(k.obj, k.slim)),
}));
const total = (f: (r: (typeof rows)[number]) => number) => rows.reduce((s, r) => s + r.perBgd * f(r), 0);

const kib = (b: number) => (b / 1024).toFixed(1);
console.log(`\nInformer cache cost per object (N=${N} distinct copies each; V8 heap after a full GC)\n`);
console.log("| kind | per BGD at Stable | API JSON | kept JSON | heap as returned | heap as kept |");
console.log("|---|---|---|---|---|---|");
for (const r of rows)
  console.log(
    `| ${r.kind} | ${r.perBgd || "–"} | ${kib(r.jsonBytes)} KiB | ${kib(r.slimJsonBytes)} KiB | ${kib(r.heapWhole)} KiB | ${kib(r.heapSlim)} KiB |`,
  );
console.log(
  `| one BGD at Stable (1 replica) | | ${kib(total((r) => r.jsonBytes))} KiB | ${kib(total((r) => r.slimJsonBytes))} KiB | ${kib(total((r) => r.heapWhole))} KiB | ${kib(total((r) => r.heapSlim))} KiB |`,
);
const out = join(repo, "bench/results");
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, "cache-cost.json"),
  `${JSON.stringify({ at: new Date().toISOString(), n: N, node: process.version, rows }, null, 2)}\n`,
);
console.log(`\nJSON: ${join(out, "cache-cost.json")}`);
