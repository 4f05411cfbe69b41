/**
 * The permissions the operator needs, derived from what src/controller calls:
 * - informers (controller.ts): list+watch BlueGreenDeployments, and Deployments, Services,
 *   EndpointSlices and Pods (the latter four by label);
 * - executor.ts: server-side apply and merge patches of Deployments and Services, a merge patch of
 *   a BGD's annotations (abort), a PUT of its status, Events;
 * - leader election (leader.ts): get, create, update of one Lease in the operator's namespace.
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
  { apiGroups: [""], resources: ["events"], verbs: ["create"] },
];

/** In the Lease's namespace only. */
export function leaderElectionRules(leaseName: string): readonly PolicyRule[] {
  return [
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    {
      apiGroups: ["coordination.k8s.io"],
      resources: ["leases"],
      resourceNames: [leaseName],
      verbs: ["get", "update"],
    },
  ];
}
