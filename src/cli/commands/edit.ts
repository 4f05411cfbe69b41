/**
 * `set image` and `rollback`: spec edits. The pure parts (which container, which revision, what the spec
 * becomes) are functions of the objects read, unit-tested without a cluster.
 */
import { canonicalJson, desiredPodTemplate } from "../../api/defaults.ts";
import { colorDeployments } from "../fetch.ts";
import { editBgd } from "../mutate.ts";
import { arr, bgdView, type DeploymentView, deploymentView, rec, str } from "../objects.ts";
import { CliError, type Session } from "../session.ts";
import { type Outcome, ref } from "./actions.ts";

export interface ImageAssignment {
  /** undefined: the only container (or the shorthand's). "*": every container. */
  readonly container: string | undefined;
  readonly image: string;
}

/** `[CONTAINER=]IMAGE` as `kubectl set image` takes it. */
export function parseAssignment(arg: string): ImageAssignment {
  const eq = arg.indexOf("=");
  const container = eq > 0 ? arg.slice(0, eq) : undefined;
  const image = eq > 0 ? arg.slice(eq + 1) : arg;
  if (image === "" || /\s/.test(image)) throw new CliError(`error: invalid image "${image}" in "${arg}"`);
  return { container, image };
}

/**
 * Applies the assignments to a copy of the BGD in place (spec.image for the shorthand, else the template's
 * containers and initContainers). Returns "container=image" for each change; an empty list means no change.
 */
export function setImages(obj: Record<string, unknown>, assignments: readonly ImageAssignment[]): string[] {
  const name = str(rec(obj.metadata).name) ?? "";
  const spec = obj.spec as Record<string, unknown>;
  const changes: string[] = [];
  if (spec.template === undefined) {
    for (const a of assignments) {
      if (a.container !== undefined && a.container !== "*" && a.container !== name) {
        throw new CliError(
          `error: ${name} uses the image shorthand, whose one container is named "${name}", not "${a.container}"`,
        );
      }
      if (spec.image !== a.image) changes.push(`${name}=${a.image}`);
      spec.image = a.image;
    }
    return changes;
  }
  const podSpec = rec(rec(spec.template).spec) as Record<string, unknown>;
  const lists = [arr(podSpec.containers), arr(podSpec.initContainers)];
  const all = lists.flat().filter((c): c is Record<string, unknown> => typeof c === "object" && c !== null);
  const names = all.map((c) => str(c.name) ?? "");
  for (const a of assignments) {
    let targets: Record<string, unknown>[];
    if (a.container === "*") targets = all;
    else if (a.container === undefined) {
      const main = arr(podSpec.containers);
      if (main.length !== 1) {
        throw new CliError(
          `error: ${name} has ${main.length} containers (${names.join(", ")}): say which one, e.g. kubectl bluegreen set image ${name} ${names[0] ?? "CONTAINER"}=${a.image}`,
        );
      }
      targets = all.slice(0, 1);
    } else {
      targets = all.filter((c) => c.name === a.container);
      if (targets.length === 0)
        throw new CliError(`error: ${name} has no container "${a.container}" (it has: ${names.join(", ")})`);
    }
    for (const c of targets) {
      if (c.image !== a.image) changes.push(`${str(c.name) ?? "?"}=${a.image}`);
      c.image = a.image;
    }
  }
  return changes;
}

export async function setImage(s: Session, name: string, args: readonly string[]): Promise<Outcome> {
  const assignments = args.map(parseAssignment);
  let changes: string[] = [];
  const { obj, changed } = await editBgd(s, name, (o) => {
    changes = setImages(o, assignments);
    return changes.length > 0;
  });
  if (!changed) return { message: `${ref(name)} image unchanged`, exitCode: 0 };
  const rev = bgdView(obj).desiredRevision;
  return {
    message: `${ref(name)} image updated: ${changes.join(", ")}${rev !== undefined ? ` (revision ${rev})` : ""}\nfollow it with: kubectl bluegreen status ${name}${s.namespaceFlag}`,
    exitCode: 0,
  };
}

export interface RollbackChoice {
  readonly revision: string;
  readonly color: string;
  readonly image: string;
  readonly role: "active" | "warm" | "cold";
  readonly promotedBefore: boolean;
  /** Puts the revision's template back into a copy of the BGD. */
  readonly apply: (obj: Record<string, unknown>) => void;
}

/** spec.image/spec.port when the template is exactly what that shorthand expands to, else undefined. */
function asShorthand(name: string, template: unknown): { image: string; port: number } | undefined {
  const containers = arr(rec(rec(template).spec).containers);
  const c = rec(containers[0]);
  const image = str(c.image);
  const port = arr(c.ports).map((p) => rec(p).containerPort)[0];
  if (containers.length !== 1 || image === undefined || typeof port !== "number") return undefined;
  const expanded = desiredPodTemplate({ metadata: { name }, spec: { image, port } } as Parameters<
    typeof desiredPodTemplate
  >[0]);
  return canonicalJson(expanded) === canonicalJson(template) ? { image, port } : undefined;
}

/**
 * Which revision `rollback` goes to and how: only a revision whose template a color's Deployment still
 * holds can be rolled back to (the operator keeps two colors, not a store of templates). Without
 * `toRevision`: the live color's revision during a rollout, else the other color's previously promoted one.
 */
export function chooseRollback(
  rawBgd: unknown,
  rawDeployments: readonly unknown[],
  toRevision?: string,
): RollbackChoice {
  const b = bgdView(rawBgd);
  const desired = b.desiredRevision;
  const held = rawDeployments
    .map(deploymentView)
    .filter(
      (d): d is DeploymentView & { revision: string } => d.color !== undefined && d.revision !== undefined,
    );
  const inHistory = (rev: string) => b.status.history.some((h) => h.revision === rev);
  const holdings =
    held.length > 0 ? held.map((d) => `${d.revision} on ${d.color ?? "?"}`).join(", ") : "no revision";
  const limit = `only a revision still held by ${b.name}-blue or ${b.name}-green can be rolled back to (they hold ${holdings}); for an older one, apply its manifest again`;
  let target: (typeof held)[number] | undefined;
  if (toRevision !== undefined) {
    if (desired?.startsWith(toRevision))
      throw new CliError(`error: revision ${desired} is already what ${b.name}'s spec asks for`);
    const matches = held.filter((d) => d.revision.startsWith(toRevision));
    if (matches.length > 1) throw new CliError(`error: revision "${toRevision}" is ambiguous (${holdings})`);
    target = matches[0];
    if (target === undefined)
      throw new CliError(`error: revision ${toRevision} cannot be rolled back to: ${limit}`);
  } else {
    const previous = held.filter((d) => d.revision !== desired && inHistory(d.revision));
    target =
      previous.find((d) => d.color === b.status.activeColor) ??
      previous.sort(
        (x, y) =>
          b.status.history.findIndex((h) => h.revision === x.revision) -
          b.status.history.findIndex((h) => h.revision === y.revision),
      )[0];
    if (target === undefined)
      throw new CliError(`error: no previously promoted revision to roll back to: ${limit}`);
  }
  let template: unknown;
  try {
    template = JSON.parse(target.template ?? "");
  } catch {
    throw new CliError(
      `error: deployment ${target.name} does not record the template of revision ${target.revision}`,
    );
  }
  const role =
    target.color === b.status.activeColor
      ? "active"
      : target.replicas >= b.replicas && target.readyReplicas >= target.replicas
        ? "warm"
        : "cold";
  const shorthand = b.shorthandImage !== undefined ? asShorthand(b.name, template) : undefined;
  return {
    revision: target.revision,
    color: target.color ?? "?",
    image: target.image,
    role,
    promotedBefore: inHistory(target.revision),
    apply: (obj) => {
      const spec = obj.spec as Record<string, unknown>;
      if (shorthand !== undefined) {
        spec.image = shorthand.image;
        if (spec.port !== undefined || shorthand.port !== 8080) spec.port = shorthand.port;
        return;
      }
      // The template annotation holds the effective template, so a shorthand BGD becomes a templated one.
      spec.template = structuredClone(template);
      delete spec.image;
      delete spec.port;
    },
  };
}

export async function rollback(s: Session, name: string, toRevision: string | undefined): Promise<Outcome> {
  const deployments = await colorDeployments(s, name);
  let choice: RollbackChoice | undefined;
  await editBgd(s, name, (obj) => {
    choice = chooseRollback(obj, deployments, toRevision);
    choice.apply(obj);
    return true;
  });
  if (choice === undefined) throw new CliError("error: rollback decided nothing");
  const c: RollbackChoice = choice;
  const how =
    c.role === "active"
      ? `${c.color} still serves it; the rollout in progress stops`
      : c.role === "warm"
        ? `${c.color} is still warm: traffic switches back to it now`
        : c.promotedBefore
          ? `${c.color} is scaled down: it is scaled up again and promoted without approval (it was promoted before)`
          : `${c.color} is scaled down: it is scaled up again and awaits promotion (it was never promoted)`;
  return {
    message: `${ref(name)} rolled back by editing the spec to revision ${c.revision} (${c.image}): ${how}. A GitOps tool syncing this BGD will undo the edit; to leave the spec alone use: kubectl bluegreen rollback ${name}${s.namespaceFlag} --keep-spec`,
    exitCode: 0,
  };
}
