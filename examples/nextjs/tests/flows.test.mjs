// The Next.js example in Debian's Chromium (playwright-core, never a
// downloaded browser), against a real idp with 5-second access tokens.
// Run by nextjs_test.go (make test-examples), which starts idp, the Go
// example and `next start`, and passes their addresses in the environment.
// The steps run in order in one browser profile: each builds on the last.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run through nextjs_test.go (make test-examples)`);
  return v;
};
const app = env("APP_URL");
const idp = env("IDP_URL");
const email = env("USER_EMAIL");
const password = env("USER_PASSWORD");
const accessTTL = Number(env("ACCESS_TTL_SECONDS"));
// POST here and the Go test runs `idp tokens revoke --email` for the user.
const revokeHook = env("REVOKE_HOOK");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// A JWS (an access, refresh or ID token of idp); the session cookie is a
// JWE, whose empty second part ("..") this doesn't match.
const jws = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/;

describe("Next.js example", () => {
  let browser, context, page;
  // Every response of the app the browser got: none may carry a token.
  const seen = [];
  // Every sign-in round trip (the app's /auth/login, idp's authorize): a
  // lost session comes back through idp's single sign-on without a page,
  // so "no sign-in prompt" alone would not tell a refresh from a new
  // sign-in.
  let signIns = 0;
  const watch = (p) => {
    p.on("request", (r) => {
      if (r.url().startsWith(`${app}/auth/login`) || r.url().startsWith(`${idp}/oauth2/authorize`)) signIns++;
    });
    p.on("response", async (r) => {
      if (!r.url().startsWith(app)) return;
      const body = r.status() >= 300 && r.status() < 400 ? "" : await r.text().catch(() => "");
      seen.push({ url: r.url(), status: r.status(), headers: r.headers(), body });
    });
  };

  before(async () => {
    browser = await chromium.launch({
      executablePath: env("CHROMIUM"),
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"],
    });
    context = await browser.newContext({ locale: "en-US" });
    page = await context.newPage();
    watch(page);
  });
  after(() => browser?.close());

  const onIdpSignIn = (p) => new URL(p.url()).origin === idp && new URL(p.url()).pathname === "/login";
  const expiresShown = async (p) => (await p.locator("#access-expires").textContent()).trim();

  // expectMe and expectApiCall check a private page rendered for the user.
  async function expectMe(p) {
    assert.equal(new URL(p.url()).pathname, "/me", `on ${p.url()}, not /me`);
    assert.match(await p.locator("#claims").textContent(), new RegExp(email.replace(".", "\\.")));
  }
  async function expectApiCall(p) {
    assert.equal(new URL(p.url()).pathname, "/api-call", `on ${p.url()}, not /api-call`);
    assert.equal((await p.locator("#status").textContent()).trim(), "200", await p.locator("#response").textContent());
    const api = JSON.parse(await p.locator("#response").textContent());
    assert.equal(api.email, email);
    assert.ok(api.sub && api.tenant_id && Array.isArray(api.roles), JSON.stringify(api));
    // The page used a live token: the one proxy.ts refreshed for this very
    // request when the old one had run out.
    const expires = await expiresShown(p);
    assert.ok(Date.parse(expires) > Date.now(), `the page used an access token that expired at ${expires}`);
    return expires;
  }

  it("sends a signed-out visit of a private page to idp's sign-in, and back to that page", async () => {
    await page.goto(`${app}/api-call?from=guard`);
    assert.ok(onIdpSignIn(page), `expected idp's sign-in page, got ${page.url()}`);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password", { exact: true }).fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${app}/api-call?from=guard`);
    await expectApiCall(page);
    assert.equal((await page.locator("#signed-in-as").textContent()).trim(), email);
  });

  it("keeps the tokens out of the browser: an encrypted HttpOnly cookie, no token in any page", async (t) => {
    const cookies = await context.cookies(app);
    const session = cookies.find((c) => c.name === "__Host-app_session");
    assert.ok(session, `no session cookie among ${cookies.map((c) => c.name)}`);
    assert.equal(session.httpOnly, true);
    assert.equal(session.secure, true);
    assert.equal(session.sameSite, "Lax");
    assert.equal(session.path, "/");
    assert.doesNotMatch(session.value, jws, "the cookie holds a readable token");
    assert.ok(session.name.length + session.value.length < 4096, `session cookie of ${session.value.length} bytes`);
    t.diagnostic(`session cookie: ${session.name.length + session.value.length} bytes`);
    assert.equal(await page.evaluate(() => document.cookie), "", "page scripts can read a cookie");
    // The login cookie is gone once the sign-in finished.
    assert.deepEqual(cookies.filter((c) => c.name.startsWith("__Host-app_login_")).map((c) => c.name), []);
  });

  it("goes back to the page asked for, never off the site", async () => {
    // Signed in at idp, so the round trip needs no page: straight back.
    for (const returnTo of ["//evil.example/x", "https://evil.example/", "/\\evil.example"]) {
      await page.goto(`${app}/auth/login?return_to=${encodeURIComponent(returnTo)}`);
      await page.waitForURL(`${app}/me`);
      await expectMe(page);
    }
  });

  it("survives two tabs refreshing at once", async () => {
    const other = await context.newPage();
    watch(other);
    // Let the access token expire, then both tabs load with the same
    // cookie: both refresh with the same refresh token, and idp's grace
    // window gives both the same new pair.
    await sleep((accessTTL + 1) * 1000);
    const before = signIns;
    await Promise.all([page.goto(`${app}/me`), other.goto(`${app}/api-call`)]);
    await expectMe(page);
    await expectApiCall(other);
    assert.equal(signIns, before, "a tab had to sign in again");
    await other.close();
  });

  it("refreshes silently across 15 s of browsing with 5 s access tokens", async () => {
    // Past the grace window of every refresh token spent so far: had a tab
    // kept a spent one, using it now would end the session (reuse
    // detection) and show idp's sign-in page.
    const expiries = new Set();
    const before = signIns;
    const started = Date.now();
    let step = 0;
    while (Date.now() - started < 16000) {
      const target = step % 2 === 0 ? "/api-call" : "/me";
      if (step % 3 === 2) {
        await page.goto(app + target); // a full page load
      } else {
        // A client-side navigation: an RSC request through proxy.ts.
        await page.getByRole("link", { name: target === "/me" ? "Me" : "API call", exact: true }).click();
        await page.waitForURL(app + target);
        await page.locator(target === "/me" ? "#claims" : "#status").waitFor();
      }
      assert.ok(!onIdpSignIn(page), `asked to sign in after ${Date.now() - started} ms`);
      if (target === "/me") await expectMe(page);
      else expiries.add(await expectApiCall(page));
      step++;
      await sleep(700);
    }
    assert.equal(signIns, before, "the session was lost and signed in again");
    // Each distinct expiry /api-call showed is one access token.
    assert.ok(expiries.size >= 3, `access tokens seen: ${[...expiries].join(", ")} (want 2 refreshes at least)`);
  });

  it("serves private pages with Cache-Control: no-store", () => {
    const privatePages = seen.filter((r) => /\/(me|api-call)(\?|$)/.test(r.url) && r.status === 200);
    assert.ok(privatePages.length > 0);
    for (const r of privatePages) assert.match(r.headers["cache-control"] ?? "", /no-store/, r.url);
  });

  it("sent no token to the browser in any response", () => {
    for (const r of seen) assert.doesNotMatch(r.body, jws, `${r.url} carries a token`);
    for (const r of seen) {
      for (const c of (r.headers["set-cookie"] ?? "").split("\n")) assert.doesNotMatch(c, jws, `${r.url} sets a readable token`);
    }
  });

  it("signs out of the app and of idp, and Back shows nothing private", async () => {
    await page.goto(`${app}/me`);
    await expectMe(page);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${app}/`, { timeout: 10000 }).catch(async () => {
      const said = (await page.locator("main").textContent().catch(() => "")).replace(/\s+/g, " ").trim();
      const where = new URL(page.url()); // its query may hold the ID token: not for the log
      assert.fail(`sign-out ended on ${where.origin}${where.pathname} instead of ${app}/: ${said.slice(0, 200)}`);
    });
    assert.equal(await page.getByRole("link", { name: "Sign in" }).count(), 1);
    assert.equal((await context.cookies(app)).filter((c) => c.name === "__Host-app_session").length, 0);

    await page.goBack();
    await page.waitForLoadState();
    const text = await page.locator("body").textContent();
    assert.ok(!text.includes(email), `Back after sign-out shows ${page.url()} with the user's email`);
    assert.equal(await page.locator("#claims").count(), 0, "Back after sign-out shows the claims");
    // Back reloaded /me, whose guard sent it to sign in: at idp, since
    // idp's session ended too.
    assert.ok(onIdpSignIn(page), `Back after sign-out: ${page.url()}`);

    await page.goto(`${idp}/account`);
    assert.ok(onIdpSignIn(page), `idp's /account after sign-out: ${page.url()}, not its sign-in page`);
  });

  it("treats a session cookie it didn't make as signed out", async () => {
    await context.addCookies([{ name: "__Host-app_session", value: "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..forged.forged.forged",
      domain: new URL(app).hostname, path: "/", secure: true, httpOnly: true, sameSite: "Lax" }]);
    await page.goto(`${app}/me`);
    assert.ok(onIdpSignIn(page), `a forged cookie reached ${page.url()}`);
  });

  it("sends the user to sign in once idp has revoked the session", async () => {
    await page.goto(`${app}/me`);
    assert.ok(onIdpSignIn(page));
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password", { exact: true }).fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${app}/me`);
    await expectMe(page);
    const res = await fetch(revokeHook, { method: "POST" });
    assert.equal(res.status, 204, await res.text());
    // The next refresh is refused (invalid_grant): not an error page, a
    // new sign-in, and the dead session's cookie is gone.
    await sleep((accessTTL / 2 + 0.5) * 1000);
    await page.goto(`${app}/api-call`);
    assert.ok(onIdpSignIn(page), `after the revocation: ${page.url()}`);
    assert.equal((await context.cookies(app)).filter((c) => c.name === "__Host-app_session").length, 0);
  });
});
