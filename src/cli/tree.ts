/**
 * `kubectl bluegreen get NAME`: a summary of the BlueGreenDeployment, then a tree of what it owns (the two
 * Services and where they point, each color's Deployment and its pods), gate results and the last events.
 * A pure function of a Snapshot and the time, so it is unit-tested from fixed objects.
 */
import { ANNOTATION_PAUSED } from "../api/labels.ts";
import {
  abortAnnotation,
  type BgdView,
  bgdView,
  type Color,
  canaryText,
  condition,
  type DeploymentView,
  deploymentView,
  eventView,
  type PodView,
  pausedByAnnotation,
  podView,
  promoteAnnotation,
  routeText,
  type Snapshot,
  serviceView,
  statusIsCurrent,
} from "./objects.ts";
import {
  age,
  colorName,
  columns,
  fields,
  humanDuration,
  type Painter,
  phaseText,
  roleText,
} from "./style.ts";

export interface RenderOptions {
  readonly now: number;
  readonly painter: Painter;
  /** -o wide: pod IPs and nodes, more events. */
  readonly wide?: boolean;
  /** Appended to the commands suggested in hints, e.g. " -n shop" when not the default namespace. */
  readonly namespaceFlag?: string;
}

/** The role of a color, from the status the operator wrote (the Services' selectors are shown beside it). */
export function roleOf(b: BgdView, c: Color): "active" | "preview" | "idle" {
  if (b.status.activeColor === c) return "active";
  if (b.status.previewColor === c) return "preview";
  return "idle";
}

function strategyText(b: BgdView): string {
  const promotion =
    b.promotionMode === "Auto"
      ? `automatic promotion${b.promotionDelaySeconds > 0 ? ` after ${b.promotionDelaySeconds}s` : ""}`
      : "manual promotion";
  const scaleDown =
    b.scaleDownDelaySeconds === 0
      ? "old color scaled down once the new one is verified"
      : `old color kept warm ${b.scaleDownDelaySeconds}s after the switch`;
  const deadline = `progress deadline ${b.progressDeadlineSeconds}s${b.abortOnProgressDeadline ? " (then abort)" : ""}`;
  return [promotion, scaleDown, deadline].join(" · ");
}

/** What a person would most likely do next, as a command to copy. */
export function nextStep(b: BgdView, namespaceFlag = ""): string | undefined {
  const cmd = (verb: string) => `kubectl bluegreen ${verb} ${b.name}${namespaceFlag}`;
  if (!statusIsCurrent(b)) return undefined;
  switch (b.status.phase) {
    case "AwaitingPromotion":
      return `${cmd("promote")}   (approves revision ${b.status.previewRevision ?? "?"})`;
    case "Aborted":
      return `${cmd("retry")} to try revision ${abortAnnotation(b) ?? "?"} again, or ${cmd("rollback")} to make the spec match what serves`;
    case "Paused":
      return b.specPaused && !pausedByAnnotation(b)
        ? `set spec.paused to false in the manifest (or ${cmd("resume")})`
        : cmd("resume");
    case "Initializing":
    case "Progressing":
    case "Promoting":
      return `${cmd("status")} to follow it, ${cmd("abort")} to stop it`;
    default:
      return undefined;
  }
}

function summary(b: BgdView, deployments: readonly DeploymentView[], o: RenderOptions): string[] {
  const p = o.painter;
  const s = b.status;
  const pairs: [string, string][] = [
    ["Name", b.name],
    ["Namespace", b.namespace],
    ["Phase", phaseText(p, s.phase)],
  ];
  if (s.message !== undefined && s.message !== "") pairs.push(["Message", s.message]);
  pairs.push(["Strategy", strategyText(b)]);
  const ready =
    s.activeColor !== undefined ? ` (${s.ready ?? "?"} ready on ${colorName(p, s.activeColor)})` : "";
  pairs.push(["Replicas", `${b.replicas} desired${ready}`]);
  const revisions: string[] = [];
  if (s.activeColor !== undefined)
    revisions.push(`${s.activeRevision ?? "?"} ${s.activeImage ?? ""} (${roleText(p, "active")})`);
  if (s.previewColor !== undefined)
    revisions.push(`${s.previewRevision ?? "?"} ${s.previewImage ?? ""} (${roleText(p, "preview")})`);
  if (b.desiredRevision !== undefined && !revisions.some((r) => r.startsWith(b.desiredRevision ?? "")))
    revisions.push(`${b.desiredRevision} ${b.desiredImage ?? ""} (desired)`);
  if (revisions.length > 0) pairs.push(["Revisions", revisions.join(" · ")]);
  const traffic = routeText(b);
  if (traffic !== undefined) pairs.push(["Traffic", traffic]);
  const canary = canaryText(b);
  if (canary !== undefined) pairs.push(["Canary", canary]);

  const warnings: string[] = [];
  if (!statusIsCurrent(b)) {
    warnings.push(
      `status is from generation ${s.observedGeneration ?? "none"} but the spec is at ${b.generation}: the operator has not acted on the latest change yet`,
    );
  }
  const promoted = condition(b, "Promoted");
  if (promoted?.reason === "StaleApproval") warnings.push(promoted.message);
  const degraded = condition(b, "Degraded");
  if (degraded?.status === "True" && s.phase !== "Aborted")
    warnings.push(`${degraded.reason}: ${degraded.message}`);
  const approved = promoteAnnotation(b);
  if (approved !== undefined && approved === b.desiredRevision && s.activeRevision !== approved)
    pairs.push(["Approved", `revision ${approved}`]);
  if (pausedByAnnotation(b) || b.specPaused) {
    const by = [
      pausedByAnnotation(b) ? `${ANNOTATION_PAUSED} annotation` : "",
      b.specPaused ? "spec.paused" : "",
    ];
    pairs.push(["Paused by", by.filter((x) => x !== "").join(" and ")]);
  }
  const aborted = abortAnnotation(b);
  if (aborted !== undefined) pairs.push(["Aborted", `revision ${aborted}`]);
  for (const d of deployments) {
    // Only an idle color's deadline means anything: a color that serves or previews keeps running.
    if (
      d.scaleDownAt !== undefined &&
      d.replicas > 0 &&
      d.color !== undefined &&
      roleOf(b, d.color) === "idle"
    ) {
      const left = Date.parse(d.scaleDownAt) - o.now;
      if (left > 0)
        pairs.push([
          "Warm",
          `${d.color} (revision ${d.revision ?? "?"}) scales down in ${humanDuration(left)}`,
        ]);
    }
  }
  for (const w of warnings) pairs.push(["Warning", p.paint("yellow", w)]);
  const next = nextStep(b, o.namespaceFlag);
  if (next !== undefined) pairs.push(["Next", p.paint("cyan", next)]);
  return fields(p, pairs);
}

function podStatus(p: Painter, pod: PodView): string {
  if (pod.status === "Terminating") return p.paint("dim", `◌ ${pod.status}`);
  if (pod.ready) return p.paint("green", `✔ ${pod.status}`);
  if (/Err|BackOff|Fail|Invalid/.test(pod.status)) return p.paint("red", `✖ ${pod.status}`);
  return p.paint("yellow", `◌ ${pod.status}`);
}

function deploymentStatus(p: Painter, d: DeploymentView, role: string, now: number): string {
  if (d.replicas === 0) return p.paint("dim", "scaled down");
  if (role === "idle" && d.scaleDownAt !== undefined && Date.parse(d.scaleDownAt) > now)
    return p.paint("dim", `warm, scale-down in ${humanDuration(Date.parse(d.scaleDownAt) - now)}`);
  return d.readyReplicas >= d.replicas ? p.paint("green", "ready") : p.paint("yellow", "rolling out");
}

/** The tree: BGD, then its Services, then each color's Deployment with its pods (active color first). */
function tree(b: BgdView, snap: Snapshot, o: RenderOptions): string[] {
  const p = o.painter;
  const wide = o.wide === true;
  const deployments = snap.deployments.map(deploymentView).filter((d) => d.color !== undefined);
  const pods = snap.pods.map(podView).sort((x, y) => x.name.localeCompare(y.name));
  const header = [
    "NAME",
    "ROLE",
    "REVISION",
    "IMAGE",
    "READY",
    "STATUS",
    "AGE",
    ...(wide ? ["IP", "NODE"] : []),
  ];
  const rows: string[][] = [header.map((h) => p.paint("bold", h))];
  const pad = wide ? ["", ""] : [];
  rows.push([
    `bgd/${b.name}`,
    "",
    b.desiredRevision ?? "",
    b.desiredImage ?? "",
    b.status.ready ?? "",
    phaseText(p, b.status.phase),
    age(o.now, b.creationTimestamp),
    ...pad,
  ]);
  const serviceRows: string[][] = [];
  const addService = (name: string | undefined, role: string) => {
    if (name === undefined) return;
    const svc = serviceView(name, snap.services[name]);
    const target = svc.exists
      ? svc.color !== undefined
        ? `→ ${colorName(p, svc.color)}`
        : p.paint("yellow", "selects no color")
      : p.paint("dim", "not created");
    serviceRows.push([`svc/${name}`, roleText(p, role), "", "", "", target, "", ...pad]);
  };
  addService(b.activeServiceName, "active");
  addService(b.previewServiceName, "preview");
  const rank = (c: Color | undefined) =>
    c === undefined ? 3 : ["active", "preview", "idle"].indexOf(roleOf(b, c));
  const colorDeps = [...deployments].sort((x, y) => rank(x.color) - rank(y.color));
  const children: { row: string[]; kids: string[][] }[] = [
    ...serviceRows.map((row) => ({ row, kids: [] })),
    ...colorDeps.map((d) => ({
      row: [
        `${d.color !== undefined ? colorName(p, d.color).replace(d.color, "●") : "●"} deploy/${d.name}`,
        d.color !== undefined ? roleText(p, roleOf(b, d.color)) : "",
        d.revision ?? "",
        d.image,
        `${d.readyReplicas}/${d.replicas}`,
        deploymentStatus(p, d, d.color !== undefined ? roleOf(b, d.color) : "idle", o.now),
        age(o.now, d.creationTimestamp),
        ...pad,
      ],
      kids: pods
        .filter((pod) => pod.color === d.color)
        .map((pod) => [
          `pod/${pod.name}`,
          "",
          pod.revision === d.revision ? (pod.revision ?? "") : p.paint("dim", pod.revision ?? ""),
          "",
          pod.readyContainers,
          podStatus(p, pod) + (pod.restarts > 0 ? ` (${pod.restarts} restarts)` : ""),
          age(o.now, pod.creationTimestamp),
          ...(wide ? [pod.ip ?? "<none>", pod.node ?? "<none>"] : []),
        ]),
    })),
  ];
  children.forEach((child, i) => {
    const last = i === children.length - 1;
    const [first = "", ...rest] = child.row;
    rows.push([`${last ? "└── " : "├── "}${first}`, ...rest]);
    child.kids.forEach((kid, j) => {
      const [kFirst = "", ...kRest] = kid;
      rows.push([
        `${last ? "    " : "│   "}${j === child.kids.length - 1 ? "└── " : "├── "}${kFirst}`,
        ...kRest,
      ]);
    });
  });
  return columns(rows);
}

function gates(b: BgdView, p: Painter): string[] {
  if (b.status.gates.length === 0) return [];
  const rows = [["STAGE", "GATE", "RESULT", "MESSAGE"].map((h) => p.paint("bold", h))];
  for (const g of b.status.gates) {
    const ok = /^(Passed|Succeeded|True|Success)/i.test(g.result);
    const bad = /^(Failed|Error|False)/i.test(g.result);
    const result = p.paint(ok ? "green" : bad ? "red" : "yellow", g.result);
    rows.push([g.stage ?? "", g.name, result, g.message ?? ""]);
  }
  return ["", p.paint("bold", "Gates:"), ...columns(rows).map((l) => `  ${l}`)];
}

function events(snap: Snapshot, o: RenderOptions): string[] {
  const p = o.painter;
  const limit = o.wide === true ? 20 : 6;
  const all = snap.events
    .map(eventView)
    .sort((x, y) => Date.parse(x.time ?? "") - Date.parse(y.time ?? "") || x.order - y.order)
    .slice(-limit);
  if (all.length === 0) return ["", `${p.paint("bold", "Events:")} <none>`];
  const rows = [["AGE", "TYPE", "REASON", "MESSAGE"].map((h) => p.paint("bold", h))];
  for (const e of all) {
    rows.push([
      age(o.now, e.time) + (e.count > 1 ? ` (x${e.count})` : ""),
      e.type === "Warning" ? p.paint("red", e.type) : e.type,
      e.reason,
      e.message,
    ]);
  }
  return ["", p.paint("bold", `Events (last ${all.length}):`), ...columns(rows).map((l) => `  ${l}`)];
}

export function renderGet(snap: Snapshot, o: RenderOptions): string {
  const b = bgdView(snap.bgd);
  const deployments = snap.deployments.map(deploymentView);
  return [
    ...summary(b, deployments, o),
    "",
    ...tree(b, snap, o),
    ...gates(b, o.painter),
    ...events(snap, o),
  ].join("\n");
}
