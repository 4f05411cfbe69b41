/**
 * Announces a BGD's transitions to the receivers it subscribes to. The reconciler calls `announce` after a
 * status write went through (old status → written status, so a restarted operator never announces again what is
 * behind it) and returns at once: the receivers come from the `bluegreen-notifications` ConfigMaps in the
 * informer cache, the Secrets a receiver names (its address, headers, HMAC key) are read by name off the
 * reconcile path, and the sender delivers with bounded retries. What cannot be delivered, or configured, becomes
 * a Warning Event on the BGD and a log line: the rollout never waits for, nor depends on, a receiver.
 */
import type { Logger } from "pino";
import type { NotificationsSpec } from "../../api/notifications.ts";
import type { BlueGreenDeploymentStatus } from "../../api/status.ts";
import {
  CONFIGMAP_NAME,
  type Notification,
  parseReceivers,
  type Receiver,
  resolveReceivers,
} from "../../bluegreen/notify/payload.ts";
import { transitions } from "../../bluegreen/notify/transitions.ts";
import type { Owner } from "../../bluegreen/render.ts";
import { renderBookkeeping } from "../../bluegreen/writes.ts";
import { type DeliveryResult, NotificationSender, type SenderOptions } from "./sender.ts";

/** Event reasons (Warning) a person looks for when a receiver stays silent. */
export const NOTIFICATION_FAILED = "NotificationFailed";
export const NOTIFICATION_CONFIG = "NotificationConfigInvalid";

export interface NotifierOptions {
  /** GET of one Secret by name, and the create of an Event: the operator's client. */
  readonly client: {
    get<T>(path: string): Promise<T>;
    create(path: string, body: unknown): Promise<unknown>;
  };
  /** The `bluegreen-notifications` ConfigMap of a namespace, from the informer cache. */
  readonly configMap: (namespace: string) => { readonly data?: Readonly<Record<string, string>> } | undefined;
  /** Where the cluster-wide receivers live (the operator's namespace); undefined: none. */
  readonly clusterNamespace: string | undefined;
  readonly now: () => number;
  readonly instance: string;
  readonly log: Logger;
  readonly sender?: Omit<SenderOptions, "onResult">;
  /** Every delivery's end (metrics). */
  readonly onResult?: (r: DeliveryResult) => void;
}

interface BgdView {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly uid?: string };
  readonly spec?: { readonly notifications?: NotificationsSpec };
}

type Resolved = Receiver & { readonly secretNamespace: string };

export class Notifier {
  readonly #o: NotifierOptions;
  readonly #sender: NotificationSender;
  /** What each pending delivery is about (for the Event of a failure), by receiver and id, until it ends. */
  readonly #pending = new Map<string, { readonly owner: Owner; readonly event: string }>();
  /**
   * One chain per receiver: reading its Secrets is asynchronous, and a later transition must not overtake an
   * earlier one on its way to the sender's (ordered) queue.
   */
  readonly #chains = new Map<string, Promise<void>>();

  constructor(o: NotifierOptions) {
    this.#o = o;
    this.#sender = new NotificationSender({ ...o.sender, onResult: (r) => this.#ended(r) });
  }

  /** The transitions one status write made, to the BGD's receivers. Returns at once. */
  announce(
    bgd: unknown,
    before: BlueGreenDeploymentStatus | undefined,
    after: BlueGreenDeploymentStatus,
  ): void {
    const b = bgd as BgdView;
    const spec = b.spec?.notifications;
    const m = b.metadata;
    if (spec === undefined || m?.name === undefined || m.namespace === undefined || m.uid === undefined)
      return;
    const owner: Owner = { name: m.name, namespace: m.namespace, uid: m.uid };
    const wanted = new Set(spec.events ?? []);
    const list = transitions(owner, before, after, new Date(this.#o.now()).toISOString()).filter(
      (n) => wanted.size === 0 || wanted.has(n.event),
    );
    if (list.length === 0) return;
    const receivers = this.#receivers(owner, spec.receivers);
    for (const r of receivers) for (const n of list) this.#deliver(owner, r, n);
  }

  /** Resolves when every delivery has ended (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all(this.#chains.values());
    await this.#sender.idle();
  }

  async close(): Promise<void> {
    await Promise.all(this.#chains.values());
    await this.#sender.close();
  }

  #receivers(owner: Owner, subscribed: readonly string[]): Resolved[] {
    const { clusterNamespace } = this.#o;
    const read = (namespace: string) => {
      const parsed = parseReceivers(this.#o.configMap(namespace)?.data);
      if (parsed.ok) return { name: namespace, receivers: parsed.receivers };
      this.#warn(owner, NOTIFICATION_CONFIG, `ConfigMap ${namespace}/${CONFIGMAP_NAME}: ${parsed.message}`);
      return { name: namespace, receivers: [] };
    };
    const local = read(owner.namespace);
    const cluster =
      clusterNamespace !== undefined && clusterNamespace !== owner.namespace
        ? read(clusterNamespace)
        : undefined;
    const resolved = resolveReceivers(subscribed, local, cluster);
    if (resolved.unknown.length > 0)
      this.#warn(
        owner,
        NOTIFICATION_CONFIG,
        `no receiver named ${resolved.unknown.join(", ")} in a ${CONFIGMAP_NAME} ConfigMap`,
      );
    return [...resolved.receivers];
  }

  #deliver(owner: Owner, r: Resolved, n: Notification): void {
    const key = `${r.secretNamespace}/${r.name}`;
    const next = (this.#chains.get(key) ?? Promise.resolve()).then(async () => {
      const secrets = await this.#secrets(r);
      if (typeof secrets === "string") {
        this.#warn(owner, NOTIFICATION_FAILED, `receiver ${r.name}: ${n.event} not sent: ${secrets}`);
        return;
      }
      this.#pending.set(`${r.name}\n${n.id}`, { owner, event: n.event });
      this.#sender.enqueue({ receiver: r, notification: n, ...secrets });
    });
    const chain = next.finally(() => {
      if (this.#chains.get(key) === chain) this.#chains.delete(key);
    });
    this.#chains.set(key, chain);
  }

  /** The receiver's Secrets, read by name (the operator may get a Secret, never list one); or why not. */
  async #secrets(
    r: Resolved,
  ): Promise<{ url?: string; headers?: Record<string, string>; hmacKey?: Buffer } | string> {
    const out: { url?: string; headers?: Record<string, string>; hmacKey?: Buffer } = {};
    const key = async (ref: { name: string; key: string }): Promise<Buffer | string> => {
      const data = await this.#secretData(r.secretNamespace, ref.name);
      if (typeof data === "string") return data;
      const v = data[ref.key];
      return v === undefined ? `Secret ${ref.name} has no key ${ref.key}` : Buffer.from(v, "base64");
    };
    if (r.urlSecret !== undefined) {
      const v = await key(r.urlSecret);
      if (typeof v === "string") return v;
      out.url = v.toString("utf8").trim();
    }
    if (r.hmacSecret !== undefined) {
      const v = await key(r.hmacSecret);
      if (typeof v === "string") return v;
      out.hmacKey = v;
    }
    if (r.headersSecret !== undefined) {
      const data = await this.#secretData(r.secretNamespace, r.headersSecret);
      if (typeof data === "string") return data;
      out.headers = Object.fromEntries(
        Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
      );
    }
    return out;
  }

  async #secretData(namespace: string, name: string): Promise<Record<string, string> | string> {
    try {
      const s = await this.#o.client.get<{ data?: Record<string, string> }>(
        `/api/v1/namespaces/${namespace}/secrets/${encodeURIComponent(name)}`,
      );
      return s.data ?? {};
    } catch (e) {
      return `Secret ${namespace}/${name} could not be read: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  #ended(r: DeliveryResult): void {
    this.#o.onResult?.(r);
    const key = `${r.receiver}\n${r.id}`;
    const pending = this.#pending.get(key);
    this.#pending.delete(key);
    if (r.ok) {
      this.#o.log.debug({ receiver: r.receiver, id: r.id, attempts: r.attempts }, "Delivered notification");
      return;
    }
    if (pending !== undefined)
      this.#warn(
        pending.owner,
        NOTIFICATION_FAILED,
        `receiver ${r.receiver}: ${pending.event} not delivered after ${r.attempts} attempt(s): ${r.reason}`,
      );
  }

  /** A Warning Event on the BGD and a log line; an Event that cannot be recorded is only logged. */
  #warn(owner: Owner, reason: string, message: string): void {
    this.#o.log.warn({ bgd: `${owner.namespace}/${owner.name}`, reason, message }, "Notification problem");
    const write = renderBookkeeping(
      { owner, now: this.#o.now(), instance: this.#o.instance },
      { type: "Event", eventType: "Warning", reason, message },
    );
    for (const req of write.requests)
      this.#o.client.create(req.path, req.body).catch((e: unknown) => {
        this.#o.log.warn({ err: e instanceof Error ? e.message : String(e) }, "Recording an Event failed");
      });
  }
}
