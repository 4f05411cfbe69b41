/**
 * The plugin's writes. Each is one that a person could make with plain kubectl: an annotation
 * (`kubectl annotate`) or a spec edit (`kubectl edit`/`patch`). Spec edits are conditional on the
 * resourceVersion that was read (PUT), so a concurrent change is never overwritten: on a conflict the
 * object is read again and the edit re-decided.
 */
import { isConflict } from "../controller/api-errors.ts";
import { getBgd } from "./fetch.ts";
import { type Json, rec } from "./objects.ts";
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
