/**
 * The action bar and its confirmation. A button that cannot act now stays focusable (aria-disabled) and
 * shows why, in the words the plugin would use. The confirmation names the revision the person saw; that
 * revision is what is posted, so a preview that moved on meanwhile is refused by the server, not promoted.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { ActionName, ActionResult, ActionView, Detail } from "../view.ts";

const LABEL: Readonly<Record<ActionName, string>> = {
  promote: "Promote",
  abort: "Abort",
  retry: "Retry",
  rollback: "Roll back",
  rollbackKeepSpec: "Roll back (keep spec)",
  pause: "Pause",
  resume: "Resume",
};
const ORDER: readonly ActionName[] = [
  "promote",
  "abort",
  "retry",
  "rollback",
  "rollbackKeepSpec",
  "pause",
  "resume",
];

interface Pending {
  readonly action: ActionName;
  readonly view: ActionView;
}

function confirmTitle(p: Pending, name: string): string {
  const rev = p.view.revision;
  switch (p.action) {
    case "promote":
      return `Promote revision ${rev ?? "?"} of ${name}?`;
    case "abort":
      return `Abort revision ${rev ?? "?"} of ${name}?`;
    case "rollback":
      return `Roll ${name} back to revision ${rev ?? "?"}?`;
    case "rollbackKeepSpec":
      return `Abort live revision ${rev ?? "?"} of ${name} and switch back, leaving the spec as it is?`;
    case "retry":
      return `Retry revision ${rev ?? "?"} of ${name}?`;
    case "pause":
      return `Pause ${name}?`;
    case "resume":
      return `Resume ${name}?`;
  }
}

function confirmLabel(p: Pending): string {
  const rev = p.view.revision;
  if (p.action === "rollbackKeepSpec") return `Roll back from revision ${rev ?? "?"}`;
  return rev !== undefined && p.action !== "retry" ? `${LABEL[p.action]} revision ${rev}` : LABEL[p.action];
}

async function post(action: ActionName, d: Detail, revision: string | undefined): Promise<ActionResult> {
  try {
    const res = await fetch("/api/actions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        action,
        namespace: d.row.namespace,
        name: d.row.name,
        ...(revision !== undefined ? { revision } : {}),
      }),
    });
    return (await res.json()) as ActionResult;
  } catch (err) {
    return { ok: false, message: `error: the dashboard server did not answer: ${String(err)}` };
  }
}

export function ActionBar({ detail }: { detail: Detail }) {
  const [pending, setPending] = useState<Pending | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<ActionResult | undefined>(undefined);
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const d = dialog.current;
    if (d === null) return;
    if (pending !== undefined && !d.open) d.showModal();
    if (pending === undefined && d.open) d.close();
  }, [pending]);

  const confirm = async () => {
    if (pending === undefined) return;
    setBusy(true);
    const r = await post(pending.action, detail, pending.view.revision);
    setBusy(false);
    setPending(undefined);
    setResult(r);
  };

  // What the same button offers now, if the rollout moved on while the confirmation was open.
  const now = pending !== undefined ? detail.actions[pending.action] : undefined;
  const moved = pending !== undefined && now !== undefined && now.revision !== pending.view.revision;

  return (
    <section aria-labelledby="actions-h" class="actions">
      <h3 id="actions-h">Actions</h3>
      <ul class="action-list">
        {ORDER.map((a) => {
          const v = detail.actions[a];
          return (
            <li key={a}>
              <button
                type="button"
                data-action={a}
                aria-disabled={v.enabled ? "false" : "true"}
                aria-describedby={`why-${a}`}
                class={v.enabled ? "" : "off"}
                onClick={() => {
                  if (!v.enabled) return;
                  setResult(undefined);
                  setPending({ action: a, view: v });
                }}
              >
                {LABEL[a]}
                {v.enabled && v.revision !== undefined && a !== "retry" ? ` ${v.revision}` : ""}
              </button>
              <span id={`why-${a}`} class="why">
                {v.text}
              </span>
            </li>
          );
        })}
      </ul>
      {result !== undefined && (
        <p
          class={`result ${result.ok ? "result-ok" : "result-bad"}`}
          role={result.ok ? "status" : "alert"}
          data-testid="action-result"
          data-ok={String(result.ok)}
        >
          {result.message}
        </p>
      )}
      <dialog ref={dialog} onClose={() => setPending(undefined)} aria-labelledby="confirm-h">
        {pending !== undefined && (
          <form
            method="dialog"
            onSubmit={(e) => {
              e.preventDefault();
              void confirm();
            }}
          >
            <h3 id="confirm-h">{confirmTitle(pending, `${detail.row.namespace}/${detail.row.name}`)}</h3>
            <p>{pending.view.text}</p>
            {moved && (
              <p class="result result-bad" data-testid="moved">
                Since this was opened the rollout moved on:{" "}
                {now?.enabled ? `the button now offers revision ${now.revision ?? "?"}` : now?.text}.
                Confirming acts on revision {pending.view.revision ?? "?"} only, which the server refuses if
                it no longer applies.
              </p>
            )}
            <div class="buttons">
              <button type="button" onClick={() => setPending(undefined)} disabled={busy}>
                Cancel
              </button>
              <button type="submit" class="primary" data-confirm={pending.action} disabled={busy}>
                {busy ? "Working…" : confirmLabel(pending)}
              </button>
            </div>
          </form>
        )}
      </dialog>
    </section>
  );
}
