// The OpenAPI document as a judge of answers (not a test file: node --test picks up *.test.*
// only). `conformance(doc)` compiles the document's JSON Schemas with ajv (draft 2020-12, the
// dialect of OpenAPI 3.1) and checks an answer against the operation it belongs to: the status is
// one the operation lists (or its `default`, for errors), the media type is the response's, a JSON
// body matches the response's schema, a 201 has its `Location`, and a method the path does not
// list is a 405 whose `Allow` names exactly the methods it does list. It also counts which
// operations and statuses it saw, so a test can assert that a layer reached every route.
//
//   const judge = conformance(doc);
//   judge.check({ method: "POST", path: "/api/v1/executions", status: 201, contentType, headers, body });
//   judge.missing() // operations never seen
//
// Used by the Node tests (handle(), fetch(), the Node server, the CLI) and the Service Worker test.

import assert from "node:assert/strict";
import { Ajv2020 } from "ajv/dist/2020.js";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/**
 * The document's component schemas under `$defs` of one schema with an id (their `$ref`s
 * rewritten to match), so ajv resolves them without reading the rest of the document.
 * @param {any} doc
 */
function definitions(doc) {
  const text = JSON.stringify(doc.components.schemas).replaceAll('"#/components/schemas/', '"execman-openapi#/$defs/');
  return { $id: "execman-openapi", $defs: JSON.parse(text) };
}

/**
 * @param {any} schema a schema of the document (possibly a `$ref`)
 */
function rewrite(schema) {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"execman-openapi#/$defs/'));
}

/**
 * @typedef {object} Answer
 * @property {string} method
 * @property {string} path the request's path, percent-encoded, with or without its query
 * @property {number} status
 * @property {string | null} [contentType]
 * @property {Record<string, string | null | undefined>} [headers] lowercase names; absent: not checked
 * @property {unknown} body the parsed JSON body (null for none), or the text of a stream
 */

/**
 * @param {any} doc an OpenAPI 3.1 document
 */
export function conformance(doc) {
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
  ajv.addSchema(definitions(doc));
  /** @type {Map<any, import("ajv").ValidateFunction>} */
  const compiled = new Map();
  const validator = (/** @type {any} */ schema) => {
    let v = compiled.get(schema);
    if (!v) {
      v = ajv.compile(rewrite(schema));
      compiled.set(schema, v);
    }
    return v;
  };
  const resolve = (/** @type {any} */ object) =>
    object?.$ref
      ? object.$ref
          .slice(2)
          .split("/")
          .reduce((/** @type {any} */ o, /** @type {string} */ k) => o[k], doc)
      : object;
  const templates = Object.keys(doc.paths).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace("{id}", "[^/]+")}/?$`),
  }));
  /** @type {Set<string>} */
  const seen = new Set();
  const errorSchema = { $ref: "#/components/schemas/Error" };

  /**
   * Checks one answer; throws an AssertionError naming what does not conform.
   * @param {Answer} answer
   * @returns {string} the operation key `METHOD template`, or `METHOD (unknown path)`
   */
  function check(answer) {
    const { method, status, body } = answer;
    const path = answer.path.split("?")[0] ?? "";
    const what = `${method} ${answer.path} → ${status}`;
    const body$ = () => JSON.stringify(body)?.slice(0, 300);
    const json = (/** @type {any} */ schema) => {
      if (answer.contentType !== undefined) {
        assert.match(String(answer.contentType), /^application\/json\b/, `${what}: content-type`);
      }
      const v = validator(schema);
      assert.ok(v(body), `${what}: the body does not match its schema: ${ajv.errorsText(v.errors)}; body ${body$()}`);
    };
    const found = templates.find((t) => t.pattern.test(path));
    if (!found) {
      assert.equal(status, 404, `${what}: an unknown path`);
      json(errorSchema);
      seen.add(`${method.toUpperCase()} (unknown path)`);
      return `${method.toUpperCase()} (unknown path)`;
    }
    const item = doc.paths[found.template];
    const listed = METHODS.filter((m) => item[m]).map((m) => m.toUpperCase());
    const op = item[method.toLowerCase()];
    if (!op) {
      assert.equal(status, 405, `${what}: a method ${found.template} does not list (${listed.join(", ")})`);
      if (method.toUpperCase() !== "HEAD") json(errorSchema);
      if (answer.headers) {
        const allow = answer.headers.allow;
        assert.ok(typeof allow === "string", `${what}: a 405 without Allow`);
        assert.deepEqual(allow.split(/,\s*/).sort(), [...listed].sort(), `${what}: Allow`);
      }
      const key = `${method.toUpperCase()} ${found.template} (405)`;
      seen.add(key);
      return key;
    }
    const key = `${method.toUpperCase()} ${found.template}`;
    const response = resolve(op.responses[String(status)] ?? (status >= 400 ? op.responses.default : undefined));
    assert.ok(response, `${what}: status ${status} is not documented for ${key}`);
    seen.add(key);
    seen.add(`${key} ${status}`);
    const content = response.content;
    if (!content) {
      assert.ok(body === null || body === "" || body === undefined, `${what}: a body where none is documented`);
      return key;
    }
    if (content["application/json"]) {
      json(content["application/json"].schema);
    } else if (content["text/event-stream"] && answer.contentType !== undefined) {
      assert.match(String(answer.contentType), /^text\/event-stream\b/, `${what}: content-type`);
    }
    const location = response.headers?.Location;
    if (location && answer.headers) {
      const value = answer.headers.location;
      assert.equal(typeof value, "string", `${what}: a ${status} without Location`);
      const id = /** @type {{ id?: string }} */ (body).id;
      const m = /^\/api\/v1\/executions\/([A-Za-z0-9\-._~%]+)$/.exec(String(value));
      assert.ok(m?.[1] && decodeURIComponent(m[1]) === id, `${what}: Location ${value} for id ${id}`);
    }
    return key;
  }

  /** The operations (`METHOD template`) never checked so far. */
  function missing() {
    const all = [];
    for (const [template, item] of Object.entries(doc.paths)) {
      for (const m of METHODS) if (item[m]) all.push(`${m.toUpperCase()} ${template}`);
    }
    return all.filter((k) => !seen.has(k));
  }

  return { check, missing, seen };
}

/**
 * The document of the installed package's router.
 * @param {{ handle: (request: { method: string, path: string }) => { status: number, body: unknown } }} manager
 */
export function documentOf(manager) {
  const { status, body } = manager.handle({ method: "GET", path: "/api/v1/openapi.json" });
  assert.equal(status, 200);
  return /** @type {any} */ (body);
}
