// The static server of `npm run demo -- --web` (scripts/serve.mjs): it serves only what really
// lies in its www/ and pkg/ folders. Symlinks that lead out of them (a file, a directory, a
// directory's index.html) are not found, even though their path is inside; paths with "..",
// "%2e%2e", NUL bytes or backslashes are refused; only GET and HEAD are answered.
//
// The server runs on 127.0.0.1 over temporary folders (startServer's `roots`), so the real www/
// is never touched; they are removed when the file's tests end.
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before } from "node:test";
import { startServer } from "../../scripts/serve.mjs";
import { test } from "./helpers.mjs";

const SECRET = "outside-secret-7f3a";

let tmp;
let server;
let plain; // the same server over the real www/ and pkg/

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "execman-serve-"));
  const dir = (...parts) => fs.mkdirSync(path.join(tmp, ...parts), { recursive: true });
  const write = (text, ...parts) => fs.writeFileSync(path.join(tmp, ...parts), text);
  const link = (target, ...parts) => fs.symlinkSync(target, path.join(tmp, ...parts));

  // Outside the served folders.
  dir("outside", "dir");
  write(SECRET, "outside", "secret.txt");
  write(`<p>${SECRET}</p>`, "outside", "dir", "index.html");
  write(SECRET, "outside", "dir", "file.js");

  // www/: ordinary files, a symlink that stays inside, and three that lead out.
  dir("www-real", "sub");
  dir("www-real", "escape-index");
  write("<p>home</p>", "www-real", "index.html");
  write("export const ok = 1;\n", "www-real", "app.js");
  write("<p>sub</p>", "www-real", "sub", "index.html");
  link(path.join(tmp, "www-real", "app.js"), "www-real", "inside-link.js");
  link(path.join(tmp, "outside", "secret.txt"), "www-real", "leak.txt");
  link("../outside/dir", "www-real", "leakdir"); // relative target: resolved from www-real/
  link(path.join(tmp, "outside", "dir", "index.html"), "www-real", "escape-index", "index.html");
  // The served root itself may be reached through a symlink: its real path is the base.
  link(path.join(tmp, "www-real"), "www");

  // pkg/: a file, and a symlink out.
  dir("pkg", "web");
  write("export default 1;\n", "pkg", "web", "execman.js");
  link(path.join(tmp, "outside", "secret.txt"), "pkg", "leak.js");
  link(path.join(tmp, "outside", "dir"), "pkg", "web", "leakdir");

  server = await startServer({ port: 0, roots: { www: path.join(tmp, "www"), pkg: path.join(tmp, "pkg") } });
  plain = await startServer({ port: 0 });
});

after(async () => {
  await server?.close();
  await plain?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** One request with the path sent exactly as given (no URL normalization), bounded in time. */
function request(base, rawPath, method = "GET") {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: rawPath, method, timeout: 3000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${rawPath}: no answer within 3 s`)));
    req.on("error", reject);
    req.end();
  });
}

const get = (rawPath, method) => request(server.url, rawPath, method);

test("ordinary files and a symlink that stays inside are served (200)", async () => {
  const home = await get("/");
  assert.equal(home.status, 200);
  assert.equal(home.body, "<p>home</p>");
  const app = await get("/app.js");
  assert.equal(app.status, 200);
  assert.equal(app.headers["content-type"], "text/javascript; charset=utf-8");
  assert.equal(app.body, "export const ok = 1;\n");
  const head = await get("/app.js", "HEAD");
  assert.equal(head.status, 200);
  assert.equal(head.headers["content-length"], "21");
  assert.equal(head.body, "");
  assert.equal((await get("/sub/")).body, "<p>sub</p>");
  const redirect = await get("/sub");
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.location, "/sub/");
  const inside = await get("/inside-link.js");
  assert.equal(inside.status, 200);
  assert.equal(inside.body, "export const ok = 1;\n");
  assert.equal((await get("/pkg/web/execman.js")).status, 200);
});

test("symlinks out of www/ or pkg/ are not found (404), for files, directories and an index.html", async () => {
  for (const p of [
    "/leak.txt",
    "/leakdir",
    "/leakdir/",
    "/leakdir/file.js",
    "/leakdir/index.html",
    "/escape-index/",
    "/escape-index/index.html",
    "/pkg/leak.js",
    "/pkg/web/leakdir/",
    "/pkg/web/leakdir/file.js",
  ]) {
    for (const method of ["GET", "HEAD"]) {
      const res = await get(p, method);
      assert.equal(res.status, 404, `${method} ${p}`);
      assert.ok(!res.body.includes(SECRET), `${method} ${p} leaked the file`);
      assert.equal(res.headers.location, undefined, `${method} ${p} redirected`);
    }
  }
});

test('"..", "%2e%2e", NUL bytes and backslashes are refused', async () => {
  for (const p of [
    "/../outside/secret.txt",
    "/sub/../../outside/secret.txt",
    "/%2e%2e/outside/secret.txt",
    "/%2E%2E/outside/secret.txt",
    "/..%2foutside%2fsecret.txt",
    "/sub/%2e%2e%2f%2e%2e%2foutside/secret.txt",
    "/pkg/../outside/secret.txt",
    "/pkg/%2e%2e/outside/secret.txt",
    "/app.js%00.txt",
    "/%00",
    "/..%5coutside%5csecret.txt",
    "/sub\\..\\app.js",
    "/%E0%A4%A", // malformed percent-encoding
    "http://127.0.0.1/app.js", // not a path
  ]) {
    const res = await get(p);
    assert.equal(res.status, 400, `GET ${p}: ${res.status}`);
    assert.ok(!res.body.includes(SECRET), `GET ${p} leaked the file`);
  }
});

test("a path starting with // does not redirect to another host", async () => {
  const res = await get("//sub");
  assert.equal(res.status, 301);
  assert.equal(res.headers.location, "/sub/");
});

test("only GET and HEAD are answered (405 with Allow)", async () => {
  for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
    const res = await get("/app.js", method);
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.allow, "GET, HEAD", method);
  }
});

test("by default it serves the repository's www/ and pkg/", async () => {
  const page = await request(plain.url, "/");
  assert.equal(page.status, 200);
  assert.match(page.body, /<title>execman/);
  const targets = await request(plain.url, "/targets.js", "HEAD");
  assert.equal(targets.status, 200);
  assert.equal(targets.headers["content-type"], "text/javascript; charset=utf-8");
  assert.equal((await request(plain.url, "/../package.json")).status, 400);
});
