/** The operator's flags: defaults, environment equivalents, durations, addresses, validation. */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { CommanderError } from "commander";
import { buildCommand, parseBindAddress, parseDuration, parseFlags } from "../../src/runtime/flags.ts";

const argv = (...args: string[]) => ["node", "main.ts", ...args];
const parse = (...args: string[]) => parseFlags(argv(...args), { exitOverride: true });

const ENV_KEYS = ["KUBECONFIG", ...buildCommand().options.flatMap((o) => (o.envVar ? [o.envVar] : []))];
let saved: Record<string, string | undefined> = {};
beforeEach(() => {
  saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const k of ENV_KEYS) delete process.env[k];
});
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe("flags", () => {
  it("defaults: cluster-wide, 4 workers, probes on :8081, metrics on :8080, no leader election", () => {
    assert.deepEqual(parse(), {
      kubeconfig: undefined,
      namespaces: [],
      workers: 4,
      gateConcurrency: 16,
      logLevel: "info",
      healthProbeBindAddress: ":8081",
      metricsBindAddress: ":8080",
      leaderElection: undefined,
      // Outside a pod there is no namespace of its own: no cluster-wide receivers.
      notificationsNamespace: undefined,
      shard: undefined,
    });
  });

  it("every flag has an environment variable", () => {
    const missing = buildCommand()
      .options.filter((o) => !["--help", "--version"].includes(o.long ?? "") && o.envVar === undefined)
      .map((o) => o.long);
    assert.deepEqual(missing, []);
  });

  it("reads every setting from the environment, and a flag wins over its variable", () => {
    Object.assign(process.env, {
      KUBECONFIG: "/k",
      BGO_NAMESPACES: "a,b",
      BGO_WORKERS: "8",
      BGO_GATE_CONCURRENCY: "32",
      BGO_LOG_LEVEL: "debug",
      BGO_HEALTH_PROBE_BIND_ADDRESS: "127.0.0.1:9441",
      BGO_METRICS_BIND_ADDRESS: "0",
      BGO_LEADER_ELECT: "true",
      BGO_LEADER_ELECT_LEASE_DURATION: "30s",
      BGO_LEADER_ELECT_RENEW_DEADLINE: "20s",
      BGO_LEADER_ELECT_RETRY_PERIOD: "4s",
      BGO_LEADER_ELECT_NAMESPACE: "ops",
      BGO_LEADER_ELECT_ID: "my-lease",
      BGO_NOTIFICATIONS_NAMESPACE: "ops",
      BGO_SHARD_COUNT: "3",
      BGO_SHARD_INDEX: "2",
    });
    assert.deepEqual(parse(), {
      kubeconfig: "/k",
      namespaces: ["a", "b"],
      workers: 8,
      gateConcurrency: 32,
      logLevel: "debug",
      healthProbeBindAddress: "127.0.0.1:9441",
      metricsBindAddress: undefined,
      leaderElection: {
        namespace: "ops",
        id: "my-lease",
        leaseDurationMs: 30_000,
        renewDeadlineMs: 20_000,
        retryPeriodMs: 4_000,
      },
      notificationsNamespace: "ops",
      shard: { index: 2, count: 3 },
    });
    assert.equal(parse("--workers", "2").workers, 2);
    assert.equal(parse("--gate-concurrency", "4").gateConcurrency, 4);
    assert.equal(parse("--notifications-namespace", "").notificationsNamespace, undefined);
    assert.equal(parse("--leader-elect=false").leaderElection, undefined);
  });

  it("BGO_LEADER_ELECT=false means off (not 'set, so on')", () => {
    process.env.BGO_LEADER_ELECT = "false";
    assert.equal(parse().leaderElection, undefined);
  });

  it("--namespace repeats and splits on commas", () => {
    assert.deepEqual(parse("-n", "a", "--namespace", "b,c").namespaces, ["a", "b", "c"]);
  });

  it("an empty or 0 address disables an endpoint", () => {
    const f = parse("--metrics-bind-address", "", "--health-probe-bind-address=0");
    assert.equal(f.metricsBindAddress, undefined);
    assert.equal(f.healthProbeBindAddress, undefined);
    assert.deepEqual(parseBindAddress(":8080"), { host: undefined, port: 8080 });
    assert.deepEqual(parseBindAddress("[::1]:0"), { host: "::1", port: 0 });
    assert.throws(() => parse("--metrics-bind-address", "8080"), CommanderError);
  });

  it("durations are Go-style", () => {
    assert.equal(parseDuration("15s"), 15_000);
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("1m30s"), 90_000);
    for (const bad of ["", "15", "-1s", "1x", "s", "0s"]) assert.throws(() => parseDuration(bad), bad);
  });

  it("refuses leader-election timings under which two replicas could lead at once", () => {
    const le = ["--leader-elect", "--leader-elect-namespace", "ops"];
    assert.throws(() => parse(...le, "--leader-elect-renew-deadline", "15s"), /lease-duration must exceed/);
    assert.throws(() => parse(...le, "--leader-elect-retry-period", "9s"), /1.2/);
    assert.equal(parse(...le).leaderElection?.leaseDurationMs, 15_000);
  });

  it("asks for the Lease's namespace outside a cluster", () => {
    assert.throws(() => parse("--leader-elect"), /leader-elect-namespace/);
  });

  it("shards: an index below the count; one shard is no sharding", () => {
    assert.deepEqual(parse("--shard-count=3", "--shard-index=0").shard, { index: 0, count: 3 });
    assert.equal(parse("--shard-count=1").shard, undefined);
    assert.throws(() => parse("--shard-count=3", "--shard-index=3"), /below --shard-count/);
    assert.throws(() => parse("--shard-index=1"), /below --shard-count/);
    assert.throws(() => parse("--shard-count=0"), CommanderError);
    assert.throws(() => parse("--shard-count=2", "--shard-index=-1"), CommanderError);
  });

  it("refuses bad values with the usage error", () => {
    assert.throws(() => parse("--workers", "0"), CommanderError);
    assert.throws(() => parse("--log-level", "trace"), CommanderError);
    assert.throws(() => parse("--no-such-flag"), CommanderError);
  });
});
