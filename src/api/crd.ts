/**
 * Builds the CustomResourceDefinition from the TypeBox schemas in schema.ts. The conversion to a Kubernetes
 * structural schema is explicit and strict: every keyword is either translated or refused, so a TypeBox
 * feature Kubernetes does not understand fails `make manifests` instead of producing a CRD the API server
 * rejects (or, worse, reads differently, like TypeBox's numeric `exclusiveMinimum` against Kubernetes' boolean).
 */
import { stringify } from "yaml";
import { CRD_NAME, GROUP, KIND, LIST_KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION } from "./labels.ts";
import { BlueGreenDeployment, BlueGreenDeploymentSpec, BlueGreenDeploymentStatus } from "./schema.ts";

/** A JSON schema node as Kubernetes stores it (apiextensions.k8s.io/v1 JSONSchemaProps). */
export type JsonSchemaProps = { [key: string]: unknown };

/** Keywords copied as they are. */
const COPIED = new Set([
  "type",
  "format",
  "description",
  "default",
  "enum",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "pattern",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "nullable",
]);
/** TypeBox bookkeeping with no meaning for Kubernetes. */
const DROPPED = new Set(["$id", "$schema", "title"]);

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function fail(path: string, why: string): never {
  throw new Error(`cannot express the schema at ${path || "<root>"} in a CRD: ${why}`);
}

/** Converts one TypeBox schema (any node) to a structural schema node. */
export function toStructural(node: unknown, path = ""): JsonSchemaProps {
  if (!isRecord(node)) fail(path, "not a schema object");
  const out: JsonSchemaProps = {};
  // A union of string literals, the only unions besides int-or-string: an enum.
  if (Array.isArray(node.anyOf) && node["x-kubernetes-int-or-string"] !== true) {
    const values = node.anyOf.map((m) => (isRecord(m) && typeof m.const === "string" ? m.const : undefined));
    if (values.some((v) => v === undefined)) fail(path, "only unions of string literals are supported");
    out.type = "string";
    out.enum = values;
  }
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED.has(key)) continue;
    if (COPIED.has(key)) {
      out[key] = structuredClone(value);
    } else if (key.startsWith("x-kubernetes-")) {
      out[key] = structuredClone(value);
    } else if (key === "const") {
      out.enum = [value];
    } else if (key === "anyOf") {
      if (node["x-kubernetes-int-or-string"] === true) out.anyOf = [{ type: "integer" }, { type: "string" }];
    } else if (key === "properties") {
      if (!isRecord(value)) fail(path, "properties is not an object");
      const props: JsonSchemaProps = {};
      for (const [name, child] of Object.entries(value)) props[name] = toStructural(child, `${path}.${name}`);
      out.properties = props;
    } else if (key === "required") {
      // Defaulted properties are required in the TS type (always filled) but optional to the user.
      const props = isRecord(node.properties) ? node.properties : {};
      const required = (value as string[]).filter((n) => !(isRecord(props[n]) && "default" in props[n]));
      if (required.length > 0) out.required = required;
    } else if (key === "items") {
      out.items = toStructural(value, `${path}[]`);
    } else if (key === "patternProperties") {
      // Type.Record(Type.String(), X) -> a map of X.
      const entries = isRecord(value) ? Object.entries(value) : [];
      const only = entries[0];
      if (entries.length !== 1 || only === undefined || only[0] !== "^(.*)$")
        fail(path, "only Type.Record(Type.String(), X) maps are supported");
      out.additionalProperties = toStructural(only[1], `${path}{}`);
    } else if (key === "additionalProperties") {
      // `true` is the structural default; a schema here would be a map, which Type.Record expresses.
      if (typeof value !== "boolean") fail(path, "use Type.Record for maps");
      if (value === false) fail(path, "additionalProperties: false is not allowed in a structural schema");
    } else {
      fail(path, `unsupported keyword ${key}`);
    }
  }
  if (out.type === undefined && out["x-kubernetes-int-or-string"] !== true)
    fail(path, "every node needs a type (Type.Unknown/Any are not structural)");
  return ordered(out);
}

/** Keys in the order people read a schema in: what it is, its constraints, its children, then rules. */
const KEY_ORDER = [
  "description",
  "type",
  "format",
  "enum",
  "default",
  "nullable",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "pattern",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "anyOf",
  "x-kubernetes-int-or-string",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "required",
  "properties",
  "items",
  "additionalProperties",
  "x-kubernetes-validations",
];

function ordered(node: JsonSchemaProps): JsonSchemaProps {
  const rank = (k: string) => {
    const i = KEY_ORDER.indexOf(k);
    return i === -1 ? KEY_ORDER.length : i;
  };
  return Object.fromEntries(Object.entries(node).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b)));
}

/** The openAPIV3Schema of the CRD: spec and status from the schemas, metadata left to the API server. */
export function openApiV3Schema(): JsonSchemaProps {
  const root = toStructural({ ...BlueGreenDeployment, properties: {}, required: [] });
  return ordered({
    ...root,
    type: "object",
    properties: {
      apiVersion: {
        description: "APIVersion defines the versioned schema of this representation of an object.",
        type: "string",
      },
      kind: { description: "Kind is a string value representing the REST resource.", type: "string" },
      // Declared only so root rules can report at fieldPath .metadata.name. No maxLength here: the API
      // server would then skip every CEL rule and print "Too long" instead of why the limit exists.
      metadata: { type: "object", properties: { name: { type: "string" } } },
      spec: toStructural(BlueGreenDeploymentSpec, ".spec"),
      status: toStructural(BlueGreenDeploymentStatus, ".status"),
    },
    required: ["spec"],
  });
}

export function customResourceDefinition(): JsonSchemaProps {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: CRD_NAME },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: LIST_KIND,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: [...SHORT_NAMES],
        categories: ["all"],
      },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: openApiV3Schema() },
          subresources: {
            status: {},
            scale: {
              specReplicasPath: ".spec.replicas",
              statusReplicasPath: ".status.replicas",
              labelSelectorPath: ".status.selector",
            },
          },
          additionalPrinterColumns: [
            {
              name: "Active",
              type: "string",
              jsonPath: ".status.activeColor",
              description: "Color serving traffic",
            },
            { name: "Phase", type: "string", jsonPath: ".status.phase" },
            {
              name: "Ready",
              type: "string",
              jsonPath: ".status.ready",
              description: "Ready/desired active pods",
            },
            {
              name: "Image",
              type: "string",
              jsonPath: ".status.activeImage",
              description: "Active image(s)",
            },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
        },
      ],
    },
  };
}

export const CRD_PATH = "deploy/crd/bluegreen.io_bluegreendeployments.yaml";

/** The CRD file exactly as committed. */
export function renderCrdYaml(): string {
  const header = [
    "# Generated by `make manifests` (hack/generate-manifests.ts) from src/api/schema.ts. Do not edit:",
    "# change the schema and regenerate; `make lint` fails when this file is stale.",
  ].join("\n");
  return `${header}\n${stringify(customResourceDefinition(), { lineWidth: 0 })}`;
}
