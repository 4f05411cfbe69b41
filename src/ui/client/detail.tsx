/**
 * One BlueGreenDeployment: both colors side by side, the Services and the endpoints they route to, the
 * timeline of the rollout, gates, history, conditions and Events, and the actions.
 */
import type { ColorPanel, Detail, ServicePanel, TrafficView } from "../view.ts";
import { ActionBar } from "./actions.tsx";
import { age, clock } from "./format.ts";
import { ColorTag, Phase } from "./list.tsx";
import { Timeline } from "./timeline.tsx";
import { Traffic } from "./traffic.tsx";

function ColorCard({ c }: { c: ColorPanel }) {
  return (
    <article class={`card card-${c.color}`} data-color={c.color} aria-labelledby={`color-${c.color}`}>
      <h3 id={`color-${c.color}`}>
        <ColorTag color={c.color} />
        {c.roles.map((r) => (
          <span key={r} class={`role role-${r}`} data-role={r}>
            {r}
          </span>
        ))}
        {c.roles.length === 0 && <span class="role role-idle">idle</span>}
      </h3>
      {!c.exists ? (
        <p class="muted">No Deployment.</p>
      ) : (
        <>
          <dl>
            <dt>Revision</dt>
            <dd class="mono" data-testid={`revision-${c.color}`}>
              {c.revision ?? "-"}
            </dd>
            <dt>Image</dt>
            <dd class="mono">{c.image ?? "-"}</dd>
            <dt>Ready</dt>
            <dd>
              {c.readyReplicas}/{c.replicas}
            </dd>
            {c.scaleDownAt !== undefined && (
              <>
                <dt>Scale-down</dt>
                <dd>at {clock(c.scaleDownAt)}</dd>
              </>
            )}
          </dl>
          {c.pods.length > 0 ? (
            <ul class="pods" aria-label={`Pods of ${c.color}`}>
              {c.pods.map((p) => (
                <li key={p.name} class={p.ready ? "pod-ready" : "pod-unready"}>
                  <span aria-hidden="true">{p.ready ? "●" : "○"}</span> <span class="mono">{p.name}</span>{" "}
                  <span class="muted">
                    {p.ready ? "ready" : "not ready"} · {p.status}
                  </span>
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">No pods{c.replicas === 0 ? " (scaled down)" : ""}.</p>
          )}
        </>
      )}
    </article>
  );
}

function Services({ services }: { services: readonly ServicePanel[] }) {
  return (
    <table data-testid="services">
      <thead>
        <tr>
          <th scope="col">Service</th>
          <th scope="col">Role</th>
          <th scope="col">Selects</th>
          <th scope="col">Ready endpoints</th>
        </tr>
      </thead>
      <tbody>
        {services.map((s) => (
          <tr key={s.name} data-service={s.role}>
            <td class="mono">{s.name}</td>
            <td>{s.role}</td>
            <td data-testid={`selects-${s.role}`}>
              {s.exists ? <ColorTag color={s.color} /> : "not created"}
            </td>
            <td>
              {s.readyEndpoints.length}
              {s.readyEndpoints.length > 0 && <span class="mono muted"> {s.readyEndpoints.join(", ")}</span>}
              {s.notReadyEndpoints.length > 0 && (
                <span class="muted"> · {s.notReadyEndpoints.length} not ready</span>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function DetailView({
  route,
  detail,
  traffic,
  now,
}: {
  route: string;
  detail: Detail | null;
  traffic: TrafficView;
  now: number;
}) {
  if (detail === null) {
    return (
      <section>
        <p>
          <a href="#/">← All BlueGreenDeployments</a>
        </p>
        <p class="empty">BlueGreenDeployment {route} does not exist (or not any more).</p>
      </section>
    );
  }
  const r = detail.row;
  return (
    <section aria-labelledby="bgd-h" data-testid="detail">
      <p>
        <a href="#/">← All BlueGreenDeployments</a>
      </p>
      <h2 id="bgd-h">
        <span class="muted">{r.namespace}/</span>
        {r.name} <Phase phase={r.phase} />
      </h2>
      <p class="message" data-testid="message">
        {r.message}
      </p>
      {r.traffic !== undefined && (
        <p class="message" data-testid="traffic">
          {r.traffic}
        </p>
      )}
      <ActionBar detail={detail} />
      <div class="colors">
        {detail.colors.map((c) => (
          <ColorCard key={c.color} c={c} />
        ))}
      </div>
      <h3>Services</h3>
      <Services services={detail.services} />
      <h3>Timeline</h3>
      <Timeline marks={detail.timeline} now={now} />
      <section aria-labelledby="traffic-h" data-testid="traffic">
        <h3 id="traffic-h">Traffic</h3>
        <Traffic traffic={traffic} detail={detail} />
      </section>
      <section aria-labelledby="gates-h">
        <h3 id="gates-h">Gates</h3>
        {detail.gates.length === 0 ? (
          <p class="muted">No gate results reported (status.gates).</p>
        ) : (
          <ul>
            {detail.gates.map((g) => (
              <li key={g.name}>
                <strong>{g.name}</strong> {g.stage ?? ""}: {g.result}
                {g.message !== undefined ? ` — ${g.message}` : ""}
              </li>
            ))}
          </ul>
        )}
      </section>
      <h3>History</h3>
      {detail.history.length === 0 ? (
        <p class="muted">Nothing promoted yet.</p>
      ) : (
        <table data-testid="history">
          <thead>
            <tr>
              <th scope="col">Revision</th>
              <th scope="col">Image</th>
              <th scope="col">Promoted</th>
              <th scope="col">From</th>
              <th scope="col">How</th>
            </tr>
          </thead>
          <tbody>
            {detail.history.map((h) => (
              <tr key={`${h.revision}-${h.promotedAt ?? ""}`}>
                <td class="mono">{h.revision}</td>
                <td class="mono">{h.image ?? "-"}</td>
                <td>{h.promotedAt !== undefined ? `${age(h.promotedAt, now)} ago` : "-"}</td>
                <td>
                  <ColorTag color={h.switchedFrom} />
                </td>
                <td>{h.trigger ?? "-"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="two">
        <section aria-labelledby="cond-h">
          <h3 id="cond-h">Conditions</h3>
          <ul class="plain">
            {detail.conditions.map((c) => (
              <li key={c.type}>
                <strong>{c.type}</strong> {c.status} <span class="muted">{c.reason}</span>
                {c.message !== "" && <div class="muted small">{c.message}</div>}
              </li>
            ))}
          </ul>
        </section>
        <section aria-labelledby="ev-h">
          <h3 id="ev-h">Events</h3>
          <ul class="plain events">
            {detail.events.map((e) => (
              <li
                key={`${e.time ?? ""}-${e.reason}-${e.message}`}
                class={e.type === "Warning" ? "warning" : ""}
              >
                <time>{clock(e.time)}</time> <strong>{e.reason}</strong>
                {e.count > 1 ? ` ×${e.count}` : ""} <span class="muted small">{e.message}</span>
              </li>
            ))}
          </ul>
        </section>
      </div>
    </section>
  );
}
