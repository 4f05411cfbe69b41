/** Tables: `list` (kubectl get style, one line per BGD) and `history` (promoted revisions). Pure. */
import { bgdView, COLORS, type DeploymentView, deploymentView } from "./objects.ts";
import { age, colorName, columns, type Painter, phaseText } from "./style.ts";
import { roleOf } from "./tree.ts";

export interface TableOptions {
  readonly now: number;
  readonly painter: Painter;
  readonly wide?: boolean;
  readonly allNamespaces?: boolean;
}

export function renderList(items: readonly unknown[], o: TableOptions): string {
  const p = o.painter;
  const bgds = items
    .map(bgdView)
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  const header = [
    ...(o.allNamespaces === true ? ["NAMESPACE"] : []),
    "NAME",
    "ACTIVE",
    "PHASE",
    "READY",
    "IMAGE",
    "PREVIEW",
    "AGE",
    ...(o.wide === true ? ["REVISION", "PREVIEW-REVISION", "MESSAGE"] : []),
  ];
  const rows = [header.map((h) => p.paint("bold", h))];
  for (const b of bgds) {
    const s = b.status;
    rows.push([
      ...(o.allNamespaces === true ? [b.namespace] : []),
      b.name,
      s.activeColor !== undefined ? colorName(p, s.activeColor) : "<none>",
      phaseText(p, s.phase),
      s.ready ?? "-",
      s.activeImage ?? "-",
      s.previewImage ?? "-",
      age(o.now, b.creationTimestamp),
      ...(o.wide === true ? [s.activeRevision ?? "-", s.previewRevision ?? "-", s.message ?? ""] : []),
    ]);
  }
  return columns(rows).join("\n");
}

/** Where a revision lives now: which color's Deployment still holds its template, and in what state. */
function heldBy(
  revision: string,
  deployments: readonly DeploymentView[],
  bgd: ReturnType<typeof bgdView>,
  p: Painter,
): string {
  for (const c of COLORS) {
    const d = deployments.find((x) => x.color === c);
    if (d === undefined || d.revision !== revision) continue;
    const role = roleOf(bgd, c);
    const state =
      role === "active"
        ? "serving"
        : d.replicas === 0
          ? "scaled down"
          : d.readyReplicas >= d.replicas
            ? "warm"
            : "starting";
    return `${colorName(p, c)} (${state})`;
  }
  return p.paint("dim", "-");
}

/**
 * Newest first. The revision in progress (not promoted yet) is listed first, marked. HELD-BY says which
 * color still has a revision's template: only those can be rolled back to by `rollback`.
 */
export function renderHistory(rawBgd: unknown, rawDeployments: readonly unknown[], o: TableOptions): string {
  const p = o.painter;
  const b = bgdView(rawBgd);
  const deployments = rawDeployments.map(deploymentView);
  const header = [
    "REVISION",
    "IMAGE",
    "PROMOTED",
    "SWITCHED-FROM",
    "HELD-BY",
    ...(o.wide === true ? ["AT"] : []),
  ];
  const rows = [header.map((h) => p.paint("bold", h))];
  const desired = b.desiredRevision;
  if (desired !== undefined && !b.status.history.some((h) => h.revision === desired)) {
    const d = deployments.find((x) => x.revision === desired);
    const state = b.status.phase === "Aborted" ? "aborted" : "not promoted";
    rows.push([
      `${desired}*`,
      d?.image ?? b.desiredImage ?? "-",
      p.paint("yellow", state),
      "",
      heldBy(desired, deployments, b, p),
      ...(o.wide === true ? [""] : []),
    ]);
  }
  for (const h of b.status.history) {
    const current = h.revision === b.status.activeRevision;
    rows.push([
      current ? p.paint("bold", h.revision) : h.revision,
      h.image ?? "-",
      h.promotedAt !== undefined ? `${age(o.now, h.promotedAt)} ago` : "-",
      h.switchedFrom !== undefined ? colorName(p, h.switchedFrom) : "-",
      heldBy(h.revision, deployments, b, p),
      ...(o.wide === true ? [h.promotedAt ?? ""] : []),
    ]);
  }
  if (rows.length === 1) return "No revisions promoted yet.";
  return columns(rows).join("\n");
}
