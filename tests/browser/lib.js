// Shared helpers of the browser suite: Debian's Chromium through
// playwright-core (never a downloaded browser), axe-core, screenshots and
// the file-driver mail outbox. Driven by internal/e2e TestBrowser, which
// starts the servers and passes their addresses in the environment.
import { chromium } from "playwright-core";
import { readFileSync, mkdirSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export const repoRoot = path.resolve(import.meta.dirname, "..", "..");
export const screenshotDir = process.env.IDP_SCREENSHOT_DIR || path.join(repoRoot, "var", "screenshots");

export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the suite through internal/e2e TestBrowser (make test)`);
  return v;
}

// launch starts Chromium (Playwright gives it a fresh, temporary profile);
// extraArgs e.g. --ignore-certificate-errors for the https server's test
// certificate. Each scenario opens its own context: its own cookies.
export async function launch(extraArgs = []) {
  const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
  if (!existsSync(executablePath)) throw new Error(`${executablePath} is missing: apt-get install -y chromium`);
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ...extraArgs,
    ],
  });
  return {
    browser,
    newContext: (opts = {}) => browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US", ...opts }),
    close: () => browser.close(),
  };
}

// watch collects what a page should never produce: CSP violations, script
// errors and failed requests for our own files.
export function watch(page) {
  const problems = [];
  page.on("console", (m) => {
    // A page served with an error status (a 404 page) is logged as a failed
    // load of itself: that one is expected.
    if (/^Failed to load resource: the server responded with a status of/.test(m.text()) && m.location().url === page.url()) return;
    if (m.type() === "error" || /Content Security Policy/i.test(m.text())) problems.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on("pageerror", (e) => problems.push(`script error: ${e.message}`));
  page.on("requestfailed", (r) => {
    if (!r.url().startsWith("data:")) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  return problems;
}

// axe runs axe-core in the page (evaluated over the DevTools protocol, so
// the page's CSP needn't allow it) and fails on serious or critical
// violations; it returns every violation for the report.
export async function axe(page, label) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    await axe.run(document, { resultTypes: ["violations"], runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] } }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const summary = result.violations.map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`), [], `${label}: axe found serious or critical violations`);
  return summary;
}

// shoot writes NAME-WIDTH-SCHEME.png for both widths and schemes and checks
// that no width down to 320 px scrolls sideways.
export async function shootAll(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
      await page.screenshot({ path: path.join(screenshotDir, `${name}-${width}-${scheme}.png`), fullPage: true });
    }
  }
  await page.setViewportSize({ width: 320, height: 640 });
  await assertNoSidewaysScroll(page, name);
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1280, height: 900 });
}

// mails reads the JSON-lines outbox of the file mail driver.
export function mails(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

// waitForMail polls the outbox (a worker delivers mail asynchronously)
// for the first mail after `after` entries matching the predicate.
export async function waitForMail(file, match, after = 0, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = mails(file).slice(after).find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no matching mail in ${file} after ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// assertNoSidewaysScroll fails when the page is wider than the viewport,
// naming the elements that stick out.
export async function assertNoSidewaysScroll(page, name) {
  const { overflow, offenders } = await page.evaluate(() => {
    const w = document.documentElement.clientWidth;
    const out = [];
    for (const el of document.querySelectorAll("body *")) {
      const r = el.getBoundingClientRect();
      if (r.right > w + 0.5 && r.width > 0) out.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${[...el.classList].join(".")} (right ${Math.round(r.right)})`);
    }
    return { overflow: document.documentElement.scrollWidth - w, offenders: out.slice(0, 8) };
  });
  assert.equal(overflow, 0, `${name}: ${overflow}px of horizontal scroll at ${page.viewportSize().width}px: ${offenders.join(", ")}`);
}
