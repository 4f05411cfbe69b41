/** The list of BlueGreenDeployments: what each runs, what it waits for. */
import type { BgdRow } from "../view.ts";
import { age, href, phaseTone } from "./format.ts";

export function Phase({ phase }: { phase: string }) {
  return <span class={`phase phase-${phaseTone(phase)}`}>{phase}</span>;
}

export function ColorTag({ color }: { color: string | undefined }) {
  if (color === undefined) return <span class="muted">-</span>;
  return <span class={`color color-${color}`}>{color}</span>;
}

export function ListView({ rows, now, seen }: { rows: readonly BgdRow[]; now: number; seen: boolean }) {
  if (rows.length === 0 && !seen) {
    return (
      <section>
        <h2>BlueGreenDeployments</h2>
        <p class="empty">Nothing seen yet: the cluster has not answered.</p>
      </section>
    );
  }
  if (rows.length === 0) {
    return (
      <section>
        <h2>BlueGreenDeployments</h2>
        <p class="empty" data-testid="empty">
          No BlueGreenDeployments here yet. Create one with kubectl apply; it appears here on its own.
        </p>
      </section>
    );
  }
  return (
    <section>
      <h2>BlueGreenDeployments</h2>
      <table class="list" data-testid="bgd-list">
        <thead>
          <tr>
            <th scope="col">Namespace</th>
            <th scope="col">Name</th>
            <th scope="col">Phase</th>
            <th scope="col">Active</th>
            <th scope="col">Image</th>
            <th scope="col">Ready</th>
            <th scope="col">Desired</th>
            <th scope="col">Age</th>
            <th scope="col">Waiting for</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key} data-bgd={r.key}>
              <td>{r.namespace}</td>
              <td>
                <a href={href(r.namespace, r.name)}>{r.name}</a>
              </td>
              <td>
                <Phase phase={r.phase} />
              </td>
              <td>
                <ColorTag color={r.activeColor} />
              </td>
              <td class="mono">
                {r.activeImage ?? "-"}
                {r.previewImage !== undefined && (
                  <span class="next">
                    {" "}
                    → <span data-testid="preview-image">{r.previewImage}</span>
                  </span>
                )}
              </td>
              <td>{r.ready}</td>
              <td data-testid="desired">{r.replicas}</td>
              <td>{age(r.createdAt, now)}</td>
              <td class="message">{r.message}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
