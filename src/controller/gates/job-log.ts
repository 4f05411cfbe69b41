/**
 * The log tail of a failed Job's last failed pod, read through the API (`pods/log`; the pod found by the Job
 * controller's `job-name` label). Where it cannot be read — a node that serves no logs (kwok's: there is no
 * container), a pod already gone, an API that does not answer in time — the answer says why instead of
 * failing: the Job's verdict stands without its log, and the person reading it learns there is none.
 */
import { MAX_LOG_TAIL } from "../../api/gate-status.ts";
import { type JobLog, LOG_TAIL_LINES, lastFailedPod } from "../../bluegreen/gates/job.ts";
import { ApiError } from "../../kube/api-errors.ts";
import type { KubeClient } from "../../kube/kube.ts";

/** One short read: a node that does not answer must not hold a measurement slot for long. */
const LOG_TIMEOUT_MS = 5_000;
/** Bytes asked for: the lines status keeps, with room for the cut at a line start. */
const LOG_LIMIT_BYTES = 4 * MAX_LOG_TAIL;

const why = (e: unknown): string => {
  if (e instanceof ApiError) {
    const detail = e.status?.message;
    return typeof detail === "string" && detail !== "" ? detail : `${e.code} ${e.reason}`;
  }
  return e instanceof Error ? e.message : String(e);
};

export async function readJobLogTail(
  client: Pick<KubeClient, "list" | "getText">,
  namespace: string,
  jobName: string,
): Promise<JobLog> {
  const ns = encodeURIComponent(namespace);
  let pods: readonly unknown[];
  try {
    pods = (await client.list(`/api/v1/namespaces/${ns}/pods`, { labelSelector: `job-name=${jobName}` }))
      .items;
  } catch (e) {
    return { unavailable: `the Job's pods could not be listed: ${why(e)}` };
  }
  const pod = lastFailedPod(pods);
  if (pod === undefined) return { unavailable: "no failed pod of the Job is left" };
  try {
    const tail = await client.getText(`/api/v1/namespaces/${ns}/pods/${encodeURIComponent(pod)}/log`, {
      query: { tailLines: LOG_TAIL_LINES, limitBytes: LOG_LIMIT_BYTES },
      timeoutMs: LOG_TIMEOUT_MS,
    });
    return { tail };
  } catch (e) {
    return { unavailable: `pod ${pod}: ${why(e)}` };
  }
}
