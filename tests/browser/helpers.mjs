// Shared by the browser tests: the static server (scripts/serve.mjs) on an ephemeral port and
// Debian's Chromium driven by playwright-core. playwright-core never downloads a browser; we
// point it at /usr/bin/chromium (installed by scripts/setup.sh) and fail clearly without it.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startServer } from "../../scripts/serve.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const ARTIFACTS = path.join(ROOT, "tests", "artifacts");
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Fails clearly when Debian's Chromium or the built web package is missing. */
export function checkPrerequisites() {
  assert.ok(
    fs.existsSync(CHROMIUM),
    `${CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh does) or set CHROMIUM_PATH`,
  );
  assert.ok(
    fs.existsSync(path.join(ROOT, "pkg", "web", "execman.js")),
    "pkg/web/execman.js is missing: build the package first (node scripts/build.mjs)",
  );
}

/** Headless Debian Chromium through playwright-core; `args` are added to the usual flags. */
export function launchChromium(timeout, { args = [] } = {}) {
  return chromium.launch({ executablePath: CHROMIUM, args: [...ARGS, ...args], timeout });
}

/**
 * The set-up of a suite run in pages of the static server: registers node:test `before` and
 * `after` hooks that start the server (ephemeral port) and Chromium, and close both. The returned
 * object's `server` and `browser` are set once `before` has run.
 * @returns {{ server: Awaited<ReturnType<typeof startServer>>, browser: import("playwright-core").Browser }}
 */
export function useServerAndBrowser({ timeout = 60_000 } = {}) {
  const env = /** @type {any} */ ({ server: undefined, browser: undefined });
  before(async () => {
    checkPrerequisites();
    env.server = await startServer({ port: 0 });
    env.browser = await launchChromium(timeout);
  });
  after(async () => {
    await env.browser?.close().catch(() => {});
    await env.server?.close();
  });
  return env;
}

/**
 * Opens a new page of `opener` (a browser or a context) at `${origin}${prefix}/blank.html`, a blank
 * page with the HTML `html`, served through a Playwright route; so is each test module of
 * `modules` (its name → its file), at `/${prefix}/name`. The page's uncaught errors are collected
 * in `pageErrors`.
 * @param {{ newPage: () => Promise<import("playwright-core").Page> }} opener
 * @param {string} origin the server's URL, ending with "/"
 * @param {{ prefix: string, html: string, modules?: Record<string, string> }} options
 */
export async function openBlankPage(opener, origin, { prefix, html, modules = {} }) {
  const page = await opener.newPage();
  const pageErrors = /** @type {string[]} */ ([]);
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.route(`**/${prefix}/**`, (route) => {
    const name = new URL(route.request().url()).pathname.split("/").pop() ?? "";
    const file = Object.hasOwn(modules, name) ? modules[name] : undefined;
    if (file !== undefined)
      return route.fulfill({ status: 200, contentType: "text/javascript", body: fs.readFileSync(file, "utf8") });
    return route.fulfill({ status: 200, contentType: "text/html", body: html });
  });
  await page.goto(`${origin}${prefix}/blank.html`);
  return { page, pageErrors };
}

/**
 * Starts the server and the browser, opens a page and collects its console errors and page
 * errors (a test asserts there are none it did not expect).
 * @returns {Promise<{ url: string, page: import("playwright-core").Page, problems: string[], close: () => Promise<void> }>}
 */
export async function openBrowser({ viewport = { width: 1360, height: 900 } } = {}) {
  checkPrerequisites();
  const server = await startServer({ port: 0 });
  let browser;
  try {
    browser = await launchChromium(30_000);
  } catch (err) {
    await server.close();
    throw err;
  }
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, colorScheme: "light" });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const problems = [];
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console.error: ${msg.text()}`);
  });
  page.on("requestfailed", (req) => problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`));
  page.on("response", (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  return {
    url: server.url,
    page,
    problems,
    close: async () => {
      await browser.close().catch(() => {});
      await server.close();
    },
  };
}

/** Saves a full-page screenshot under tests/artifacts/ and returns its path. */
export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
