/**
 * What the controller's caches keep of each object: the fields observe() and the reconciler read
 * (see the shapes in observe.ts), nothing else. The API returns far more — `managedFields` on every
 * object, a Pod's whole spec and status, a Deployment's conditions, a client-side apply's copy of the
 * whole BGD in an annotation — and the informers would hold all of it for every object in scope.
 * Applied by the informers as objects arrive (`InformerOptions.transform`).
 */
import { specHashOf } from "../api/template.ts";
import type { KubeObject } from "../kube/informer.ts";

type Json = Readonly<Record<string, unknown>>;

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Every field of metadata except `managedFields` (and, if asked, one annotation). */
function meta(o: KubeObject, dropAnnotation?: string): Json {
  const { managedFields: _managed, ...rest } = (o.metadata ?? {}) as Json;
  const annotations = rest.annotations;
  if (dropAnnotation === undefined || !isRecord(annotations) || !(dropAnnotation in annotations)) return rest;
  const { [dropAnnotation]: _dropped, ...kept } = annotations;
  return { ...rest, annotations: kept };
}

/** Copies the listed fields of `from` that are present. */
function pick(from: unknown, keys: readonly string[]): Json {
  if (!isRecord(from)) return {};
  const out: Record<string, unknown> = {};
  for (const k of keys) if (from[k] !== undefined) out[k] = from[k];
  return out;
}

/**
 * A BGD whole but for `managedFields` and kubectl's last-applied copy of it: the parser reads the
 * spec and status, the writes need the metadata (resourceVersion, generation, finalizers, our
 * annotations).
 */
export function slimBgd(o: KubeObject): KubeObject {
  return { ...(o as Json), metadata: meta(o, LAST_APPLIED) } as KubeObject;
}

/**
 * Of the spec, what observe() reads — replicas, the template's labels (the revision) and its containers'
 * images — and the hash of the whole spec as stored (`specHash`, compared with the one recorded in
 * bluegreen.io/spec-hash to find hand edits), computed once as the object arrives instead of on every
 * reconcile; of the status, the counts. A real pod template (probes, env, volumes, resources) is most
 * of a Deployment, and the cache held two per BGD.
 */
export function slimDeployment(o: KubeObject): KubeObject {
  const { apiVersion, kind, spec, status, specHash } = o as Json;
  const template = isRecord(spec) && isRecord(spec.template) ? spec.template : undefined;
  const labels = isRecord(template?.metadata) ? template.metadata.labels : undefined;
  const containers =
    isRecord(template?.spec) && Array.isArray(template.spec.containers) ? template.spec.containers : [];
  return {
    apiVersion,
    kind,
    metadata: meta(o),
    // Already slimmed (an informer may transform an object twice): the hash is of the spec as stored.
    specHash: typeof specHash === "string" ? specHash : specHashOf(spec),
    spec: {
      ...pick(spec, ["replicas"]),
      template: {
        metadata: labels !== undefined ? { labels } : {},
        spec: { containers: containers.map((c) => pick(c, ["image"])) },
      },
    },
    status: pick(status, [
      "observedGeneration",
      "replicas",
      "updatedReplicas",
      "readyReplicas",
      "availableReplicas",
    ]),
  } as KubeObject;
}

/**
 * What the domain judges of a Service (bluegreen/services.ts: selector, type, session affinity, ports,
 * labels, annotations). Every Service in scope is cached, the user's too (one named in
 * spec.service.name carries no label of ours until adopted), so each costs what this keeps.
 */
export function slimService(o: KubeObject): KubeObject {
  const { apiVersion, kind, spec } = o as Json;
  const ports = isRecord(spec) && Array.isArray(spec.ports) ? spec.ports : undefined;
  return {
    apiVersion,
    kind,
    metadata: meta(o),
    spec: {
      // clusterIP: gate URLs name it where there is no cluster DNS (observe.ts).
      ...pick(spec, ["selector", "type", "sessionAffinity", "clusterIP"]),
      ...(ports !== undefined
        ? { ports: ports.map((p) => pick(p, ["name", "protocol", "port", "targetPort"])) }
        : {}),
    },
  } as KubeObject;
}

/** An HTTPRoute: identity, annotations, and its rules' backendRefs (the weights we manage) only. */
export function slimHTTPRoute(o: KubeObject): KubeObject {
  const spec = (o as Json).spec;
  const rules = isRecord(spec) && Array.isArray(spec.rules) ? (spec.rules as unknown[]) : [];
  return {
    metadata: meta(o, LAST_APPLIED),
    spec: {
      rules: rules.map((r) => ({
        backendRefs: (isRecord(r) && Array.isArray(r.backendRefs) ? (r.backendRefs as unknown[]) : []).map(
          (b) => pick(b, ["group", "kind", "name", "namespace", "weight"]),
        ),
      })),
    },
  } as KubeObject;
}

/** A gate's Job whole but for `managedFields`: the gate reads its conditions and counts (gates/job.ts). */
export function slimJob(o: KubeObject): KubeObject {
  return { ...(o as Json), metadata: meta(o) } as KubeObject;
}

/** The notifications ConfigMap: its data (the receivers) and identity. */
export function slimConfigMap(o: KubeObject): KubeObject {
  const data = (o as Json).data;
  return { metadata: meta(o), ...(isRecord(data) ? { data } : {}) } as KubeObject;
}

/** Identity, labels and annotations (role metadata), deletion; readiness and IP. No spec. */
export function slimPod(o: KubeObject): KubeObject {
  const status = (o as Json).status;
  const conditions = isRecord(status) && Array.isArray(status.conditions) ? status.conditions : [];
  return {
    metadata: pick(o.metadata, [
      "name",
      "namespace",
      "uid",
      "resourceVersion",
      "labels",
      "annotations",
      "deletionTimestamp",
    ]),
    status: {
      ...pick(status, ["podIP"]),
      conditions: conditions.map((c) => pick(c, ["type", "status"])),
    },
  } as KubeObject;
}

/** Per endpoint: ready, and the Pod it is. */
export function slimEndpointSlice(o: KubeObject): KubeObject {
  const endpoints = (o as Json).endpoints;
  return {
    metadata: meta(o),
    endpoints: (Array.isArray(endpoints) ? endpoints : []).map((e) => ({
      conditions: pick(isRecord(e) ? e.conditions : undefined, ["ready"]),
      targetRef: pick(isRecord(e) ? e.targetRef : undefined, ["kind", "name"]),
    })),
  } as KubeObject;
}
