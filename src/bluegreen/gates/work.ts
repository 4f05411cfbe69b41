/**
 * The work a gate step asks for, as data: the planner renders it (pure), the controller's runners carry it
 * out. Shared here because the planner's layer may not import the controller's.
 */

export interface HttpRequestSpec {
  /** Already rendered (template variables replaced). */
  readonly url: string;
  readonly method: "GET" | "HEAD" | "POST";
  readonly body?: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  /** Undefined: any 2xx. */
  readonly expectedStatus?: readonly number[] | undefined;
  readonly jsonPath?: string | undefined;
  readonly successCondition?: string | undefined;
  readonly timeoutMs: number;
}

export interface PrometheusQuerySpec {
  readonly address: string;
  /** Already rendered. */
  readonly query: string;
  readonly successCondition: string;
  readonly emptyResult: "Failure" | "Success" | "Inconclusive";
  readonly timeoutMs: number;
}

/** What the runner is asked to do: data, so the action that carries it can be compared and logged. */
export type MeasureWork =
  | {
      readonly kind: "http";
      readonly request: Omit<HttpRequestSpec, "headers">;
      /** Headers come from this Secret, read when the measurement runs (never copied into status or logs). */
      readonly headersFromSecret?: string;
    }
  | { readonly kind: "prometheus"; readonly query: PrometheusQuerySpec }
  /** A Job that finished: the runner reads its failed pod's log tail and reports the outcome. */
  | { readonly kind: "job"; readonly jobName: string; readonly job: unknown };

/** One measurement of one check of one revision of one BGD: the runner runs each id once. */
export const measurementId = (uid: string, revision: string, check: string, index: number): string =>
  `${uid}/${revision}/${check}/${index}`;
