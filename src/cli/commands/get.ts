/**
 * `get [NAME] [--watch]` and `list`: the tree of one BGD or a table of many, as text, json, yaml or names.
 * With --watch on a terminal the view is redrawn in place (log-update) as the rollout moves; piped, each
 * new view is printed after the previous one, without colors or cursor movement.
 */
import { createLogUpdate } from "log-update";
import { stringify } from "yaml";
import { listBgds, snapshot, watchChanges } from "../fetch.ts";
import { rec, str } from "../objects.ts";
import type { Session } from "../session.ts";
import { bgdCollection } from "../session.ts";
import { painterFor } from "../style.ts";
import { renderList } from "../tables.ts";
import { renderGet } from "../tree.ts";

export interface GetOptions {
  readonly watch?: boolean;
  readonly out: NodeJS.WriteStream;
}

/** -o json|yaml|name for an object or a list, as kubectl prints them. */
export function formatObjects(
  output: "json" | "yaml" | "name",
  objs: readonly unknown[],
  single: boolean,
): string {
  if (output === "name")
    return objs
      .map((o) => `bluegreendeployment.bluegreen.io/${str(rec(rec(o).metadata).name) ?? ""}`)
      .join("\n");
  const value = single
    ? objs[0]
    : { apiVersion: "v1", kind: "List", items: objs, metadata: { resourceVersion: "" } };
  return output === "json" ? JSON.stringify(value, null, 4) : stringify(value).trimEnd();
}

async function renderOnce(s: Session, name: string | undefined, out: NodeJS.WriteStream): Promise<string> {
  const painter = painterFor(out);
  const now = Date.now();
  const wide = s.output === "wide";
  if (name === undefined) {
    const items = await listBgds(s);
    if (s.output === "json" || s.output === "yaml" || s.output === "name")
      return formatObjects(s.output, items, false);
    if (items.length === 0)
      return s.allNamespaces ? "No resources found" : `No resources found in ${s.namespace} namespace.`;
    return renderList(items, { now, painter, wide, allNamespaces: s.allNamespaces });
  }
  const snap = await snapshot(s, name);
  if (s.output === "json" || s.output === "yaml" || s.output === "name")
    return formatObjects(s.output, [snap.bgd], true);
  return renderGet(snap, { now, painter, wide, namespaceFlag: s.namespaceFlag });
}

export async function get(s: Session, name: string | undefined, o: GetOptions): Promise<void> {
  if (o.watch !== true) {
    o.out.write(`${await renderOnce(s, name, o.out)}\n`);
    return;
  }
  await watchView(s, name, o.out);
}

/**
 * Redraws on every change the watches report (debounced), and on a terminal also every second so ages and
 * countdowns stay true. Ends on Ctrl-C, or with an error when the BGD goes away.
 */
async function watchView(s: Session, name: string | undefined, out: NodeJS.WriteStream): Promise<void> {
  const tty = out.isTTY === true;
  const stop = new AbortController();
  const draw = tty ? createLogUpdate(out) : undefined;
  let pending = true;
  let last = "";
  let failure: unknown;
  let wake: (() => void) | undefined;
  const poke = () => {
    pending = true;
    wake?.();
  };
  if (name !== undefined) watchChanges(s, name, poke, stop.signal);
  else watchCollection(s, poke, stop.signal);
  const onSigint = () => stop.abort();
  process.once("SIGINT", onSigint);
  const tick = tty ? setInterval(poke, 1000) : setInterval(poke, 10_000);
  try {
    while (!stop.signal.aborted) {
      if (pending) {
        pending = false;
        try {
          const text = await renderOnce(s, name, out);
          if (draw !== undefined) draw(text);
          else if (text !== last) out.write(`${last === "" ? "" : "\n"}${text}\n`);
          last = text;
        } catch (err) {
          failure = err;
          break;
        }
      }
      // Coalesces bursts (a rollout step changes pods, Deployment, status and events at once).
      await new Promise<void>((res) => {
        wake = res;
        if (pending || stop.signal.aborted) res();
        stop.signal.addEventListener("abort", () => res(), { once: true });
      });
      wake = undefined;
      await new Promise((res) => setTimeout(res, 100));
    }
  } finally {
    clearInterval(tick);
    process.off("SIGINT", onSigint);
    stop.abort();
    draw?.done();
  }
  if (failure !== undefined) throw failure;
}

function watchCollection(s: Session, poke: () => void, signal: AbortSignal): void {
  void (async () => {
    while (!signal.aborted) {
      try {
        const path = bgdCollection(s.allNamespaces ? undefined : s.namespace);
        const page = await s.client.list(path, { limit: 1 }, signal);
        const q = { resourceVersion: page.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300 };
        for await (const ev of s.client.watch(path, q, signal)) if (ev.type !== "BOOKMARK") poke();
      } catch {
        await new Promise((res) => setTimeout(res, 1000));
      }
    }
  })();
}
