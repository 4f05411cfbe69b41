/**
 * Turns the data of a MeasureWork into the measurement the runner runs: the I/O side of bluegreen/gates/plan-gates.ts. What
 * needs the API (a Secret's headers, a failed Job pod's log) comes through `deps`, so this module imports no
 * client and the controller decides how those reads are made.
 */

import { type JobLog, jobOutcome } from "../../bluegreen/gates/job.ts";
import type { Outcome } from "../../bluegreen/gates/measurement.ts";
import type { MeasureWork } from "../../bluegreen/gates/work.ts";
import { measureHttp } from "./http-check.ts";
import { measurePrometheus } from "./prometheus-check.ts";

export interface MeasureDeps {
  /** The data of a Secret in the BGD's namespace, decoded; undefined when it does not exist. */
  readonly readSecret: (name: string) => Promise<Readonly<Record<string, string>> | undefined>;
  /** The last lines of the log of the Job's last failed pod, or why they cannot be read. */
  readonly jobLogTail: (jobName: string) => Promise<JobLog>;
}

export function measurement(work: MeasureWork, deps: MeasureDeps): (signal: AbortSignal) => Promise<Outcome> {
  switch (work.kind) {
    case "http":
      return async (signal) => {
        let headers: Readonly<Record<string, string>> = {};
        if (work.headersFromSecret !== undefined) {
          const secret = await deps.readSecret(work.headersFromSecret);
          if (secret === undefined)
            return { phase: "Error", message: `Secret ${work.headersFromSecret} not found` };
          headers = secret;
        }
        return measureHttp({ ...work.request, headers }, signal);
      };
    case "prometheus":
      return (signal) => measurePrometheus(work.query, signal);
    case "job":
      return async () => {
        const done = jobOutcome(work.job);
        if (done === undefined) return { phase: "Error", message: `Job ${work.jobName} has not finished` };
        if (done.phase === "Successful") return done;
        // A log we cannot read does not change the verdict, only its explanation.
        const log = await deps
          .jobLogTail(work.jobName)
          .catch((e: unknown): JobLog => ({ unavailable: e instanceof Error ? e.message : String(e) }));
        return jobOutcome(work.job, log) ?? done;
      };
  }
}
