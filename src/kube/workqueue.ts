/**
 * A rate-limited work queue of string keys (`namespace/name`), modelled on client-go's
 * workqueue.TypedRateLimitingInterface as controller-runtime uses it:
 * - a key added many times before a worker takes it is processed once (the `dirty` set);
 * - a key is never processed by two workers at once: added while processing, it is held back and
 *   queued again when the current run is done (the `processing` set);
 * - failures back off per key (5 ms doubling to 1000 s) and overall (token bucket, 10 qps, burst 100),
 *   whichever is later, like client-go's DefaultTypedControllerRateLimiter.
 */

/** Time source; tests inject a fake one. Timers must not keep the process alive. */
export interface Clock {
  now(): number;
  /** Runs `fn` after `ms`; returns a function that cancels it. */
  schedule(fn: () => void, ms: number): () => void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  schedule(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

/**
 * Callbacks a metrics layer attaches to (controller-runtime's workqueue_* series): adds_total, depth,
 * queue_duration_seconds, work_duration_seconds, retries_total. Unfinished/longest-running work is
 * polled with `WorkQueue.unfinishedWork()`.
 */
export interface WorkQueueHooks {
  onAdd?(key: string): void;
  onDepthChange?(depth: number): void;
  onQueueLatency?(seconds: number): void;
  onWorkDuration?(seconds: number): void;
  onRetry?(key: string): void;
}

export interface RateLimiterOptions {
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly qps?: number;
  readonly burst?: number;
}

export interface WorkQueueOptions {
  readonly clock?: Clock;
  readonly hooks?: WorkQueueHooks;
  readonly rateLimiter?: RateLimiterOptions;
}

export interface ReconcileResult {
  /** Reconcile again after this long even without an event (waiting is a requeue, never a sleep). */
  readonly requeueAfterMs?: number;
}

export interface RunOptions {
  /** Errors for which retrying cannot help (invalid spec): the key is forgotten, not requeued. */
  readonly isPermanent?: (err: unknown) => boolean;
  /** Called for every failed reconcile, after the queue decided what to do with the key. */
  readonly onError?: (key: string, err: unknown, requeued: boolean) => void;
}

/**
 * Per-key exponential backoff combined with an overall token bucket; the later delay wins. The
 * bucket's tokens may go negative, so a storm of failures is spread out at `qps` rather than retried
 * in a burst (golang.org/x/time/rate Reserve semantics).
 */
class RateLimiter {
  readonly #failures = new Map<string, number>();
  readonly #base: number;
  readonly #max: number;
  readonly #qps: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;

  constructor(opts: RateLimiterOptions, now: number) {
    this.#base = opts.baseDelayMs ?? 5;
    this.#max = opts.maxDelayMs ?? 1_000_000;
    this.#qps = opts.qps ?? 10;
    this.#burst = opts.burst ?? 100;
    this.#tokens = this.#burst;
    this.#last = now;
  }

  when(key: string, now: number): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const perKey = Math.min(this.#base * 2 ** failures, this.#max);
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) * this.#qps) / 1000);
    this.#last = now;
    this.#tokens -= 1;
    const overall = this.#tokens >= 0 ? 0 : (-this.#tokens * 1000) / this.#qps;
    return Math.max(perKey, overall);
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }
}

export class WorkQueue {
  readonly #clock: Clock;
  readonly #hooks: WorkQueueHooks;
  readonly #limiter: RateLimiter;
  /** Keys ready for a worker, in arrival order (a Set iterates in insertion order). */
  readonly #queue = new Set<string>();
  /** Keys that need processing: queued, or re-added while a worker has them. */
  readonly #dirty = new Set<string>();
  /** Keys a worker holds now, with when it took them. */
  readonly #processing = new Map<string, number>();
  /** When each queued key was (first) queued, for queue latency. */
  readonly #queuedAt = new Map<string, number>();
  /** Delayed adds: the earliest deadline per key, with its cancel function. */
  readonly #waiting = new Map<string, { readonly at: number; readonly cancel: () => void }>();
  #idleWorkers: (() => void)[] = [];
  #drained: (() => void)[] = [];
  #shuttingDown = false;

  constructor(opts: WorkQueueOptions = {}) {
    this.#clock = opts.clock ?? realClock;
    this.#hooks = opts.hooks ?? {};
    this.#limiter = new RateLimiter(opts.rateLimiter ?? {}, this.#clock.now());
  }

  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#hooks.onAdd?.(key);
    this.#dirty.add(key);
    // Held back while a worker has it; done() queues it again.
    if (this.#processing.has(key)) return;
    this.#enqueue(key);
  }

  /** Adds `key` after `ms`. A key already waiting keeps the earlier of the two deadlines. */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.#clock.now() + ms;
    const pending = this.#waiting.get(key);
    if (pending !== undefined) {
      if (pending.at <= at) return;
      pending.cancel();
    }
    const cancel = this.#clock.schedule(() => {
      this.#waiting.delete(key);
      this.add(key);
    }, ms);
    this.#waiting.set(key, { at, cancel });
  }

  /** Adds `key` after its backoff: the per-key exponential delay or the overall bucket, the later. */
  addRateLimited(key: string): void {
    if (this.#shuttingDown) return;
    this.#hooks.onRetry?.(key);
    this.addAfter(key, this.#limiter.when(key, this.#clock.now()));
  }

  /** Ends the backoff of `key` (it succeeded, or retrying is pointless). */
  forget(key: string): void {
    this.#limiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.#limiter.numRequeues(key);
  }

  /** Keys ready for a worker (not those being processed or waiting for a delay). */
  len(): number {
    return this.#queue.size;
  }

  shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /**
   * The next key, waiting if none is ready; `undefined` once the queue shuts down. The caller owns
   * the key until it calls `done(key)`.
   */
  async get(): Promise<string | undefined> {
    for (;;) {
      if (this.#shuttingDown) return undefined;
      const next = this.#queue.values().next();
      if (!next.done) {
        const key = next.value;
        const now = this.#clock.now();
        this.#queue.delete(key);
        this.#dirty.delete(key);
        this.#processing.set(key, now);
        this.#hooks.onDepthChange?.(this.#queue.size);
        this.#hooks.onQueueLatency?.((now - (this.#queuedAt.get(key) ?? now)) / 1000);
        this.#queuedAt.delete(key);
        return key;
      }
      await new Promise<void>((resolve) => this.#idleWorkers.push(resolve));
    }
  }

  /** Releases `key`; if it was added meanwhile, it is queued again now. */
  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key) && !this.#shuttingDown) this.#enqueue(key);
    if (this.#shuttingDown && this.#processing.size === 0) this.#resolveDrained();
  }

  /** How long the keys being processed have run: workqueue_unfinished_work_seconds and longest_running. */
  unfinishedWork(): { totalSeconds: number; longestSeconds: number } {
    const now = this.#clock.now();
    let total = 0;
    let longest = 0;
    for (const since of this.#processing.values()) {
      total += now - since;
      longest = Math.max(longest, now - since);
    }
    return { totalSeconds: total / 1000, longestSeconds: longest / 1000 };
  }

  /**
   * Stops handing out keys: queued and delayed keys are dropped, adds are ignored, idle workers exit.
   * Reconciles already running finish on their own but are not awaited. Unlike client-go, queued keys
   * are not handed out after shutdown: a replica that lost leadership must stop writing now.
   */
  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    for (const w of this.#waiting.values()) w.cancel();
    this.#waiting.clear();
    this.#queue.clear();
    this.#dirty.clear();
    this.#queuedAt.clear();
    this.#hooks.onDepthChange?.(0);
    const idle = this.#idleWorkers;
    this.#idleWorkers = [];
    for (const wake of idle) wake();
  }

  /** `shutDown()`, then resolves once every reconcile that was running has finished. */
  async shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.#processing.size === 0) return;
    await new Promise<void>((resolve) => this.#drained.push(resolve));
  }

  /**
   * Runs `workers` concurrent loops of get → reconcile → done until shutdown; resolves when all have
   * exited. A reconcile that throws is retried with backoff (unless `isPermanent` says otherwise); one
   * that succeeds ends the key's backoff and is requeued after `requeueAfterMs` when it asks to be.
   */
  async run(
    workers: number,
    reconcile: (key: string) => Promise<ReconcileResult | undefined>,
    opts: RunOptions = {},
  ): Promise<void> {
    if (!Number.isInteger(workers) || workers < 1) throw new Error(`workers must be ≥ 1, got ${workers}`);
    const loop = async () => {
      for (;;) {
        const key = await this.get();
        if (key === undefined) return;
        const started = this.#clock.now();
        try {
          const result = await reconcile(key);
          this.forget(key);
          const after = result?.requeueAfterMs;
          if (after !== undefined) this.addAfter(key, after);
        } catch (err) {
          const permanent = opts.isPermanent?.(err) === true;
          if (permanent) this.forget(key);
          else this.addRateLimited(key);
          try {
            opts.onError?.(key, err, !permanent);
          } catch {
            // An error reporter must not take a worker down.
          }
        } finally {
          this.#hooks.onWorkDuration?.((this.#clock.now() - started) / 1000);
          this.done(key);
        }
      }
    };
    await Promise.all(Array.from({ length: workers }, loop));
  }

  #enqueue(key: string): void {
    this.#queue.add(key);
    if (!this.#queuedAt.has(key)) this.#queuedAt.set(key, this.#clock.now());
    this.#hooks.onDepthChange?.(this.#queue.size);
    this.#idleWorkers.shift()?.();
  }

  #resolveDrained(): void {
    const waiters = this.#drained;
    this.#drained = [];
    for (const resolve of waiters) resolve();
  }
}
