/**
 * kubectl-bluegreen: the kubectl plugin for BlueGreenDeployments (`kubectl bluegreen ...`). Every command
 * maps onto something plain kubectl can do (an annotation or a spec edit the operator documents); the
 * plugin adds the reading of the status that makes it safe (which revision to approve, what to roll back
 * to) and a view of the rollout. Errors are one line on stderr; see EXIT CODES in --help.
 */
import { Command, CommanderError, Option } from "commander";
import { abort, type Outcome, pause, promote, resume, retry, rollbackKeepSpec } from "./commands/actions.ts";
import { dashboard } from "./commands/dashboard.ts";
import { rollback, setImage } from "./commands/edit.ts";
import { get } from "./commands/get.ts";
import { formatVersions, history, PLUGIN_VERSION, versions } from "./commands/info.ts";
import { status } from "./commands/status.ts";
import { BASH, COMMANDS, cobraAnswer, complete, KUBECTL_HELPER, ZSH } from "./completion.ts";
import { rec, str } from "./objects.ts";
import {
  bgdCollection,
  CliError,
  type GlobalFlags,
  openSession,
  parseDuration,
  type Session,
} from "./session.ts";

const out = process.stdout;
const ROOT_HELP = `
Examples:
  kubectl bluegreen get web                   # the rollout as a tree: colors, pods, events
  kubectl bluegreen get web --watch           # the same, redrawn live as the rollout moves
  kubectl bluegreen set image web app=registry/web:v2
  kubectl bluegreen promote web               # approve exactly the revision in preview
  kubectl bluegreen status web --timeout 5m   # for CI: exit 0 Stable, 1 Aborted/Degraded, 2 timeout
  kubectl bluegreen rollback web              # back to the previous revision (instant while warm)

Exit codes: 0 success; 1 error (not found, forbidden, unreachable, refused, rollout failed); 2 status timed out.`;

function session(cmd: Command): Session {
  return openSession(cmd.optsWithGlobals<GlobalFlags>(), PLUGIN_VERSION);
}

function finish(o: Outcome): void {
  (o.exitCode === 0 ? out : process.stderr).write(`${o.message}\n`);
  process.exitCode = o.exitCode;
}

function nameCommand(
  program: Command,
  name: string,
  help: string,
  act: (s: Session, bgd: string, cmd: Command) => Promise<Outcome>,
): Command {
  return program
    .command(`${name} <name>`)
    .description(help)
    .action(async (bgd: string, _opts: unknown, cmd: Command) => finish(await act(session(cmd), bgd, cmd)));
}

export function buildProgram(): Command {
  const program = new Command("kubectl bluegreen")
    .description("Blue-green releases with BlueGreenDeployments (bluegreen.io/v1).")
    .version(PLUGIN_VERSION, "--plugin-version", "print the plugin version")
    .addOption(
      new Option("--kubeconfig <path>", "path to the kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"),
    )
    .addOption(new Option("--context <name>", "the kubeconfig context to use"))
    .addOption(
      new Option("-n, --namespace <namespace>", "the namespace (default: the context's, else default)"),
    )
    .addOption(new Option("-A, --all-namespaces", "list across all namespaces (get/list)"))
    .addOption(new Option("-o, --output <format>", "output format: json|yaml|wide|name"))
    .addOption(
      new Option("--request-timeout <duration>", "time limit of one API request (0: none)").default("30s"),
    )
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .addHelpText("after", ROOT_HELP)
    .showSuggestionAfterError()
    .exitOverride();

  program
    .command("get [name]")
    .description("Show a BlueGreenDeployment as a tree (colors, pods, Services, events), or list them all")
    .option("-w, --watch", "keep the view up to date (redrawn in place on a terminal)")
    .addHelpText("after", "\nExamples:\n  kubectl bluegreen get web -w\n  kubectl bluegreen get -A -o wide")
    .action(async (name: string | undefined, opts: { watch?: boolean }, cmd: Command) => {
      await get(session(cmd), name, { watch: opts.watch === true, out });
    });
  program
    .command("list")
    .alias("ls")
    .description(COMMANDS.list ?? "")
    .option("-w, --watch", "keep the list up to date")
    .action(async (opts: { watch?: boolean }, cmd: Command) => {
      await get(session(cmd), undefined, { watch: opts.watch === true, out });
    });
  program
    .command("status <name>")
    .description(COMMANDS.status ?? "")
    .option("--timeout <duration>", "give up after this long, e.g. 90s, 5m (0: wait forever)", "0")
    .addHelpText(
      "after",
      "\nWaits for the revision the spec asks for. Prints a line when the phase or message changes.\nExit codes: 0 Stable, 1 Aborted or Degraded (or another error), 2 timed out.",
    )
    .action(async (name: string, opts: { timeout: string }, cmd: Command) => {
      const timeoutMs = parseDuration(opts.timeout, "--timeout");
      finish(await status(session(cmd), name, { timeoutMs, write: (l) => out.write(`${l}\n`) }));
    });
  nameCommand(program, "promote", "Approve the revision now in preview (exactly that one)", (s, bgd, cmd) =>
    promote(s, bgd, cmd.opts<{ revision?: string }>().revision),
  )
    .option("--revision <revision>", "approve only this revision: refused if another one is in preview")
    .addHelpText(
      "after",
      "\nSame as: kubectl annotate bgd NAME bluegreen.io/promote=<.status.previewRevision> --overwrite\nRefused when nothing awaits promotion.",
    );
  nameCommand(program, "abort", COMMANDS.abort ?? "", (s, bgd, cmd) =>
    abort(s, bgd, cmd.opts<{ revision?: string }>().revision),
  )
    .option("--revision <revision>", "abort only this revision: refused if another one is rolling out")
    .addHelpText(
      "after",
      "\nSame as: kubectl annotate bgd NAME bluegreen.io/abort=<revision> --overwrite\nThe live color keeps serving; the new color is scaled down.",
    );
  nameCommand(program, "retry", COMMANDS.retry ?? "", retry).addHelpText(
    "after",
    "\nAn aborted rollout, same as: kubectl annotate bgd NAME bluegreen.io/abort-\nWith no abort, re-runs the gate checks that ended Inconclusive for the revision rolling out: same as\nremoving their entries from .status.gates (a JSON patch of the status subresource, conditional on each\nstill being Inconclusive); the operator runs them again from their first measurement.",
  );
  nameCommand(program, "pause", COMMANDS.pause ?? "", pause).addHelpText(
    "after",
    "\nSame as: kubectl annotate bgd NAME bluegreen.io/paused=true",
  );
  nameCommand(program, "resume", COMMANDS.resume ?? "", resume).addHelpText(
    "after",
    "\nSame as: kubectl annotate bgd NAME bluegreen.io/paused-\nspec.paused (set in a manifest, e.g. by GitOps) must be changed there.",
  );
  program
    .command("rollback <name>")
    .description(
      "Go back to the previous revision: instant while its color is warm, else redeployed and promoted",
    )
    .option("--to-revision <revision>", "the revision (or a prefix of it) to go back to")
    .option(
      "--keep-spec",
      "leave the spec alone (GitOps): abort the live revision, traffic goes back to the warm previous color",
    )
    .addHelpText(
      "after",
      "\nWrites the revision's template (kept by its color's Deployment) back into the spec, as a person could\nwith kubectl edit. Only a revision still held by NAME-blue or NAME-green can be rolled back to; for an\nolder one, apply its manifest again. A GitOps tool undoes such an edit on its next sync.\n\nWith --keep-spec the spec is not touched: same as\n  kubectl annotate bgd NAME bluegreen.io/abort=<live revision> --overwrite\nTraffic switches back to the previous color while it is still warm (within scaleDownDelaySeconds) and\nstays there until the spec moves on to another revision; undo with: kubectl bluegreen retry NAME",
    )
    .action(async (name: string, opts: { toRevision?: string; keepSpec?: boolean }, cmd: Command) => {
      if (opts.keepSpec === true && opts.toRevision !== undefined)
        throw new CliError(
          "error: --keep-spec goes back to the previous color's revision; --to-revision edits the spec",
        );
      finish(
        opts.keepSpec === true
          ? await rollbackKeepSpec(session(cmd), name)
          : await rollback(session(cmd), name, opts.toRevision),
      );
    });
  program
    .command("set")
    .description(COMMANDS.set ?? "")
    .command("image <name> <image...>")
    .description("Set container images: [CONTAINER=]IMAGE (CONTAINER may be *); starts a rollout")
    .addHelpText(
      "after",
      "\nExamples:\n  kubectl bluegreen set image web registry/web:v2\n  kubectl bluegreen set image web app=registry/web:v2 sidecar=proxy:1.3",
    )
    .action(async (name: string, images: string[], _opts: unknown, cmd: Command) => {
      finish(await setImage(session(cmd), name, images));
    });
  program
    .command("history <name>")
    .description("Show promoted revisions, newest first, and which color still holds each")
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const s = session(cmd);
      out.write(`${await history(s, name, out)}\n`);
    });
  program
    .command("dashboard")
    .description("Serve a web dashboard of the rollouts (live; promote, abort, roll back) on this machine")
    .option("--port <port>", "the port to listen on (0: any free port)", "3100")
    .option("--address <address>", "the address to listen on (in a cluster: 0.0.0.0)", "127.0.0.1")
    .option("--read-only", "show only: every action is disabled")
    .option(
      "--prometheus <url>",
      "Prometheus for the traffic chart (requests/s and errors per revision); queried by this server only",
    )
    .option(
      "--prometheus-metric <name>",
      "the request counter, labelled namespace, revision and code",
      "http_requests_total",
    )
    .addHelpText(
      "after",
      "\nUses your kubeconfig's credentials: the page can do what you may do, and shows the API's refusals.\nExamples:\n  kubectl bluegreen dashboard -A\n  kubectl bluegreen dashboard -n prod --read-only --port 8080\n  kubectl bluegreen dashboard -n prod --prometheus http://127.0.0.1:9090",
    )
    .action(
      async (
        opts: {
          port: string;
          address: string;
          readOnly?: boolean;
          prometheus?: string;
          prometheusMetric: string;
        },
        cmd: Command,
      ) => {
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
        await dashboard(
          session(cmd),
          {
            port: opts.port,
            address: opts.address,
            readOnly: opts.readOnly === true,
            prometheus: opts.prometheus,
            prometheusMetric: opts.prometheusMetric,
          },
          (line) => out.write(`${line}\n`),
          stop.signal,
        );
      },
    );
  program
    .command("version")
    .description(COMMANDS.version ?? "")
    .action(async (_opts: unknown, cmd: Command) => {
      let s: Session | undefined;
      try {
        s = session(cmd);
      } catch {
        s = undefined;
      }
      out.write(`${formatVersions(await versions(s), s?.output)}\n`);
    });
  program
    .command("completion <shell>")
    .description("Print a completion script: bash, zsh, or kubectl (the kubectl_complete-bluegreen helper)")
    .addHelpText(
      "after",
      "\nExamples:\n  source <(kubectl bluegreen completion bash)\n  kubectl bluegreen completion kubectl > ~/.local/bin/kubectl_complete-bluegreen && chmod +x ~/.local/bin/kubectl_complete-bluegreen",
    )
    .action((shell: string) => {
      const script = { bash: BASH, zsh: ZSH, kubectl: KUBECTL_HELPER }[shell];
      if (script === undefined)
        throw new CliError(`error: unsupported shell "${shell}": use bash, zsh or kubectl`);
      out.write(script);
    });
  return program;
}

/** `__complete WORDS...` (cobra's protocol), handled before commander so flags in WORDS are not parsed. */
async function completeWords(words: readonly string[]): Promise<void> {
  const flagsOf = (f: Readonly<Record<string, string>>): GlobalFlags => ({
    ...(f["--kubeconfig"] !== undefined ? { kubeconfig: f["--kubeconfig"] } : {}),
    ...(f["--context"] !== undefined ? { context: f["--context"] } : {}),
    ...((f["-n"] ?? f["--namespace"]) !== undefined ? { namespace: f["-n"] ?? f["--namespace"] } : {}),
    requestTimeout: "5s",
  });
  const candidates = await complete(words, {
    async names(f) {
      const s = openSession(flagsOf(f), PLUGIN_VERSION);
      const page = await s.client.list(bgdCollection(s.namespace), {});
      return page.items.map((i) => str(rec(rec(i).metadata).name) ?? "").filter((n) => n !== "");
    },
    contexts() {
      return [];
    },
  });
  out.write(cobraAnswer(candidates));
}

export async function main(argv: readonly string[]): Promise<void> {
  if (argv[2] === "__complete") {
    await completeWords(argv.slice(3)).catch(() => out.write(cobraAnswer([])));
    return;
  }
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --plugin-version exit 0; usage errors were already printed (one line) by commander.
      process.exitCode = err.exitCode === 0 ? 0 : 1;
      if (err.exitCode !== 0 && !err.code.startsWith("commander.help"))
        process.stderr.write("See 'kubectl bluegreen --help' for usage.\n");
      return;
    }
    const e =
      err instanceof CliError
        ? err
        : new CliError(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.stderr.write(`${e.message.split("\n")[0]}\n`);
    process.exitCode = e.exitCode;
  }
}
