/**
 * What the dashboard server sends the page (Server-Sent Events, JSON) and what the page posts back. Types
 * only: the page is built from these and imports nothing else from the server.
 */

export type Color = "blue" | "green";
export type ActionName = "promote" | "abort" | "retry" | "rollback" | "rollbackKeepSpec" | "pause" | "resume";
export const ACTION_NAMES: readonly ActionName[] = [
  "promote",
  "abort",
  "retry",
  "rollback",
  "rollbackKeepSpec",
  "pause",
  "resume",
];

/** One button: enabled with what it will do (naming the revision), or disabled with why not. */
export interface ActionView {
  readonly enabled: boolean;
  /** The revision the action concerns; posted back so the server refuses if it is no longer the one. */
  readonly revision: string | undefined;
  /** Enabled: what pressing it does. Disabled: why it cannot be done now. */
  readonly text: string;
}

export interface BgdRow {
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly phase: string;
  /** The planner's message: what the rollout waits for. */
  readonly message: string;
  readonly activeColor: Color | undefined;
  readonly activeImage: string | undefined;
  readonly previewImage: string | undefined;
  readonly ready: string;
  readonly replicas: number;
  readonly createdAt: string | undefined;
  /** The HTTPRoute's split and the canary step, in words (spec.trafficRouting); undefined without a route. */
  readonly traffic?: string | undefined;
}

export interface PodRow {
  readonly name: string;
  readonly ready: boolean;
  readonly status: string;
  readonly ip: string | undefined;
}

export interface ColorPanel {
  readonly color: Color;
  /** Which Service selects it: both while Stable (the preview follows the active color). */
  readonly roles: readonly ("active" | "preview")[];
  readonly exists: boolean;
  readonly revision: string | undefined;
  readonly image: string | undefined;
  readonly replicas: number;
  readonly readyReplicas: number;
  readonly scaleDownAt: string | undefined;
  readonly pods: readonly PodRow[];
}

export interface ServicePanel {
  readonly name: string;
  readonly role: "active" | "preview";
  readonly exists: boolean;
  readonly color: Color | undefined;
  /** Addresses the Service's EndpointSlices list as ready, then those not ready. */
  readonly readyEndpoints: readonly string[];
  readonly notReadyEndpoints: readonly string[];
}

export interface HistoryRow {
  readonly revision: string;
  readonly image: string | undefined;
  readonly promotedAt: string | undefined;
  readonly switchedFrom: Color | undefined;
  readonly trigger: string | undefined;
}

/** One mark on the timeline chart: a step of the rollout, from the status or from an Event. */
export interface TimelineMark {
  readonly stage: string;
  readonly time: string;
  readonly detail: string;
  readonly tone: "ok" | "warn";
}

export interface EventRow {
  readonly time: string | undefined;
  readonly type: string;
  readonly reason: string;
  readonly message: string;
  readonly count: number;
}

export interface GateRow {
  readonly name: string;
  readonly stage: string | undefined;
  readonly result: string;
  readonly message: string | undefined;
}

export interface Detail {
  readonly row: BgdRow;
  readonly desiredRevision: string | undefined;
  readonly activeRevision: string | undefined;
  readonly previewRevision: string | undefined;
  readonly colors: readonly ColorPanel[];
  readonly services: readonly ServicePanel[];
  readonly history: readonly HistoryRow[];
  readonly timeline: readonly TimelineMark[];
  readonly events: readonly EventRow[];
  /** Empty until the operator publishes gate results (status.gates). */
  readonly gates: readonly GateRow[];
  readonly conditions: readonly { type: string; status: string; reason: string; message: string }[];
  readonly actions: Readonly<Record<ActionName, ActionView>>;
}

/** How the server's watches fare: `ok`, or why the cluster is not (fully) seen. */
export interface Connection {
  readonly ok: boolean;
  readonly message: string;
  /** Not an outage: the first list has not been answered yet. */
  readonly connecting?: boolean;
}

/** One revision's values over time: `[ms since epoch, per second]`. */
export interface TrafficSeries {
  readonly revision: string;
  readonly points: readonly (readonly [number, number])[];
}

/**
 * The traffic chart of the BGD in detail: `off` without a Prometheus address; `unavailable` with the
 * reason when Prometheus cannot be asked (the rest of the page does not wait for it).
 */
export type TrafficView =
  | { readonly state: "off" }
  | { readonly state: "loading"; readonly source: string }
  | { readonly state: "unavailable"; readonly source: string; readonly reason: string }
  | {
      readonly state: "ok";
      readonly source: string;
      /** The range asked for (ms since epoch) and its step. */
      readonly from: number;
      readonly to: number;
      readonly stepMs: number;
      /** Requests/s per revision, and 5xx answers/s per revision. */
      readonly requests: readonly TrafficSeries[];
      readonly errors: readonly TrafficSeries[];
    };

export interface DashboardState {
  readonly scope: string;
  readonly readOnly: boolean;
  readonly connection: Connection;
  readonly rows: readonly BgdRow[];
  /** The BGD the page asked about (`?detail=ns/name`); null when it does not exist (any more). */
  readonly detail: Detail | null;
  /** Requests and errors per revision of the BGD in detail (from Prometheus, when configured). */
  readonly traffic: TrafficView;
  /** The server's clock when the state was built (ms since epoch), for ages on the page. */
  readonly now: number;
}

export interface ActionRequest {
  readonly action: ActionName;
  readonly namespace: string;
  readonly name: string;
  /** The revision the page showed on the button. */
  readonly revision?: string;
}

export interface ActionResult {
  readonly ok: boolean;
  readonly message: string;
}
