/**
 * The kubectl plugin through real kubectl (`kubectl bluegreen ...`, found on PATH) against the local control
 * plane with the real operator: rollouts driven only by the plugin, its exit codes, its refusals and error
 * messages, and `get --watch` in a real terminal (tmux).
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify, stripVTControlCharacters } from "node:util";
import { applyBgd, deployment, serviceSelector, waitStatus } from "./bgd.ts";
import { deleteNamespace, kubectl, kubectlJson, newNamespace, waitUntil } from "./lib.ts";
import { type OperatorProcess, startOperator } from "./operator.ts";
import { type PluginRun, plugin, pluginBin } from "./plugin-bin.ts";

const runFile = promisify(execFile);

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((res) => srv.listen(0, "127.0.0.1", () => res()));
  const addr = srv.address();
  await new Promise((res) => srv.close(res));
  assert.ok(addr !== null && typeof addr === "object");
  return addr.port;
}

const REPO = resolve(import.meta.dirname, "../..");

const revisionIn = (text: string): string => {
  const m = /revision ([0-9a-f]{10})/.exec(text);
  assert.ok(m?.[1], `a revision in: ${text}`);
  return m[1];
};

/** One line on stderr, no stack trace. */
function oneLineError(r: PluginRun, pattern: RegExp): void {
  assert.equal(r.code, 1, `exit code 1, got ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got: ${r.stderr}`);
  assert.match(lines[0] ?? "", pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

describe("kubectl bluegreen", { concurrency: true }, () => {
  let ns = "";
  let idle = "";
  let bin = "";
  let operator: OperatorProcess | undefined;
  const bg = (...args: string[]) => plugin(bin, [...args, "-n", ns]);

  before(async () => {
    bin = pluginBin();
    [ns, idle] = await Promise.all([newNamespace("plugin"), newNamespace("plugin-noop")]);
    operator = await startOperator({ namespaces: [ns] });
  });
  after(async () => {
    await operator?.stop();
    await Promise.all([deleteNamespace(ns), deleteNamespace(idle)]);
    rmSync(bin, { recursive: true, force: true });
  });

  it("drives a whole rollout: set image → get → promote → status exits 0", async () => {
    await applyBgd(ns, "full", { image: "full:v1", replicas: 2 });
    const first = await bg("status", "full", "--timeout", "60s");
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /full is Stable: Serving revision [0-9a-f]{10} from blue/);

    const set = await bg("set", "image", "full", "app=full:v2");
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /image updated: app=full:v2 \(revision [0-9a-f]{10}\)/);
    const r2 = revisionIn(set.stdout);

    const tree = await waitUntil("the tree to show v2 awaiting promotion", 60_000, async () => {
      const r = await bg("get", "full");
      return r.code === 0 && r.stdout.includes("◇ AwaitingPromotion") ? r.stdout : undefined;
    });
    assert.match(tree, /^├── svc\/full +active +→ blue$/m);
    assert.match(tree, /^├── svc\/full-preview +preview +→ green$/m);
    assert.match(tree, /^├── ● deploy\/full-blue +active +[0-9a-f]{10} +full:v1 +2\/2 +ready/m);
    assert.match(tree, new RegExp(`^└── ● deploy/full-green +preview +${r2} +full:v2 +2/2 +ready`, "m"));
    assert.equal((tree.match(/^ {4}[├└]── pod\/full-green-/gm) ?? []).length, 2, tree);
    assert.match(tree, /Next: +kubectl bluegreen promote full -n \S+ +\(approves revision/);
    assert.equal(stripVTControlCharacters(tree), tree, "plain text when piped");

    const promoted = await bg("promote", "full");
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.match(promoted.stdout, new RegExp(`promoted: revision ${r2} \\(full:v2\\) approved`));
    const bgd = await kubectlJson<{ metadata: { annotations: Record<string, string> } }>([
      "get",
      "bgd",
      "full",
      "-n",
      ns,
    ]);
    assert.equal(
      bgd.metadata.annotations["bluegreen.io/promote"],
      r2,
      "the plugin approved exactly the preview revision",
    );

    const done = await bg("status", "full", "--timeout", "60s");
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, new RegExp(`Stable: Serving revision ${r2} from green`));
    assert.equal((await serviceSelector(ns, "full"))?.["bluegreen.io/color"], "green");

    const history = await bg("history", "full");
    assert.match(history.stdout, new RegExp(`^${r2} +full:v2 +\\d+s ago +blue +green \\(serving\\)$`, "m"));
    const again = await bg("promote", "full");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error: nothing awaits promotion: full is Stable/);

    const asJson = JSON.parse((await bg("get", "full", "-o", "json")).stdout) as {
      status: { activeColor: string };
    };
    assert.equal(asJson.status.activeColor, "green");
    assert.match((await bg("get", "full", "-o", "yaml")).stdout, /^kind: BlueGreenDeployment$/m);
    assert.match(
      (await plugin(bin, ["list", "-A"])).stdout,
      new RegExp(`^${ns} +full +green +✔ Stable +2/2 +full:v2`, "m"),
    );
  });

  it("aborts a rollout (status exits 1, traffic stays), retries it, then rolls the spec back to what serves", async () => {
    await applyBgd(ns, "abrt", { image: "abrt:v1", replicas: 2 });
    await waitStatus(ns, "abrt", { phase: "Stable" });
    const r2 = revisionIn((await bg("set", "image", "abrt", "abrt:v2")).stdout);
    await waitStatus(ns, "abrt", { phase: "AwaitingPromotion", previewRevision: r2 });

    const aborted = await bg("abort", "abrt");
    assert.equal(aborted.code, 0, aborted.stderr);
    assert.match(
      aborted.stdout,
      new RegExp(`aborted: revision ${r2} will not be promoted; blue keeps serving`),
    );
    const failed = await bg("status", "abrt", "--timeout", "60s");
    assert.equal(failed.code, 1, `${failed.stdout}${failed.stderr}`);
    assert.match(failed.stderr, /abrt failed: Aborted: Revision/);
    assert.equal((await serviceSelector(ns, "abrt"))?.["bluegreen.io/color"], "blue");
    const refused = await bg("promote", "abrt");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /nothing awaits promotion: abrt is Aborted/);

    const retried = await bg("retry", "abrt");
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stdout, new RegExp(`retried: revision ${r2} rolls out again`));
    await waitStatus(ns, "abrt", { phase: "AwaitingPromotion", previewRevision: r2 });

    const back = await bg("rollback", "abrt");
    assert.equal(back.code, 0, back.stderr);
    assert.match(
      back.stdout,
      /rolled back by editing the spec to revision [0-9a-f]{10} \(abrt:v1\): blue still serves it/,
    );
    const stable = await bg("status", "abrt", "--timeout", "60s");
    assert.equal(stable.code, 0, stable.stderr);
    const spec = await kubectlJson<{ spec: { template: { spec: { containers: { image: string }[] } } } }>([
      "get",
      "bgd",
      "abrt",
      "-n",
      ns,
    ]);
    assert.equal(spec.spec.template.spec.containers[0]?.image, "abrt:v1");
    await waitUntil(
      "green scaled down",
      60_000,
      async () => (await deployment(ns, "abrt-green"))?.spec.replicas === 0,
    );
  });

  it("rolls back instantly to a warm color, and redeploys a cold one without asking for approval", async () => {
    await Promise.all([
      applyBgd(ns, "warm", { image: "warm:v1", replicas: 2, strategy: { scaleDownDelaySeconds: 600 } }),
      applyBgd(ns, "cold", { image: "cold:v1", replicas: 2, strategy: { scaleDownDelaySeconds: 0 } }),
    ]);
    const approved: Record<string, string> = {};
    for (const name of ["warm", "cold"]) {
      await waitStatus(ns, name, { phase: "Stable" });
      const r2 = revisionIn((await bg("set", "image", name, `${name}:v2`)).stdout);
      await waitStatus(ns, name, { phase: "AwaitingPromotion", previewRevision: r2 });
      assert.equal((await bg("promote", name)).code, 0);
      assert.equal((await bg("status", name, "--timeout", "60s")).code, 0);
      approved[name] = r2;
    }
    await waitUntil(
      "cold's blue scaled down",
      60_000,
      async () => (await deployment(ns, "cold-blue"))?.spec.replicas === 0,
    );

    const warm = await bg("rollback", "warm");
    assert.equal(warm.code, 0, warm.stderr);
    assert.match(
      warm.stdout,
      /rolled back by editing the spec to revision [0-9a-f]{10} \(warm:v1\): blue is still warm: traffic switches back to it now\. A GitOps tool syncing this BGD will undo the edit; to leave the spec alone use: kubectl bluegreen rollback warm -n \S+ --keep-spec/,
    );
    const cold = await bg("rollback", "cold");
    assert.equal(cold.code, 0, cold.stderr);
    assert.match(
      cold.stdout,
      /\(cold:v1\): blue is scaled down: it is scaled up again and promoted without approval/,
    );
    for (const name of ["warm", "cold"]) {
      const r = await bg("status", name, "--timeout", "60s");
      assert.equal(r.code, 0, `${name}: ${r.stdout}${r.stderr}`);
      assert.equal((await serviceSelector(ns, name))?.["bluegreen.io/color"], "blue", name);
    }
    // No new approval was needed: the only one on record is still the one for v2.
    const cold1 = (await waitStatus(ns, "cold", { phase: "Stable" })).activeRevision;
    const bgd = await kubectlJson<{ metadata: { annotations?: Record<string, string> } }>([
      "get",
      "bgd",
      "cold",
      "-n",
      ns,
    ]);
    assert.equal(bgd.metadata.annotations?.["bluegreen.io/promote"], approved.cold);
    assert.notEqual(cold1, approved.cold);

    const nowhere = await bg("rollback", "warm", "--to-revision", "0000000000");
    oneLineError(nowhere, /only a revision still held by warm-blue or warm-green can be rolled back to/);
  });

  it("status exits 2 at its timeout and 1 when the progress deadline aborts, printing progress lines", async () => {
    await Promise.all([
      applyBgd(ns, "slow", { image: "slow:v1", replicas: 2, neverReady: true }),
      applyBgd(ns, "late", { image: "late:v1", replicas: 2 }),
    ]);
    const timedOut = await bg("status", "slow", "--timeout", "3s");
    assert.equal(timedOut.code, 2, `${timedOut.stdout}${timedOut.stderr}`);
    assert.match(timedOut.stdout, /^(Initializing|Waiting for the operator)/m);
    assert.match(timedOut.stderr, /^error: timed out after 3s waiting for \S+\/slow to become Stable/);

    await waitStatus(ns, "late", { phase: "Stable" });
    await applyBgd(ns, "late", {
      image: "late:v2",
      replicas: 2,
      neverReady: true,
      strategy: { progressDeadlineSeconds: 2 },
    });
    const failed = await bg("status", "late", "--timeout", "60s");
    assert.equal(failed.code, 1, `${failed.stdout}${failed.stderr}`);
    assert.match(failed.stderr, /late failed: Aborted: /);
    assert.equal((await serviceSelector(ns, "late"))?.["bluegreen.io/color"], "blue");
  });

  it("ignores a stale approval and approves only the revision now in preview", async () => {
    await applyBgd(ns, "stale", { image: "stale:v1", replicas: 2 });
    await waitStatus(ns, "stale", { phase: "Stable" });
    const r2 = revisionIn((await bg("set", "image", "stale", "stale:v2")).stdout);
    await waitStatus(ns, "stale", { phase: "AwaitingPromotion", previewRevision: r2 });
    const r3 = revisionIn((await bg("set", "image", "stale", "stale:v3")).stdout);
    await waitStatus(ns, "stale", { phase: "AwaitingPromotion", previewRevision: r3 });
    // Someone approves what they saw earlier, with plain kubectl: the operator must not promote v3 for it.
    await kubectl(["annotate", "bgd", "stale", "-n", ns, `bluegreen.io/promote=${r2}`, "--overwrite"]);
    const tree = await waitUntil("the ignored approval in the tree", 30_000, async () => {
      const r = await bg("get", "stale");
      return r.stdout.includes(`Approval for revision ${r2} ignored`) ? r.stdout : undefined;
    });
    assert.match(tree, /◇ AwaitingPromotion/);
    assert.equal((await serviceSelector(ns, "stale"))?.["bluegreen.io/color"], "blue");

    const promoted = await bg("promote", "stale");
    assert.match(promoted.stdout, new RegExp(`revision ${r3} \\(stale:v3\\) approved`));
    assert.equal((await bg("status", "stale", "--timeout", "60s")).code, 0);
    assert.equal((await waitStatus(ns, "stale", { phase: "Stable" })).activeImage, "stale:v3");
  });

  it("refuses to promote from a status the operator has not written for the current spec", async () => {
    await kubectl(
      ["apply", "-n", idle, "-f", "-"],
      JSON.stringify({
        apiVersion: "bluegreen.io/v1",
        kind: "BlueGreenDeployment",
        metadata: { name: "orphan" },
        spec: { replicas: 1, image: "orphan:v1" },
      }),
    );
    const r = await plugin(bin, ["promote", "orphan", "-n", idle]);
    oneLineError(
      r,
      /^error: cannot promote orphan yet: its spec is at generation 1 but the operator has only reported on none \(is the operator running\?\)$/,
    );
  });

  it("says in one line what is wrong: a missing BGD, a user without permission, an unreachable cluster", async () => {
    oneLineError(
      await bg("get", "nope"),
      new RegExp(
        `^Error from server \\(NotFound\\): bluegreendeployment "nope" not found in namespace "${ns}"$`,
      ),
    );
    oneLineError(await bg("promote", "nope"), /NotFound/);

    await kubectl(["create", "serviceaccount", "nobody", "-n", idle]);
    const token = (await kubectl(["create", "token", "nobody", "-n", idle])).trim();
    const admin = await kubectlJson<{
      clusters: { cluster: { server: string; "certificate-authority-data": string } }[];
    }>(["config", "view", "--raw", "--minify"]);
    const cluster = admin.clusters[0]?.cluster;
    assert.ok(cluster);
    const dir = mkdtempSync(join(tmpdir(), "bgo-plugin-kc-"));
    const kubeconfig = (server: string) =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          {
            name: "c",
            cluster: { server, "certificate-authority-data": cluster["certificate-authority-data"] },
          },
        ],
        users: [{ name: "nobody", user: { token } }],
        contexts: [{ name: "nobody", context: { cluster: "c", user: "nobody", namespace: idle } }],
        "current-context": "nobody",
      });
    writeFileSync(join(dir, "nobody"), kubeconfig(cluster.server));
    const closed = await closedPort();
    writeFileSync(join(dir, "nowhere"), kubeconfig(`https://127.0.0.1:${closed}`));
    try {
      const denied = await plugin(bin, ["get", "orphan", "--kubeconfig", join(dir, "nobody")]);
      oneLineError(
        denied,
        new RegExp(
          `^Error from server \\(Forbidden\\): bluegreendeployments.bluegreen.io "orphan" is forbidden: User "system:serviceaccount:${idle}:nobody" cannot get resource "bluegreendeployments"`,
        ),
      );
      oneLineError(
        await plugin(bin, ["list", "--kubeconfig", join(dir, "nobody")]),
        /^Error from server \(Forbidden\): .* cannot list resource "bluegreendeployments"/,
      );
      oneLineError(
        await plugin(bin, ["get", "orphan"], { KUBECONFIG: join(dir, "nowhere") }),
        new RegExp(
          `^error: cannot reach the Kubernetes API server at https://127\\.0\\.0\\.1:${closed}: .*ECONNREFUSED`,
        ),
      );
      oneLineError(
        await bg("get", "full", "-o", "toml"),
        /^error: unable to match a printer suitable for the output format "toml"/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports the plugin's version and the operator's, read from its Deployment", async () => {
    await kubectl(
      ["apply", "-n", idle, "-f", "-"],
      JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: {
          name: "bluegreen-operator",
          labels: {
            "app.kubernetes.io/name": "bluegreen-operator",
            "app.kubernetes.io/version": "9.8.7-e2e",
          },
        },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: "bgo" } },
          template: {
            metadata: { labels: { app: "bgo" } },
            spec: { containers: [{ name: "manager", image: "bluegreen-operator:9.8.7-e2e" }] },
          },
        },
      }),
    );
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string };
    const r = await bg("version");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Plugin Version: ${pkg.version.replaceAll(".", "\\.")}$`, "m"));
    assert.match(r.stdout, /^Operator Version: .*9\.8\.7-e2e/m);
    assert.match(r.stdout, /^Server Version: v1\.\d+/m);
    const json = JSON.parse((await bg("version", "-o", "json")).stdout) as { plugin: string };
    assert.equal(json.plugin, pkg.version);
  });

  it("completes commands and BGD names through kubectl's plugin completion", async () => {
    await applyBgd(ns, "zcomp", { image: "zcomp:v1", replicas: 1 });
    const run = async (args: string[]) => {
      const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` };
      return (await runFile("kubectl", ["__complete", "bluegreen", ...args], { env })).stdout;
    };
    assert.match(await run(["pro"]), /^promote\tApprove the revision now in preview\n:4\n$/);
    assert.match(await run(["status", "-n", ns, "zc"]), /^zcomp\n:4\n$/);
  });

  it("get --watch redraws in a real terminal as the rollout moves", async () => {
    await applyBgd(ns, "watch", { image: "watch:v1", replicas: 2 });
    await waitStatus(ns, "watch", { phase: "Stable" });
    const socket = `bgo-${ns}`;
    const tmux = (...args: string[]) => execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
    const script = join(bin, "watch.sh");
    writeFileSync(
      script,
      `#!/usr/bin/env bash\nexport PATH='${bin}:${process.env.PATH ?? ""}' KUBECONFIG='${process.env.KUBECONFIG ?? ""}'\nexec kubectl bluegreen get watch -n ${ns} --watch\n`,
    );
    chmodSync(script, 0o755);
    tmux("new-session", "-d", "-s", "w", "-x", "200", "-y", "60", script);
    const screen = () => tmux("capture-pane", "-p", "-t", "w");
    try {
      await waitUntil("the tree on screen", 30_000, async () => /Phase: +✔ Stable/.test(screen()));
      assert.match(screen(), /^└── ● deploy\/watch-blue +active/m);

      const r2 = revisionIn((await bg("set", "image", "watch", "watch:v2")).stdout);
      await waitUntil("the screen to show v2 awaiting promotion", 60_000, async () => {
        const s = screen();
        return s.includes("◇ AwaitingPromotion") && new RegExp(`deploy/watch-green +preview +${r2}`).test(s);
      });
      assert.equal((await bg("promote", "watch")).code, 0);
      await waitUntil("the screen to show green serving", 60_000, async () =>
        /^├── svc\/watch +active +→ green$/m.test(screen()),
      );
      // Redrawn in place: the summary appears once, not once per update.
      assert.equal((screen().match(/^Name: +watch$/gm) ?? []).length, 1);
      tmux("send-keys", "-t", "w", "C-c");
      await waitUntil("the watch to end on Ctrl-C", 10_000, async () => {
        try {
          tmux("has-session", "-t", "w");
          return false;
        } catch {
          return true;
        }
      });
    } finally {
      try {
        tmux("kill-server");
      } catch {
        // already gone with its only session
      }
    }
  });
});
