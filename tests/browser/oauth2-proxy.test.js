// oauth2-proxy v7 in front of a small upstream, signing in through idp's
// hosted page in Chromium. internal/e2e TestBrowserOAuth2Proxy builds and
// starts oauth2-proxy (provider oidc, PKCE S256, nonce checked, EdDSA ID
// tokens only), the upstream (it echoes X-Forwarded-Email and -User) and
// idp, and passes them in IDP_OAUTH2_PROXY_FIXTURE. See docs/integrate.md.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, watch, axe, env, waitForMail } from "./lib.js";

const fx = JSON.parse(env("IDP_OAUTH2_PROXY_FIXTURE"));
const base = fx.url;
let chrome;

before(async () => {
  chrome = await launch();
});
after(async () => {
  if (chrome) await chrome.close();
});

async function signInOnIdp(page, email, password) {
  assert.equal(new URL(page.url()).origin + new URL(page.url()).pathname, base + "/login", `not idp's sign-in page: ${page.url()}`);
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

test("oauth2-proxy: the invite verifies the address; the proxy sends the browser to idp's sign-in page and on to the upstream; sign-out ends both sessions", async () => {
  const ctx = await chrome.newContext();
  const page = await ctx.newPage();
  const problems = watch(page);

  // The invite's link sets the password; completing it marks the address
  // verified, which oauth2-proxy requires (email_verified).
  const invite = await waitForMail(fx.mailFile, (m) => m.to === fx.invited && m.kind === "invite");
  await page.goto(invite.url);
  await page.getByLabel("New password", { exact: true }).fill(fx.password);
  await page.getByLabel("Confirm new password", { exact: true }).fill(fx.password);
  await page.getByRole("button", { name: "Set password" }).click();
  await page.waitForLoadState();
  assert.match(await page.locator("#notice").innerText(), /password is set/i);

  // The proxy sends a signed-out browser to idp's sign-in page.
  await page.goto(fx.proxyUrl + "/");
  await page.waitForURL((u) => u.href.startsWith(base + "/login"));
  await axe(page, "sign-in page for oauth2-proxy");
  await signInOnIdp(page, fx.invited, fx.password);
  await page.waitForURL((u) => u.href === fx.proxyUrl + "/");
  assert.equal(await page.locator("h1").innerText(), "Team Wiki");
  assert.equal(await page.locator("#email").innerText(), fx.invited);
  assert.match(await page.locator("#user").innerText(), /^[0-9a-f-]{36}$/, "X-Forwarded-User is the user's sub");
  const proxyCookie = (await ctx.cookies(fx.proxyUrl)).find((c) => c.name === "_oauth2_proxy");
  assert.ok(proxyCookie, "no oauth2-proxy session cookie");

  // Sign out: oauth2-proxy drops its cookie and sends the browser to idp's
  // end_session_endpoint, which asks (no id_token_hint: oauth2-proxy
  // doesn't send one) and then returns to the proxy. Both sessions are
  // over, so the proxy's page leads to idp's sign-in page again.
  await page.getByRole("link", { name: "Sign out" }).click();
  await page.waitForURL((u) => u.href.startsWith(base + "/oauth2/logout"));
  assert.match(await page.locator("main").innerText(), /Team Wiki asks you to sign out/);
  await axe(page, "sign-out page for oauth2-proxy");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL((u) => u.href.startsWith(base + "/login"));
  assert.equal((await ctx.cookies(fx.proxyUrl)).find((c) => c.name === "_oauth2_proxy"), undefined, "oauth2-proxy's cookie survived the sign-out");
  const upstream = await page.request.get(fx.proxyUrl + "/", { maxRedirects: 0 });
  assert.notEqual(upstream.status(), 200, "the upstream answers after sign-out");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("oauth2-proxy refuses a user whose address is not verified (email_verified false)", async () => {
  const ctx = await chrome.newContext();
  const page = await ctx.newPage();
  await page.goto(fx.proxyUrl + "/");
  await page.waitForURL((u) => u.href.startsWith(base + "/login"));
  const [callback] = await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(fx.proxyUrl + "/oauth2/callback")),
    signInOnIdp(page, fx.unverified, fx.password),
  ]);
  assert.equal(callback.status(), 403, "oauth2-proxy's answer to an unverified address");
  await page.waitForLoadState();
  assert.equal(await page.locator("#email").count(), 0, "the upstream was reached");
  await ctx.close();
});
