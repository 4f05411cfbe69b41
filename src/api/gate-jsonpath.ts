/**
 * The JSON path of an HTTP check (`$.checks.database.status`, `$.items[0]`, `$['x-ratio']`): a path to one
 * value, nothing more (no wildcards, filters or recursion), so what a check compares is never ambiguous.
 * JSON_PATH_PATTERN is the admission rule; parseJsonPath accepts exactly what it matches.
 */

const NAME = "[A-Za-z_][A-Za-z0-9_-]*";
const QUOTED = "'[^'\\\\]*'";
export const JSON_PATH_PATTERN = `^\\$((\\.${NAME})|(\\[[0-9]+\\])|(\\[${QUOTED}\\]))*$`;
export const MAX_JSON_PATH_LENGTH = 256;

export type PathStep = string | number;

const STEP = new RegExp(
  `(?:\\.(?<name>${NAME}))|(?:\\[(?<index>[0-9]+)\\])|(?:\\[(?<quoted>${QUOTED})\\])`,
  "y",
);

export function parseJsonPath(path: string): PathStep[] | undefined {
  if (!path.startsWith("$") || path.length > MAX_JSON_PATH_LENGTH) return undefined;
  const steps: PathStep[] = [];
  let pos = 1;
  while (pos < path.length) {
    STEP.lastIndex = pos;
    const g = STEP.exec(path)?.groups;
    if (g === undefined) return undefined;
    if (g.name !== undefined) steps.push(g.name);
    else if (g.index !== undefined) steps.push(Number(g.index));
    else if (g.quoted !== undefined) steps.push(g.quoted.slice(1, -1));
    pos = STEP.lastIndex;
  }
  return steps;
}

export type Lookup =
  | { readonly found: true; readonly value: unknown }
  | { readonly found: false; readonly at: string };

/** The value at the path, or where the path leaves the document. */
export function lookup(doc: unknown, steps: readonly PathStep[]): Lookup {
  let here: unknown = doc;
  let walked = "$";
  for (const step of steps) {
    walked +=
      typeof step === "number"
        ? `[${step}]`
        : /^[A-Za-z_][A-Za-z0-9_-]*$/.test(step)
          ? `.${step}`
          : `['${step}']`;
    if (typeof step === "number") {
      if (!Array.isArray(here) || step >= here.length) return { found: false, at: walked };
      here = here[step];
    } else {
      if (here === null || typeof here !== "object" || Array.isArray(here) || !Object.hasOwn(here, step))
        return { found: false, at: walked };
      here = (here as Record<string, unknown>)[step];
    }
  }
  return { found: true, value: here };
}
