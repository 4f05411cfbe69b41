/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics
 * (k8s.io/client-go/tools/leaderelection):
 * - a candidate takes the Lease when it is free (no holder, e.g. released) or when the holder has not
 *   renewed it for `leaseDuration`, measured on the candidate's own monotonic clock from the moment it
 *   *saw* the record change — never from the timestamps in the record, so clock skew does not matter;
 * - every write is a PUT conditional on the resourceVersion just read: two candidates racing for an
 *   expired Lease cannot both win (one gets 409 Conflict);
 * - the leader renews every `retryPeriod`; if no renewal succeeded for `renewDeadline` it is no longer
 *   the leader. `renewDeadline < leaseDuration`, so it stops before anyone else may start.
 *
 * Fencing: `isLeader()` is checked before every write the controller makes (KubeClient's `beforeSend`
 * hook). It compares the monotonic clock with the start of the last successful renewal, so a process
 * that was paused (SIGSTOP, a long GC, a frozen VM) refuses to write the instant it resumes, before
 * any renewal timer has had a chance to run.
 *
 * Unlike client-go, a standby does not wait for its next jittered poll once the Lease it watches
 * expires: it tries at the expiry itself, so a crashed leader is replaced within leaseDuration +
 * retryPeriod of its last renewal.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { isAlreadyExists, isConflict, isNotFound } from "../kube/api-errors.ts";
import type { KubeClient } from "../kube/kube.ts";

/** What the elector needs from the API: KubeClient, or a fake in unit tests. */
export type LeaseApi = Pick<KubeClient, "get" | "create" | "replace">;

/** coordination.k8s.io/v1 LeaseSpec, the fields leader election uses. */
export interface LeaseRecord {
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly leaseTransitions: number;
}

interface LeaseObject {
  readonly metadata: { readonly resourceVersion?: string };
  readonly spec: LeaseRecord;
}

export interface LeaderElectorOptions {
  readonly api: LeaseApi;
  readonly namespace: string;
  readonly name: string;
  /** Unique per process; default `<hostname>_<uuid>` like controller-runtime. */
  readonly identity?: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly log: Logger;
  /** Monotonic milliseconds; wall-clock time only goes into the record. */
  readonly monotonic?: () => number;
  readonly wallClock?: () => number;
  readonly onStartedLeading: () => void;
  /** Leadership lost (renewal failed past the deadline, or another holder seen); not called on release. */
  readonly onStoppedLeading: (why: string) => void;
}

/** A metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Reads a Lease from the API (unknown until checked). */
export function parseLease(v: unknown): LeaseObject {
  const meta = isRecord(v) && isRecord(v.metadata) ? v.metadata : {};
  const spec = isRecord(v) && isRecord(v.spec) ? v.spec : {};
  const str = (x: unknown) => (typeof x === "string" ? x : undefined);
  const num = (x: unknown, d: number) => (typeof x === "number" && Number.isFinite(x) ? x : d);
  const acquireTime = str(spec.acquireTime);
  const renewTime = str(spec.renewTime);
  const resourceVersion = str(meta.resourceVersion);
  return {
    metadata: resourceVersion === undefined ? {} : { resourceVersion },
    spec: {
      holderIdentity: str(spec.holderIdentity) ?? "",
      leaseDurationSeconds: num(spec.leaseDurationSeconds, 0),
      ...(acquireTime === undefined ? {} : { acquireTime }),
      ...(renewTime === undefined ? {} : { renewTime }),
      leaseTransitions: num(spec.leaseTransitions, 0),
    },
  };
}

export class LeaderElector {
  readonly identity: string;
  readonly #o: LeaderElectorOptions;
  readonly #path: string;
  readonly #mono: () => number;
  readonly #wall: () => number;
  readonly #stop = new AbortController();
  /** The last Lease read or written, and when (monotonic) its record last changed. */
  #observed: LeaseObject | undefined;
  #observedRaw = "";
  #observedAt = 0;
  /** Monotonic start of the last successful renewal: writes are allowed until this + renewDeadline. */
  #renewedAt = Number.NEGATIVE_INFINITY;
  #leading = false;
  #lost = false;
  #lastLeader = "";
  #attempt: Promise<boolean> | undefined;
  #loop: Promise<void> | undefined;

  constructor(opts: LeaderElectorOptions) {
    this.#o = opts;
    this.identity = opts.identity ?? `${hostname()}_${randomUUID()}`;
    this.#path = `/apis/coordination.k8s.io/v1/namespaces/${opts.namespace}/leases/${opts.name}`;
    this.#mono = opts.monotonic ?? (() => performance.now());
    this.#wall = opts.wallClock ?? Date.now;
  }

  /**
   * True while this process holds the Lease and its last renewal is younger than the renew
   * deadline. The fence: false the moment the deadline passes, even if no timer has run since.
   */
  isLeader(): boolean {
    if (!this.#leading) return false;
    if (this.#mono() - this.#renewedAt < this.#o.renewDeadlineMs) return true;
    this.#lose(`no renewal for ${this.#o.renewDeadlineMs} ms`);
    return false;
  }

  /** Starts campaigning; resolves when the loop ends (leadership lost, or `stop()`). */
  start(): Promise<void> {
    this.#loop ??= this.#run();
    return this.#loop;
  }

  /**
   * Stops campaigning and renewing; if this process leads, hands the Lease back (holder "",
   * duration 1 s) so a standby takes over at its next attempt instead of waiting out the lease.
   * Call it after the controller has drained its in-flight reconciles.
   */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop?.catch(() => {});
    await this.#attempt?.catch(() => {});
    if (!this.isLeader() || this.#observed === undefined) {
      this.#leading = false;
      return;
    }
    this.#leading = false;
    // A renewal cut short by stop() may still have reached the API server: then our copy's
    // resourceVersion is stale and the release is refused with 409. Read the Lease again and hand it
    // back if it is still ours; a few tries, each bounded by the renew deadline.
    let old: LeaseObject | undefined = this.#observed;
    for (let attempt = 0; attempt < 3 && old !== undefined; attempt++) {
      const now = microTime(this.#wall());
      try {
        await this.#o.api.replace(
          this.#path,
          this.#leaseBody(old.metadata.resourceVersion, {
            holderIdentity: "",
            leaseDurationSeconds: 1,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: old.spec.leaseTransitions,
          }),
          { timeoutMs: this.#o.renewDeadlineMs },
        );
        this.#o.log.info({ lease: this.#leaseName }, "Released leader lease");
        return;
      } catch (err) {
        if (!isConflict(err) || attempt === 2) {
          this.#o.log.warn({ lease: this.#leaseName, err: message(err) }, "Could not release leader lease");
          return;
        }
      }
      try {
        const current = parseLease(await this.#o.api.get(this.#path, { timeoutMs: this.#o.renewDeadlineMs }));
        old = current.spec.holderIdentity === this.identity ? current : undefined;
      } catch (err) {
        this.#o.log.warn({ lease: this.#leaseName, err: message(err) }, "Could not release leader lease");
        return;
      }
    }
  }

  get #leaseName(): string {
    return `${this.#o.namespace}/${this.#o.name}`;
  }

  async #run(): Promise<void> {
    const { log, retryPeriodMs } = this.#o;
    const signal = this.#stop.signal;
    log.info({ lease: this.#leaseName, identity: this.identity }, "Attempting to acquire leader lease");
    while (!signal.aborted) {
      // A slow API server must not keep a standby from ever acquiring: allow as long as a renewal.
      if (await this.#timeAttempt(this.#o.renewDeadlineMs)) break;
      if (!(await pause(this.#untilNextAttempt(), signal))) return;
    }
    if (signal.aborted) return;
    this.#leading = true;
    log.info({ lease: this.#leaseName, identity: this.identity }, "Acquired leader lease");
    this.#o.onStartedLeading();
    // Renew every retryPeriod; give up once renewDeadline has passed since the last success.
    for (;;) {
      if (!(await pause(retryPeriodMs, signal))) return;
      if (!this.isLeader()) return;
      const deadline = this.#renewedAt + this.#o.renewDeadlineMs;
      for (;;) {
        const left = deadline - this.#mono();
        if (left <= 0) {
          this.#lose(`could not renew the lease within ${this.#o.renewDeadlineMs} ms`);
          return;
        }
        if (await this.#timeAttempt(left)) break;
        if (this.#lost) return;
        if (!(await pause(Math.min(retryPeriodMs, Math.max(0, deadline - this.#mono())), signal))) return;
      }
    }
  }

  /** One tryAcquireOrRenew, remembered so stop() can wait for it. */
  #timeAttempt(timeoutMs: number): Promise<boolean> {
    const started = this.#mono();
    const attempt = this.#tryAcquireOrRenew(Math.max(1, Math.ceil(timeoutMs))).then((ok) => {
      if (ok) this.#renewedAt = started;
      return ok;
    });
    this.#attempt = attempt;
    return attempt;
  }

  /** Standby: poll every retryPeriod, but try exactly when the observed lease runs out. */
  #untilNextAttempt(): number {
    const { retryPeriodMs } = this.#o;
    const held = this.#observed?.spec;
    if (held === undefined || held.holderIdentity === "") return retryPeriodMs;
    const expiresIn = this.#observedAt + held.leaseDurationSeconds * 1000 - this.#mono();
    return expiresIn < 0 ? retryPeriodMs : Math.min(retryPeriodMs, expiresIn + 5);
  }

  async #tryAcquireOrRenew(timeoutMs: number): Promise<boolean> {
    const { api, log } = this.#o;
    const opts = { timeoutMs, signal: this.#stop.signal };
    const nowWall = microTime(this.#wall());
    const fresh: LeaseRecord = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.#o.leaseDurationMs / 1000)),
      acquireTime: nowWall,
      renewTime: nowWall,
      leaseTransitions: 0,
    };
    let current: LeaseObject;
    try {
      current = parseLease(await api.get(this.#path, opts));
    } catch (err) {
      if (!isNotFound(err)) {
        log.warn({ lease: this.#leaseName, err: message(err) }, "Could not read leader lease");
        return false;
      }
      try {
        this.#setObserved(
          parseLease(await api.create(this.#collection, this.#leaseBody(undefined, fresh), opts)),
        );
        return true;
      } catch (e) {
        if (!isAlreadyExists(e)) {
          log.warn({ lease: this.#leaseName, err: message(e) }, "Could not create leader lease");
        }
        return false;
      }
    }
    this.#setObserved(current);
    const held = current.spec;
    if (held.holderIdentity !== this.identity && this.#leading) {
      // Someone else holds it: our lease expired while we could not renew (e.g. we were paused).
      this.#lose(`the lease is now held by ${held.holderIdentity || "nobody"}`);
      return false;
    }
    const valid = this.#observedAt + held.leaseDurationSeconds * 1000 > this.#mono();
    if (held.holderIdentity !== "" && held.holderIdentity !== this.identity && valid) return false;
    const next: LeaseRecord =
      held.holderIdentity === this.identity
        ? { ...fresh, acquireTime: held.acquireTime ?? nowWall, leaseTransitions: held.leaseTransitions }
        : { ...fresh, leaseTransitions: held.leaseTransitions + 1 };
    try {
      const written = parseLease(
        await api.replace(this.#path, this.#leaseBody(current.metadata.resourceVersion, next), opts),
      );
      this.#setObserved(written);
      return true;
    } catch (err) {
      // 409: another candidate wrote first; it will show up in the next read.
      if (!isConflict(err))
        log.warn({ lease: this.#leaseName, err: message(err) }, "Could not update leader lease");
      return false;
    }
  }

  get #collection(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.#o.namespace}/leases`;
  }

  #leaseBody(resourceVersion: string | undefined, spec: LeaseRecord): unknown {
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name: this.#o.name,
        namespace: this.#o.namespace,
        ...(resourceVersion === undefined ? {} : { resourceVersion }),
      },
      spec,
    };
  }

  #setObserved(lease: LeaseObject): void {
    const raw = JSON.stringify(lease.spec);
    if (raw !== this.#observedRaw) {
      this.#observedRaw = raw;
      this.#observedAt = this.#mono();
    }
    this.#observed = lease;
    const leader = lease.spec.holderIdentity;
    if (leader !== this.#lastLeader) {
      this.#lastLeader = leader;
      if (leader !== "" && leader !== this.identity) {
        this.#o.log.info({ lease: this.#leaseName, leader }, "Another replica leads");
      }
    }
  }

  #lose(why: string): void {
    if (!this.#leading || this.#lost) return;
    this.#leading = false;
    this.#lost = true;
    this.#stop.abort();
    this.#o.log.error({ lease: this.#leaseName, identity: this.identity, why }, "Leader election lost");
    this.#o.onStoppedLeading(why);
  }
}

/** Waits `ms`; false when `signal` aborted first. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
