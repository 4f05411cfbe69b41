/** `history NAME` and `version`. */
import { stringify } from "yaml";
import pkg from "../../../package.json" with { type: "json" };
import { ApiError } from "../../kube/api-errors.ts";
import { colorDeployments, getBgd } from "../fetch.ts";
import { arr, bgdView, rec, str, strMap } from "../objects.ts";
import type { Session } from "../session.ts";
import { painterFor } from "../style.ts";
import { renderHistory } from "../tables.ts";

export const PLUGIN_VERSION: string = pkg.version;

export async function history(s: Session, name: string, out: NodeJS.WriteStream): Promise<string> {
  const [bgd, deployments] = await Promise.all([getBgd(s, name), colorDeployments(s, name)]);
  if (s.output === "json" || s.output === "yaml") {
    const h = bgdView(bgd).status.history;
    return s.output === "json" ? JSON.stringify(h, null, 4) : stringify(h).trimEnd();
  }
  return renderHistory(bgd, deployments, {
    now: Date.now(),
    painter: painterFor(out),
    wide: s.output === "wide",
  });
}

/** The label the operator's manifests and Helm chart put on its Deployment. */
export const OPERATOR_SELECTOR = "app.kubernetes.io/name=bluegreen-operator";

export interface Versions {
  readonly plugin: string;
  readonly operator: string;
  readonly server: string;
}

/**
 * The operator's version from its Deployment in the cluster (label app.kubernetes.io/version, else the
 * image tag); "unknown" when none is found or we may not look (it may run outside the cluster).
 */
async function operatorVersion(s: Session): Promise<string> {
  const find = async (path: string) =>
    (await s.client.list(path, { labelSelector: OPERATOR_SELECTOR })).items;
  let items: readonly unknown[];
  try {
    items = await find("/apis/apps/v1/deployments");
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== 403) return "unknown";
    try {
      items = await find(`/apis/apps/v1/namespaces/${s.namespace}/deployments`);
    } catch {
      return "unknown";
    }
  }
  const versions = items.map((d) => {
    const o = rec(d);
    const label = strMap(rec(o.metadata).labels)["app.kubernetes.io/version"];
    const image = str(rec(arr(rec(rec(rec(o.spec).template).spec).containers)[0]).image) ?? "";
    const tag = /:([^:/@]+)(@.*)?$/.exec(image)?.[1];
    return label ?? tag ?? "unknown";
  });
  return versions.length === 0 ? "unknown" : [...new Set(versions)].join(", ");
}

export async function versions(s: Session | undefined): Promise<Versions> {
  if (s === undefined) return { plugin: PLUGIN_VERSION, operator: "unknown", server: "unknown" };
  const [operator, server] = await Promise.all([
    operatorVersion(s),
    s.client
      .get("/version", { timeoutMs: 5000 })
      .then((v) => str(rec(v).gitVersion) ?? "unknown")
      .catch(() => "unreachable"),
  ]);
  return { plugin: PLUGIN_VERSION, operator, server };
}

export function formatVersions(v: Versions, output: Session["output"]): string {
  if (output === "json") return JSON.stringify(v, null, 4);
  if (output === "yaml") return stringify(v).trimEnd();
  return [
    `Plugin Version: ${v.plugin}`,
    `Operator Version: ${v.operator}`,
    `Server Version: ${v.server}`,
  ].join("\n");
}
