/** Templated URLs and queries, and the JSON path of HTTP checks: what they render, what they refuse. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { JSON_PATH_PATTERN, lookup, parseJsonPath } from "../../src/api/gate-jsonpath.ts";
import {
  type GateContext,
  renderTemplate,
  TEMPLATE_TEXT_PATTERN,
  templateProblem,
  validTemplate,
} from "../../src/api/gate-template.ts";

const ctx: GateContext = {
  name: "web",
  namespace: "shop",
  activeColor: "blue",
  previewColor: "green",
  activeRevision: "5d8f7c",
  previewRevision: "9a1b2c",
  activeService: "web",
  previewService: "web-preview",
  activeServiceIP: "10.96.0.12",
  previewServiceIP: "10.96.0.13",
  servicePort: 80,
};

describe("templates", () => {
  it("render the preview Service's DNS name, ClusterIP and port", () => {
    assert.deepEqual(renderTemplate("http://{{previewServiceHost}}:{{servicePort}}/healthz", ctx), {
      ok: true,
      text: "http://web-preview.shop.svc:80/healthz",
    });
    assert.deepEqual(renderTemplate("http://{{ previewServiceIP }}/x?rev={{previewRevision}}", ctx), {
      ok: true,
      text: "http://10.96.0.13/x?rev=9a1b2c",
    });
  });
  it("render a PromQL query per revision (braces that are not references stay)", () => {
    const q =
      'sum(rate(http_requests_total{namespace="{{namespace}}",revision="{{previewRevision}}",code=~"5.."}[1m]))';
    assert.deepEqual(renderTemplate(q, ctx), {
      ok: true,
      text: 'sum(rate(http_requests_total{namespace="shop",revision="9a1b2c",code=~"5.."}[1m]))',
    });
  });
  it("refuse an unknown variable", () => {
    assert.deepEqual(renderTemplate("http://{{previewIP}}/", ctx), {
      ok: false,
      message: "unknown template variable {{previewIP}}",
    });
    assert.equal(
      templateProblem("{{name}} {{ nope }} {{namespace}}"),
      "unknown template variable {{ nope }}",
    );
    assert.equal(templateProblem("a {{{name}}} b"), "{{ must start a template variable");
    assert.equal(templateProblem("a {{ name b"), "{{ must start a template variable");
    assert.equal(templateProblem('up{job="x"} {'), undefined);
  });
  it("report a value not known yet instead of sending a request to a half-rendered URL", () => {
    assert.deepEqual(
      renderTemplate("http://{{previewServiceIP}}/", { ...ctx, previewServiceIP: undefined }),
      {
        ok: false,
        message: "previewServiceIP not known yet",
      },
    );
  });
  it("are accepted at admission exactly when every {{ starts a known variable, and then render completely", () => {
    const re = new RegExp(TEMPLATE_TEXT_PATTERN);
    const parts = ["{{", "}}", "{", "}", "name", " ", "previewServiceIP", "nope", "x", "\n", '"'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...parts), { maxLength: 10 }), (ps) => {
        const text = ps.join("");
        // An independent reading of the rule: every position where {{ occurs starts a known variable.
        const known = /^\{\{ *(name|namespace|previewServiceIP) *\}\}/;
        const expected = [...text].every((_, i) => !text.startsWith("{{", i) || known.test(text.slice(i)));
        assert.equal(re.test(text), expected, text);
        const r = renderTemplate(text, ctx);
        assert.equal(r.ok, validTemplate(text), text);
        if (r.ok) assert.ok(!/\{\{ *(name|previewServiceIP) *\}\}/.test(r.text), text);
      }),
      { numRuns: 3000 },
    );
  });
});

describe("JSON paths", () => {
  const doc = {
    status: "ok",
    checks: { db: { latencyMs: 12 } },
    items: [{ id: "a" }, { id: "b" }],
    "x-ratio": 0.1,
  };
  const table: [string, unknown][] = [
    ["$", doc],
    ["$.status", "ok"],
    ["$.checks.db.latencyMs", 12],
    ["$.items[1].id", "b"],
    ["$['x-ratio']", 0.1],
  ];
  for (const [path, value] of table) {
    it(`${path} finds ${JSON.stringify(value).slice(0, 30)}`, () => {
      const steps = parseJsonPath(path);
      assert.ok(steps !== undefined);
      assert.deepEqual(lookup(doc, steps), { found: true, value });
    });
  }
  it("say where a path leaves the document", () => {
    assert.deepEqual(lookup(doc, parseJsonPath("$.items[2].id") ?? []), { found: false, at: "$.items[2]" });
    assert.deepEqual(lookup(doc, parseJsonPath("$.status.code") ?? []), {
      found: false,
      at: "$.status.code",
    });
    assert.deepEqual(lookup(doc, parseJsonPath("$.toString") ?? []), { found: false, at: "$.toString" });
  });
  it("refuse what is not a plain path", () => {
    for (const bad of ["status", "$..status", "$.items[*]", "$.a[?(@.x)]", "$.1a", "$['a]"])
      assert.equal(parseJsonPath(bad), undefined, bad);
  });
  it("are accepted by the admission pattern exactly when they parse", () => {
    const re = new RegExp(JSON_PATH_PATTERN);
    const parts = ["$", ".a", ".b_1", ".-x", "[0]", "[12]", "['x-y']", "['", "]", "[", ".", "*", "..", "'"];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...parts), { maxLength: 8 }), (ps) => {
        const path = ps.join("");
        assert.equal(re.test(path), parseJsonPath(path) !== undefined, path);
      }),
      { numRuns: 2000 },
    );
  });
});
