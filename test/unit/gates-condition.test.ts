/**
 * The success-condition language: what it accepts, what it means, and that the CEL pattern the API server
 * applies at admission accepts exactly what the parser accepts (property-tested over random token soups).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  CONDITION_PATTERN,
  evaluateCondition,
  MAX_CONDITION_LENGTH,
  parseCondition,
  type Value,
} from "../../src/api/gate-condition.ts";

function holds(text: string, result: Value): boolean | string {
  const p = parseCondition(text);
  if (!p.ok) throw new Error(p.message);
  const e = evaluateCondition(p.condition, result);
  return e.ok ? e.holds : e.message;
}

describe("success conditions mean what they say", () => {
  const table: [string, Value, boolean | string][] = [
    ["result < 0.05", 0.01, true],
    ["result < 0.05", 0.05, false],
    ["result <= 0.05", 0.05, true],
    ["result > 100", 150, true],
    ["result >= -1.5e2", -150, true],
    ["0.05 > result", 0.3, false],
    ['result == "ok"', "ok", true],
    ["result == 'ok'", "OK", false],
    ['result != "down"', "up", true],
    ["result == true", true, true],
    ["result == null", null, true],
    ["result == 1", "1", false],
    ["result >= 0 && result < 10", 5, true],
    ["result >= 0 && result < 10", 10, false],
    ["result < 0 || result > 10", 11, true],
    ["result < 0 || result > 10", 3, false],
    // && binds tighter than ||: (a && b) || c
    ["result == 1 && result == 2 || result == 3", 3, true],
    ["result == 1 || result == 2 && result == 3", 2, false],
    ["result < 0.05", Number.NaN, false],
    ["result != 0", Number.NaN, true],
    ["result < 1", "0", "cannot compare string < number"],
    ["result > 1", null, "cannot compare null > number"],
  ];
  for (const [text, result, expected] of table) {
    it(`${text} with result ${JSON.stringify(result)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(holds(text, result), expected);
    });
  }
});

describe("conditions that do not parse are refused with where they stop", () => {
  const bad: [string, RegExp][] = [
    ["", /expected result, a number or a quoted string at the end/],
    ["result < ", /expected result, a number or a quoted string at the end/],
    ["result", /expected a comparison/],
    ["result < 0.05 &&", /at the end/],
    ["result < 0.05 and result > 0", /unexpected text at column 15: "and result >"/],
    ["result < 0.05 result > 0", /expected && or \|\| at column 15/],
    ["(result < 1)", /unexpected text at column 1/],
    ["result < 1; process.exit(1)", /unexpected text at column 11/],
    ["resultx < 1", /unexpected text at column 1/],
    ["result < .5", /unexpected text at column 10/],
    ['result == "a\\"b"', /unexpected text/],
    [`result < ${"1".repeat(MAX_CONDITION_LENGTH)}`, /at most 512 characters/],
  ];
  for (const [text, message] of bad) {
    it(`refuses ${JSON.stringify(text.slice(0, 40))}`, () => {
      const p = parseCondition(text);
      assert.equal(p.ok, false);
      if (!p.ok) assert.match(p.message, message);
    });
  }
});

describe("the admission pattern and the parser agree", () => {
  const pattern = new RegExp(CONDITION_PATTERN);
  const fragments = [
    "result",
    "true",
    "false",
    "null",
    "0.05",
    "-1",
    "1e3",
    "2.",
    ".5",
    "x",
    "resultx",
    '"ok"',
    "'ok'",
    '"a\\"',
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "!=",
    "=",
    "!",
    "&&",
    "||",
    "&",
    "|",
    "(",
    ")",
    " ",
    "\t",
    "\n",
  ];
  it("on random sequences of tokens and junk", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...fragments), { maxLength: 12 }),
        fc.boolean(),
        (parts, spaced) => {
          const text = parts.join(spaced ? " " : "");
          assert.equal(pattern.test(text), parseCondition(text).ok, JSON.stringify(text));
        },
      ),
      { numRuns: 3000 },
    );
  });
  it("on well-formed conditions (both accept)", () => {
    const operand = fc.oneof(
      fc.constant("result"),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
      fc.string({ unit: fc.constantFrom("a", "b", " ", "<", "|") }).map((s) => `"${s}"`),
    );
    const comparison = fc
      .tuple(operand, fc.constantFrom("<", "<=", ">", ">=", "==", "!="), operand)
      .map(([a, op, b]) => `${a} ${op} ${b}`);
    const condition = fc
      .array(fc.array(comparison, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 })
      .map((d) => d.map((c) => c.join(" && ")).join(" || "));
    fc.assert(
      fc.property(condition, (text) => {
        assert.ok(pattern.test(text), text);
        const p = parseCondition(text);
        assert.ok(p.ok, text);
      }),
      { numRuns: 1000 },
    );
  });
});
