/**
 * The CEL rules of rules.ts, evaluated in code. The API server enforces them at admission, but an object
 * stored before a rule existed (or under validation ratcheting) can still break one, and the controller
 * must refuse it with the same words instead of acting on it.
 */
import { gateViolations } from "./gates.ts";
import { activeServiceName, previewServiceName, RESERVED_LABEL_PREFIX } from "./labels.ts";
import * as R from "./rules.ts";
import type { BlueGreenDeployment } from "./schema.ts";
import { trafficViolations } from "./traffic.ts";

type Labels = Readonly<Record<string, string>> | undefined;

const regexps = new Map<string, RegExp>();
function matches(pattern: string, s: string): boolean {
  let re = regexps.get(pattern);
  if (re === undefined) {
    re = new RegExp(pattern);
    regexps.set(pattern, re);
  }
  return re.test(s);
}
const reservedKey = (labels: Labels) =>
  Object.keys(labels ?? {}).some((k) => k.startsWith(RESERVED_LABEL_PREFIX));
const badKey = (labels: Labels) => Object.keys(labels ?? {}).some((k) => !matches(R.LABEL_KEY, k));
const badValue = (labels: Labels) =>
  Object.values(labels ?? {}).some((v) => v.length > 63 || !matches(R.LABEL_VALUE, v));

/** Every rule of rules.ts and gate-rules.ts (but the update-only SELECTOR_IMMUTABLE) this object breaks, in schema order. */
export function ruleViolations(bgd: Pick<BlueGreenDeployment, "metadata" | "spec">): R.CelRule[] {
  const { spec } = bgd;
  const name = bgd.metadata.name;
  const broken: R.CelRule[] = [];
  const check = (ok: boolean, rule: R.CelRule) => {
    if (!ok) broken.push(rule);
  };

  check(matches(R.DNS1035_LABEL, name), R.NAME_IS_DNS1035);
  check(name.length <= R.MAX_NAME_LENGTH, R.NAME_IS_SHORT);
  check(
    !spec.preview.enabled || activeServiceName(name, spec) !== previewServiceName(name, spec),
    R.SERVICE_NAMES_DIFFER,
  );
  check(
    spec.image === undefined ||
      spec.selector === undefined ||
      Object.entries(spec.selector.matchLabels).every(([k, v]) => k === "app" && v === name),
    R.SHORTHAND_SELECTOR,
  );

  check(!(spec.template !== undefined && spec.image !== undefined), R.NOT_TEMPLATE_AND_IMAGE);
  check(spec.template !== undefined || spec.image !== undefined, R.TEMPLATE_OR_IMAGE);
  check(spec.port === undefined || spec.image !== undefined, R.PORT_ONLY_WITH_IMAGE);
  const templateLabels = spec.template?.metadata?.labels;
  check(
    spec.selector === undefined ||
      spec.template === undefined ||
      Object.entries(spec.selector.matchLabels).every(([k, v]) => templateLabels?.[k] === v),
    R.SELECTOR_MATCHES_TEMPLATE,
  );
  check(
    spec.selector !== undefined ||
      spec.template === undefined ||
      Object.keys(templateLabels ?? {}).length > 0,
    R.TEMPLATE_HAS_LABELS,
  );
  check(
    spec.image === undefined ||
      spec.service.targetPort === undefined ||
      typeof spec.service.targetPort === "number",
    R.SHORTHAND_TARGET_PORT_IS_NUMBER,
  );
  const selectorKeys = Object.keys(
    spec.selector?.matchLabels ?? (spec.image !== undefined ? { app: "" } : (templateLabels ?? {})),
  );
  const keepsSelector = (labels: Labels) => selectorKeys.every((k) => !(k in (labels ?? {})));
  check(keepsSelector(spec.strategy.activeMetadata?.labels), R.ACTIVE_METADATA_KEEPS_SELECTOR);
  check(keepsSelector(spec.strategy.previewMetadata?.labels), R.PREVIEW_METADATA_KEEPS_SELECTOR);

  const { promotion } = spec.strategy;
  check(promotion.delaySeconds === 0 || promotion.mode === "Auto", R.DELAY_NEEDS_AUTO);

  const containers = spec.template?.spec.containers ?? [];
  check(new Set(containers.map((c) => c.name)).size === containers.length, R.CONTAINER_NAMES_UNIQUE);
  check(
    containers.every((c) => matches(R.DNS1123_LABEL, c.name)),
    R.CONTAINER_NAME_IS_DNS1123,
  );
  check(
    containers.every((c) => matches(R.IMAGE_REFERENCE, c.image)),
    R.CONTAINER_IMAGE_IS_REFERENCE,
  );
  check(spec.image === undefined || matches(R.IMAGE_REFERENCE, spec.image), R.SHORTHAND_IMAGE_IS_REFERENCE);
  check(
    spec.service.name === undefined || matches(R.DNS1035_LABEL, spec.service.name),
    R.SERVICE_NAME_IS_DNS1035,
  );
  check(
    spec.preview.serviceName === undefined || matches(R.DNS1035_LABEL, spec.preview.serviceName),
    R.PREVIEW_SERVICE_NAME_IS_DNS1035,
  );
  const targetValid = (target: number | string | undefined) =>
    target === undefined ||
    (typeof target === "number"
      ? target >= 1 && target <= 65535
      : target.length <= 15 && matches(R.PORT_NAME, target) && /[a-z]/.test(target));
  check(targetValid(spec.service.targetPort), R.TARGET_PORT_VALID);
  const extra = spec.service.additionalPorts ?? [];
  check(
    extra.every(
      (p) =>
        p.targetPort === undefined ||
        (typeof p.targetPort === "number"
          ? p.targetPort >= 1 && p.targetPort <= 65535
          : p.targetPort.length <= 15),
    ),
    R.ADDITIONAL_TARGET_PORT_VALID,
  );
  check(
    extra.every((p) => targetValid(p.targetPort)),
    R.ADDITIONAL_TARGET_PORT_NAME,
  );
  check(
    extra.every((p) => matches(R.DNS1123_LABEL, p.name)),
    R.SERVICE_PORT_NAME_IS_DNS1123,
  );
  check(
    extra.every(
      (p) =>
        p.name !== "http" &&
        p.port !== spec.service.port &&
        extra.filter((q) => q.port === p.port && q.protocol === p.protocol).length === 1,
    ),
    R.ADDITIONAL_PORTS_DISTINCT,
  );
  check(
    spec.image === undefined ||
      extra.every((p) => p.targetPort === undefined || typeof p.targetPort === "number"),
    R.SHORTHAND_ADDITIONAL_TARGET_PORTS_ARE_NUMBERS,
  );

  const labelMaps: Labels[] = [
    templateLabels,
    spec.selector?.matchLabels,
    spec.strategy.activeMetadata?.labels,
    spec.strategy.previewMetadata?.labels,
  ];
  check(!labelMaps.some(reservedKey), R.NO_RESERVED_LABELS);
  check(!labelMaps.some(badKey), R.LABEL_KEYS_VALID);
  check(!labelMaps.some(badValue), R.LABEL_VALUES_VALID);
  broken.push(...trafficViolations(spec));
  broken.push(...gateViolations(spec.gates));
  return broken;
}
