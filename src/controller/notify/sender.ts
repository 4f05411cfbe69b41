/**
 * Delivers notifications without ever holding up a rollout: `enqueue` returns at once; each receiver has its
 * own queue, delivered in order (a receiver sees transitions in the order they happened), retried with
 * exponential backoff up to a bounded number of attempts, and bounded in length (the oldest pending
 * notification is dropped first). A receiver that is down delays only its own queue.
 */
import {
  DELIVERY_HEADER,
  EVENT_HEADER,
  isWebhookUrl,
  jsonBody,
  type Notification,
  type Receiver,
  SIGNATURE_HEADER,
  signature,
  slackBody,
} from "../../bluegreen/notify/payload.ts";

export interface Delivery {
  readonly receiver: Receiver;
  readonly notification: Notification;
  /** The address when it came from a Secret (`urlSecret`), read by the caller; default the receiver's url. */
  readonly url?: string | undefined;
  /** Headers from the receiver's `headersSecret`, read by the caller. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** The HMAC key of a json receiver, read from its Secret by the caller. */
  readonly hmacKey?: Buffer | undefined;
}

export type DeliveryResult =
  | { readonly ok: true; readonly receiver: string; readonly id: string; readonly attempts: number }
  | {
      readonly ok: false;
      readonly receiver: string;
      readonly id: string;
      readonly attempts: number;
      /** Why it was given up: the last error, or "dropped" when the queue overflowed. */
      readonly reason: string;
    };

export interface SenderOptions {
  readonly maxAttempts?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly timeoutMs?: number;
  /** Pending notifications per receiver. */
  readonly maxQueue?: number;
  readonly onResult?: (r: DeliveryResult) => void;
}

type Attempt = { ok: true } | { ok: false; retry: boolean; reason: string };

/** 5xx, 429 and 408 may pass later; any other refusal will not. */
const retryable = (status: number) => status >= 500 || status === 429 || status === 408;

export class NotificationSender {
  private readonly queues = new Map<string, Delivery[]>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly closing = new AbortController();
  private readonly o: Required<Omit<SenderOptions, "onResult">> & {
    readonly onResult: SenderOptions["onResult"] | undefined;
  };

  constructor(options: SenderOptions = {}) {
    this.o = {
      maxAttempts: options.maxAttempts ?? 5,
      baseDelayMs: options.baseDelayMs ?? 1000,
      maxDelayMs: options.maxDelayMs ?? 30_000,
      timeoutMs: options.timeoutMs ?? 5000,
      maxQueue: options.maxQueue ?? 100,
      onResult: options.onResult,
    };
  }

  /** Queues a delivery and returns at once. */
  enqueue(d: Delivery): void {
    if (this.closing.signal.aborted) return;
    const key = `${d.receiver.name} ${d.url ?? d.receiver.url}`;
    const queue = this.queues.get(key) ?? [];
    this.queues.set(key, queue);
    queue.push(d);
    while (queue.length > this.o.maxQueue) {
      const dropped = queue.shift();
      if (dropped !== undefined) this.report(dropped, false, 0, "dropped: queue full");
    }
    if (!this.running.has(key)) {
      const drain = this.drain(key, queue).finally(() => this.running.delete(key));
      this.running.set(key, drain);
    }
  }

  /** Resolves when every queue is empty (tests, graceful shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running.values());
  }

  /** Stops retrying; what is pending is given up. */
  async close(): Promise<void> {
    this.closing.abort();
    await this.idle();
  }

  private report(d: Delivery, ok: boolean, attempts: number, reason = ""): void {
    const base = { receiver: d.receiver.name, id: d.notification.id, attempts };
    this.o.onResult?.(ok ? { ok: true, ...base } : { ok: false, ...base, reason });
  }

  private async drain(key: string, queue: Delivery[]): Promise<void> {
    for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
      let attempts = 0;
      let last: Attempt = { ok: false, retry: true, reason: "not sent" };
      while (attempts < this.o.maxAttempts && !this.closing.signal.aborted) {
        if (attempts > 0)
          await this.sleep(Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** (attempts - 1)));
        if (this.closing.signal.aborted) break;
        attempts += 1;
        last = await this.attempt(d);
        if (last.ok || !last.retry) break;
      }
      if (last.ok) this.report(d, true, attempts);
      else this.report(d, false, attempts, this.closing.signal.aborted ? "shutting down" : last.reason);
    }
    this.queues.delete(key);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.closing.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.closing.signal.addEventListener("abort", done, { once: true });
    });
  }

  private async attempt(d: Delivery): Promise<Attempt> {
    const { receiver, notification: n } = d;
    const body = receiver.format === "slack" ? slackBody(n) : jsonBody(n);
    const url = d.url ?? receiver.url;
    if (url === undefined || !isWebhookUrl(url))
      return { ok: false, retry: false, reason: "no http:// or https:// address" };
    const headers: Record<string, string> = {
      ...d.headers,
      "content-type": "application/json",
      [EVENT_HEADER]: n.event,
      [DELIVERY_HEADER]: n.id,
    };
    if (receiver.format === "json" && d.hmacKey !== undefined)
      headers[SIGNATURE_HEADER] = signature(body, d.hmacKey);
    try {
      const res = await fetch(url, {
        method: "POST",
        headers,
        body,
        redirect: "manual",
        signal: AbortSignal.any([AbortSignal.timeout(this.o.timeoutMs), this.closing.signal]),
      });
      await res.body?.cancel();
      if (res.status >= 200 && res.status < 300) return { ok: true };
      return { ok: false, retry: retryable(res.status), reason: `status ${res.status}` };
    } catch (e) {
      const cause =
        e instanceof Error && e.cause instanceof Error
          ? e.cause.message
          : e instanceof Error
            ? e.message
            : String(e);
      return { ok: false, retry: true, reason: cause };
    }
  }
}
