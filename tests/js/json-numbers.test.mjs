// Numbers in REST request bodies: the engine reads a body's JSON text itself, and every number
// in it must come out as JSON.parse makes it (correctly rounded; integers stay integers). Short
// decimals take the engine's fast path, longer ones JavaScript's own conversion.
import assert from "node:assert/strict";
import fc from "fast-check";
import { ExecutionManager } from "execman";
import { test } from "./helpers.mjs";

const digits = (min, max) => fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: min, maxLength: max });

/** A JSON number token: an integer part, maybe a fraction, maybe an exponent. */
const token = fc
  .tuple(
    fc.boolean(),
    fc.oneof(
      fc.constant("0"),
      fc.tuple(fc.constantFrom(..."123456789"), digits(0, 20)).map(([a, b]) => a + b),
    ),
    fc.option(digits(1, 25), { nil: undefined }),
    fc.option(fc.tuple(fc.constantFrom("e", "E"), fc.constantFrom("", "+", "-"), digits(1, 3)), { nil: undefined }),
  )
  .map(
    ([neg, int, frac, exp]) =>
      `${neg ? "-" : ""}${int}${frac === undefined ? "" : `.${frac}`}${exp ? exp.join("") : ""}`,
  );

/** JSON's own spelling of a double (the shortest that reads back), also in exponent form. */
const spelled = fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d));

test(
  "numbers in a POST body read as JSON.parse reads them",
  async () => {
    const m = new ExecutionManager();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(token, spelled), { minLength: 1, maxLength: 20 }), async (tokens) => {
        const text = `{"tracked":true,"id":"n${n++}","targetId":"t","inputs":[${tokens.join(",")}]}`;
        const expected = JSON.parse(text).inputs;
        const response = await m.fetch(
          new Request("http://in-process/api/v1/executions", {
            method: "POST",
            body: text,
            headers: { "content-type": "application/json" },
          }),
        );
        if (expected.some((x) => !Number.isFinite(x))) {
          // out of range (1e400): refused, as JSON cannot hold it
          assert.equal(response.status, 400);
          return;
        }
        assert.equal(response.status, 201, await response.text());
        const got = m.status(`n${n - 1}`).inputs;
        assert.equal(got.length, expected.length);
        for (const [i, x] of expected.entries()) {
          assert.ok(Object.is(got[i], x), `${tokens[i]}: ${Object.is(got[i], -0) ? "-0" : got[i]} !== ${x}`);
        }
      }),
      { numRuns: 300 },
    );
    m.free();
  },
  { timeout: 60_000 },
);

test("the extremes of doubles, long integers and -0.0 in a POST body keep their value", async () => {
  const m = new ExecutionManager();
  const text = '{"a":0.1,"b":1.7976931348623157e308,"c":5e-324,"d":123456789012345678901234567890,"e":-0.0}';
  const r = await m.fetch(
    new Request("http://in-process/api/v1/executions", {
      method: "POST",
      body: `{"tracked":true,"id":"x","targetId":"t","inputs":${text}}`,
      headers: { "content-type": "application/json" },
    }),
  );
  assert.equal(r.status, 201);
  assert.deepEqual(m.status("x").inputs, JSON.parse(text));
  m.free();
});
