/** hack/versions.sh from TypeScript: the pinned versions and the caches' paths, one source for both. */
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";

const REPO = resolve(import.meta.dirname, "../..");

/** A variable of hack/versions.sh (BGO_BIN, BGO_GATEWAY_CRDS, K8S_VERSION...). */
export function versionsVar(name: string): string {
  return execFileSync("bash", ["-c", `source "${REPO}/hack/versions.sh" && echo "$${name}"`], {
    encoding: "utf8",
  }).trim();
}
