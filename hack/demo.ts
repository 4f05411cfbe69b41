/**
 * `make demo`: the local control plane, the operator, and a real blue → green rollout of the
 * article's example, printed as a live timeline. Pods keep kwok's realistic delays (1 s + up to
 * 5 s jitter) so a person can watch the rollout happen. Exits 0 once the rollout is Stable and
 * the old color is scaled down; the cluster stays up for exploring (`make cluster-down` stops it).
 * `make demo-gates` (demo-gates.ts) is the same stage with a gate stopping a bad release.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import {
  json,
  kubectl,
  loadOn,
  paths,
  printEnd,
  printTotals,
  repo,
  run,
  say,
  startDemo,
  step,
  stopDemo,
  watchUntil,
} from "./demo-lib.ts";

const NS = "demo";
const NAME = "my-awesome-app";

async function main(): Promise<void> {
  const d = await startDemo(NS, NAME);
  try {
    step(`Apply examples/${NAME}.yaml (image v1): first deployment goes to blue`);
    kubectl(["apply", "-n", NS, "-f", join(repo, `examples/${NAME}.yaml`)]);
    const v1 = await watchUntil(d, "v1 Stable", (s) => s.phase === "Stable" && s.activeColor === "blue");
    d.revisionNames.set(v1.activeRevision ?? "", "v1");

    const users = await loadOn(d, NAME, 50);
    step(
      `Steady traffic: 50 requests/s to the active Service (http://${users.ip}/) from inside the cluster's network`,
    );
    say(`what each request sees: ${paths.netnsExec} curl -s http://${users.ip}/`);
    say(execFileSync(paths.netnsExec, ["curl", "-s", `http://${users.ip}/`], { encoding: "utf8" }).trim());
    d.traffic = users.traffic;

    step("Change the image to v2: it goes to the idle color (green) only; blue keeps serving");
    kubectl([
      "patch",
      "bgd",
      NAME,
      "-n",
      NS,
      "--type",
      "json",
      "-p",
      JSON.stringify([
        {
          op: "replace",
          path: "/spec/template/spec/containers/0/image",
          value: "myregistry.com/my-awesome-app:v2",
        },
        { op: "add", path: "/spec/strategy/scaleDownDelaySeconds", value: 10 },
      ]),
    ]);
    const waiting = await watchUntil(d, "AwaitingPromotion", (s) => s.phase === "AwaitingPromotion");
    d.revisionNames.set(waiting.previewRevision ?? "", "v2");

    step(`Promote exactly revision ${waiting.previewRevision}`);
    say(`kubectl annotate bgd ${NAME} bluegreen.io/promote=${waiting.previewRevision}`);
    kubectl(["annotate", "bgd", NAME, "-n", NS, `bluegreen.io/promote=${waiting.previewRevision}`]);
    await watchUntil(d, "Stable on green", (s) => s.phase === "Stable" && s.activeColor === "green");

    step("Blue stays warm for instant rollback, then scales down after scaleDownDelaySeconds (10 s)");
    await watchUntil(d, "blue scaled down", () => {
      const dep = json<{ spec: { replicas: number }; status: { replicas?: number } }>([
        "get",
        "deployment",
        `${NAME}-blue`,
        "-n",
        NS,
      ]);
      return dep?.spec.replicas === 0 && (dep.status.replicas ?? 0) === 0;
    });

    const report = await users.traffic.stop();
    d.traffic = undefined;
    step("Traffic totals");
    printTotals(d, report);
    await printEnd(d);
  } finally {
    await stopDemo(d);
  }
}

run(main, "demo");
