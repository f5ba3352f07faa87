// Shared by the browser tests: the static server (scripts/serve.mjs) on an ephemeral port and
// Debian's Chromium driven by playwright-core. playwright-core never downloads a browser; we
// point it at /usr/bin/chromium (installed by scripts/setup.sh) and fail clearly without it.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
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
