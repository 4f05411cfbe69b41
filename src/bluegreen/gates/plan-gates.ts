/**
 * The gate step of a plan, pure: given one point's checks, the records in status, the finished measurements the
 * runner holds, the BGD's Jobs from the cache and the injected time, it returns the records to write, where the
 * point stands, and at most one piece of work (a measurement for the runner, or a Job to create). The planner
 * turns these into actions; nothing here reads a clock, the API or the network.
 */

import { type CheckKind, GATE_POINTS, type GatePoint } from "../../api/gate-rules.ts";
import type { GateCheckStatus } from "../../api/gate-status.ts";
import { type GateContext, renderTemplate } from "../../api/gate-template.ts";
import { checkKind, checkTiming, type GateCheck } from "../../api/gates.ts";
import { type JobOwner, jobName, jobOutcome, renderJob } from "./job.ts";
import { type CheckRecord, type Measurement, recordMeasurement, startCheck } from "./measurement.ts";
import { type PointProgress, pointProgress } from "./point.ts";
import { type MeasureWork, measurementId } from "./work.ts";

export type { MeasureWork };

export interface GateWork {
  readonly id: string;
  readonly check: string;
  readonly index: number;
  readonly work: MeasureWork;
}

export interface GateInputs {
  readonly point: GatePoint;
  readonly checks: readonly GateCheck[];
  readonly revision: string;
  readonly owner: JobOwner;
  readonly context: GateContext;
  /** status.gates as stored (every point, any revision). */
  readonly records: readonly GateCheckStatus[];
  /** Finished measurements the runner holds, by measurement id. */
  readonly results: (id: string) => Measurement | undefined;
  /** The BGD's Jobs in the cache, by name. */
  readonly jobs: ReadonlyMap<string, unknown>;
  readonly nowMs: number;
}

export interface GateStep {
  readonly progress: PointProgress;
  /** status.gates to write: this revision's records (this point's updated), other revisions' dropped. */
  readonly records: GateCheckStatus[];
  /** Measurement ids now folded into records: the runner may forget them once the status write succeeded. */
  readonly recorded: string[];
  readonly measure?: GateWork;
  readonly createJob?: Record<string, unknown>;
  /** When the point needs the next look, if nothing else will wake the key. */
  readonly requeueAtMs?: number;
}

const recordOf = (s: GateCheckStatus): CheckRecord => {
  const { name: _n, point: _p, kind: _k, revision: _r, job: _j, ...record } = s;
  return record;
};

function statusOf(
  check: GateCheck,
  point: GatePoint,
  revision: string,
  kind: CheckKind,
  record: CheckRecord,
  job: string | undefined,
): GateCheckStatus {
  return {
    name: check.name,
    point,
    kind,
    revision,
    ...record,
    measurements: [...record.measurements],
    ...(job !== undefined ? { job } : {}),
  };
}

/** The work for measurement `index` of a check, or the Error outcome when it cannot even be described. */
function workFor(
  check: GateCheck,
  inputs: GateInputs,
): { work: MeasureWork } | { error: string } | { createJob: Record<string, unknown> } | { waitJob: true } {
  const timing = checkTiming(check);
  if (check.http !== undefined) {
    const h = check.http;
    const url = renderTemplate(h.url, inputs.context);
    if (!url.ok) return { error: url.message };
    return {
      work: {
        kind: "http",
        request: {
          url: url.text,
          method: h.method,
          body: h.body,
          expectedStatus: h.expectedStatus,
          jsonPath: h.jsonPath,
          successCondition: h.successCondition,
          timeoutMs: timing.timeoutMs,
        },
        ...(h.headersFrom !== undefined ? { headersFromSecret: h.headersFrom.secretName } : {}),
      },
    };
  }
  if (check.prometheus !== undefined) {
    const p = check.prometheus;
    const query = renderTemplate(p.query, inputs.context);
    if (!query.ok) return { error: query.message };
    return {
      work: {
        kind: "prometheus",
        query: {
          address: p.address,
          query: query.text,
          successCondition: p.successCondition,
          emptyResult: p.emptyResult,
          timeoutMs: timing.timeoutMs,
        },
      },
    };
  }
  if (check.job !== undefined) {
    const name = jobName(inputs.owner.name, check.name, inputs.revision);
    const job = inputs.jobs.get(name);
    if (job === undefined)
      return {
        createJob: renderJob(check.job, {
          owner: inputs.owner,
          check: check.name,
          point: inputs.point,
          revision: inputs.revision,
          failureLimit: check.failureLimit,
          timeoutSeconds: timing.timeoutMs / 1000,
        }),
      };
    // Still running: the Job informer wakes the key when it finishes.
    if (jobOutcome(job) === undefined) return { waitJob: true };
    return { work: { kind: "job", jobName: name, job } };
  }
  return { error: "the check has no kind" };
}

export function planGates(inputs: GateInputs): GateStep {
  const { point, checks, revision, nowMs } = inputs;
  const ours = inputs.records.filter((r) => r.revision === revision);
  const records = new Map(ours.filter((r) => r.point === point).map((r) => [r.name, recordOf(r)]));
  const recorded: string[] = [];
  const refs = checks.map((c) => ({ name: c.name, timing: checkTiming(c) }));
  const byName = new Map(checks.map((c) => [c.name, c]));

  const finish = (progress: PointProgress, extra: Partial<GateStep> = {}): GateStep => {
    const mine = checks.flatMap((c) => {
      const r = records.get(c.name);
      const kind = checkKind(c);
      if (r === undefined || kind === undefined) return [];
      const job = kind === "job" ? jobName(inputs.owner.name, c.name, revision) : undefined;
      return [statusOf(c, point, revision, kind, r, job)];
    });
    const order = (r: GateCheckStatus) => GATE_POINTS.indexOf(r.point);
    const all = [...ours.filter((r) => r.point !== point), ...mine].sort((a, b) => order(a) - order(b));
    return { progress, records: all, recorded, ...extra };
  };

  // Each round folds what is already known (a result, an unrenderable request) and asks again; bounded by the
  // number of measurements a point can take in one look.
  for (let round = 0; round < 1000; round++) {
    const progress = pointProgress(refs, records, nowMs);
    if (progress.kind === "start") {
      records.set(progress.check, startCheck(nowMs));
      continue;
    }
    if (progress.kind === "wait") return finish(progress, { requeueAtMs: progress.untilMs });
    if (progress.kind !== "measure") return finish(progress);

    const check = byName.get(progress.check);
    const record = records.get(progress.check);
    if (check === undefined || record === undefined) return finish(progress);
    const timing = checkTiming(check);
    const id = measurementId(inputs.owner.uid, revision, check.name, progress.index);
    const held = inputs.results(id);
    if (held !== undefined) {
      records.set(check.name, recordMeasurement(timing, record, { ...held, index: progress.index }));
      recorded.push(id);
      continue;
    }
    const w = workFor(check, inputs);
    if ("error" in w) {
      const at = new Date(nowMs).toISOString();
      const m = {
        index: progress.index,
        phase: "Error" as const,
        startedAt: at,
        finishedAt: at,
        message: w.error,
      };
      records.set(check.name, recordMeasurement(timing, record, m));
      continue;
    }
    if ("createJob" in w) return finish(progress, { createJob: w.createJob });
    if ("waitJob" in w) return finish(progress);
    return finish(progress, { measure: { id, check: check.name, index: progress.index, work: w.work } });
  }
  return finish(pointProgress(refs, records, nowMs));
}
