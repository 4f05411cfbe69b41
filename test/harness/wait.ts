/** Waiting for a condition, for the harness, the demo and the tests alike (one loop, one message). */
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Polls `check` until it returns a truthy value and returns it. Throws with the last error
 * or value after `timeoutMs`, so a failing wait says what it was waiting for.
 */
export async function waitUntil<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined | false | null>,
  intervalMs = 150,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false && v !== null) return v;
      last = v;
    } catch (err) {
      last = err instanceof Error ? err.message : err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    }
    await sleep(intervalMs);
  }
}
