/**
 * Pod discovery for the real Prometheus of the gate tests. Debian's prometheus (2.42) is built without
 * kubernetes_sd_configs, so this serves Prometheus' HTTP service discovery from the local API server instead:
 * every request lists the namespaces' pods (kubectl, the test's credentials) and returns them with the same
 * `__meta_kubernetes_pod_*` labels kubernetes_sd would set — so the relabelling below is the one a cluster's
 * Prometheus would use with `kubernetes_sd_configs: [{role: pod}]`.
 */
import type { LocalServer } from "../unit/support/servers.ts";
import { serve } from "../unit/support/servers.ts";
import { kubectlJson } from "./lib.ts";

interface PodList {
  items: {
    metadata: { name: string; namespace: string; labels?: Record<string, string> };
    status?: { podIP?: string; phase?: string; conditions?: { type: string; status: string }[] };
  }[];
}

/** Label names as Prometheus sanitises them (`bluegreen.io/name` → `bluegreen_io_name`). */
const sanitise = (k: string) => k.replace(/[^a-zA-Z0-9_]/g, "_");

/**
 * `namespaces` may be a function, read at every request: a file's namespaces can be made by another
 * before-hook than the one that starts this server.
 */
export async function podDiscoveryServer(
  namespaces: readonly string[] | (() => readonly string[]),
  port = 8080,
): Promise<LocalServer> {
  return serve(async (_req, res) => {
    try {
      const groups = [];
      const wanted = new Set(typeof namespaces === "function" ? namespaces() : namespaces);
      // One list for all of them: one kubectl per refresh, however many namespaces (a busy machine).
      const pods = await kubectlJson<PodList>(["get", "pods", "--all-namespaces"]);
      for (const p of pods.items.filter((x) => wanted.has(x.metadata.namespace))) {
        const ip = p.status?.podIP;
        if (ip === undefined || ip === "") continue;
        const ready = p.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
        const labels: Record<string, string> = {
          __meta_kubernetes_namespace: p.metadata.namespace,
          __meta_kubernetes_pod_name: p.metadata.name,
          __meta_kubernetes_pod_ip: ip,
          __meta_kubernetes_pod_phase: p.status?.phase ?? "",
          __meta_kubernetes_pod_ready: String(ready),
        };
        for (const [k, v] of Object.entries(p.metadata.labels ?? {}))
          labels[`__meta_kubernetes_pod_label_${sanitise(k)}`] = v;
        groups.push({ targets: [`${ip}:${port}`], labels });
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(groups));
    } catch (e) {
      res.writeHead(500).end(e instanceof Error ? e.message : String(e));
    }
  });
}

/** scrape_configs entry: discovery through `sdUrl`, relabelled to namespace, pod, bgd, color, revision. */
export function podScrapeConfig(sdUrl: string): string {
  return [
    "  - job_name: bluegreen-pods",
    "    http_sd_configs:",
    `      - {url: ${JSON.stringify(sdUrl)}, refresh_interval: 2s}`,
    "    relabel_configs:",
    "      - source_labels: [__meta_kubernetes_pod_label_bluegreen_io_name]",
    "        regex: .+",
    "        action: keep",
    "      - {source_labels: [__meta_kubernetes_namespace], target_label: namespace}",
    "      - {source_labels: [__meta_kubernetes_pod_name], target_label: pod}",
    "      - {source_labels: [__meta_kubernetes_pod_label_bluegreen_io_name], target_label: bgd}",
    "      - {source_labels: [__meta_kubernetes_pod_label_bluegreen_io_color], target_label: color}",
    "      - {source_labels: [__meta_kubernetes_pod_label_bluegreen_io_revision], target_label: revision}",
  ].join("\n");
}
