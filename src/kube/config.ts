/**
 * Loading a kubeconfig, and one connection pool per cluster+user: @kubernetes/client-node 2.0.1 makes
 * a new undici Agent (a new TLS handshake) for every request otherwise (see kube.ts).
 */
import { KubeConfig, type RequestContext } from "@kubernetes/client-node";

export type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

/**
 * Reuses one undici dispatcher per cluster+user instead of the fresh one client-node makes for every
 * request, so keep-alive connections are actually reused. Returns the dispatcher to use.
 */
export function pooled(
  pools: Map<string, Dispatcher>,
  kc: KubeConfig,
  fresh: Dispatcher | undefined,
): Dispatcher | undefined {
  if (fresh === undefined) return undefined;
  const key = JSON.stringify([kc.getCurrentCluster()?.name ?? "", kc.getCurrentUser()?.name ?? ""]);
  const existing = pools.get(key);
  if (existing === undefined) {
    pools.set(key, fresh);
    return fresh;
  }
  // A PooledKubeConfig already hands out the shared dispatcher: closing it would kill the pool.
  if (existing === fresh) return existing;
  // Never used for a request, so closing it opens nothing; it only releases the object.
  void fresh.close().catch(() => {});
  return existing;
}

/** A KubeConfig whose typed API clients share one connection pool per cluster+user. */
export class PooledKubeConfig extends KubeConfig {
  readonly #pools = new Map<string, Dispatcher>();

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const d = pooled(this.#pools, this, context.getDispatcher());
    if (d !== undefined) context.setDispatcher(d);
  }
}

/**
 * Loads a kubeconfig: the explicit `path` if given, else `$KUBECONFIG`, else client-node's default
 * search (~/.kube/config, then the in-cluster service account).
 */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new PooledKubeConfig();
  if (path !== undefined && path !== "") kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (kc.getCurrentCluster() === null) {
    throw new Error(`kubeconfig ${path ?? process.env.KUBECONFIG ?? "(default)"} has no current cluster`);
  }
  return kc;
}
