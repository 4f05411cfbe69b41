/** `make cluster-up` / `make cluster-down`: the local control plane in .cluster/, left running. */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { binDir, clusterPaths, startCluster, stopCluster } from "./cluster.ts";

const dir = resolve(process.env.CLUSTER_DIR ?? ".cluster");
const command = process.argv[2];

function running(): boolean {
  const file = `${dir}/state.json`;
  if (!existsSync(file)) return false;
  const state = JSON.parse(readFileSync(file, "utf8")) as { pids?: Record<string, number> };
  const pid = state.pids?.apiserver;
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

if (command === "up") {
  const paths = clusterPaths(dir);
  if (running()) {
    console.log(`cluster already running; export KUBECONFIG=${paths.kubeconfig}`);
  } else {
    await stopCluster(dir);
    rmSync(dir, { recursive: true, force: true });
    await startCluster(dir, { log: (l) => console.log(`[cluster] ${l}`) });
    console.log(`[cluster] logs in ${dir}/logs`);
    console.log(`export KUBECONFIG=${paths.kubeconfig}`);
    console.log(`export PATH=${binDir()}:$PATH   # kubectl ${"v1.36.3"} built for this cluster`);
    console.log(
      `# ClusterIPs and pod IPs answer inside the cluster's network namespace: ${paths.netnsExec} curl -s http://<clusterIP>/`,
    );
  }
} else if (command === "down") {
  await stopCluster(dir);
  rmSync(dir, { recursive: true, force: true });
  console.log("[cluster] stopped");
} else {
  console.error("usage: cluster-cli.ts up|down");
  process.exit(2);
}
