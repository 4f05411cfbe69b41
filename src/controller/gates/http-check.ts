/**
 * Runs one measurement of an http check: one request, its status code compared with the expected ones and,
 * when there is a success condition, the body (or the value at jsonPath) tested by it. I/O, but no state: the
 * caller (the gate runner) owns concurrency and records the outcome. Redirects are not followed — a smoke
 * test that is redirected to a login page has not passed.
 *
 * Every measurement opens its own connection: through a Service's ClusterIP, kube-proxy picks a pod per
 * connection, so a kept-alive connection would send every measurement of the check to the pod the first
 * one reached, and a bad pod among good ones could pass or fail the whole check by chance.
 */
import type { Readable } from "node:stream";
import { Agent, request } from "undici";
import { evaluateCondition, parseCondition, type Value } from "../../api/gate-condition.ts";
import { lookup, parseJsonPath } from "../../api/gate-jsonpath.ts";
import type { Outcome } from "../../bluegreen/gates/measurement.ts";
import type { HttpRequestSpec } from "../../bluegreen/gates/work.ts";

export type { HttpRequestSpec };

/** Bodies beyond this are not read: a health endpoint answers in bytes, not megabytes. */
export const MAX_BODY_BYTES = 1024 * 1024;

const errorText = (e: unknown): string => {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause instanceof Error ? e.cause.message : undefined;
  return cause !== undefined && cause !== "" ? cause : e.message;
};

/** No keep-alive (undici: `pipelining: 0`): one connection per measurement (see above). */
const oneConnectionPerRequest = new Agent({ pipelining: 0 });

async function readCapped(body: Readable): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** A JSON value the condition language can compare, or why not. */
export function comparable(v: unknown): { ok: true; value: Value } | { ok: false; what: string } {
  if (v === null || typeof v === "number" || typeof v === "string" || typeof v === "boolean")
    return { ok: true, value: v };
  return { ok: false, what: Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : typeof v };
}

export async function measureHttp(spec: HttpRequestSpec, cancel?: AbortSignal): Promise<Outcome> {
  const timeout = AbortSignal.timeout(spec.timeoutMs);
  const signal = cancel === undefined ? timeout : AbortSignal.any([timeout, cancel]);
  let code: number;
  let body: string | undefined;
  try {
    const r = await request(spec.url, {
      dispatcher: oneConnectionPerRequest,
      method: spec.method,
      headers: { ...spec.headers },
      ...(spec.body !== undefined && spec.method === "POST" ? { body: spec.body } : {}),
      signal,
    });
    code = r.statusCode;
    body = await readCapped(r.body);
  } catch (e) {
    if (timeout.aborted) return { phase: "Error", message: `no answer within ${spec.timeoutMs / 1000}s` };
    if (cancel?.aborted === true) return { phase: "Error", message: "cancelled" };
    return { phase: "Error", message: `request failed: ${errorText(e)}` };
  }
  const status = `status ${code}`;
  const expected = spec.expectedStatus;
  const statusOk = expected === undefined ? code >= 200 && code < 300 : expected.includes(code);
  if (!statusOk)
    return {
      phase: "Failed",
      value: status,
      message: `expected ${expected === undefined ? "2xx" : expected.join(" or ")}`,
    };
  if (spec.successCondition === undefined) return { phase: "Successful", value: status };

  const condition = parseCondition(spec.successCondition);
  if (!condition.ok)
    return { phase: "Error", value: status, message: `successCondition: ${condition.message}` };
  if (body === undefined)
    return { phase: "Failed", value: status, message: `the body exceeds ${MAX_BODY_BYTES} bytes` };
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return { phase: "Failed", value: status, message: "the body is not JSON" };
  }
  const path = spec.jsonPath ?? "$";
  const steps = parseJsonPath(path);
  if (steps === undefined)
    return { phase: "Error", value: status, message: `jsonPath ${path} does not parse` };
  const found = lookup(doc, steps);
  if (!found.found) return { phase: "Failed", value: status, message: `the body has no ${found.at}` };
  const v = comparable(found.value);
  if (!v.ok)
    return { phase: "Failed", value: status, message: `${path} is ${v.what}, not a value to compare` };
  const shown = `${path} = ${JSON.stringify(v.value)}`;
  const e = evaluateCondition(condition.condition, v.value);
  if (!e.ok) return { phase: "Failed", value: shown, message: e.message };
  return e.holds
    ? { phase: "Successful", value: shown }
    : { phase: "Failed", value: shown, message: `${spec.successCondition} does not hold` };
}
