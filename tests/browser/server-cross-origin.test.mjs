// execman/server against a real browser: a page of another origin (a second 127.0.0.1 server on
// another port) tries every request a page may send without the server's consent — no-cors
// fetches with a text/plain, form or empty body, form submissions, sendBeacon, a CORS fetch with
// JSON — and a page reached through a re-pointed name (DNS rebinding, simulated with Chromium's
// --host-resolver-rules) tries same-origin JSON requests. Node then checks that the manager has
// no new execution and that the target execution is still running, and that each request did
// reach the server (its log) and was refused there.
//
// Run: node --test tests/browser/server-cross-origin.test.mjs   (needs pkg/ built, the package
// installed in node_modules as scripts/test.sh does, and /usr/bin/chromium)
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, test } from "node:test";
import { ExecutionManager } from "execman";
import { createListener, serve } from "execman/server";
import { checkPrerequisites, launchChromium } from "./helpers.mjs";

const REBIND_NAME = "rebind.test";

/** Starts an http.Server on an ephemeral 127.0.0.1 port. */
async function listen(handler) {
  const server = http.createServer(handler);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    });
  return { port: server.address().port, close };
}

let manager;
let api; // the execman server under attack (createListener in a logging http.Server)
let corsApi; // a second execman server that grants CORS to the page's origin
let corsManager;
let site; // the other origin: serves the attacking page
let browser;
const log = []; // what reached the API server and how it answered

const PAGE = `<!doctype html><meta charset="utf-8"><title>another site</title><p>another site</p>`;

before(async () => {
  checkPrerequisites();
  manager = new ExecutionManager({ concurrency: Infinity });
  manager.register(
    "gated",
    (inputs, ctx) =>
      new Promise((resolve, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))),
  );
  manager.create({ targetId: "gated", id: "victim" });

  const listener = createListener({ manager });
  api = await listen((req, res) => {
    res.on("finish", () =>
      log.push({
        method: req.method,
        url: req.url,
        host: req.headers.host,
        type: req.headers["content-type"] ?? null,
        status: res.statusCode,
      }),
    );
    // The page of the rebinding case, served from this port (as the attacker's server was,
    // before the name was re-pointed): a test-only route in front of execman's listener.
    if (req.url === "/rebind.html") {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(PAGE);
      return;
    }
    listener(req, res);
  });
  site = await listen((req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(PAGE);
  });
  corsManager = new ExecutionManager();
  corsManager.register("gated", () => new Promise(() => {}));
  corsApi = await serve({ manager: corsManager, cors: { origin: `http://127.0.0.1:${site.port}` } });
  browser = await launchChromium(30_000, { args: [`--host-resolver-rules=MAP ${REBIND_NAME} 127.0.0.1`] });
});

after(async () => {
  await browser?.close().catch(() => {});
  await Promise.all([api?.close(), site?.close(), corsApi?.close()]);
  manager?.free();
  corsManager?.free();
});

/** Waits until `pred()` holds (polling), failing after `ms`. */
async function until(pred, what, ms = 10_000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}; log: ${JSON.stringify(log)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("a page of another origin cannot create or cancel: no-cors fetches, forms, beacons and CORS fetches are refused", {
  timeout: 60_000,
}, async () => {
  await until(() => manager.status("victim")?.status === "running", "victim running");
  const before = manager.counts();
  const page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(`http://127.0.0.1:${site.port}/`);
  const apiBase = `http://127.0.0.1:${api.port}/api/v1/executions`;

  const outcome = await page.evaluate(async (base) => {
    const results = {};
    const tryIt = async (name, fn) => {
      try {
        results[name] = await fn();
      } catch (error) {
        results[name] = `threw ${error.name}`;
      }
    };
    const create = (id) => JSON.stringify({ targetId: "gated", id });
    // no-cors fetches: the browser sends them, the page cannot read the answer.
    await tryIt("no-cors text/plain create", async () => {
      const r = await fetch(base, {
        method: "POST",
        mode: "no-cors",
        headers: { "content-type": "text/plain" },
        body: create("evil-fetch"),
      });
      return r.type;
    });
    await tryIt(
      "no-cors bodiless cancel",
      async () => (await fetch(`${base}/victim/cancel`, { method: "POST", mode: "no-cors" })).type,
    );
    await tryIt("no-cors text/plain cancel", async () => {
      const r = await fetch(`${base}/victim/cancel`, {
        method: "POST",
        mode: "no-cors",
        body: JSON.stringify({ reason: "pwned" }),
      });
      return r.type;
    });
    await tryIt("no-cors urlencoded create", async () => {
      const r = await fetch(base, {
        method: "POST",
        mode: "no-cors",
        body: new URLSearchParams({ targetId: "gated", id: "evil-urlencoded" }),
      });
      return r.type;
    });
    // A CORS fetch with JSON needs a preflight, which the server does not grant.
    await tryIt("cors JSON create", async () => {
      const r = await fetch(base, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: create("evil-cors"),
      });
      return r.status;
    });
    // Beacons: text/plain, and empty.
    results["beacon create"] = navigator.sendBeacon(base, create("evil-beacon"));
    results["beacon cancel"] = navigator.sendBeacon(`${base}/victim/cancel`);
    // Form submissions into a hidden frame: text/plain (the JSON-smuggling trick), urlencoded, multipart.
    const submit = (action, enctype, fields) =>
      new Promise((resolve) => {
        const frame = document.createElement("iframe");
        frame.name = `sink-${Math.random().toString(36).slice(2)}`;
        document.body.append(frame);
        const form = document.createElement("form");
        Object.assign(form, { method: "POST", action, enctype, target: frame.name });
        for (const [name, value] of Object.entries(fields)) {
          const input = document.createElement("input");
          Object.assign(input, { type: "hidden", name, value });
          form.append(input);
        }
        document.body.append(form);
        const timer = setTimeout(() => resolve("no load event"), 5000);
        frame.addEventListener("load", () => {
          clearTimeout(timer);
          resolve("loaded");
        });
        form.submit();
      });
    results["form text/plain create"] = await submit(base, "text/plain", {
      '{"targetId":"gated","id":"evil-form","pad":"': '"}',
    });
    results["form urlencoded cancel"] = await submit(`${base}/victim/cancel`, "application/x-www-form-urlencoded", {
      reason: "pwned",
    });
    results["form multipart create"] = await submit(base, "multipart/form-data", {
      targetId: "gated",
      id: "evil-multipart",
    });
    return results;
  }, apiBase);

  // Every attempt was made, and reached the server (beacons are sent in the background).
  assert.equal(outcome["no-cors text/plain create"], "opaque");
  assert.equal(outcome["no-cors bodiless cancel"], "opaque");
  assert.equal(outcome["no-cors text/plain cancel"], "opaque");
  assert.equal(outcome["no-cors urlencoded create"], "opaque");
  assert.equal(outcome["cors JSON create"], "threw TypeError", "the preflight is not granted");
  assert.equal(outcome["beacon create"], true);
  assert.equal(outcome["beacon cancel"], true);
  for (const form of ["form text/plain create", "form urlencoded cancel", "form multipart create"]) {
    assert.equal(outcome[form], "loaded", form);
  }
  const posts = () => log.filter((e) => e.method === "POST");
  await until(() => posts().length >= 9, "the 9 POSTs to reach the server");
  const creates = posts().filter((e) => e.url === "/api/v1/executions");
  const cancels = posts().filter((e) => e.url === "/api/v1/executions/victim/cancel");
  assert.equal(creates.length, 5, JSON.stringify(creates));
  assert.equal(cancels.length, 4, JSON.stringify(cancels));
  for (const e of posts()) {
    assert.equal(e.status, 415, `${e.method} ${e.url} (${e.type}) answered ${e.status}`);
    assert.notEqual(e.type, "application/json");
  }
  assert.ok(
    log.some((e) => e.method === "OPTIONS" && e.status >= 400),
    "the CORS preflight reached the server and was refused",
  );

  // From Node: nothing was created, and the target is still running.
  assert.deepEqual(manager.counts(), before, "no new execution");
  for (const id of ["evil-fetch", "evil-urlencoded", "evil-cors", "evil-beacon", "evil-form", "evil-multipart"]) {
    assert.equal(manager.status(id), undefined, id);
  }
  assert.equal(manager.status("victim").status, "running", "the target execution is not cancelled");
  await page.close();
});

test("DNS rebinding: a page whose name now points at the server gets 421 for same-origin JSON requests", {
  timeout: 60_000,
}, async () => {
  const before = manager.counts();
  const page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  const origin = `http://${REBIND_NAME}:${api.port}`;
  await page.goto(`${origin}/rebind.html`);
  const outcome = await page.evaluate(async () => {
    const post = async (path, body) => {
      const r = await fetch(path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: r.status, code: (await r.json()).error?.code };
    };
    return {
      create: await post("/api/v1/executions", { targetId: "gated", id: "evil-rebind" }),
      cancel: await post("/api/v1/executions/victim/cancel", { reason: "pwned" }),
      list: (await fetch("/api/v1/executions")).status,
    };
  });
  assert.deepEqual(outcome, {
    create: { status: 421, code: "MISDIRECTED_REQUEST" },
    cancel: { status: 421, code: "MISDIRECTED_REQUEST" },
    list: 421,
  });
  assert.ok(log.some((e) => e.host === `${REBIND_NAME}:${api.port}` && e.status === 421));
  assert.deepEqual(manager.counts(), before, "no new execution");
  assert.equal(manager.status("victim").status, "running", "the target execution is not cancelled");
  await page.close();
});

test("with cors: { origin } for the page's origin, its JSON fetches work and no-cors ones are still refused", {
  timeout: 60_000,
}, async () => {
  const page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(`http://127.0.0.1:${site.port}/`);
  const base = `http://127.0.0.1:${corsApi.port}/api/v1/executions`;
  const outcome = await page.evaluate(async (base) => {
    const created = await fetch(base, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ targetId: "gated", id: "granted" }),
    });
    const smuggled = await fetch(base, {
      method: "POST",
      mode: "no-cors",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify({ targetId: "gated", id: "smuggled" }),
    });
    return { status: created.status, id: (await created.json()).id, smuggled: smuggled.type };
  }, base);
  assert.deepEqual(outcome, { status: 201, id: "granted", smuggled: "opaque" });
  assert.equal(corsManager.counts().total, 1, "only the CORS request created an execution");
  assert.equal(corsManager.status("smuggled"), undefined);
  await page.close();
});
