/**
 * execute(): the only code that writes to the API. It carries out a plan's actions in order and
 * stops at the first failure (the next reconcile re-plans from what the cluster then shows).
 * Each action is idempotent; a plan with no actions makes no request at all.
 */
import { hostname } from "node:os";
import { specHashOf } from "../api/defaults.ts";
import { ANNOTATION_SPEC_HASH, API_VERSION, KIND, PLURAL } from "../api/labels.ts";
import {
  activeServiceName,
  colorSelector,
  deploymentName,
  type Owner,
  parsePodTemplate,
  previewServiceName,
  renderDeployment,
  renderDeploymentRepair,
  renderService,
} from "../bluegreen/render.ts";
import {
  type Action,
  ANNOTATION_ORIGINAL_SELECTOR,
  type Color,
  type Desired,
  HANDBACK_FINALIZER,
  type Observed,
} from "../bluegreen/types.ts";
import { ApiError } from "./api-errors.ts";
import type { KubeClient, PatchType } from "./kube.ts";

export const bgdPath = (ns: string, name?: string): string =>
  `/apis/bluegreen.io/v1/namespaces/${ns}/${PLURAL}${name === undefined ? "" : `/${name}`}`;
const deploymentPath = (ns: string, name: string) => `/apis/apps/v1/namespaces/${ns}/deployments/${name}`;
const servicePath = (ns: string, name: string) => `/api/v1/namespaces/${ns}/services/${name}`;

/** A write failed for a reason retrying will not fix (the object we rendered is invalid). */
export class PermanentError extends Error {
  override readonly cause: unknown;
  constructor(message: string, cause: unknown) {
    super(message);
    this.name = "PermanentError";
    this.cause = cause;
  }
}

/** Someone else changed the object first; requeue quietly and re-plan from the new state. */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConflictError";
  }
}

export interface ExecuteContext {
  readonly client: KubeClient;
  readonly observed: Observed;
  readonly owner: Owner;
  /** resourceVersion of the BGD the plan was made from (status writes are conditional on it). */
  readonly resourceVersion: string;
  readonly log?: (msg: string, fields: Record<string, unknown>) => void;
  /**
   * Told the resourceVersion of every Deployment and Service we wrote, so the next reconcile can
   * wait until the caches have caught up with our own writes (see reconciler.ts).
   */
  readonly onWritten?: (w: Written) => void;
}

export interface Written {
  readonly kind: "deployment" | "service";
  readonly name: string;
  readonly resourceVersion: string;
}

function rvOf(obj: unknown): string {
  const rv = (obj as { metadata?: { resourceVersion?: unknown } } | undefined)?.metadata?.resourceVersion;
  return typeof rv === "string" ? rv : "";
}

const reporter = `${hostname()}`;

export async function createEvent(
  client: KubeClient,
  owner: Owner,
  eventType: string,
  reason: string,
  message: string,
): Promise<void> {
  const now = new Date().toISOString();
  await client.create(`/api/v1/namespaces/${owner.namespace}/events`, {
    apiVersion: "v1",
    kind: "Event",
    metadata: { generateName: `${owner.name}.`, namespace: owner.namespace },
    involvedObject: {
      apiVersion: API_VERSION,
      kind: KIND,
      name: owner.name,
      namespace: owner.namespace,
      uid: owner.uid,
    },
    type: eventType,
    reason,
    message: message.slice(0, 1024),
    source: { component: "bluegreen-operator" },
    reportingComponent: "bluegreen-operator",
    reportingInstance: reporter,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  });
}

/** What one execute() learns as it goes: the BGD's resourceVersion after our own writes of it. */
interface Progress {
  resourceVersion: string;
}

async function executeOne(ctx: ExecuteContext, a: Action, progress: Progress): Promise<void> {
  const { observed: o, owner } = ctx;
  const ns = owner.namespace;
  // A write of the BGD's own metadata (abort annotation, finalizer) changes its resourceVersion, and
  // the status write that ends the plan is conditional on it. Our own write is no reason to throw the
  // status away (it would lose e.g. why we aborted), so the status goes with the new version, unless
  // the spec changed meanwhile (a new generation): then the 409 and a re-plan are right.
  const patchOwn = async (body: unknown) => {
    const r = (await ctx.client.patch(bgdPath(ns, owner.name), body, "merge")) as {
      metadata?: { generation?: number; resourceVersion?: string };
    };
    if (r?.metadata?.generation === o.generation && r.metadata.resourceVersion !== undefined)
      progress.resourceVersion = r.metadata.resourceVersion;
  };
  // Every Deployment/Service write reports what it produced (see ExecuteContext.onWritten).
  const wrote = (kind: Written["kind"], name: string) => (obj: unknown) => {
    ctx.onWritten?.({ kind, name, resourceVersion: rvOf(obj) });
  };
  const client = {
    apply: async (path: string, body: unknown, done?: (obj: unknown) => void) => {
      const r = await ctx.client.apply(path, body);
      done?.(r);
      return r;
    },
    patch: async (path: string, body: unknown, type: PatchType, done?: (obj: unknown) => void) => {
      const r = await ctx.client.patch(path, body, type);
      done?.(r);
      return r;
    },
    replace: (path: string, body: unknown) => ctx.client.replace(path, body),
  };
  const dep = (c: Color) => deploymentName(owner.name, c);
  // After every write of a Deployment's spec: remember its hash as the API server stored it (defaults
  // filled in), so that a later edit by anyone else shows as drift (see planDrift).
  const writeSpecHash = (c: Color, hash: string) =>
    client.patch(
      deploymentPath(ns, dep(c)),
      { metadata: { annotations: { [ANNOTATION_SPEC_HASH]: hash } } },
      "merge",
      wrote("deployment", dep(c)),
    );
  const recordSpec = async (c: Color, written: unknown) => {
    const obj = written as { spec?: unknown; metadata?: { annotations?: Record<string, string> } };
    const hash = specHashOf(obj.spec);
    if (obj.metadata?.annotations?.[ANNOTATION_SPEC_HASH] !== hash) await writeSpecHash(c, hash);
  };
  switch (a.type) {
    case "ApplyDeployment": {
      const body = renderDeployment(o.spec, owner, o.desired, a.color, a.replicas);
      const r = await client.apply(deploymentPath(ns, dep(a.color)), body, wrote("deployment", dep(a.color)));
      await recordSpec(a.color, r);
      return;
    }
    case "RepairDeployment": {
      const current = o.colors[a.color];
      const template = parsePodTemplate(current?.userTemplate);
      // planDrift records the hash instead when there is no template to restore from.
      if (current?.userTemplate === undefined || template === undefined) return;
      const own: Desired = {
        template,
        revision: a.revision,
        canonical: current.userTemplate,
        image: current.image,
        selector: o.desired.selector,
      };
      const r = await client.patch(
        deploymentPath(ns, dep(a.color)),
        renderDeploymentRepair(o.spec, owner, own, a.color),
        "json",
        wrote("deployment", dep(a.color)),
      );
      await recordSpec(a.color, r);
      return;
    }
    case "RecordDeploymentSpec":
      await writeSpecHash(a.color, a.hash);
      return;
    case "ScaleDeployment":
      await client.patch(
        deploymentPath(ns, dep(a.color)),
        { spec: { replicas: a.replicas } },
        "merge",
        wrote("deployment", dep(a.color)),
      );
      return;
    case "SetScaleDownDeadline":
      await client.patch(
        deploymentPath(ns, dep(a.color)),
        { metadata: { annotations: { "bluegreen.io/scale-down-at": a.at } } },
        "merge",
        wrote("deployment", dep(a.color)),
      );
      return;
    case "ApplyService": {
      const name =
        a.role === "active" ? activeServiceName(owner.name, o.spec) : previewServiceName(owner.name, o.spec);
      if (a.role === "active" && o.activeService.adopted === true) {
        // Not ours: set exactly our selector (nulls drop the keys we do not want), our name label
        // so its events and EndpointSlices reach us, and remember the selector we replaced.
        const current = o.activeService.selector ?? {};
        const wanted = colorSelector(owner, o.desired, a.color);
        const selector: Record<string, string | null> = { ...wanted };
        for (const k of Object.keys(current)) if (!(k in wanted)) selector[k] = null;
        const firstAdoption =
          o.activeService.originalSelector === undefined &&
          o.activeService.selectorColor !== "blue" &&
          o.activeService.selectorColor !== "green";
        await client.patch(
          servicePath(ns, name),
          {
            metadata: {
              labels: { "bluegreen.io/name": owner.name, "bluegreen.io/role": "active" },
              ...(firstAdoption
                ? { annotations: { [ANNOTATION_ORIGINAL_SELECTOR]: JSON.stringify(current) } }
                : {}),
            },
            spec: { selector },
          },
          "merge",
          wrote("service", name),
        );
        return;
      }
      const body = renderService(o.spec, owner, o.desired, a.role, a.color) as {
        spec: Record<string, unknown>;
      };
      if (a.repair === true) {
        // JSON patch "add" replaces whole values: ports and selector become exactly ours again.
        const ops = ["selector", "ports", "type", "sessionAffinity"].map((f) => ({
          op: "add",
          path: `/spec/${f}`,
          value: body.spec[f],
        }));
        await client.patch(servicePath(ns, name), ops, "json");
      }
      await client.apply(servicePath(ns, name), body, wrote("service", name));
      return;
    }
    case "MarkAborted":
      await patchOwn({ metadata: { annotations: { "bluegreen.io/abort": a.revision } } });
      return;
    case "AddFinalizer":
    case "RemoveFinalizer": {
      const others = (o.finalizers ?? []).filter((f) => f !== HANDBACK_FINALIZER);
      const finalizers = a.type === "AddFinalizer" ? [...others, HANDBACK_FINALIZER] : others;
      // Lists are replaced whole by a merge patch: conditional on our resourceVersion, so a
      // finalizer someone else added meanwhile is not lost (409 → re-plan).
      await patchOwn({ metadata: { resourceVersion: progress.resourceVersion, finalizers } });
      return;
    }
    case "HandBackService": {
      const name = activeServiceName(owner.name, o.spec);
      const current = o.activeService.selector ?? {};
      let original: Record<string, string> = {};
      try {
        const parsed: unknown = JSON.parse(o.activeService.originalSelector ?? "{}");
        if (parsed !== null && typeof parsed === "object") original = parsed as Record<string, string>;
      } catch {
        // Unreadable: hand back no selector rather than ours (which would select nothing soon).
      }
      const selector: Record<string, string | null> = { ...original };
      for (const k of Object.keys(current)) if (!(k in original)) selector[k] = null;
      await client.patch(
        servicePath(ns, name),
        {
          metadata: {
            labels: { "bluegreen.io/name": null, "bluegreen.io/role": null },
            annotations: { [ANNOTATION_ORIGINAL_SELECTOR]: null },
          },
          spec: { selector },
        },
        "merge",
        wrote("service", name),
      );
      return;
    }
    case "PatchPodMetadata":
      await client.patch(
        `/api/v1/namespaces/${ns}/pods/${a.pod}`,
        { metadata: { labels: a.labels, annotations: a.annotations } },
        "merge",
      );
      return;
    case "ClearAborted":
      await patchOwn({ metadata: { annotations: { "bluegreen.io/abort": null } } });
      return;
    case "Event":
      await createEvent(ctx.client, owner, a.eventType, a.reason, a.message);
      return;
    case "UpdateStatus":
      // Conditional on the resourceVersion we planned from: a stale cache gets a 409, not a lost update.
      await client.replace(`${bgdPath(ns, owner.name)}/status`, {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: owner.name, namespace: ns, resourceVersion: progress.resourceVersion },
        status: a.status,
      });
      return;
    default: {
      const never: never = a;
      throw new Error(`unknown action ${JSON.stringify(never)}`);
    }
  }
}

function describe(a: Action): string {
  switch (a.type) {
    case "ApplyDeployment":
      return `applying Deployment for ${a.color} (revision ${a.revision}, ${a.replicas} replicas)`;
    case "ScaleDeployment":
      return `scaling ${a.color} to ${a.replicas}`;
    case "RepairDeployment":
      return `reverting a hand edit of the ${a.color} Deployment (revision ${a.revision})`;
    case "RecordDeploymentSpec":
      return `recording the spec hash of the ${a.color} Deployment`;
    case "SetScaleDownDeadline":
      return `setting the scale-down deadline of ${a.color}`;
    case "ApplyService":
      return `pointing the ${a.role} Service at ${a.color}`;
    case "MarkAborted":
      return `marking revision ${a.revision} aborted`;
    case "AddFinalizer":
      return "adding the Service hand-back finalizer";
    case "RemoveFinalizer":
      return "removing the Service hand-back finalizer";
    case "HandBackService":
      return "handing the adopted Service its original selector back";
    case "PatchPodMetadata":
      return `setting role metadata on pod ${a.pod}`;
    case "ClearAborted":
      return `clearing the abort of revision ${a.revision}`;
    case "Event":
      return `recording event ${a.reason}`;
    case "UpdateStatus":
      return "updating status";
  }
}

export async function execute(ctx: ExecuteContext, actions: readonly Action[]): Promise<void> {
  const { owner } = ctx;
  const progress: Progress = { resourceVersion: ctx.resourceVersion };
  for (const a of actions) {
    try {
      await executeOne(ctx, a, progress);
      if (a.type !== "Event" && a.type !== "UpdateStatus") {
        ctx.log?.(capitalize(describe(a)), { reason: "reason" in a ? a.reason : undefined });
      }
    } catch (err) {
      const what = `while ${describe(a)} for ${owner.namespace}/${owner.name}`;
      if (err instanceof ApiError) {
        if (err.code === 409) throw new ConflictError(`${what}: ${err.message}`);
        // The BGD is already gone: nothing is left to release.
        if (err.code === 404 && a.type === "RemoveFinalizer") continue;
        // A pod that is gone needs no role metadata.
        if (err.code === 404 && a.type === "PatchPodMetadata") continue;
        // An Event that could not be recorded must not stop the rollout.
        if (a.type === "Event") continue;
        if (err.code === 422 || err.code === 400) throw new PermanentError(`${what}: ${err.message}`, err);
      }
      if (a.type === "Event") continue;
      throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
