// Every page state of the preview (internal/web Samples): axe-core finds no
// serious or critical violation, in light and dark mode; no CSP violation
// or script error; no sideways scroll at 320 px; screenshots at 1280 and
// 390 px, light and dark, under var/screenshots/preview-*.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, watch, axe, shootAll, env, assertNoSidewaysScroll } from "./lib.js";

const base = env("IDP_PREVIEW_URL");
let browser, page;

before(async () => {
  browser = await launch();
  page = await (await browser.newContext()).newPage();
});
after(async () => browser && (await browser.close()));

test("preview pages: axe, CSP, 320 px, screenshots", async (t) => {
  await page.goto(base + "/preview/");
  const names = await page.locator("main li > a:first-child").allTextContents();
  assert.ok(names.length >= 20, `only ${names.length} samples`);
  const report = {};
  for (const name of names) {
    for (const lang of ["en", "de"]) {
      await t.test(`${name} (${lang})`, async () => {
        const problems = watch(page);
        const resp = await page.goto(`${base}/preview/${name}?ui_locales=${lang}`);
        assert.ok(resp, "no response");
        assert.match(resp.headers()["content-security-policy"], /script-src 'nonce-/);
        assert.equal(await page.locator("html").getAttribute("lang"), lang);
        const light = await axe(page, `${name} ${lang} light`);
        // The colours don't depend on the language: dark mode once, in English.
        if (lang === "en") {
          await page.emulateMedia({ colorScheme: "dark" });
          const dark = await axe(page, `${name} ${lang} dark`);
          await page.emulateMedia({ colorScheme: "light" });
          await shootAll(page, `preview-${name}`);
          report[name] = { light, dark };
        } else {
          // German words are longer: 320 px must still hold.
          await page.setViewportSize({ width: 320, height: 640 });
          await assertNoSidewaysScroll(page, `${name} (de)`);
          await page.setViewportSize({ width: 1280, height: 900 });
        }
        assert.deepEqual(problems, [], `${name}: problems in the page`);
        page.removeAllListeners("console");
        page.removeAllListeners("pageerror");
        page.removeAllListeners("requestfailed");
      });
    }
  }
  console.log("axe (non-serious violations, light/dark):", JSON.stringify(report));
});

test("show-password toggle", async () => {
  await page.goto(base + "/preview/login");
  const pw = page.getByLabel("Password", { exact: true });
  await pw.fill("correct horse");
  const toggle = page.getByRole("button", { name: "Show password" });
  await toggle.click();
  assert.equal(await pw.getAttribute("type"), "text");
  await page.getByRole("button", { name: "Hide password" }).click();
  assert.equal(await pw.getAttribute("type"), "password");
});

test("the error summary takes the focus, with and without JavaScript", async () => {
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  const cdp = await ctx.newCDPSession(p);
  for (const disabled of [false, true]) {
    await cdp.send("Emulation.setScriptExecutionDisabled", { value: disabled });
    await p.goto(base + "/preview/login-error");
    assert.equal(await p.locator("button.reveal").count(), disabled ? 0 : 1, "script on/off");
    assert.equal(await p.evaluate(() => document.activeElement?.id), "alert", `focus with script ${disabled ? "off" : "on"}`);
  }
  await ctx.close();
});

test("keyboard only: tab order and visible focus on the sign-in page", async () => {
  await page.goto(base + "/preview/login");
  const order = [];
  for (let i = 0; i < 6; i++) {
    const info = await page.evaluate(() => {
      const el = document.activeElement;
      const style = getComputedStyle(el);
      return { id: el.id || el.textContent.trim(), outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2 };
    });
    order.push(info);
    await page.keyboard.press("Tab");
  }
  assert.deepEqual(order.map((o) => o.id), ["email", "password", "Show", "remember", "Sign in", "Forgot password?"]);
  for (const o of order) assert.ok(o.outline, `no visible focus ring on ${o.id}`);
});
