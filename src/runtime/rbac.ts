/**
 * The permissions the operator needs, derived from what src/controller calls:
 * - informers (controller.ts): list+watch BlueGreenDeployments, and Deployments, Services,
 *   EndpointSlices and Pods (the latter four by label);
 * - the writes executor.ts sends (rendered in bluegreen/writes.ts): server-side apply and merge
 *   patches of Deployments and Services, a merge patch of a BGD's annotations (abort), a PUT of its
 *   status, Events;
 * - traffic routing (spec.trafficRouting): list+watch of HTTPRoutes and a JSON patch of their weights;
 * - gates (controller/controller.ts): list+watch and create of Jobs, get of the Secrets http checks name,
 *   get of pods/log for a failed Job's log tail (controller/gates/job-log.ts);
 * - notifications (controller/notify/notifier.ts): list+watch of the ConfigMap bluegreen-notifications (by
 *   name), get of the Secrets its receivers name, Events of failed deliveries;
 * - leader election (leader.ts): get, create, update of one Lease in the operator's namespace (one
 *   per shard with --shard-count, named by shard.ts's shardLeaseName).
 *
 * deploy/rbac/*.yaml and the Helm chart render these; test/unit/runtime-rbac.test.ts keeps them in
 * step, and the e2e test runs a whole rollout with nothing but these rules.
 */

export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

/** In every watched namespace (a ClusterRole cluster-wide, a Role per namespace otherwise). */
export const OPERATOR_RULES: readonly PolicyRule[] = [
  {
    apiGroups: ["bluegreen.io"],
    resources: ["bluegreendeployments"],
    verbs: ["get", "list", "watch", "patch"],
  },
  { apiGroups: ["bluegreen.io"], resources: ["bluegreendeployments/status"], verbs: ["update"] },
  // blockOwnerDeletion on our owner references needs it where OwnerReferencesPermissionEnforcement is on.
  { apiGroups: ["bluegreen.io"], resources: ["bluegreendeployments/finalizers"], verbs: ["update"] },
  { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch", "create", "patch"] },
  { apiGroups: [""], resources: ["services"], verbs: ["get", "list", "watch", "create", "patch"] },
  { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
  // patch: role metadata (spec.strategy.activeMetadata/previewMetadata) on the pods of a color.
  { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch", "patch"] },
  // spec.trafficRouting: the user's HTTPRoute, read from the cache (never a get) and its weights patched.
  { apiGroups: ["gateway.networking.k8s.io"], resources: ["httproutes"], verbs: ["list", "watch", "patch"] },
  { apiGroups: [""], resources: ["events"], verbs: ["create"] },
  // Gates: the Jobs of job checks (created once per revision, watched until they finish) and the Secrets
  // an http check names for its headers — get only: a Secret is read by the name the BGD gives, never listed.
  { apiGroups: ["batch"], resources: ["jobs"], verbs: ["list", "watch", "create"] },
  { apiGroups: [""], resources: ["secrets"], verbs: ["get"] },
  // The log tail of a failed Job's pod (read once per failed Job; RBAC cannot narrow it to our Jobs' pods).
  { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
  // Notifications: receivers from the one ConfigMap of that name, listed and watched with its name as field
  // selector (the API server authorizes that against resourceNames); their Secrets by name, as above.
  {
    apiGroups: [""],
    resources: ["configmaps"],
    resourceNames: ["bluegreen-notifications"],
    verbs: ["list", "watch"],
  },
];

/** In the Lease's namespace only: the operator's Lease, or each shard's. */
export function leaderElectionRules(...leaseNames: readonly string[]): readonly PolicyRule[] {
  return [
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    {
      apiGroups: ["coordination.k8s.io"],
      resources: ["leases"],
      resourceNames: [...leaseNames],
      verbs: ["get", "update"],
    },
  ];
}
