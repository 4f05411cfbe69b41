/** Proof that the local control plane is real: scheduling, kwok readiness, endpoints, Jobs, GC. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { deleteNamespace, FAST_PODS, kubectl, kubectlJson, newNamespace, waitUntil } from "./lib.ts";

interface Pod {
  metadata: { name: string };
  status: { phase?: string; conditions?: { type: string; status: string }[] };
}
interface EndpointSlice {
  endpoints?: { conditions?: { ready?: boolean } }[];
}
const podReady = (p: Pod) =>
  p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
const annotations = JSON.stringify(FAST_PODS);

describe("local control plane", () => {
  let ns = "";
  before(async () => {
    ns = await newNamespace("cluster");
  });
  after(async () => {
    await deleteNamespace(ns);
  });

  it("lists Ready fake nodes", async () => {
    const nodes = await kubectlJson<{
      items: { status: { conditions: { type: string; status: string }[] } }[];
    }>(["get", "nodes"]);
    assert.ok(nodes.items.length >= 1);
    for (const n of nodes.items)
      assert.ok(n.status.conditions.some((c) => c.type === "Ready" && c.status === "True"));
  });

  it("runs a 3-replica Deployment to 3 Ready pods and 3 ready endpoints behind a Service", async () => {
    await kubectl(
      ["apply", "-n", ns, "-f", "-"],
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}, annotations: ${annotations}}
    spec: {containers: [{name: web, image: web:v1, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
`,
    );
    await kubectl(["rollout", "status", "-n", ns, "deployment/web", "--timeout=60s"]);
    const pods = await kubectlJson<{ items: Pod[] }>(["get", "pods", "-n", ns, "-l", "app=web"]);
    assert.equal(pods.items.length, 3);
    for (const p of pods.items) {
      assert.equal(p.status.phase, "Running");
      assert.ok(podReady(p), `${p.metadata.name} is Ready`);
    }
    const ready = await waitUntil("3 ready endpoints", 30_000, async () => {
      const slices = await kubectlJson<{ items: EndpointSlice[] }>([
        "get",
        "endpointslices",
        "-n",
        ns,
        "-l",
        "kubernetes.io/service-name=web",
      ]);
      const n = slices.items
        .flatMap((s) => s.endpoints ?? [])
        .filter((e) => e.conditions?.ready === true).length;
      return n === 3 ? n : undefined;
    });
    assert.equal(ready, 3);
  });

  it("keeps a never-ready pod Running but NotReady and out of the ready endpoints", async () => {
    await kubectl(
      ["apply", "-n", ns, "-f", "-"],
      `apiVersion: v1
kind: Pod
metadata: {name: bad, labels: {app: bad, test.bluegreen.io/never-ready: "true"}, annotations: ${annotations}}
spec: {containers: [{name: bad, image: bad:v1}]}
---
apiVersion: v1
kind: Service
metadata: {name: bad}
spec: {selector: {app: bad}, ports: [{port: 80}]}
`,
    );
    await waitUntil("the bad pod to run", 30_000, async () => {
      const p = await kubectlJson<Pod>(["get", "pod", "bad", "-n", ns]);
      return p.status.phase === "Running" ? p : undefined;
    });
    // Give kwok's ready stage (300 ms in these tests) ample time to (wrongly) fire.
    await new Promise((r) => setTimeout(r, 2000));
    const p = await kubectlJson<Pod>(["get", "pod", "bad", "-n", ns]);
    assert.equal(p.status.phase, "Running");
    assert.equal(podReady(p), false);
    const slices = await waitUntil("an EndpointSlice listing the bad pod", 30_000, async () => {
      const s = await kubectlJson<{ items: EndpointSlice[] }>([
        "get",
        "endpointslices",
        "-n",
        ns,
        "-l",
        "kubernetes.io/service-name=bad",
      ]);
      const eps = s.items.flatMap((x) => x.endpoints ?? []);
      return eps.length > 0 ? eps : undefined;
    });
    assert.ok(slices.every((e) => e.conditions?.ready !== true));
  });

  it("fails a Job whose pod has the fail label, and completes one without it", async () => {
    const job = (name: string, labels: string) => `apiVersion: batch/v1
kind: Job
metadata: {name: ${name}}
spec:
  backoffLimit: 0
  template:
    metadata: {labels: ${labels}, annotations: ${annotations}}
    spec: {restartPolicy: Never, containers: [{name: c, image: smoke:v1}]}
`;
    await kubectl(
      ["apply", "-n", ns, "-f", "-"],
      `${job("smoke-fail", '{test.bluegreen.io/fail: "true"}')}---\n${job("smoke-ok", "{}")}`,
    );
    await kubectl(["wait", "-n", ns, "--for=condition=Failed", "job/smoke-fail", "--timeout=60s"]);
    await kubectl(["wait", "-n", ns, "--for=condition=Complete", "job/smoke-ok", "--timeout=60s"]);
  });

  it("garbage-collects dependents when their owner is deleted", async () => {
    await kubectl(
      ["apply", "-n", ns, "-f", "-"],
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: gc}
spec:
  replicas: 2
  selector: {matchLabels: {app: gc}}
  template:
    metadata: {labels: {app: gc}, annotations: ${annotations}}
    spec: {containers: [{name: gc, image: gc:v1}]}
`,
    );
    await kubectl(["rollout", "status", "-n", ns, "deployment/gc", "--timeout=60s"]);
    await kubectl(["delete", "-n", ns, "deployment/gc", "--wait=true"]);
    await waitUntil("ReplicaSets and pods of gc to be collected", 60_000, async () => {
      const rs = await kubectlJson<{ items: unknown[] }>(["get", "rs,pods", "-n", ns, "-l", "app=gc"]);
      return rs.items.length === 0;
    });
  });
});
