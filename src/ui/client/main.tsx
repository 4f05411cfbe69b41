/**
 * The dashboard page: one Server-Sent Events stream from the dashboard server carries the whole state the
 * page shows (the list, and the BGD in the address bar's #/namespace/name in detail). The page never polls
 * the cluster; EventSource reconnects by itself and the banner says when it is disconnected.
 */
import "./app.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { DashboardState } from "../view.ts";
import { DetailView } from "./detail.tsx";
import { ListView } from "./list.tsx";

type Link = "connecting" | "open" | "lost";

/** `#/ns/name` → "ns/name"; anything else is the list. */
function routeOf(hash: string): string | undefined {
  const m = /^#\/([^/]+)\/([^/]+)$/.exec(hash);
  return m === null ? undefined : `${decodeURIComponent(m[1] ?? "")}/${decodeURIComponent(m[2] ?? "")}`;
}

function useRoute(): string | undefined {
  const [route, setRoute] = useState(routeOf(location.hash));
  useEffect(() => {
    const on = () => setRoute(routeOf(location.hash));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

function useDashboard(detail: string | undefined): { state: DashboardState | undefined; link: Link } {
  const [state, setState] = useState<DashboardState | undefined>(undefined);
  const [link, setLink] = useState<Link>("connecting");
  useEffect(() => {
    const url = detail === undefined ? "/api/events" : `/api/events?detail=${encodeURIComponent(detail)}`;
    const source = new EventSource(url);
    source.addEventListener("open", () => setLink("open"));
    source.addEventListener("error", () => setLink("lost"));
    source.addEventListener("state", (e) => {
      setLink("open");
      setState(JSON.parse((e as MessageEvent<string>).data) as DashboardState);
    });
    return () => source.close();
  }, [detail]);
  return { state, link };
}

function Banner({ state, link }: { state: DashboardState | undefined; link: Link }) {
  let text: string;
  let tone: "ok" | "warn" | "bad";
  if (link === "lost") {
    text = "Disconnected from the dashboard server: reconnecting…";
    tone = "bad";
  } else if (state === undefined || state.connection.connecting === true) {
    text = "Connecting…";
    tone = "warn";
  } else if (!state.connection.ok) {
    text = `Disconnected: ${state.connection.message}`;
    tone = "bad";
  } else if (state.connection.message !== "") {
    text = `Live, with gaps: ${state.connection.message}`;
    tone = "warn";
  } else {
    text = "Live";
    tone = "ok";
  }
  return (
    <p class={`conn conn-${tone}`} role="status" data-testid="connection" data-state={tone}>
      <span aria-hidden="true">{tone === "ok" ? "●" : tone === "warn" ? "◐" : "○"}</span> {text}
    </p>
  );
}

/** Ages on the page move on between pushes. */
function useTicker(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

function App() {
  const route = useRoute();
  const { state, link } = useDashboard(route);
  const now = useTicker(5000);
  const stale = link !== "open" || state?.connection.ok === false;
  return (
    <>
      <header>
        <h1>
          <a href="#/">bluegreen</a> <span class="sub">dashboard</span>
        </h1>
        {state !== undefined && (
          <p class="scope">
            {state.scope}
            {state.readOnly ? " · read-only" : ""}
          </p>
        )}
        <Banner state={state} link={link} />
      </header>
      <main class={stale ? "stale" : ""}>
        {state === undefined ? (
          <p>Loading…</p>
        ) : route === undefined ? (
          <ListView rows={state.rows} now={now} seen={state.connection.ok} />
        ) : (
          <DetailView route={route} detail={state.detail} traffic={state.traffic} now={now} />
        )}
      </main>
    </>
  );
}

const root = document.getElementById("app");
if (root !== null) {
  root.textContent = "";
  render(<App />, root);
}
