/**
 * execute(): the one place where the operator talks to the API to change anything. It interprets
 * the writes the planner rendered (bluegreen/writes.ts) in order and takes no decision of its own:
 * what to send, whether it is conditional, what follows from a response and which failure may be
 * passed over all come with the write. It stops at the first failure; the next reconcile re-plans
 * from what the cluster then shows. A plan with no actions makes no request at all.
 */
import type { Action } from "../bluegreen/types.ts";
import { followUp, type Request, type Write } from "../bluegreen/writes.ts";
import { ApiError } from "../kube/api-errors.ts";
import type { KubeClient } from "../kube/kube.ts";

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

/** The client calls execute() makes: a subset of KubeClient, so tests can hand in an in-memory store. */
export type Writer = Pick<KubeClient, "apply" | "patch" | "replace" | "create">;

export interface ExecuteContext {
  readonly client: Writer;
  /** "namespace/name" of the BGD, for error context. */
  readonly key: string;
  /** The BGD's generation and resourceVersion the plan was made from (conditional writes use the latter). */
  readonly generation: number;
  readonly resourceVersion: string;
  readonly log?: (msg: string, fields: Record<string, unknown>) => void;
  /**
   * Told the resourceVersion of every Deployment and Service we wrote, so the next reconcile can
   * wait until the caches have caught up with our own writes (see reconciler.ts).
   */
  readonly onWritten?: (w: Written) => void;
}

export interface Written {
  readonly kind: "deployment" | "service" | "httproute";
  readonly name: string;
  readonly resourceVersion: string;
}

type Meta = { metadata?: { generation?: unknown; resourceVersion?: unknown } } | undefined;

function withResourceVersion(body: unknown, resourceVersion: string): unknown {
  const b = body as { metadata?: Record<string, unknown> };
  return { ...b, metadata: { ...b.metadata, resourceVersion } };
}

export async function execute(
  ctx: ExecuteContext,
  actions: ReadonlyArray<Action & { readonly write: Write }>,
): Promise<void> {
  let resourceVersion = ctx.resourceVersion;
  const send = async (r: Request): Promise<void> => {
    const body = r.conditional === true ? withResourceVersion(r.body, resourceVersion) : r.body;
    let response: unknown;
    switch (r.verb) {
      case "apply":
        response = await ctx.client.apply(r.path, body);
        break;
      case "patch":
        response = await ctx.client.patch(r.path, body, r.patchType);
        break;
      case "replace":
        response = await ctx.client.replace(r.path, body);
        break;
      case "create":
        response = await ctx.client.create(r.path, body);
        break;
    }
    const meta = (response as Meta)?.metadata;
    const rv = typeof meta?.resourceVersion === "string" ? meta.resourceVersion : undefined;
    if (r.expect !== undefined) ctx.onWritten?.({ ...r.expect, resourceVersion: rv ?? "" });
    if (r.ownMetadata === true && meta?.generation === ctx.generation && rv !== undefined)
      resourceVersion = rv;
    const next = followUp(r, response);
    if (next !== undefined) await send(next);
  };
  for (const a of actions) {
    const w = a.write;
    let r: Request | undefined;
    try {
      for (r of w.requests) await send(r);
      if (w.log) ctx.log?.(capitalize(w.what), { reason: "reason" in a ? a.reason : undefined });
    } catch (err) {
      if (w.tolerate === "Any") continue;
      const what = `while ${w.what} for ${ctx.key}`;
      if (err instanceof ApiError) {
        if (err.code === 409 && err.reason === "AlreadyExists" && w.tolerate === "AlreadyExists") continue;
        if (err.code === 409) throw new ConflictError(`${what}: ${err.message}`);
        if (err.code === 404 && w.tolerate === "NotFound") continue;
        // A failed `test` op: the object changed since the plan looked (the API server says 422).
        if (err.code === 422 && r?.testOps === true) throw new ConflictError(`${what}: ${err.message}`);
        if (err.code === 422 || err.code === 400) throw new PermanentError(`${what}: ${err.message}`, err);
      }
      throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
