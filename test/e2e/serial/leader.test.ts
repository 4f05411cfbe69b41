/**
 * Leader election between real operator processes on the local control plane: exactly one leads;
 * a SIGKILLed leader is replaced within lease duration + retry period and its in-flight rollout is
 * finished by the successor; a leader paused (SIGSTOP) past its lease makes no write once it is
 * resumed — counted per client identity in the kube-apiserver's audit log — and exits 1; a SIGTERMed
 * leader hands the Lease over without making the standby wait out the lease.
 *
 * Serial: the assertions are about lease timing, so these tests do not share the CPU with the
 * parallel phase. Short leases keep them fast; the semantics do not depend on the durations.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { auditOf, describeAudit } from "../audit.ts";
import { applyBgd, waitStatus } from "../bgd.ts";
import { deleteNamespace, kubectl, newNamespace, waitUntil } from "../lib.ts";
import { type OperatorProcess, startOperator } from "../operator.ts";
import {
  AUTO,
  endpointOf,
  identityOf,
  lease,
  slowReadyBgd,
  waitForHolder,
  waitForLog,
} from "../runtime-support.ts";

const LEASE_S = 6;
const RENEW_S = 4;
const RETRY_S = 1;
const electionArgs = (ns: string) => [
  "--leader-elect",
  "--leader-elect-namespace",
  ns,
  `--leader-elect-lease-duration=${LEASE_S}s`,
  `--leader-elect-renew-deadline=${RENEW_S}s`,
  `--leader-elect-retry-period=${RETRY_S}s`,
];

const running: OperatorProcess[] = [];
const namespaces: string[] = [];
after(async () => {
  for (const o of running) if (o.child.exitCode === null) o.child.kill("SIGCONT");
  await Promise.all(running.map((o) => o.kill()));
  await Promise.all(namespaces.map((n) => deleteNamespace(n)));
});

async function namespace(prefix: string): Promise<string> {
  const n = await newNamespace(prefix);
  namespaces.push(n);
  return n;
}

/** `serviceAccount`: a ServiceAccount of its own, so the audit log tells the two replicas apart. */
async function operator(ns: string, name: string, opts: { serviceAccount?: string; metrics?: boolean } = {}) {
  const o = await startOperator({
    namespaces: [ns],
    name,
    network: "host", // the test scrapes the operator's metrics port
    args: [...electionArgs(ns), ...(opts.metrics === true ? ["--metrics-bind-address=127.0.0.1:0"] : [])],
    ...(opts.serviceAccount === undefined
      ? {}
      : { serviceAccount: { namespace: ns, name: opts.serviceAccount } }),
  });
  running.push(o);
  return o;
}

const exitCode = (o: OperatorProcess) =>
  new Promise<number | null>((resolve) => {
    if (o.child.exitCode !== null || o.child.signalCode !== null) resolve(o.child.exitCode);
    else o.child.once("exit", (code) => resolve(code));
  });

async function leaderStatus(o: OperatorProcess): Promise<number> {
  const text = await (await fetch(`${await endpointOf(o, "Serving metrics")}/metrics`)).text();
  const m = /^leader_election_master_status\{name="bluegreen-operator\.bluegreen\.io"\} (\d+)$/m.exec(text);
  assert.ok(m, "leader_election_master_status is exported");
  return Number(m[1]);
}

describe("leader election", { concurrency: true }, () => {
  it("exactly one of two replicas leads; SIGKILLed, it is replaced within lease + retry and the successor finishes the rollout", async () => {
    const ns = await namespace("leader-kill");
    const a = await operator(ns, "a", { metrics: true });
    const idA = await identityOf(a);
    await waitForHolder(ns, idA);
    const b = await operator(ns, "b", { metrics: true });
    const idB = await identityOf(b);
    await waitForLog(b, "Another replica leads");
    // Exactly one leads, by the Lease and by each process's own gauge.
    assert.equal((await lease(ns)).holderIdentity, idA);
    await waitUntil("a reports 1 and b reports 0", 10_000, async () => {
      const [la, lb] = await Promise.all([leaderStatus(a), leaderStatus(b)]);
      return la === 1 && lb === 0;
    });

    await applyBgd(ns, "app", { image: "app:v1", strategy: AUTO });
    await waitStatus(ns, "app", { phase: "Stable", activeColor: "blue" });
    assert.equal(
      (await waitForLog(b, "Another replica leads")).leader,
      idA,
      "the standby has not reconciled anything",
    );

    // v2's pods take seconds to become ready: kill the leader in the middle of its rollout.
    await kubectl(
      ["apply", "-n", ns, "-f", "-"],
      slowReadyBgd("app", { image: "app:v2", strategy: AUTO }, "3s", "4s"),
    );
    await waitStatus(ns, "app", { phase: "Progressing" });
    const killedAt = Date.now();
    await a.kill();
    // The dead leader's last renewal: nobody else may write the Lease for another lease duration.
    const lastRenewal = Date.parse((await lease(ns)).renewTime ?? "");

    const taken = await waitForHolder(ns, idB, (LEASE_S + RETRY_S) * 1000 + 10_000);
    const acquiredAt = Date.parse(taken.acquireTime ?? "");
    // The protocol's bound, read from the Lease itself: the standby takes over no later than lease
    // duration + retry period after the dead leader's last renewal (which precedes the kill).
    assert.ok(lastRenewal <= killedAt);
    assert.ok(
      acquiredAt - lastRenewal <= (LEASE_S + RETRY_S) * 1000 + 500,
      `taken over ${acquiredAt - lastRenewal} ms after the last renewal (lease ${LEASE_S} s + retry ${RETRY_S} s)`,
    );
    assert.ok(acquiredAt >= lastRenewal + (LEASE_S - 1) * 1000, "not before the lease expired");
    assert.equal(taken.leaseTransitions, 1);
    await waitForLog(b, "Started leading");
    await waitUntil("b reports 1", 10_000, async () => (await leaderStatus(b)) === 1);

    const done = await waitStatus(ns, "app", { phase: "Stable", activeColor: "green" }, 60_000);
    assert.equal(done.activeImage, "app:v2");
  });

  it("a leader paused past its lease makes no write once resumed, and exits 1", async () => {
    const ns = await namespace("leader-pause");
    const a = await operator(ns, "a", { serviceAccount: "bgo-a" });
    const idA = await identityOf(a);
    await waitForHolder(ns, idA);
    const b = await operator(ns, "b", { serviceAccount: "bgo-b" });
    const idB = await identityOf(b);
    await waitForLog(b, "Caches synced");

    await applyBgd(ns, "app", { image: "app:v1", strategy: AUTO });
    await waitStatus(ns, "app", { phase: "Stable", activeColor: "blue" });
    await sleep(1500); // audit batches are flushed every 200 ms
    assert.ok(
      auditOf(a.user, { writesOnly: true }).some((e) => e.objectRef?.resource === "deployments"),
      "the leader's writes are attributed to its own identity",
    );

    a.child.kill("SIGSTOP");
    const taken = await waitForHolder(ns, idB, (LEASE_S + RETRY_S) * 1000 + 10_000);
    const lostAt = new Date(Date.parse(taken.acquireTime ?? ""));

    // Give the paused leader something it would write: a rollout, under way when it wakes up.
    await kubectl(
      ["apply", "-n", ns, "-f", "-"],
      slowReadyBgd("app", { image: "app:v2", strategy: AUTO }, "2s", "3s"),
    );
    await waitStatus(ns, "app", { phase: "Progressing" });
    const exited = exitCode(a);
    a.child.kill("SIGCONT");
    assert.equal(await exited, 1, "the old leader exits non-zero so its Deployment restarts it");
    const loss = await waitForLog(a, "Lost leadership, exiting");
    assert.match(String(loss.why), /no renewal|held by/);

    await waitStatus(ns, "app", { phase: "Stable", activeColor: "green" }, 60_000);
    await sleep(1500);
    const late = auditOf(a.user, { writesOnly: true, since: lostAt });
    assert.deepEqual(describeAudit(late), [], "no write from the old leader after it lost the lease");
    assert.ok(auditOf(b.user, { writesOnly: true, since: lostAt }).length > 0, "the new leader wrote");
  });

  it("on SIGTERM the leader releases the Lease and the standby takes over before it would have expired", async () => {
    const ns = await namespace("leader-term");
    const a = await operator(ns, "a");
    const idA = await identityOf(a);
    await waitForHolder(ns, idA);
    const b = await operator(ns, "b");
    const idB = await identityOf(b);
    await waitForLog(b, "Another replica leads");
    await applyBgd(ns, "app", { image: "app:v1", strategy: AUTO });
    await waitStatus(ns, "app", { phase: "Stable", activeColor: "blue" });

    const before = await lease(ns);
    const exited = exitCode(a);
    a.child.kill("SIGTERM");
    assert.equal(await exited, 0);
    await waitForLog(a, "Released leader lease");
    const taken = await waitForHolder(ns, idB);
    const lastRenewal = Date.parse(before.renewTime ?? "");
    // Without the release the standby could not take a lease renewed at `lastRenewal` before
    // lastRenewal + lease duration.
    assert.ok(
      Date.parse(taken.acquireTime ?? "") < lastRenewal + LEASE_S * 1000,
      `acquired at ${taken.acquireTime}, last renewal ${before.renewTime}`,
    );
    await applyBgd(ns, "app", { image: "app:v2", strategy: AUTO });
    await waitStatus(ns, "app", { phase: "Stable", activeColor: "green" });
  });
});
