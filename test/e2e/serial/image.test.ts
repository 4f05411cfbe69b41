/**
 * The operator's image, built here by hack/build-image.sh (what `make image` runs) and proven. In the
 * serial phase: compiling the operator takes a core for a while, which starves parallel rollouts.
 * - podman loads the OCI archive, and its config runs the manifests' non-root user;
 * - the image's own entrypoint answers --version;
 * - pointed at the local cluster the way a pod is (in-cluster config: KUBERNETES_SERVICE_HOST/PORT and
 *   a ServiceAccount token mounted at /var/run/secrets/kubernetes.io/serviceaccount, deploy/rbac's
 *   namespaced Role), it reaches /readyz and rolls out a BlueGreenDeployment — as uid 65532, on a
 *   read-only root with only /tmp writable, as deploy/operator/deployment.yaml runs it.
 *
 * Neither podman nor crun can run a container in this VM (crun refuses hybrid cgroups; podman cannot
 * raise RLIMIT_NOFILE without CAP_SYS_RESOURCE), so the image runs as a container runtime would run
 * it, by hand: `umoci unpack` makes the runtime bundle (rootfs + config.json from the image config), and
 * unshare gives it its own mount and PID namespaces, a read-only bind of the rootfs, a tmpfs on /tmp,
 * proc, the usual device nodes and the token, then chroots and drops to the image's user. The host's
 * network namespace is kept: the cluster listens on loopback.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { freePort } from "../../harness/cluster.ts";
import { applyBgd, waitStatus } from "../bgd.ts";
import { deleteNamespace, env, kubectl, newNamespace, waitUntil } from "../lib.ts";
import { AUTO, clusterServer } from "../runtime-support.ts";

const REPO = resolve(import.meta.dirname, "../../..");
const VERSION = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string }).version;
const NOT_ROOT =
  process.getuid?.() !== 0 &&
  "building (mmdebstrap) and running (mount, chroot) the image need root; run as root or in a VM";

/** The runtime bundle `umoci unpack` makes: the image config as an OCI runtime config. */
interface RuntimeConfig {
  process: { user: { uid: number; gid: number }; args: string[]; env: string[]; cwd: string };
}

/** The pod spec's user and group (deploy/operator/deployment.yaml). */
function manifestUser(): { uid: number; gid: number } {
  const d = parseYaml(readFileSync(join(REPO, "deploy/operator/deployment.yaml"), "utf8")) as {
    spec: { template: { spec: { securityContext: { runAsUser: number; runAsGroup: number } } } };
  };
  const sc = d.spec.template.spec.securityContext;
  return { uid: sc.runAsUser, gid: sc.runAsGroup };
}

/** A path inside the rootfs with no symlink on the way: a mount target must not lead out of it. */
function inside(rootfs: string, path: string): string {
  let p = rootfs;
  for (const part of path.split("/").filter((s) => s !== "")) {
    p = join(p, part);
    try {
      if (lstatSync(p).isSymbolicLink()) throw new Error(`${p} is a symlink`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  return p;
}

interface RunOptions {
  readonly args?: readonly string[];
  readonly env?: readonly string[];
  /** Host directory bind-mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount. */
  readonly serviceAccountDir?: string;
}

/**
 * Starts the image's entrypoint as a container runtime would: own mount and PID namespaces, the rootfs
 * bound read-only, tmpfs /tmp, proc, /dev/{null,zero,random,urandom}, then chroot + the image's user,
 * working directory and environment.
 */
function runImage(rootfs: string, config: RuntimeConfig, o: RunOptions = {}): ChildProcess {
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const devices = ["null", "zero", "random", "urandom"];
  // Mount points are made before the rootfs turns read-only, as runtimes do.
  for (const d of devices) writeFileSync(inside(rootfs, `/dev/${d}`), "");
  const saTarget = inside(rootfs, "/var/run/secrets/kubernetes.io/serviceaccount");
  if (o.serviceAccountDir !== undefined) mkdirSync(saTarget, { recursive: true });
  const r = q(rootfs);
  const setup = [
    `mount --bind ${r} ${r}`,
    `mount -o remount,bind,ro ${r}`,
    `mount -t proc proc ${r}/proc`,
    `mount -t tmpfs -o nosuid,nodev,mode=1777,size=16m tmpfs ${r}/tmp`,
    ...devices.map((d) => `mount --bind /dev/${d} ${r}/dev/${d}`),
    ...(o.serviceAccountDir !== undefined
      ? [`mount --bind ${q(o.serviceAccountDir)} ${q(saTarget)}`, `mount -o remount,bind,ro ${q(saTarget)}`]
      : []),
  ];
  const { user, cwd, env: imageEnv, args } = config.process;
  const exec = [
    "exec env -i",
    ...[...imageEnv, ...(o.env ?? [])].map(q),
    `unshare --root=${r} --wd=${q(cwd)} --setuid=${user.uid} --setgid=${user.gid}`,
    ...[...args, ...(o.args ?? [])].map(q),
  ].join(" ");
  return spawn(
    "unshare",
    [
      "--mount",
      "--propagation=private",
      "--pid",
      "--fork",
      "--kill-child",
      "sh",
      "-ec",
      [...setup, exec].join("\n"),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
}

async function output(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
  const code = await new Promise<number | null>((res) => child.once("exit", (c) => res(c)));
  return { code, stdout, stderr };
}

/** The process the image's entrypoint became (the chroot's node), found by its parent chain. */
function entrypointPid(outer: number): number {
  for (let pid = outer, depth = 0; depth < 5; depth++) {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/);
    const next = Number(children[0]);
    if (!Number.isInteger(next) || next <= 0) break;
    pid = next;
    // Node names its main thread (comm is "MainThread"): recognise it by the entrypoint's argv instead.
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (argv[0] === "node" && argv[1] === "dist/src/runtime/main.js") return pid;
  }
  throw new Error(`no node process under ${outer}`);
}

/** deploy/rbac/<file>, with this test's namespaces instead of bluegreen-system and my-apps. */
function rbac(file: string, operatorNs: string, watchedNs: string): string {
  const items = parseAllDocuments(readFileSync(join(REPO, "deploy/rbac", file), "utf8")).map((d) => {
    const o = d.toJS() as {
      metadata: { namespace?: string };
      subjects?: { namespace?: string }[];
    };
    if (o.metadata.namespace === "bluegreen-system") o.metadata.namespace = operatorNs;
    if (o.metadata.namespace === "my-apps") o.metadata.namespace = watchedNs;
    for (const s of o.subjects ?? []) if (s.namespace === "bluegreen-system") s.namespace = operatorNs;
    return o;
  });
  return JSON.stringify({ apiVersion: "v1", kind: "List", items });
}

describe("the operator image", { skip: NOT_ROOT }, () => {
  const work = mkdtempSync(join(tmpdir(), "bgo-image-test-"));
  const layout = join(work, "oci");
  const bundle = join(work, "bundle");
  const rootfs = join(bundle, "rootfs");
  let archive = "";
  let config: RuntimeConfig | undefined;
  const namespaces: string[] = [];
  const running: ChildProcess[] = [];

  before(async () => {
    // Cold: about a minute (the Debian base and npm ci); warm: tsc and packing the operator layer.
    archive = execFileSync("bash", [join(REPO, "hack/build-image.sh"), work], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }).trim();
    mkdirSync(layout);
    execFileSync("tar", ["-xf", archive, "-C", layout]);
    execFileSync("umoci", ["unpack", "--image", `${layout}:${VERSION}`, bundle], { stdio: "ignore" });
    config = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8")) as RuntimeConfig;
  });

  after(async () => {
    for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await Promise.all(namespaces.map((n) => deleteNamespace(n)));
    rmSync(work, { recursive: true, force: true });
  });

  it("is an OCI archive podman loads, running the manifests' non-root user", async (t) => {
    const size = readFileSync(archive).length;
    t.diagnostic(`${archive}: ${(size / 1e6).toFixed(1)} MB`);
    t.diagnostic(readFileSync(join(work, "contents.txt"), "utf8"));
    // A storage of its own: nothing is left in the machine's podman store, parallel runs do not meet.
    const podman = (...args: string[]) =>
      execFileSync(
        "podman",
        [
          "--root",
          join(work, "podman"),
          "--runroot",
          join(work, "podman-run"),
          "--storage-driver",
          "vfs",
          ...args,
        ],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
      );
    const loaded = podman("load", "-i", archive);
    assert.match(loaded, new RegExp(`Loaded image: .*bluegreen-operator:${VERSION.replaceAll(".", "\\.")}`));
    const [inspected] = JSON.parse(podman("image", "inspect", `bluegreen-operator:${VERSION}`)) as {
      Config: { User: string; Entrypoint: string[]; WorkingDir: string };
    }[];
    const want = manifestUser();
    assert.deepEqual(inspected?.Config.User, `${want.uid}:${want.gid}`);
    assert.deepEqual(inspected?.Config.Entrypoint, ["node", "dist/src/runtime/main.js"]);
    assert.equal(inspected?.Config.WorkingDir, "/app");
    podman("rmi", "--all", "--force");
  });

  it("answers --version from its entrypoint", async () => {
    assert.ok(config !== undefined);
    const r = await output(runImage(rootfs, config, { args: ["--version"] }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), VERSION);
  });

  it("with its ServiceAccount, as uid 65532 on a read-only root, reaches /readyz and rolls out", async () => {
    assert.ok(config !== undefined);
    const [operatorNs, watchedNs] = await Promise.all([newNamespace("image-op"), newNamespace("image-app")]);
    namespaces.push(operatorNs, watchedNs);
    for (const f of ["service_account.yaml", "leader_election_role.yaml", "namespaced/role.yaml"])
      await kubectl(["apply", "-f", "-"], rbac(f, operatorNs, watchedNs));
    const sa = join(work, "serviceaccount");
    mkdirSync(sa);
    const token = await kubectl(["create", "token", "bluegreen-operator", "-n", operatorNs, "--duration=1h"]);
    writeFileSync(join(sa, "token"), token.trim());
    writeFileSync(join(sa, "namespace"), operatorNs);
    writeFileSync(join(sa, "ca.crt"), readFileSync(join(env("BGO_CLUSTER_DIR"), "pki", "ca.crt")));
    const server = new URL((await clusterServer()).server);
    const health = await freePort();
    const child = runImage(rootfs, config, {
      serviceAccountDir: sa,
      env: [`KUBERNETES_SERVICE_HOST=${server.hostname}`, `KUBERNETES_SERVICE_PORT=${server.port}`],
      args: [
        "--namespace",
        watchedNs,
        "--leader-elect",
        "--leader-elect-namespace",
        operatorNs,
        `--health-probe-bind-address=127.0.0.1:${health}`,
        "--metrics-bind-address=0",
      ],
    });
    running.push(child);
    let log = "";
    child.stdout?.on("data", (b: Buffer) => (log += b.toString()));
    child.stderr?.on("data", (b: Buffer) => (log += b.toString()));
    const exited = new Promise<void>((res) => child.once("exit", () => res()));
    let pid: number | undefined;
    try {
      await waitUntil("/readyz 200 from the image's operator", 60_000, async () => {
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${log}`);
        return (await fetch(`http://127.0.0.1:${health}/readyz`)).status === 200;
      });
      assert.ok(child.pid !== undefined);
      pid = entrypointPid(child.pid);
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const want = manifestUser();
      assert.match(
        status,
        new RegExp(`^Uid:\\s+${want.uid}\\s+${want.uid}\\s+${want.uid}\\s+${want.uid}$`, "m"),
      );
      assert.match(
        status,
        new RegExp(`^Gid:\\s+${want.gid}\\s+${want.gid}\\s+${want.gid}\\s+${want.gid}$`, "m"),
      );
      // mountinfo: "id parent major:minor root mountpoint options ..." as the process sees it.
      const mounts = readFileSync(`/proc/${pid}/mountinfo`, "utf8")
        .split("\n")
        .map((l) => l.split(" "))
        .filter((f) => f.length > 5);
      const root = mounts.filter((f) => f[4] === "/").at(-1);
      assert.ok(root?.[5]?.split(",").includes("ro"), `root mounted ${root?.[5]}`);
      const tmp = mounts.filter((f) => f[4] === "/tmp").at(-1);
      assert.ok(tmp?.[5]?.split(",").includes("rw"), `/tmp mounted ${tmp?.[5]}`);
      assert.match(log, /"msg":"Serving health probes"/);

      await applyBgd(watchedNs, "app", { image: "app:v1", strategy: AUTO });
      await waitStatus(watchedNs, "app", { phase: "Stable", activeColor: "blue" });
    } finally {
      // The operator is PID 1 of its namespace and handles SIGTERM (graceful shutdown); unshare, its
      // parent, ignores it.
      if (pid !== undefined) process.kill(pid, "SIGTERM");
      else child.kill("SIGKILL");
      await Promise.race([exited, sleep(15_000)]);
    }
    assert.equal(child.exitCode, 0, `a graceful shutdown: ${log.slice(-2000)}`);
  });
});
