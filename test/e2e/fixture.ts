/**
 * The usual setup of an e2e file: its own namespaces and one operator process that watches them,
 * made before its tests and removed after them (the BGDs first while the operator still runs, so
 * an adopted Service's hand-back finalizer cannot hold a namespace's deletion).
 */
import { after, before } from "node:test";
import { deleteNamespace, kubectl, newNamespace } from "./lib.ts";
import { type OperatorProcess, startOperator } from "./operator.ts";

export interface NamespacesWithOperator<K extends string> {
  /** The namespace of each name (filled in before the tests run). */
  readonly ns: Record<K, string>;
  /** The operator watching them (started before the tests run). */
  operator(): OperatorProcess;
}

/**
 * Registers before/after hooks: one namespace per name (`<prefix>-<name>-<random>`), and an
 * operator (its log file named after `name`) watching those of `watched` (default all).
 */
export function namespacesWithOperator<K extends string>(
  prefix: string,
  names: readonly K[],
  opts: {
    readonly name?: string;
    readonly watched?: readonly K[];
    readonly deleteBgdsFirst?: boolean;
    /** Where the operator runs (see startOperator); default inside the cluster's network namespace. */
    readonly network?: "cluster" | "host";
    /** More operator flags (see startOperator). */
    readonly args?: readonly string[];
  } = {},
): NamespacesWithOperator<K> {
  const ns = {} as Record<K, string>;
  let operator: OperatorProcess | undefined;
  before(async () => {
    await Promise.all(
      names.map(async (n) => {
        ns[n] = await newNamespace(`${prefix}-${n}`);
      }),
    );
    operator = await startOperator({
      namespaces: (opts.watched ?? names).map((n) => ns[n]),
      ...(opts.name !== undefined ? { name: opts.name } : {}),
      ...(opts.network !== undefined ? { network: opts.network } : {}),
      ...(opts.args !== undefined ? { args: opts.args } : {}),
    });
  });
  after(async () => {
    if (opts.deleteBgdsFirst === true) {
      await Promise.all(
        names.map((n) => kubectl(["delete", "bgd", "--all", "-n", ns[n], "--wait=true", "--timeout=60s"])),
      );
    }
    try {
      await operator?.stop();
    } finally {
      await Promise.all(names.map((n) => deleteNamespace(ns[n])));
    }
  });
  return {
    ns,
    operator: () => {
      if (operator === undefined) throw new Error("the operator starts in the before hook");
      return operator;
    },
  };
}
