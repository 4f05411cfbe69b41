/**
 * The one reader of the kube-apiserver audit log (`--audit-log-path`): the apiserver's own count of
 * what a client did, not ours. Each test's operator has its own identity (a ServiceAccount of its own,
 * see identity.ts, or a certificate of its own), so its requests can be told apart.
 */
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { env } from "./lib.ts";

export interface AuditEvent {
  readonly stage: string;
  readonly verb: string;
  readonly user: { readonly username: string; readonly groups?: readonly string[] };
  readonly objectRef?: {
    readonly resource?: string;
    readonly namespace?: string;
    readonly name?: string;
    readonly subresource?: string;
    readonly apiGroup?: string;
  };
  readonly responseStatus?: { readonly code?: number };
  readonly requestReceivedTimestamp: string;
  /** e.g. authorization.k8s.io/decision: "allow" or "forbid". */
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface AuditQuery {
  /** Only requests received at or after this time. */
  readonly since?: Date;
  /** Only create/update/patch/delete. */
  readonly writesOnly?: boolean;
  /** Only requests for objects in this namespace. */
  readonly namespace?: string;
}

const WRITE_VERBS = new Set(["create", "update", "patch", "delete", "deletecollection"]);

/** Completed requests of `username`, oldest first. */
export function auditOf(username: string, q: AuditQuery = {}): AuditEvent[] {
  const out: AuditEvent[] = [];
  const user = `"${username}"`;
  const ns = q.namespace !== undefined ? `"${q.namespace}"` : undefined;
  for (const line of readFileSync(env("BGO_AUDIT_LOG"), "utf8").split("\n")) {
    if (!line.includes(user) || (ns !== undefined && !line.includes(ns))) continue;
    const e = JSON.parse(line) as AuditEvent;
    if (e.stage !== "ResponseComplete" || e.user.username !== username) continue;
    if (q.namespace !== undefined && e.objectRef?.namespace !== q.namespace) continue;
    if (q.since !== undefined && new Date(e.requestReceivedTimestamp) < q.since) continue;
    if (q.writesOnly === true && !WRITE_VERBS.has(e.verb)) continue;
    out.push(e);
  }
  return out;
}

/**
 * Requests the operator known to the API server as `user` (OperatorProcess.user) made in `ns`, Events
 * left out (how many it records varies with the intermediate states its watch delivers). Waits for
 * the apiserver to flush its audit batch first.
 */
export async function operatorRequests(
  user: string,
  ns: string,
  opts: { since?: Date; writesOnly?: boolean } = {},
): Promise<AuditEvent[]> {
  await sleep(1500);
  return auditOf(user, { ...opts, namespace: ns }).filter((e) => e.objectRef?.resource !== "events");
}

/** "verb resource[/subresource] name → code", one per request (tests compare whole lists). */
export function describeRequests(events: readonly AuditEvent[]): string[] {
  return events.map(
    (e) =>
      `${e.verb} ${e.objectRef?.resource ?? "?"}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ""} ${e.objectRef?.name ?? ""} → ${e.responseStatus?.code ?? "?"}`,
  );
}

/** Like describeRequests, with the time and the namespace (for failure messages across namespaces). */
export function describeAudit(events: readonly AuditEvent[]): string[] {
  return events.map(
    (e) =>
      `${e.requestReceivedTimestamp} ${e.verb} ${e.objectRef?.resource ?? "?"}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ""} ${e.objectRef?.namespace ?? ""}/${e.objectRef?.name ?? ""} → ${e.responseStatus?.code ?? "?"}`,
  );
}
