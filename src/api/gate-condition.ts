/**
 * The success condition of a check (`result < 0.05`, `result == "ok" || result == "degraded"`): a small
 * language parsed and evaluated here, never by `eval`.
 *
 * The grammar is deliberately regular — comparisons joined by `&&` (binding tighter) and `||`, no
 * parentheses — so one regular expression, CONDITION_PATTERN, recognises exactly the conditions this parser
 * accepts. The CRD's CEL rule uses that pattern, so a condition that would not parse is refused at admission
 * instead of failing a rollout later. Any boolean formula can still be written (in disjunctive form).
 *
 *   condition  := conjunction ("||" conjunction)*
 *   conjunction:= comparison ("&&" comparison)*
 *   comparison := operand op operand
 *   operand    := "result" | number | string | "true" | "false" | "null"
 *   op         := "<" | "<=" | ">" | ">=" | "==" | "!="
 *   string     := '"' (no " or \)* '"'  |  "'" (no ' or \)* "'"
 */

/** A number as JSON writes it, plus the words Prometheus uses for the non-finite ones. */
const NUMBER = "-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?";
const STRING = `"[^"\\\\]*"|'[^'\\\\]*'`;
const OPERAND = `(result|true|false|null|${NUMBER}|${STRING})`;
const OP = "(<=|>=|==|!=|<|>)";
const WS = "[ \\t]*";
const COMPARISON = `${WS}${OPERAND}${WS}${OP}${WS}${OPERAND}${WS}`;
const CONJUNCTION = `${COMPARISON}(&&${COMPARISON})*`;

/** RE2 and ECMAScript alike: the CEL rule and the tests use this same text. */
export const CONDITION_PATTERN = `^${CONJUNCTION}([|][|]${CONJUNCTION})*$`;
/** Longest condition accepted (the CRD's maxLength; also bounds the CEL cost of matching it). */
export const MAX_CONDITION_LENGTH = 512;

export type Operand =
  | { readonly kind: "result" }
  | { readonly kind: "literal"; readonly value: number | string | boolean | null };
export type Operator = "<" | "<=" | ">" | ">=" | "==" | "!=";
export interface Comparison {
  readonly left: Operand;
  readonly op: Operator;
  readonly right: Operand;
}
/** Disjunctive form: the condition holds when every comparison of one of the conjunctions holds. */
export type Condition = ReadonlyArray<ReadonlyArray<Comparison>>;

export type ParsedCondition =
  | { readonly ok: true; readonly condition: Condition }
  | { readonly ok: false; readonly message: string };

type Token =
  | { readonly t: "operand"; readonly operand: Operand; readonly at: number }
  | { readonly t: "op"; readonly op: Operator; readonly at: number }
  | { readonly t: "and" | "or"; readonly at: number };

const TOKEN = new RegExp(
  `[ \\t]*(?:(?<word>result|true|false|null)(?![A-Za-z0-9_])|(?<num>${NUMBER})|(?<str>${STRING})|(?<op>${OP})|(?<and>&&)|(?<or>[|][|]))`,
  "y",
);

function tokenize(text: string): Token[] | { at: number } {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < text.length) {
    if (/^[ \t]*$/.test(text.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(text);
    const g = m?.groups;
    if (m === null || g === undefined)
      return { at: pos + (text.slice(pos).length - text.slice(pos).trimStart().length) };
    const at = m.index + (m[0].length - m[0].trimStart().length);
    if (g.word !== undefined) {
      const w = g.word;
      tokens.push({
        t: "operand",
        operand:
          w === "result"
            ? { kind: "result" }
            : { kind: "literal", value: w === "null" ? null : w === "true" },
        at,
      });
    } else if (g.num !== undefined)
      tokens.push({ t: "operand", operand: { kind: "literal", value: Number(g.num) }, at });
    else if (g.str !== undefined)
      tokens.push({ t: "operand", operand: { kind: "literal", value: g.str.slice(1, -1) }, at });
    else if (g.op !== undefined) tokens.push({ t: "op", op: g.op as Operator, at });
    else tokens.push({ t: g.and !== undefined ? "and" : "or", at });
    pos = TOKEN.lastIndex;
  }
  return tokens;
}

/** Parses a success condition; the message says where it stops making sense. */
export function parseCondition(text: string): ParsedCondition {
  if (text.length > MAX_CONDITION_LENGTH)
    return { ok: false, message: `a condition has at most ${MAX_CONDITION_LENGTH} characters` };
  const tokens = tokenize(text);
  if (!Array.isArray(tokens))
    return {
      ok: false,
      message: `unexpected text at column ${tokens.at + 1}: ${JSON.stringify(text.slice(tokens.at, tokens.at + 12))}`,
    };
  const disjunction: Comparison[][] = [];
  let conjunction: Comparison[] = [];
  let i = 0;
  const expected = (what: string): ParsedCondition => {
    const tok = tokens[i];
    return {
      ok: false,
      message:
        tok === undefined
          ? `expected ${what} at the end of ${JSON.stringify(text)}`
          : `expected ${what} at column ${tok.at + 1} of ${JSON.stringify(text)}`,
    };
  };
  for (;;) {
    const left = tokens[i];
    if (left?.t !== "operand") return expected("result, a number or a quoted string");
    const op = tokens[i + 1];
    i += 1;
    if (op?.t !== "op") return expected("a comparison (<, <=, >, >=, ==, !=)");
    const right = tokens[i + 1];
    i += 1;
    if (right?.t !== "operand") return expected("result, a number or a quoted string");
    i += 1;
    conjunction.push({ left: left.operand, op: op.op, right: right.operand });
    const next = tokens[i];
    if (next === undefined) break;
    if (next.t === "and") i += 1;
    else if (next.t === "or") {
      disjunction.push(conjunction);
      conjunction = [];
      i += 1;
    } else return expected("&& or ||");
  }
  disjunction.push(conjunction);
  return { ok: true, condition: disjunction };
}

export type Value = number | string | boolean | null;

export type Evaluation =
  | { readonly ok: true; readonly holds: boolean }
  | { readonly ok: false; readonly message: string };

const typeName = (v: Value): string => (v === null ? "null" : typeof v);

function compare(a: Value, op: Operator, b: Value): boolean | string {
  if (op === "==") return a === b;
  if (op === "!=") return a !== b;
  // Ordering only between two numbers or two strings; anything else is a mistake worth reporting.
  if (!((typeof a === "number" && typeof b === "number") || (typeof a === "string" && typeof b === "string")))
    return `cannot compare ${typeName(a)} ${op} ${typeName(b)}`;
  switch (op) {
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
  }
}

/**
 * Whether the condition holds for `result`. NaN (Prometheus' 0/0) compares as IEEE says: every ordering and
 * `==` are false, `!=` is true — so `result < 0.05` fails on NaN, which is the safe way to fail.
 */
export function evaluateCondition(condition: Condition, result: Value): Evaluation {
  const value = (o: Operand): Value => (o.kind === "result" ? result : o.value);
  for (const conjunction of condition) {
    let holds = true;
    for (const c of conjunction) {
      const r = compare(value(c.left), c.op, value(c.right));
      if (typeof r === "string") return { ok: false, message: r };
      if (!r) {
        holds = false;
        break;
      }
    }
    if (holds) return { ok: true, holds: true };
  }
  return { ok: true, holds: false };
}
