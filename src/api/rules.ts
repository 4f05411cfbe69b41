/**
 * The CEL rules the API server evaluates at admission (`x-kubernetes-validations`), each with the message a
 * person reads when kubectl refuses their resource. schema.ts attaches them to the schema nodes named in the
 * comments; validation.ts checks the same invariants in code for objects stored before a rule existed.
 *
 * Every string, array and map a rule iterates over has a maxLength/maxItems/maxProperties in the schema:
 * without them the API server estimates an unbounded cost and refuses the CRD.
 */
import { PREVIEW_SUFFIX, RESERVED_LABEL_PREFIX } from "./labels.ts";

export interface CelRule {
  readonly rule: string;
  readonly message: string;
  /** Where the API server reports the error, relative to the node the rule is on (`.port`). */
  readonly fieldPath?: string;
  readonly reason?:
    | "FieldValueInvalid"
    | "FieldValueForbidden"
    | "FieldValueRequired"
    | "FieldValueDuplicate";
}

/** A DNS-1035 label: what a Service name must be. */
export const DNS1035_LABEL = "^[a-z]([-a-z0-9]*[a-z0-9])?$";
/** A DNS-1123 label: what a container name must be. */
export const DNS1123_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/** A label key: optional DNS-1123 subdomain prefix and `/`, then a name of at most 63 characters. */
export const LABEL_KEY =
  "^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
/** A label value (its length, at most 63, is the schema's maxLength). */
export const LABEL_VALUE = "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";
/** A named container port (IANA_SVC_NAME): at most 15 characters, at least one letter. */
export const PORT_NAME = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/**
 * An image reference, as the container runtimes parse it (the grammar of distribution/reference):
 * `[host[:port]/]path[:tag][@digest]`. The path is lowercase components separated by `/`, each
 * alphanumeric runs joined by `.`, `_`, `__` or dashes; the host may be a bracketed IPv6 address; a tag
 * is up to 128 word characters, `.` and `-`, not starting with either; a digest is `algorithm:hex`
 * with at least 32 hex digits. An image outside it can never be pulled.
 */
const DOMAIN_COMPONENT = "([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const HOST = `(${DOMAIN_COMPONENT}([.]${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])`;
const PATH_COMPONENT = "[a-z0-9]+(([._]|__|[-]+)[a-z0-9]+)*";
const DIGEST = "[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
export const IMAGE_REFERENCE = `^(${HOST}(:[0-9]+)?/)?${PATH_COMPONENT}(/${PATH_COMPONENT})*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@${DIGEST})?$`;

/** A regular expression inside a single-quoted CEL string: its backslashes escaped. */
const celString = (pattern: string) => `'${pattern.replaceAll("\\", "\\\\")}'`;

/** The preview Service is `<name>-preview`, and a Service name has at most 63 characters. */
export const MAX_NAME_LENGTH = 63 - PREVIEW_SUFFIX.length;

// ---- on the root object (self is the whole BlueGreenDeployment) ----

export const NAME_IS_DNS1035: CelRule = {
  rule: `self.metadata.name.matches('${DNS1035_LABEL}')`,
  message:
    "metadata.name must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter and ending with a letter or digit): it names the Services the operator creates",
  fieldPath: ".metadata.name",
};

export const NAME_IS_SHORT: CelRule = {
  rule: `self.metadata.name.size() <= ${MAX_NAME_LENGTH}`,
  message: `metadata.name must be at most ${MAX_NAME_LENGTH} characters: the preview Service is named <metadata.name>-preview and Service names are limited to 63 characters`,
  fieldPath: ".metadata.name",
};

export const SERVICE_NAMES_DIFFER: CelRule = {
  rule:
    "(has(self.spec.preview) && has(self.spec.preview.enabled) && !self.spec.preview.enabled) || " +
    "(has(self.spec.service) && has(self.spec.service.name) ? self.spec.service.name : self.metadata.name) != " +
    "(has(self.spec.preview) && has(self.spec.preview.serviceName) ? self.spec.preview.serviceName : self.metadata.name + '-preview')",
  message:
    "the active Service (spec.service.name, default <metadata.name>) and the preview Service (spec.preview.serviceName, default <metadata.name>-preview) must have different names",
  fieldPath: ".spec",
};

export const SHORTHAND_SELECTOR: CelRule = {
  rule:
    "!has(self.spec.image) || !has(self.spec.selector) || " +
    "self.spec.selector.matchLabels.all(k, k == 'app' && self.spec.selector.matchLabels[k] == self.metadata.name)",
  message:
    "with spec.image (the shorthand) the pods are labelled app: <metadata.name>, so spec.selector.matchLabels may only contain that label; omit spec.selector or use spec.template",
  fieldPath: ".spec.selector",
};

// ---- on spec ----

export const NOT_TEMPLATE_AND_IMAGE: CelRule = {
  rule: "!(has(self.template) && has(self.image))",
  message: "set either spec.template (a full pod template) or spec.image (the shorthand), not both",
};

export const TEMPLATE_OR_IMAGE: CelRule = {
  rule: "has(self.template) || has(self.image)",
  message:
    "set either spec.template (a full pod template) or spec.image (the shorthand): one of them is required",
  reason: "FieldValueRequired",
};

export const PORT_ONLY_WITH_IMAGE: CelRule = {
  rule: "!has(self.port) || has(self.image)",
  message:
    "spec.port is the container port of the spec.image shorthand; with spec.template, declare ports in the template's containers",
  fieldPath: ".port",
  reason: "FieldValueForbidden",
};

export const SELECTOR_MATCHES_TEMPLATE: CelRule = {
  rule:
    "!has(self.selector) || !has(self.template) || self.selector.matchLabels.all(k, " +
    "has(self.template.metadata) && has(self.template.metadata.labels) && k in self.template.metadata.labels && " +
    "self.template.metadata.labels[k] == self.selector.matchLabels[k])",
  message:
    "every label in spec.selector.matchLabels must appear with the same value in spec.template.metadata.labels, otherwise the selector would not select the pods",
  fieldPath: ".selector",
};

export const TEMPLATE_HAS_LABELS: CelRule = {
  rule:
    "has(self.selector) || !has(self.template) || " +
    "(has(self.template.metadata) && has(self.template.metadata.labels) && size(self.template.metadata.labels) > 0)",
  message:
    "spec.template.metadata.labels must not be empty when spec.selector is omitted: the template's labels are then the selector",
  fieldPath: ".template",
  reason: "FieldValueRequired",
};

export const SHORTHAND_TARGET_PORT_IS_NUMBER: CelRule = {
  rule: "!has(self.image) || !has(self.service) || !has(self.service.targetPort) || type(self.service.targetPort) == int",
  message:
    "with spec.image (the shorthand) the container port has no name: set spec.service.targetPort to a number, or leave it out to use spec.port",
  fieldPath: ".service.targetPort",
};

/** Pod metadata added by the operator to one color must not move pods out of (or into) the selector. */
function metadataKeepsSelector(which: "activeMetadata" | "previewMetadata"): CelRule {
  const labels = `self.strategy.${which}.labels`;
  return {
    rule:
      `!has(self.strategy) || !has(self.strategy.${which}) || !has(${labels}) || ` +
      `(has(self.selector) ? self.selector.matchLabels.all(k, !(k in ${labels})) : ` +
      `has(self.image) ? !('app' in ${labels}) : ` +
      `!has(self.template) || !has(self.template.metadata) || !has(self.template.metadata.labels) || ` +
      `self.template.metadata.labels.all(k, !(k in ${labels})))`,
    message: `spec.strategy.${which}.labels must not set a label the selector uses (spec.selector.matchLabels, else the template's labels, else app for the shorthand): the pods would leave the selector`,
    fieldPath: `.strategy.${which}.labels`,
  };
}
export const ACTIVE_METADATA_KEEPS_SELECTOR = metadataKeepsSelector("activeMetadata");
export const PREVIEW_METADATA_KEEPS_SELECTOR = metadataKeepsSelector("previewMetadata");

// ---- on nested fields ----

/** On spec.selector. */
export const SELECTOR_IMMUTABLE: CelRule = {
  rule: "self == oldSelf",
  message:
    "spec.selector is immutable (a Deployment's selector cannot change); delete and recreate the BlueGreenDeployment to change it",
};

/** On spec.strategy.promotion. */
export const DELAY_NEEDS_AUTO: CelRule = {
  rule: "!has(self.delaySeconds) || self.delaySeconds == 0 || (has(self.mode) && self.mode == 'Auto')",
  message:
    "spec.strategy.promotion.delaySeconds is the wait before an automatic promotion and needs mode: Auto; with mode: Manual a person promotes, so leave delaySeconds at 0",
  fieldPath: ".delaySeconds",
};

/** On spec.template.spec.containers. */
export const CONTAINER_NAMES_UNIQUE: CelRule = {
  rule: "self.all(c, self.exists_one(d, d.name == c.name))",
  // Not reason FieldValueDuplicate: the API server prints that reason without the message.
  message: "container names in spec.template.spec.containers must be unique",
};

/** On a container's name. */
export const CONTAINER_NAME_IS_DNS1123: CelRule = {
  rule: `self.matches('${DNS1123_LABEL}')`,
  message:
    "a container name must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit",
};

const IMAGE_GRAMMAR =
  "an image reference: [registry-host[:port]/]repository[:tag][@digest], for example registry.example.com/team/app:v1.2 or app@sha256:<64 hex digits>; the repository is lowercase letters, digits and '.', '_', '-' between '/', a tag is up to 128 letters, digits, '_', '.', '-' (not starting with '.' or '-'), and there are no spaces or scheme (https://)";

/** On spec.image. */
export const SHORTHAND_IMAGE_IS_REFERENCE: CelRule = {
  rule: `self.matches(${celString(IMAGE_REFERENCE)})`,
  message: `spec.image must be ${IMAGE_GRAMMAR}: no runtime could pull it`,
};

/** On a container's image. */
export const CONTAINER_IMAGE_IS_REFERENCE: CelRule = {
  rule: `self.matches(${celString(IMAGE_REFERENCE)})`,
  message: `a container's image in spec.template.spec.containers must be ${IMAGE_GRAMMAR}: no runtime could pull it`,
};

/** On spec.service.name. */
export const SERVICE_NAME_IS_DNS1035: CelRule = {
  rule: `self.matches('${DNS1035_LABEL}')`,
  message:
    "spec.service.name must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter and ending with a letter or digit), as every Service name",
};

/** On spec.preview.serviceName. */
export const PREVIEW_SERVICE_NAME_IS_DNS1035: CelRule = {
  rule: `self.matches('${DNS1035_LABEL}')`,
  message:
    "spec.preview.serviceName must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter and ending with a letter or digit), as every Service name",
};

/** On spec.service.targetPort (int-or-string). */
export const TARGET_PORT_VALID: CelRule = {
  rule: `type(self) == int ? (self >= 1 && self <= 65535) : (self.size() <= 15 && self.matches('${PORT_NAME}') && self.matches('[a-z]'))`,
  message:
    "spec.service.targetPort must be a port number from 1 to 65535 or the name of a container port (at most 15 lowercase letters, digits and '-', with at least one letter)",
};

/**
 * On each of spec.service.additionalPorts. Only the range and the length: a regular expression on an
 * int-or-string (whose length the cost estimate cannot bound) in a list is over the API server's CEL
 * budget, so the name's syntax is checked in code (ADDITIONAL_TARGET_PORT_NAME), reported as InvalidSpec.
 */
export const ADDITIONAL_TARGET_PORT_VALID: CelRule = {
  rule: "!has(self.targetPort) || (type(self.targetPort) == int ? (self.targetPort >= 1 && self.targetPort <= 65535) : self.targetPort.size() <= 15)",
  message:
    "an additional port's targetPort must be a port number from 1 to 65535 or the name of a container port (at most 15 characters)",
  fieldPath: ".targetPort",
};

/** Checked in code only (see ADDITIONAL_TARGET_PORT_VALID). */
export const ADDITIONAL_TARGET_PORT_NAME: CelRule = {
  rule: `!has(self.targetPort) || type(self.targetPort) == int || (self.targetPort.matches('${PORT_NAME}') && self.targetPort.matches('[a-z]'))`,
  message:
    "an additional port's targetPort name must be lowercase letters, digits and '-', with at least one letter",
};

export const SERVICE_PORT_NAME_IS_DNS1123: CelRule = {
  rule: `self.matches('${DNS1123_LABEL}')`,
  message:
    "a Service port name must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit",
};

/** On spec.service: the main port is named http, and every port of a Service needs its own name and number. */
export const ADDITIONAL_PORTS_DISTINCT: CelRule = {
  rule: "!has(self.additionalPorts) || self.additionalPorts.all(p, p.name != 'http' && p.port != self.port && self.additionalPorts.exists_one(q, q.port == p.port && q.protocol == p.protocol))",
  message:
    "spec.service.additionalPorts: the name http and spec.service.port belong to the main port, and no two additional ports may share a port and protocol",
  fieldPath: ".additionalPorts",
};

export const SHORTHAND_ADDITIONAL_TARGET_PORTS_ARE_NUMBERS: CelRule = {
  rule: "!has(self.image) || !has(self.service) || !has(self.service.additionalPorts) || self.service.additionalPorts.all(p, !has(p.targetPort) || type(p.targetPort) == int)",
  message:
    "with spec.image (the shorthand) the container's ports have no names: the targetPort of spec.service.additionalPorts must be a number",
  fieldPath: ".service.additionalPorts",
};

/** On every label map users write (template labels, selector, active/preview metadata). */
export const NO_RESERVED_LABELS: CelRule = {
  rule: `self.all(k, !k.startsWith('${RESERVED_LABEL_PREFIX}'))`,
  message: `label keys with the prefix ${RESERVED_LABEL_PREFIX} are reserved for the operator`,
};

export const LABEL_KEYS_VALID: CelRule = {
  rule: `self.all(k, k.matches('${LABEL_KEY}'))`,
  message:
    "a label key must be a name of at most 63 characters (letters, digits, '-', '_', '.', starting and ending with a letter or digit), optionally after a DNS subdomain prefix and '/'",
};

export const LABEL_VALUES_VALID: CelRule = {
  rule: `self.all(k, self[k].matches('${LABEL_VALUE}'))`,
  message:
    "a label value must be empty or at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
};
