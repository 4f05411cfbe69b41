/**
 * The plugin's writes. Each is one that a person could make with plain kubectl: an annotation
 * (`kubectl annotate`) or a spec edit (`kubectl edit`/`patch`). Spec edits are conditional on the
 * resourceVersion that was read (PUT), so a concurrent change is never overwritten: on a conflict the
 * object is read again and the edit re-decided.
 */
import { ApiError, isConflict } from "../kube/api-errors.ts";
import { getBgd } from "./fetch.ts";
import { arr, type Json, rec, str } from "./objects.ts";
import { bgdPath, bgdTarget, CliError, explain, type Session, withTarget } from "./session.ts";

/** Sets (string) or removes (null) annotations on the BGD, as `kubectl annotate --overwrite` does. */
export async function annotate(
  s: Session,
  name: string,
  annotations: Readonly<Record<string, string | null>>,
): Promise<void> {
  await withTarget(s, bgdTarget(s, name), () =>
    s.client.patch(bgdPath(s.namespace, name), { metadata: { annotations } }, "merge"),
  );
}

/**
 * Edits the BGD: `edit` gets a copy of the object and changes it in place, or returns false for "nothing
 * to change". Returns the object as written (or as read when nothing changed).
 */
export async function editBgd(
  s: Session,
  name: string,
  edit: (obj: Record<string, unknown>) => boolean,
): Promise<{ obj: Json; changed: boolean }> {
  for (let attempt = 1; ; attempt++) {
    const read = await getBgd(s, name);
    const obj = structuredClone(read) as Record<string, unknown>;
    if (!edit(obj)) return { obj: read, changed: false };
    // The server keeps managedFields when they are left out; sending the stale copy back would replace them.
    const { managedFields: _m, ...meta } = rec(obj.metadata);
    obj.metadata = meta;
    delete obj.status;
    try {
      const written = await s.client.replace(bgdPath(s.namespace, name), obj);
      return { obj: rec(written), changed: true };
    } catch (err) {
      if (isConflict(err) && attempt < 5) continue;
      if (isConflict(err)) throw new CliError(`error: ${name} keeps changing under us; try again`);
      throw await explain(err, s, bgdTarget(s, name));
    }
  }
}

/**
 * Removes the Inconclusive records of these checks of one revision from status.gates, so the operator runs
 * them again from their first measurement (a check with no record starts over; docs/gates.md). One JSON
 * patch of the status subresource whose `test` operations make it conditional on each record still being
 * that check, of that revision, Inconclusive: a record the operator changed meanwhile is never removed.
 * Returns the checks removed.
 */
export async function forgetInconclusiveGates(
  s: Session,
  name: string,
  revision: string,
  checks: readonly string[],
): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    const gates = arr(rec((await getBgd(s, name)).status).gates).map(rec);
    const doomed = gates.flatMap((g, i) =>
      str(g.revision) === revision && str(g.phase) === "Inconclusive" && checks.includes(str(g.name) ?? "")
        ? [i]
        : [],
    );
    if (doomed.length === 0) return [];
    // From the last index down, so each removal leaves the earlier indices in place.
    const ops = doomed.reverse().flatMap((i) => [
      { op: "test", path: `/status/gates/${i}/name`, value: gates[i]?.name },
      { op: "test", path: `/status/gates/${i}/revision`, value: revision },
      { op: "test", path: `/status/gates/${i}/phase`, value: "Inconclusive" },
      { op: "remove", path: `/status/gates/${i}` },
    ]);
    try {
      await s.client.patch(`${bgdPath(s.namespace, name)}/status`, ops, "json");
      return doomed.map((i) => str(gates[i]?.name) ?? "").reverse();
    } catch (err) {
      // A failed test (the operator wrote status in between) is a 422: read again and re-decide.
      const moved = isConflict(err) || (err instanceof ApiError && err.code === 422);
      if (moved && attempt < 5) continue;
      if (moved) throw new CliError(`error: ${name}'s gates keep changing under us; try again`);
      throw await explain(err, s, bgdTarget(s, name));
    }
  }
}
