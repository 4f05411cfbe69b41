/**
 * A byte pipe between a TCP address and a Unix socket, one connection per connection. Two of them
 * carry kube-apiserver's port into the cluster's network namespace: filesystem Unix sockets are
 * visible from every network namespace, loopback TCP ports are not. So the same kubeconfig
 * (https://127.0.0.1:PORT) works on the host and inside the namespace, and TLS stays end to end
 * (the bridge never sees a decrypted byte).
 *
 *   bridge.ts unix-to-tcp SOCKET 127.0.0.1:PORT   (host side: listens on SOCKET)
 *   bridge.ts tcp-to-unix 127.0.0.1:PORT SOCKET   (namespace side: listens on 127.0.0.1:PORT)
 */

import { rmSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";

type Address = { readonly path: string } | { readonly host: string; readonly port: number };

function parse(spec: string): Address {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(spec);
  if (m?.[1] !== undefined && m[2] !== undefined) return { host: m[1], port: Number(m[2]) };
  return { path: spec };
}

function splice(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  // Either side ending or failing ends both: a half-open pipe would hold a watch forever.
  for (const [x, y] of [
    [a, b],
    [b, a],
  ] as const) {
    x.on("error", () => y.destroy());
    x.on("close", () => y.destroy());
  }
}

const [mode, from, to] = process.argv.slice(2);
if ((mode !== "unix-to-tcp" && mode !== "tcp-to-unix") || from === undefined || to === undefined) {
  console.error("usage: bridge.ts unix-to-tcp SOCKET HOST:PORT | tcp-to-unix HOST:PORT SOCKET");
  process.exit(2);
}
const listen = parse(from);
const target = parse(to);
if ("path" in listen) rmSync(listen.path, { force: true });
const server = createServer({ noDelay: true }, (client) => {
  const upstream = "path" in target ? connect(target.path) : connect(target.port, target.host);
  upstream.setNoDelay(true);
  splice(client, upstream);
});
server.on("error", (err) => {
  console.error(`bridge ${from} → ${to}: ${err.message}`);
  process.exit(1);
});
if ("path" in listen) server.listen(listen.path, () => console.log(`bridge ${from} → ${to} ready`));
else server.listen(listen.port, listen.host, () => console.log(`bridge ${from} → ${to} ready`));
for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => process.exit(0));
// Whoever read the ready line may be gone (a bridge left running past its starter): never die of it.
process.stdout.on("error", () => {});
