/**
 * Shell completion. `__complete WORDS... PARTIAL` answers in cobra's protocol (one candidate per line,
 * then `:<directive>`), which is what kubectl (1.26+) expects from a `kubectl_complete-bluegreen`
 * executable on PATH — so `kubectl bluegreen <TAB>` completes commands, flags and BGD names. The bash and
 * zsh scripts make the same answers work for the `kubectl-bluegreen` executable itself.
 */

/** cobra's ShellCompDirectiveNoFileComp: do not fall back to file names. */
const NO_FILE_COMP = 4;

export const COMMANDS: Readonly<Record<string, string>> = {
  get: "Show a BlueGreenDeployment as a tree, or list them",
  list: "List BlueGreenDeployments",
  status: "Wait until the rollout is Stable (exit 0), failed (1) or timed out (2)",
  promote: "Approve the revision now in preview",
  abort: "Stop the rollout in progress; traffic stays",
  retry: "Retry an aborted rollout, or re-run Inconclusive gate checks",
  rollback: "Go back to the previous revision",
  pause: "Freeze the rollout where it is",
  resume: "Let a paused rollout go on",
  set: "Change the image of a BlueGreenDeployment",
  history: "Show promoted revisions",
  dashboard: "Serve a live web dashboard on this machine",
  version: "Show plugin, operator and server versions",
  completion: "Print a shell completion script",
};

/** Commands whose first argument is a BGD name. */
const TAKES_NAME = new Set([
  "get",
  "status",
  "promote",
  "abort",
  "retry",
  "rollback",
  "pause",
  "resume",
  "history",
]);

const GLOBAL_FLAGS = [
  "--kubeconfig",
  "--context",
  "--namespace",
  "--all-namespaces",
  "--output",
  "--request-timeout",
];
const COMMAND_FLAGS: Readonly<Record<string, readonly string[]>> = {
  get: ["--watch"],
  status: ["--timeout"],
  rollback: ["--to-revision", "--keep-spec"],
};
/** Flags followed by a value (as a separate word). */
const VALUE_FLAGS = new Set([
  "--kubeconfig",
  "--context",
  "-n",
  "--namespace",
  "-o",
  "--output",
  "--request-timeout",
  "--timeout",
  "--to-revision",
]);

export interface CompletionSource {
  /** BGD names in the namespace the words select (-n, --kubeconfig, --context). */
  names(flags: Readonly<Record<string, string>>): Promise<readonly string[]>;
  contexts(flags: Readonly<Record<string, string>>): readonly string[];
}

/** Candidates for the last word, given the words before it (everything after `bluegreen`). */
export async function complete(words: readonly string[], source: CompletionSource): Promise<string[]> {
  const prior = words.slice(0, -1);
  const partial = words.at(-1) ?? "";
  const positional: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < prior.length; i++) {
    const w = prior[i] ?? "";
    if (w.startsWith("-")) {
      const [flag = "", inline] = w.split("=", 2);
      if (inline !== undefined) flags[flag] = inline;
      else if (VALUE_FLAGS.has(flag) && i + 1 < prior.length) flags[flag] = prior[++i] ?? "";
    } else positional.push(w);
  }
  const previous = prior.at(-1) ?? "";
  const pending = VALUE_FLAGS.has(previous) && !(previous in flags) ? previous : undefined;
  const pick = (cands: readonly string[]) => cands.filter((c) => c.startsWith(partial.split("\t")[0] ?? ""));
  const command = positional[0];
  if (pending === "-o" || pending === "--output") return pick(["json", "yaml", "wide", "name"]);
  if (pending === "--context") return pick(source.contexts(flags));
  if (pending !== undefined) return [];
  if (partial.startsWith("-")) {
    return pick([
      ...(command !== undefined ? (COMMAND_FLAGS[command] ?? []) : []),
      ...GLOBAL_FLAGS,
      "--help",
    ]);
  }
  if (command === undefined) return pick(Object.entries(COMMANDS).map(([c, help]) => `${c}\t${help}`));
  if (command === "completion" && positional.length === 1) return pick(["bash", "zsh", "kubectl"]);
  if (command === "set" && positional.length === 1) return pick(["image\tSet the image of a container"]);
  const wantsName =
    (TAKES_NAME.has(command) && positional.length === 1) ||
    (command === "set" && positional[1] === "image" && positional.length === 2);
  if (wantsName) {
    try {
      return pick(await source.names(flags));
    } catch {
      return [];
    }
  }
  return [];
}

export function cobraAnswer(candidates: readonly string[]): string {
  return `${[...candidates, `:${NO_FILE_COMP}`].join("\n")}\n`;
}

export const BASH = `# bash completion for kubectl-bluegreen. Load with: source <(kubectl bluegreen completion bash)
_kubectl_bluegreen() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" out
  out=$(kubectl-bluegreen __complete "\${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null) || return
  out=$(printf '%s\\n' "$out" | sed -e '$d' | cut -f1)
  local IFS=$'\\n'
  COMPREPLY=($(compgen -W "$out" -- "$cur"))
}
complete -F _kubectl_bluegreen kubectl-bluegreen
`;

export const ZSH = `#compdef kubectl-bluegreen
# zsh completion for kubectl-bluegreen. Load with: source <(kubectl bluegreen completion zsh)
_kubectl_bluegreen() {
  local out
  out=$(kubectl-bluegreen __complete "\${(@)words[2,CURRENT-1]}" "\${words[CURRENT]}" 2>/dev/null) || return
  local -a lines cands descs
  lines=("\${(@f)out}")
  lines=("\${(@)lines[1,-2]}")
  cands=("\${(@)lines%%$'\\t'*}")
  descs=("\${(@)lines/$'\\t'/:}")
  _describe 'kubectl bluegreen' descs
}
if [ "$funcstack[1]" = "_kubectl_bluegreen" ]; then
  _kubectl_bluegreen "$@"
else
  compdef _kubectl_bluegreen kubectl-bluegreen
fi
`;

/** The executable kubectl runs to complete `kubectl bluegreen ...` (kubectl 1.26+). */
export const KUBECTL_HELPER = `#!/usr/bin/env sh
# Save as kubectl_complete-bluegreen on PATH (chmod +x): kubectl then completes "kubectl bluegreen ...".
exec kubectl-bluegreen __complete "$@"
`;
