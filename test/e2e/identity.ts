/**
 * The identity an e2e operator runs with, the one it has in a cluster: a ServiceAccount, granted the
 * RBAC of deploy/rbac (generated from src/runtime/rbac.ts) and nothing else, and a token of that
 * ServiceAccount from the TokenRequest API (`kubectl create token`). The API server then authorizes the
 * operator's requests as it would in production: a permission the manifests lack is refused (403), and
 * startOperator turns any such refusal into a failure (see refusedRequests).
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseAllDocuments } from "yaml";
import { type AuditEvent, auditOf } from "./audit.ts";
import { KubectlError, kubectl } from "./lib.ts";
import { tokenKubeconfig } from "./runtime-support.ts";

const REPO = resolve(import.meta.dirname, "../..");

export interface ServiceAccountRef {
  readonly namespace: string;
  readonly name: string;
}

/**
 * How the generated rules are granted: "namespaced" = deploy/rbac/namespaced/role.yaml (a Role and a
 * RoleBinding) in each watched namespace; "cluster" = deploy/rbac/cluster_role.yaml (the ClusterRole and
 * a ClusterRoleBinding).
 */
export type RbacMode = "namespaced" | "cluster";

/** The name the API server (and its audit log) knows the ServiceAccount by. */
export function serviceAccountUser(sa: ServiceAccountRef): string {
  return `system:serviceaccount:${sa.namespace}:${sa.name}`;
}

export interface RbacObject {
  readonly apiVersion: string;
  readonly kind: string;
  metadata: { name: string; namespace?: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

/** The identity the manifests in deploy/rbac are written for. */
const DEPLOY_SA: ServiceAccountRef = { namespace: "bluegreen-system", name: "bluegreen-operator" };
const DEPLOY_WATCHED = "my-apps";

/**
 * deploy/rbac/<file> made for `sa`: its namespace (`bluegreen-system`) becomes `namespace` (default the
 * ServiceAccount's, e.g. the Lease's namespace for the leader-election Role), `my-apps` becomes `watched`.
 * Bindings get the ServiceAccount in their name, so that two operators' bindings in one namespace (or two
 * ClusterRoleBindings) never overwrite each other; the roles keep theirs (same rules for everyone).
 */
export function rbacObjects(
  file: string,
  sa: ServiceAccountRef,
  opts: { readonly namespace?: string; readonly watched?: string } = {},
): RbacObject[] {
  const docs = parseAllDocuments(readFileSync(join(REPO, "deploy/rbac", file), "utf8")).map(
    (d) => d.toJS() as RbacObject,
  );
  for (const o of docs) {
    const m = o.metadata;
    if (m.namespace === DEPLOY_SA.namespace) m.namespace = opts.namespace ?? sa.namespace;
    if (m.namespace === DEPLOY_WATCHED) {
      if (opts.watched === undefined) throw new Error(`deploy/rbac/${file} needs a watched namespace`);
      m.namespace = opts.watched;
    }
    if (o.kind === "ServiceAccount") m.name = sa.name;
    if (o.kind.endsWith("Binding")) m.name = `${m.name}.${sa.namespace}.${sa.name}`;
    for (const s of o.subjects ?? []) {
      if (s.kind === "ServiceAccount" && s.namespace === DEPLOY_SA.namespace && s.name === DEPLOY_SA.name) {
        s.namespace = sa.namespace;
        s.name = sa.name;
      }
    }
  }
  return docs;
}

/**
 * Creates or updates the objects (server-side apply). Several test files grant the one shared
 * ClusterRole at the same moment: a create that lost that race is retried.
 */
export async function applyRbac(objects: readonly RbacObject[]): Promise<void> {
  const list = JSON.stringify({ apiVersion: "v1", kind: "List", items: objects });
  const args = ["apply", "--server-side", "--force-conflicts", "--field-manager=bgo-e2e", "-f", "-"];
  for (let attempt = 1; ; attempt++) {
    try {
      await kubectl(args, list);
      return;
    } catch (err) {
      const raced = err instanceof KubectlError && /AlreadyExists|already exists|conflict/i.test(err.stderr);
      if (!raced || attempt === 3) throw err;
      await sleep(200 * attempt);
    }
  }
}

export interface Grant {
  readonly sa: ServiceAccountRef;
  readonly mode: RbacMode;
  readonly watched: readonly string[];
  /** The namespace of the operator's Lease when it runs with --leader-elect (the leader-election Role). */
  readonly leaseNamespace?: string;
}

/**
 * Creates the ServiceAccount and grants it what an operator watching `watched` gets from the manifests.
 * Returns the cluster-scoped objects it made (they outlive the test's namespaces; revokeRbac deletes them).
 */
export async function grantRbac(g: Grant): Promise<string[]> {
  const objects = [
    ...rbacObjects("service_account.yaml", g.sa),
    ...(g.mode === "cluster"
      ? rbacObjects("cluster_role.yaml", g.sa)
      : g.watched.flatMap((w) => rbacObjects("namespaced/role.yaml", g.sa, { watched: w }))),
    ...(g.leaseNamespace !== undefined
      ? rbacObjects("leader_election_role.yaml", g.sa, { namespace: g.leaseNamespace })
      : []),
  ];
  await applyRbac(objects);
  // The ClusterRole is shared by every cluster-wide operator of the run and stays; bindings are per operator.
  return objects
    .filter((o) => o.kind === "ClusterRoleBinding")
    .map((o) => `clusterrolebinding.rbac.authorization.k8s.io/${o.metadata.name}`);
}

export async function revokeRbac(clusterObjects: readonly string[]): Promise<void> {
  for (const o of clusterObjects) await kubectl(["delete", o, "--ignore-not-found"]);
}

/**
 * A kubeconfig holding nothing but a fresh token of `sa`. The server is the API server's loopback
 * address, which the cluster's network namespace bridges to the host (test/harness/netns.ts): the same
 * file works for an operator on the host and one inside the namespace. Two hours outlast any e2e file.
 */
export async function serviceAccountKubeconfig(sa: ServiceAccountRef): Promise<string> {
  const token = (await kubectl(["create", "token", sa.name, "-n", sa.namespace, "--duration=2h"])).trim();
  return await tokenKubeconfig(sa.name, token);
}

/**
 * Requests of `user` the authorizer (RBAC) refused since `since` and still refuses: each one is asked
 * again with a SubjectAccessReview. A request refused then but allowed now was not a missing permission:
 * a kube-apiserver that has just restarted refuses everyone but system:masters until its RBAC caches are
 * filled (the apiserver-restart tests see it), and a test may grant late on purpose (runtime-rbac).
 * Refusals by admission or anything else are not the authorizer's and are not counted.
 */
export async function refusedRequests(user: string, since: Date): Promise<AuditEvent[]> {
  const refused = auditOf(user, { since }).filter(
    (e) => e.annotations?.["authorization.k8s.io/decision"] === "forbid",
  );
  if (refused.length === 0) return [];
  const reviews = refused.map((e) => ({
    apiVersion: "authorization.k8s.io/v1",
    kind: "SubjectAccessReview",
    spec: {
      user: e.user.username,
      groups: e.user.groups ?? [],
      resourceAttributes: {
        verb: e.verb,
        group: e.objectRef?.apiGroup ?? "",
        resource: e.objectRef?.resource ?? "",
        subresource: e.objectRef?.subresource ?? "",
        namespace: e.objectRef?.namespace ?? "",
        name: e.objectRef?.name ?? "",
      },
    },
  }));
  // kubectl prints each created review in turn: one line per request, "true" or "false".
  const allowed = (
    await kubectl(
      ["create", "-f", "-", "-o", 'jsonpath={.status.allowed}{"\\n"}'],
      JSON.stringify({ apiVersion: "v1", kind: "List", items: reviews }),
    )
  )
    .trim()
    .split("\n");
  if (allowed.length !== refused.length)
    throw new Error(`${refused.length} reviews, answers: ${allowed.join(",")}`);
  return refused.filter((_, i) => allowed[i] !== "true");
}
