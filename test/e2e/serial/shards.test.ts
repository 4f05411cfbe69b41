/**
 * Shards (--shard-count/--shard-index) between real operator processes on the local control plane:
 * three shards, each a leader and a standby on a Lease of its own, split a fleet of BGDs; the
 * kube-apiserver's audit log (every replica has a client certificate of its own) shows that every
 * BGD and every object it owns was written by its own shard's replicas alone. Then one shard's leader
 * is killed (-9) in the middle of a rollout while its standby is held stopped: the other shards
 * complete rollouts of their own BGDs while that slice has no leader at all, and nobody touches the
 * orphaned slice; let go, the standby takes the slice's Lease and finishes the rollout.
 *
 * Serial: six operator processes at once are a heavy load for the parallel phase. The test asserts
 * ownership and takeover, never a duration.
 */
import assert from "node:assert/strict";
import { after, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { shardOf } from "../../../src/runtime/shard.ts";
import { type AuditEvent, auditOf, describeAudit } from "../audit.ts";
import { applyBgd, getStatus, waitStatus } from "../bgd.ts";
import { applyRbac, type RbacObject } from "../identity.ts";
import { deleteNamespace, kubectl, newNamespace, waitUntil } from "../lib.ts";
import { type OperatorProcess, startOperator } from "../operator.ts";
import { AUTO, identityOf, type LeaseSpec, lease, slowReadyBgd, waitForLog } from "../runtime-support.ts";

const SHARDS = 3;
const PER_SHARD = 3;
const LEASE_ID = "bluegreen-operator.bluegreen.io";
const leaseName = (shard: number) => `${LEASE_ID}-shard-${shard}`;

const running: OperatorProcess[] = [];
const namespaces: string[] = [];
after(async () => {
  for (const o of running) if (o.child.exitCode === null) o.child.kill("SIGCONT");
  await Promise.all(running.map((o) => o.kill()));
  await Promise.all(namespaces.map((n) => deleteNamespace(n)));
});

interface Replica {
  readonly shard: number;
  readonly user: string;
  readonly process: OperatorProcess;
  readonly identity: string;
}

/** The ServiceAccount of a shard's replica: its own, so the audit log tells the six processes apart. */
const replicaAccount = (shard: number, role: "a" | "b") => `bgo-shard${shard}-${role}`;

/**
 * What the chart's `shards` value adds to the leader-election Role: get and update of every shard's
 * Lease (deploy/rbac, unsharded, names only the one Lease). Bound to every replica's ServiceAccount.
 */
async function grantShardLeases(ns: string): Promise<void> {
  const name = "bluegreen-operator-shard-leases";
  const objects: (RbacObject & Record<string, unknown>)[] = [
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name, namespace: ns },
      rules: [
        {
          apiGroups: ["coordination.k8s.io"],
          resources: ["leases"],
          resourceNames: Array.from({ length: SHARDS }, (_, i) => leaseName(i)),
          verbs: ["get", "update"],
        },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name, namespace: ns },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: Array.from({ length: SHARDS }, (_, i) =>
        (["a", "b"] as const).map((r) => ({
          kind: "ServiceAccount",
          name: replicaAccount(i, r),
          namespace: ns,
        })),
      ).flat(),
    },
  ];
  await applyRbac(objects);
}

async function replica(ns: string, shard: number, role: "a" | "b"): Promise<Replica> {
  const process = await startOperator({
    namespaces: [ns],
    name: `shard${shard}-${role}`,
    serviceAccount: { namespace: ns, name: replicaAccount(shard, role) },
    args: [
      "--leader-elect",
      "--leader-elect-namespace",
      ns,
      // The default timings (15 s / 10 s / 2 s): six processes and a control plane on two busy cores
      // once missed a 4 s renew deadline, and a leader that loses its Lease exits.
      `--shard-count=${SHARDS}`,
      `--shard-index=${shard}`,
    ],
  });
  running.push(process);
  return { shard, user: process.user, process, identity: await identityOf(process) };
}

async function waitForShardHolder(ns: string, shard: number, identity: string): Promise<LeaseSpec> {
  return await waitUntil(`shard ${shard}'s lease held by ${identity}`, 60_000, async () => {
    const l = await lease(ns, leaseName(shard)).catch(() => undefined);
    return l?.holderIdentity === identity ? l : undefined;
  });
}

/** The BGD an object belongs to: the BGD itself, `<bgd>-blue`, `<bgd>-preview`, their pods. */
function bgdOf(e: AuditEvent, bgds: readonly string[]): string | undefined {
  const name = e.objectRef?.name ?? "";
  return bgds.find((b) => name === b || name.startsWith(`${b}-`) || name.startsWith(`${b}.`));
}

/** The operator's writes in `ns` (Leases aside: standbys legitimately try to take those). */
function writesOf(r: Replica, ns: string): AuditEvent[] {
  return auditOf(r.user, { namespace: ns, writesOnly: true }).filter(
    (e) => e.objectRef?.resource !== "leases",
  );
}

it("three shards split a fleet, each BGD written by its own shard alone; a killed leader's slice waits for its standby while the others keep rolling out", async () => {
  const ns = await newNamespace("shards");
  namespaces.push(ns);
  await grantShardLeases(ns);

  // Names until every shard owns PER_SHARD of them (the ownership function is pure, so the test
  // knows the split in advance; the audit log below says whether the processes kept to it).
  const slice: string[][] = Array.from({ length: SHARDS }, () => []);
  for (let i = 0; slice.some((s) => s.length < PER_SHARD); i++) {
    const s = slice[shardOf(ns, `app-${i}`, SHARDS)];
    if (s !== undefined && s.length < PER_SHARD) s.push(`app-${i}`);
  }
  const fleet = slice.flat();
  const ownerOf = (bgd: string) => slice.findIndex((s) => s.includes(bgd));

  // Leaders first (each takes its Lease), then one standby per shard.
  const leaders = await Promise.all(Array.from({ length: SHARDS }, (_, i) => replica(ns, i, "a")));
  for (const l of leaders) await waitForShardHolder(ns, l.shard, l.identity);
  const standbys = await Promise.all(Array.from({ length: SHARDS }, (_, i) => replica(ns, i, "b")));
  for (const s of standbys) {
    assert.equal((await waitForLog(s.process, "Another replica leads")).leader, leaders[s.shard]?.identity);
  }
  const replicas = [...leaders, ...standbys];

  await Promise.all(fleet.map((b) => applyBgd(ns, b, { image: "app:v1", replicas: 1, strategy: AUTO })));
  await Promise.all(fleet.map((b) => waitStatus(ns, b, { phase: "Stable", activeImage: "app:v1" }, 180_000)));

  // Kill shard K's leader in the middle of a rollout of one of its BGDs (pods take seconds to be
  // ready), with K's standby stopped: the slice has no leader until the standby is let go.
  const K = 0;
  const alive = (r: Replica) => r.process.child.exitCode === null && r.process.child.signalCode === null;
  const shardK = replicas.filter((r) => r.shard === K);
  const target = slice[K]?.[0] ?? "";
  await kubectl(
    ["apply", "-n", ns, "-f", "-"],
    slowReadyBgd(target, { image: "app:v2", replicas: 1, strategy: AUTO }, "5s", "3s"),
  );
  await waitStatus(ns, target, { phase: "Progressing" });
  // Whoever leads shard K now (normally its first replica; a leader that missed a renewal under
  // load has exited and its standby leads, and then there is no standby left to test).
  const holder = (await lease(ns, leaseName(K))).holderIdentity;
  const killed = shardK.find((r) => r.identity === holder);
  const standbyK = shardK.find((r) => r.identity !== holder);
  assert.ok(killed !== undefined && standbyK !== undefined, `shard ${K} is led by one of its replicas`);
  assert.ok(alive(killed) && alive(standbyK), `both replicas of shard ${K} still run`);
  standbyK.process.child.kill("SIGSTOP");
  await killed.process.kill();
  const killedAt = new Date();

  // The other shards complete rollouts of all their BGDs while shard K has no leader.
  const others = fleet.filter((b) => ownerOf(b) !== K);
  await Promise.all(others.map((b) => applyBgd(ns, b, { image: "app:v2", replicas: 1, strategy: AUTO })));
  await Promise.all(
    others.map((b) => waitStatus(ns, b, { phase: "Stable", activeImage: "app:v2" }, 180_000)),
  );
  assert.equal(
    (await getStatus(ns, target)).phase,
    "Progressing",
    "nobody else finished the orphaned rollout",
  );
  const stillOrphaned = new Date();

  standbyK.process.child.kill("SIGCONT");
  const taken = await waitUntil(`shard ${K}'s lease taken by ${standbyK.identity}`, 90_000, async () => {
    const l = await lease(ns, leaseName(K));
    const at = Date.parse(l.acquireTime ?? "");
    return l.holderIdentity === standbyK.identity && at >= stillOrphaned.getTime() ? at : undefined;
  });
  const takenAt = new Date(taken);
  const done = await waitStatus(ns, target, { phase: "Stable", activeColor: "green" }, 120_000);
  assert.equal(done.activeImage, "app:v2");

  // The audit log: who wrote what. Within a shard the Lease decides which replica writes (the
  // leader-election tests prove that); here: no object is ever written by two shards.
  await sleep(1500); // audit batches are flushed every 200 ms
  const written = new Map<string, AuditEvent[]>(); // BGD → writes of it or of an object it owns
  const shardOfUser = new Map(replicas.map((r) => [r.user, r.shard]));
  for (const r of replicas) {
    // Events are created with generateName, so the audit record (Metadata level) names no object:
    // they cannot be attributed to a BGD.
    const writes = writesOf(r, ns).filter((e) => e.objectRef?.resource !== "events");
    const unowned = writes.filter((e) => bgdOf(e, fleet) === undefined);
    assert.deepEqual(describeAudit(unowned), [], `${r.user} wrote only objects of the fleet`);
    for (const e of writes) {
      const bgd = bgdOf(e, fleet) ?? "";
      written.set(bgd, [...(written.get(bgd) ?? []), e]);
    }
  }
  for (const bgd of fleet) {
    const shard = ownerOf(bgd);
    const writes = written.get(bgd) ?? [];
    assert.ok(writes.length > 0, `${bgd} was written by its shard`);
    const strangers = writes.filter((e) => shardOfUser.get(e.user.username) !== shard);
    assert.deepEqual(
      strangers.map((e) => `${e.user.username}: ${describeAudit([e])[0]}`),
      [],
      `${bgd} (shard ${shard}) written only by shard ${shard}'s replicas`,
    );
  }
  const between = (e: AuditEvent, from: Date, to: Date) => {
    const at = new Date(e.requestReceivedTimestamp);
    return at > from && at < to;
  };
  for (let j = 0; j < SHARDS; j++) {
    if (j === K) continue;
    const meanwhile = replicas
      .filter((r) => r.shard === j)
      .flatMap((r) => writesOf(r, ns))
      .filter((e) => between(e, killedAt, stillOrphaned));
    assert.ok(meanwhile.length > 0, `shard ${j} kept writing while shard ${K} had no leader`);
  }
  // Slice K had no writer at all between the kill and the takeover (the other shards were busy
  // writing then); after it, its standby finished the rollout.
  const sliceK = new Set(slice[K]);
  const orphanWrites = [...written.entries()]
    .filter(([bgd]) => sliceK.has(bgd))
    .flatMap(([, ws]) => ws)
    .filter((e) => between(e, killedAt, takenAt));
  assert.deepEqual(describeAudit(orphanWrites), [], `nobody wrote shard ${K}'s slice while it had no leader`);
  assert.ok(
    (written.get(target) ?? []).some(
      (e) => e.user.username === standbyK.user && new Date(e.requestReceivedTimestamp) >= takenAt,
    ),
    "the standby finished the slice's rollout",
  );
});
