/**
 * What a notification says, as data: the transitions announced, the generic JSON body (HMAC-signed), the
 * Slack-compatible body, and the receivers' configuration read from a ConfigMap. Pure.
 *
 * Configuration is a ConfigMap named `bluegreen-notifications` (key `receivers`, a YAML list), in the BGD's
 * namespace and/or the operator's: no second CRD to install, version and grant for a few lines of settings,
 * and the same object works namespaced and cluster-wide. A BGD subscribes by naming receivers in
 * spec.notifications; a receiver in the BGD's namespace wins over one of the same name in the operator's.
 */
import { createHmac } from "node:crypto";
import { parse } from "yaml";
import type { NotificationEvent } from "../../api/notifications.ts";

export { NOTIFICATION_EVENTS, type NotificationEvent } from "../../api/notifications.ts";

export const CONFIGMAP_NAME = "bluegreen-notifications";
export const CONFIGMAP_KEY = "receivers";
export const SIGNATURE_HEADER = "X-Bluegreen-Signature";
export const EVENT_HEADER = "X-Bluegreen-Event";
export const DELIVERY_HEADER = "X-Bluegreen-Delivery";

export interface Notification {
  /** Stable for one transition (uid, revision, event, gate): receivers can drop a retried delivery they already have. */
  readonly id: string;
  readonly event: NotificationEvent;
  readonly time: string;
  readonly bgd: { readonly name: string; readonly namespace: string; readonly uid: string };
  readonly revision: string;
  readonly activeColor?: string;
  readonly message: string;
  readonly gate?: { readonly name: string; readonly point: string; readonly message: string };
}

export function notificationId(
  uid: string,
  revision: string,
  event: NotificationEvent,
  gate?: string,
): string {
  return [uid, revision, event, ...(gate !== undefined ? [gate] : [])].join("/");
}

/** A key of a Secret in the ConfigMap's namespace, read by name when a notification is sent. */
export interface SecretKeyRef {
  readonly name: string;
  readonly key: string;
}

export interface Receiver {
  readonly name: string;
  /** The webhook's address; or `urlSecret`, for the addresses that are credentials (Slack's). */
  readonly url?: string;
  readonly urlSecret?: SecretKeyRef;
  /** Every key of this Secret is a request header (a bearer token). */
  readonly headersSecret?: string;
  readonly format: "json" | "slack";
  /** The HMAC key of a json receiver. */
  readonly hmacSecret?: SecretKeyRef;
}

/** The generic body: the notification as JSON, exactly the bytes that are signed. */
export const jsonBody = (n: Notification): string => JSON.stringify(n);

/** `sha256=<hex>` of the body under the key, as GitHub's webhooks: the receiver recomputes and compares. */
export const signature = (body: string, key: string | Buffer): string =>
  `sha256=${createHmac("sha256", key).update(body).digest("hex")}`;

const ICONS: Record<NotificationEvent, string> = {
  RolloutStarted: ":arrows_counterclockwise:",
  AwaitingPromotion: ":hourglass:",
  Promoted: ":white_check_mark:",
  GateFailed: ":x:",
  Aborted: ":no_entry:",
  SwitchedBack: ":leftwards_arrow_with_hook:",
  RolledBack: ":rewind:",
  Completed: ":tada:",
};

/** Slack's incoming-webhook body: `text` is what every compatible receiver (Mattermost, Rocket.Chat) shows. */
export function slackBody(n: Notification): string {
  const where = `${n.bgd.namespace}/${n.bgd.name}`;
  const gate = n.gate !== undefined ? ` — gate \`${n.gate.name}\` (${n.gate.point}): ${n.gate.message}` : "";
  return JSON.stringify({
    text: `${ICONS[n.event]} *${n.event}* ${where} revision \`${n.revision}\`: ${n.message}${gate}`,
  });
}

export type ParsedReceivers =
  | { readonly ok: true; readonly receivers: readonly Receiver[] }
  | { readonly ok: false; readonly message: string };

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

const isSecretKeyRef = (x: unknown): x is SecretKeyRef =>
  isRecord(x) && typeof x.name === "string" && x.name !== "" && typeof x.key === "string" && x.key !== "";

/** An address a receiver may have: http or https, nothing else (no file:, no data:). */
export const isWebhookUrl = (url: string): boolean => /^https?:\/\/[^ ]+$/.test(url);

/** The receivers of one ConfigMap's data; a mistake names the entry, so the Event that reports it is useful. */
export function parseReceivers(data: Readonly<Record<string, string>> | undefined): ParsedReceivers {
  const text = data?.[CONFIGMAP_KEY];
  if (text === undefined) return { ok: true, receivers: [] };
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    return {
      ok: false,
      message: `${CONFIGMAP_KEY} is not YAML: ${e instanceof Error ? e.message : String(e)}`,
    };
  }
  if (!Array.isArray(doc)) return { ok: false, message: `${CONFIGMAP_KEY} must be a list of receivers` };
  const receivers: Receiver[] = [];
  for (const [i, r] of doc.entries()) {
    const at = `${CONFIGMAP_KEY}[${i}]`;
    if (!isRecord(r) || typeof r.name !== "string" || r.name === "")
      return { ok: false, message: `${at} needs a name` };
    const hasUrl = r.url !== undefined;
    if (hasUrl === (r.urlSecret !== undefined))
      return { ok: false, message: `${at} (${r.name}) needs either url or urlSecret` };
    if (hasUrl && (typeof r.url !== "string" || !isWebhookUrl(r.url)))
      return { ok: false, message: `${at} (${r.name}) needs an http:// or https:// url` };
    if (r.urlSecret !== undefined && !isSecretKeyRef(r.urlSecret))
      return { ok: false, message: `${at} (${r.name}): urlSecret needs name and key` };
    if (r.headersSecret !== undefined && (typeof r.headersSecret !== "string" || r.headersSecret === ""))
      return { ok: false, message: `${at} (${r.name}): headersSecret must be a Secret's name` };
    const format = r.format ?? "json";
    if (format !== "json" && format !== "slack")
      return { ok: false, message: `${at} (${r.name}): format must be json or slack` };
    const secret = r.hmacSecret;
    if (secret !== undefined && !isSecretKeyRef(secret))
      return { ok: false, message: `${at} (${r.name}): hmacSecret needs name and key` };
    if (receivers.some((x) => x.name === r.name))
      return { ok: false, message: `${at}: a second receiver named ${r.name}` };
    receivers.push({
      name: r.name,
      format,
      ...(typeof r.url === "string" ? { url: r.url } : {}),
      ...(isSecretKeyRef(r.urlSecret) ? { urlSecret: { name: r.urlSecret.name, key: r.urlSecret.key } } : {}),
      ...(typeof r.headersSecret === "string" ? { headersSecret: r.headersSecret } : {}),
      ...(isSecretKeyRef(secret) ? { hmacSecret: { name: secret.name, key: secret.key } } : {}),
    });
  }
  return { ok: true, receivers };
}

export interface ResolvedReceivers {
  readonly receivers: readonly (Receiver & { readonly secretNamespace: string })[];
  /** Subscribed names no ConfigMap defines (reported as a Warning Event, never a reason to stop a rollout). */
  readonly unknown: readonly string[];
}

/**
 * The receivers a BGD subscribes to: its namespace's definition of a name wins over the operator namespace's.
 * A receiver's HMAC Secret is read in the namespace of the ConfigMap that defined it.
 */
export function resolveReceivers(
  subscribed: readonly string[],
  namespace: { readonly name: string; readonly receivers: readonly Receiver[] },
  cluster: { readonly name: string; readonly receivers: readonly Receiver[] } | undefined,
): ResolvedReceivers {
  const receivers: (Receiver & { secretNamespace: string })[] = [];
  const unknown: string[] = [];
  for (const name of new Set(subscribed)) {
    const local = namespace.receivers.find((r) => r.name === name);
    const global = cluster?.receivers.find((r) => r.name === name);
    if (local !== undefined) receivers.push({ ...local, secretNamespace: namespace.name });
    else if (global !== undefined && cluster !== undefined)
      receivers.push({ ...global, secretNamespace: cluster.name });
    else unknown.push(name);
  }
  return { receivers, unknown };
}
