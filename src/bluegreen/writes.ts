/**
 * The whole write of every action, rendered here on the pure side: verb, API path, body or patch and
 * its type, whether it is conditional on the BlueGreenDeployment's resourceVersion, and what follows
 * from its response. The executor only interprets these (it takes no decision), and the property
 * tests apply exactly the same writes to an in-memory store.
 *
 * To add a kind of write (a Job for a gate, say): a new Action variant, its case in `renderAction`,
 * and, when its response decides a second write, a `FollowUp` and its case in `followUp`.
 */
import { specHashOf } from "../api/defaults.ts";
import {
  ANNOTATION_ABORT,
  ANNOTATION_SCALE_DOWN_AT,
  ANNOTATION_SPEC_HASH,
  API_VERSION,
  bgdPath,
  deploymentPath,
  eventsPath,
  jobsPath,
  KIND,
  MANAGED_BY,
  podPath,
} from "../api/labels.ts";
import {
  deploymentName,
  type Owner,
  parsePodTemplate,
  renderDeployment,
  renderDeploymentRepair,
} from "./render.ts";
import { routeAdoptWrite, routeHandBackWrite, routeWeightsWrite } from "./route.ts";
import { handBackWrite, serviceWrites } from "./services.ts";
import { iso } from "./situation.ts";
import { type Action, type Desired, type EventType, HANDBACK_FINALIZER, type Observed } from "./types.ts";

/** A write whose response decides one more write (pure: see `followUp`). */
export type FollowUp =
  /**
   * After a write of a color's spec: record the hash of the spec as the API server stored it
   * (defaults filled in), so that a later edit by anyone else shows as drift (see planDrift).
   */
  "RecordSpecHash";

/** How a request writes: server-side apply, a patch, a whole replacement (status), a create (Events). */
export type Verb =
  | { readonly verb: "apply"; readonly body: unknown }
  | { readonly verb: "patch"; readonly patchType: "merge" | "json"; readonly body: unknown }
  | { readonly verb: "replace"; readonly body: unknown }
  | { readonly verb: "create"; readonly body: unknown };

/** One API request, whole. */
export type Request = Verb & {
  readonly path: string;
  /**
   * The body's metadata.resourceVersion is the BGD's version the plan was made from (or the one our
   * own write of its metadata returned): a stale cache gets a 409 and a re-plan, not a lost update.
   */
  readonly conditional?: true;
  /**
   * A write of the BGD's own metadata: later conditional writes use the version it returns, unless
   * the spec changed meanwhile (a new generation; then the 409 and a re-plan are right).
   */
  readonly ownMetadata?: true;
  /** The caches must show this write before the key is planned again (the reconciler's expectations). */
  readonly expect?: { readonly kind: "deployment" | "service" | "httproute"; readonly name: string };
  /**
   * A JSON patch whose `test` ops pin what the plan saw: the API server refuses it (422) when someone
   * changed those values meanwhile, which is a conflict to re-plan from, not an invalid object.
   */
  readonly testOps?: true;
  readonly followUp?: FollowUp;
};

/** The whole write of one action: its requests in order, and how a failure is taken. */
export interface Write {
  /** For logs and error context: "scaling blue to 0". */
  readonly what: string;
  readonly requests: readonly Request[];
  /** A failure that does not stop the plan: any (Events), NotFound (already gone), AlreadyExists (already made). */
  readonly tolerate?: "NotFound" | "AlreadyExists" | "Any";
  /** Logged once done (bookkeeping, Events and status, is not). */
  readonly log: boolean;
}

/** What rendering needs besides the action: whom it is about and when. */
export interface RenderContext {
  readonly owner: Owner;
  readonly now: number;
  /** The Event's reportingInstance (the operator's host name). */
  readonly instance: string;
}

/** Event and status writes need only the owner: invalid specs and refusals are rendered with them. */
export type Bookkeeping = Extract<Action, { type: "Event" } | { type: "UpdateStatus" }>;

export function renderBookkeeping(ctx: RenderContext, a: Bookkeeping): Write {
  const { owner } = ctx;
  if (a.type === "UpdateStatus") {
    return {
      what: "updating status",
      log: false,
      requests: [
        {
          verb: "replace",
          path: `${bgdPath(owner.namespace, owner.name)}/status`,
          conditional: true,
          body: {
            apiVersion: API_VERSION,
            kind: KIND,
            metadata: { name: owner.name, namespace: owner.namespace },
            status: a.status,
          },
        },
      ],
    };
  }
  return {
    what: `recording event ${a.reason}`,
    log: false,
    // An Event that could not be recorded must not stop the rollout.
    tolerate: "Any",
    requests: [{ verb: "create", path: eventsPath(owner.namespace), body: eventBody(ctx, a.eventType, a) }],
  };
}

function eventBody(
  ctx: RenderContext,
  eventType: EventType,
  e: { readonly reason: string; readonly message: string },
): Record<string, unknown> {
  const { owner } = ctx;
  const at = iso(ctx.now);
  return {
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
    reason: e.reason,
    message: e.message.slice(0, 1024),
    source: { component: MANAGED_BY },
    reportingComponent: MANAGED_BY,
    reportingInstance: ctx.instance,
    firstTimestamp: at,
    lastTimestamp: at,
    count: 1,
  };
}

export function renderAction(o: Observed, ctx: RenderContext, a: Action): Write {
  const { owner } = ctx;
  const ns = owner.namespace;
  const dep = (c: Action & { color: "blue" | "green" }) => deploymentName(owner.name, c.color);
  const depWrite = (name: string, v: Verb & { readonly followUp?: FollowUp }): Request => ({
    ...v,
    path: deploymentPath(ns, name),
    expect: { kind: "deployment", name },
  });
  const own = (what: string, body: unknown, conditional = false): Write => ({
    what,
    log: true,
    requests: [
      {
        verb: "patch",
        patchType: "merge",
        path: bgdPath(ns, owner.name),
        body,
        ownMetadata: true,
        ...(conditional ? { conditional: true as const } : {}),
      },
    ],
  });
  switch (a.type) {
    case "Event":
    case "UpdateStatus":
      return renderBookkeeping(ctx, a);
    case "ApplyDeployment":
      return {
        what: `applying Deployment for ${a.color} (revision ${a.revision}, ${a.replicas} replicas)`,
        log: true,
        requests: [
          depWrite(dep(a), {
            verb: "apply",
            body: renderDeployment(o.spec, owner, o.desired, a.color, a.replicas),
            followUp: "RecordSpecHash",
          }),
        ],
      };
    case "RepairDeployment": {
      const what = `reverting a hand edit of the ${a.color} Deployment (revision ${a.revision})`;
      const current = o.colors[a.color];
      const template = parsePodTemplate(current?.userTemplate);
      // planDrift records the hash instead when there is no template to restore from.
      if (current?.userTemplate === undefined || template === undefined)
        return { what, log: true, requests: [] };
      const restored: Desired = {
        template,
        revision: a.revision,
        canonical: current.userTemplate,
        image: current.image,
        selector: o.desired.selector,
      };
      return {
        what,
        log: true,
        requests: [
          depWrite(dep(a), {
            verb: "patch",
            patchType: "json",
            body: renderDeploymentRepair(o.spec, owner, restored, a.color),
            followUp: "RecordSpecHash",
          }),
        ],
      };
    }
    case "RecordDeploymentSpec":
      return {
        what: `recording the spec hash of the ${a.color} Deployment`,
        log: true,
        requests: [specHashWrite(deploymentPath(ns, dep(a)), dep(a), a.hash)],
      };
    case "ScaleDeployment":
      return {
        what: `scaling ${a.color} to ${a.replicas}`,
        log: true,
        requests: [
          depWrite(dep(a), { verb: "patch", patchType: "merge", body: { spec: { replicas: a.replicas } } }),
        ],
      };
    case "SetScaleDownDeadline":
      return {
        what: `setting the scale-down deadline of ${a.color}`,
        log: true,
        requests: [
          depWrite(dep(a), {
            verb: "patch",
            patchType: "merge",
            body: { metadata: { annotations: { [ANNOTATION_SCALE_DOWN_AT]: a.at } } },
          }),
        ],
      };
    case "ApplyService":
      return {
        what: `pointing the ${a.role} Service at ${a.color}`,
        log: true,
        requests: serviceWrites(o, owner, a),
      };
    case "MarkAborted":
      return own(`marking revision ${a.revision} aborted`, {
        metadata: { annotations: { [ANNOTATION_ABORT]: a.revision } },
      });
    case "ClearAborted":
      return own(`clearing the abort of revision ${a.revision}`, {
        metadata: { annotations: { [ANNOTATION_ABORT]: null } },
      });
    case "AddFinalizer":
    case "RemoveFinalizer": {
      const others = (o.finalizers ?? []).filter((f) => f !== HANDBACK_FINALIZER);
      const finalizers = a.type === "AddFinalizer" ? [...others, HANDBACK_FINALIZER] : others;
      // Lists are replaced whole by a merge patch: conditional on our resourceVersion, so a
      // finalizer someone else added meanwhile is not lost (409 → re-plan).
      const w = own(
        a.type === "AddFinalizer"
          ? "adding the Service hand-back finalizer"
          : "removing the Service hand-back finalizer",
        { metadata: { finalizers } },
        true,
      );
      // The BGD is already gone: nothing is left to release.
      return a.type === "RemoveFinalizer" ? { ...w, tolerate: "NotFound" } : w;
    }
    case "HandBackService":
      return {
        what: "handing the adopted Service its original selector back",
        log: true,
        requests: [handBackWrite(o, owner)],
      };
    case "AdoptRoute":
      return {
        what: `marking HTTPRoute ${o.route?.name} as routed by this BlueGreenDeployment`,
        log: true,
        requests: [routeAdoptWrite(o)],
      };
    case "SetRouteWeights":
      return {
        what: `setting HTTPRoute ${o.route?.name} weights to active ${100 - a.preview}, preview ${a.preview}`,
        log: true,
        requests: [routeWeightsWrite(o, a.preview, true)],
      };
    case "HandBackRoute":
      return {
        what: `handing HTTPRoute ${o.route?.name} back (all traffic to the active Service)`,
        log: true,
        // A route deleted meanwhile needs nothing back.
        tolerate: "NotFound",
        requests: [routeHandBackWrite(o)],
      };
    case "PatchPodMetadata":
      return {
        what: `setting role metadata on pod ${a.pod}`,
        log: true,
        // A pod that is gone needs no role metadata.
        tolerate: "NotFound",
        requests: [
          {
            verb: "patch",
            patchType: "merge",
            path: podPath(ns, a.pod),
            body: { metadata: { labels: a.labels, annotations: a.annotations } },
          },
        ],
      };
    case "CreateJob":
      return {
        what: `creating Job ${a.name} for a gate check`,
        log: true,
        // Created once per revision: one that exists (an earlier reconcile, a previous process) is the one.
        tolerate: "AlreadyExists",
        requests: [{ verb: "create", path: jobsPath(ns), body: a.job }],
      };
    case "RunMeasurement":
    case "ForgetMeasurement":
      // No request: the reconciler hands these to the gate runner once the plan's writes are done.
      return {
        what: a.type === "RunMeasurement" ? `measuring ${a.work.id}` : `recorded ${a.id}`,
        log: false,
        requests: [],
      };
    default: {
      const never: never = a;
      throw new Error(`unknown action ${JSON.stringify(never)}`);
    }
  }
}

function specHashWrite(path: string, name: string, hash: string): Request {
  return {
    verb: "patch",
    patchType: "merge",
    path,
    expect: { kind: "deployment", name },
    body: { metadata: { annotations: { [ANNOTATION_SPEC_HASH]: hash } } },
  };
}

/** The write a response calls for (pure); `undefined`: none. */
export function followUp(r: Request, response: unknown): Request | undefined {
  switch (r.followUp) {
    case undefined:
      return undefined;
    case "RecordSpecHash": {
      const obj = response as
        | { spec?: unknown; metadata?: { annotations?: Record<string, string> } }
        | undefined;
      const hash = specHashOf(obj?.spec);
      if (obj?.metadata?.annotations?.[ANNOTATION_SPEC_HASH] === hash || r.expect === undefined)
        return undefined;
      return specHashWrite(r.path, r.expect.name, hash);
    }
  }
}
