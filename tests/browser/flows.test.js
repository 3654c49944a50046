// The hosted pages' real flows in Chromium, against `idp serve` (the built
// binary) on http://127.0.0.1 and on https. internal/e2e TestBrowser starts
// the servers, creates one user per scenario and passes IDP_BROWSER_FIXTURE.
// axe runs on every page a scenario meets; screenshots of them go to
// var/screenshots/real-*.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createHash, randomBytes } from "node:crypto";
import { launch, watch, axe, shootAll, env, mails, waitForMail } from "./lib.js";

const fx = JSON.parse(env("IDP_BROWSER_FIXTURE"));
const base = fx.url;
let chrome;
const axeReport = {};

before(async () => {
  chrome = await launch();
});
after(async () => {
  console.log("axe on real pages (non-serious violations):", JSON.stringify(axeReport));
  if (chrome) await chrome.close();
});

// check runs axe and takes the screenshots of a page met in a flow.
async function check(page, name) {
  axeReport[name] = await axe(page, name);
  await page.emulateMedia({ colorScheme: "dark" });
  await axe(page, `${name} (dark)`);
  await page.emulateMedia({ colorScheme: "light" });
  await shootAll(page, `real-${name}`);
}

async function open(ctx) {
  const page = await ctx.newPage();
  const problems = watch(page);
  return { page, problems };
}

async function fillSignIn(page, email, password, remember = false) {
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  if (remember) await page.getByLabel("Keep me signed in").check();
}

// signIn opens /login (with query), signs in and waits for the page the
// sign-in leads to.
async function signIn(page, email, password, { query = "", remember = false, origin = base } = {}) {
  await page.goto(`${origin}/login${query}`);
  await fillSignIn(page, email, password, remember);
  await Promise.all([page.waitForEvent("framenavigated"), page.getByRole("button", { name: "Sign in" }).click()]);
  await page.waitForLoadState();
}

function byName(cookies, name) {
  return cookies.find((c) => c.name === name);
}

async function api(path, body, headers = {}) {
  const resp = await fetch(base + path, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body) });
  let json = null;
  try { json = await resp.json(); } catch { /* 204 */ }
  return { status: resp.status, json };
}

const alertText = (page) => page.locator("#alert").innerText();
const activeId = (page) => page.evaluate(() => document.activeElement?.id || "");

// Cookie attributes of CONTRACT 6 as Chromium stored them: host-only (no
// Domain), Path=/, Secure, HttpOnly, SameSite=Lax.
function assertHostCookie(c, name, host) {
  assert.ok(c, `${name} is not kept`);
  assert.equal(c.domain, host, `${name}: domain (a Domain attribute would show as .${host})`);
  assert.equal(c.path, "/");
  assert.equal(c.secure, true, `${name} not Secure`);
  assert.equal(c.httpOnly, true, `${name} not HttpOnly`);
  assert.equal(c.sameSite, "Lax", `${name} SameSite`);
}

test("sign in lands on the account page; Chromium keeps the __Host- cookies on http://127.0.0.1", async () => {
  const ctx = await chrome.newContext();
  const { page, problems } = await open(ctx);
  const login = await page.goto(base + "/login");
  assert.equal(login.status(), 200);
  const h = login.headers();
  assert.match(h["content-security-policy"], /^default-src 'none'; script-src 'nonce-[^']+'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'$/);
  assert.equal(h["x-content-type-options"], "nosniff");
  assert.equal(h["referrer-policy"], "no-referrer");
  assert.equal(h["cache-control"], "no-store");
  assert.equal(await activeId(page), "email", "the email input has the focus");
  await check(page, "login");

  await fillSignIn(page, fx.users.signin, fx.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(base + "/account");
  assert.equal(await page.locator("h1").innerText(), "Your account");
  assert.match(await page.locator("main").innerText(), new RegExp(fx.users.signin));
  assert.match(await page.locator(".session-current").innerText(), /This device/);
  assert.equal(await page.locator(".session-current button").count(), 0, "no Revoke for this device");

  const cookies = await ctx.cookies(base);
  const session = byName(cookies, "__Host-idp_session");
  assertHostCookie(session, "__Host-idp_session", "127.0.0.1");
  assert.equal(session.expires, -1, "without Keep me signed in the session cookie ends with the browser");
  const device = byName(cookies, "__Host-idp_device");
  assertHostCookie(device, "__Host-idp_device", "127.0.0.1");
  assert.ok(device.expires > Date.now() / 1000 + 30 * 86400, "the device cookie is long-lived");
  assertHostCookie(byName(cookies, "__Host-idp_csrf"), "__Host-idp_csrf", "127.0.0.1");
  const html = await page.content();
  for (const c of cookies) assert.ok(!html.includes(c.value), `${c.name}'s value is in the page`);

  // Kept means sent back: a reload is still signed in.
  const again = await page.reload();
  assert.equal(again.status(), 200);
  assert.equal(again.headers()["cache-control"], "no-store");
  await check(page, "account");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("everything works without JavaScript: sign in and sign out", async () => {
  const ctx = await chrome.newContext({ javaScriptEnabled: false });
  const { page, problems } = await open(ctx);
  await signIn(page, fx.users.pages, fx.password);
  assert.equal(new URL(page.url()).pathname, "/account");
  assert.equal(await page.locator("button.reveal").count(), 0, "the script ran");
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.waitForURL(/\/login/);
  assert.equal(byName(await ctx.cookies(base), "__Host-idp_session"), undefined);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("Keep me signed in makes the session cookie persistent", async () => {
  const ctx = await chrome.newContext();
  const { page } = await open(ctx);
  await signIn(page, fx.users.remember, fx.password, { remember: true });
  assert.equal(new URL(page.url()).pathname, "/account");
  const session = byName(await ctx.cookies(base), "__Host-idp_session");
  const days = (session.expires - Date.now() / 1000) / 86400;
  assert.ok(days > 29 && days < 31, `session cookie lives ${days} days, want browser.remember_ttl (30)`);
  await ctx.close();
});

test("wrong credentials: one message for every cause, the email kept, the summary focused", async () => {
  const ctx = await chrome.newContext();
  const { page, problems } = await open(ctx);
  const texts = [];
  for (const [email, password] of [[fx.users.wrong, "not the password at all"], ["nobody@example.com", fx.password]]) {
    await page.goto(base + "/login");
    await fillSignIn(page, email, password);
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/login") && r.request().method() === "POST"),
      page.getByRole("button", { name: "Sign in" }).click(),
    ]);
    assert.equal(resp.status(), 400);
    await page.waitForLoadState();
    texts.push(await alertText(page));
    assert.equal(await page.getByLabel("Email", { exact: true }).inputValue(), email);
    assert.equal(await page.getByLabel("Password", { exact: true }).inputValue(), "");
    assert.equal(await activeId(page), "alert", "the error summary has the focus");
    assert.ok(!(await page.content()).includes(password), "the password is in the page");
  }
  assert.equal(texts[0], texts[1]);
  assert.match(texts[0], /Wrong email or password|email or password/i);
  await check(page, "login-error");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("the seeded admin must change the one-time password before anything else", async () => {
  const ctx = await chrome.newContext();
  const { page, problems } = await open(ctx);
  await signIn(page, fx.admin.email, fx.admin.password);
  assert.equal(new URL(page.url()).pathname, "/password/change");
  assert.match(await page.locator("#notice").innerText(), /one-time|new password/i);
  await check(page, "password_change-forced");
  await page.goto(base + "/account");
  assert.equal(new URL(page.url()).pathname, "/password/change", "the account page waits for the change");

  await page.getByLabel("Current password", { exact: true }).fill(fx.admin.password);
  await page.getByLabel("New password", { exact: true }).fill("a brand new passphrase");
  await page.getByLabel("Confirm new password", { exact: true }).fill("a different passphrase");
  await page.getByRole("button", { name: "Change password" }).click();
  await page.waitForLoadState();
  assert.equal(await activeId(page), "alert");
  assert.equal(await page.getByLabel("Confirm new password", { exact: true }).getAttribute("aria-invalid"), "true");
  await check(page, "password_change-errors");

  await page.getByLabel("Current password", { exact: true }).fill(fx.admin.password);
  await page.getByLabel("New password", { exact: true }).fill("a brand new passphrase");
  await page.getByLabel("Confirm new password", { exact: true }).fill("a brand new passphrase");
  await page.getByRole("button", { name: "Change password" }).click();
  await page.waitForURL(/\/account/);
  assert.match(await page.locator("#notice").innerText(), /password is changed/i);
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("forgot and reset through the mail outbox; the token stays out of every URL the page makes", async () => {
  const ctx = await chrome.newContext();
  const { page, problems } = await open(ctx);
  await page.goto(base + "/login");
  await page.getByRole("link", { name: "Forgot password?" }).click();
  await page.waitForURL(/\/password\/forgot/);
  await check(page, "password_forgot");
  const before = mails(fx.mailFile).length;
  await page.getByLabel("Email", { exact: true }).fill(fx.users.reset);
  const [sent] = await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(base + "/password/forgot") && r.request().method() === "POST"),
    page.getByRole("button", { name: "Send reset link" }).click(),
  ]);
  assert.equal(sent.status(), 200);
  await page.waitForLoadState();
  assert.match(await page.locator("#notice").innerText(), /If an account exists/);
  await check(page, "password_forgot-sent");

  const mail = await waitForMail(fx.mailFile, (m) => m.to === fx.users.reset && m.kind === "password_reset", before);
  const link = new URL(mail.url);
  const token = link.searchParams.get("token");
  assert.ok(token && link.origin === base, `reset link ${mail.url}`);
  const seen = [];
  page.on("request", (r) => seen.push(r.url()));
  const resp = await page.goto(mail.url);
  assert.equal(resp.headers()["referrer-policy"], "no-referrer");
  assert.equal(await page.locator('input[type="hidden"][name="token"]').inputValue(), token);
  const carriers = await page.evaluate((tok) => {
    const out = [];
    for (const el of document.querySelectorAll("*")) {
      for (const a of el.attributes) {
        if (a.value.includes(tok) && !(el.tagName === "INPUT" && el.type === "hidden" && el.name === "token" && a.name === "value")) out.push(`${el.tagName} ${a.name}`);
      }
      if (el.tagName === "SCRIPT" && el.textContent.includes(tok)) out.push("inline script");
    }
    return out;
  }, token);
  assert.deepEqual(carriers, [], "the token is somewhere other than its hidden field");
  assert.deepEqual(seen.filter((u) => u.includes(token) && u !== mail.url), [], "a request carried the token");
  await check(page, "password_reset");

  await page.getByLabel("New password", { exact: true }).fill("a lovely new passphrase");
  await page.getByLabel("Confirm new password", { exact: true }).fill("a lovely new passphrase");
  const [done] = await Promise.all([
    page.waitForResponse((r) => r.url() === base + "/password/reset" && r.request().method() === "POST"),
    page.getByRole("button", { name: "Set password" }).click(),
  ]);
  assert.equal(done.status(), 200, await done.text());
  await page.waitForLoadState();
  assert.match(await page.locator("#notice").innerText(), /password is set/i);
  await check(page, "password_reset-done");
  await signIn(page, fx.users.reset, "a lovely new passphrase");
  assert.equal(new URL(page.url()).pathname, "/account");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("revoking another session on the account page ends it: its refresh fails", async () => {
  const ctx = await chrome.newContext();
  const { page, problems } = await open(ctx);
  await signIn(page, fx.users.revoke, fx.password);
  const other = await api("/api/v1/auth/token", { email: fx.users.revoke, password: fx.password });
  assert.equal(other.status, 200);
  await page.reload();
  const revoke = page.getByRole("button", { name: "Revoke", exact: true });
  assert.equal(await revoke.count(), 1, "one Revoke button: the API session's");
  await revoke.click();
  await page.waitForURL(/\/account/);
  assert.match(await page.locator("#notice").innerText(), /session/i);
  assert.equal(await page.getByRole("button", { name: "Revoke", exact: true }).count(), 0);
  const refresh = await api("/api/v1/auth/refresh", { refresh_token: other.json.refresh_token });
  assert.equal(refresh.status, 400, "the revoked session still refreshes");
  assert.equal(refresh.json.error, "invalid_grant");
  await check(page, "account-revoked");
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("sign out: the session cookie is gone and Back shows nothing private", async () => {
  const ctx = await chrome.newContext();
  const { page, problems } = await open(ctx);
  await signIn(page, fx.users.signout, fx.password);
  await page.goto(base + "/logout");
  assert.equal(await page.locator("h1").innerText(), "Sign out");
  await check(page, "logout");
  await page.goto(base + "/account");
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.waitForURL(/\/login/);
  assert.match(await page.locator("#notice").innerText(), /signed out/i);
  const cookies = await ctx.cookies(base);
  assert.equal(byName(cookies, "__Host-idp_session"), undefined, "the session cookie survived the sign-out");
  await check(page, "login-signed-out");

  await page.goBack();
  await page.waitForLoadState();
  const text = await page.locator("body").innerText();
  assert.ok(!text.includes(fx.users.signout), `Back shows the account: ${page.url()}\n${text}`);
  assert.notEqual(await page.locator("h1").innerText(), "Your account");

  // Signed out, GET /logout says so.
  await page.goto(base + "/logout");
  await check(page, "signed-out-message");
  assert.deepEqual(problems, []);
  await ctx.close();
});

// A page on another site (localhost is another site than 127.0.0.1) that
// posts a form to idp as soon as it loads.
async function attacker(forms) {
  const server = http.createServer((req, res) => {
    const f = forms[req.url];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    const inputs = Object.entries(f.fields).map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`).join("");
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end(`<!doctype html><title>win a prize</title><form method="post" action="${f.action}">${inputs}</form><script>document.forms[0].submit()</script>`);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://localhost:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

test("cross-site form posts to /logout and /login are refused", async () => {
  const evil = await attacker({
    "/logout": { action: base + "/logout", fields: { csrf: "guess" } },
    "/login": { action: base + "/login", fields: { email: fx.users.csrf, password: fx.password, flow: "x", csrf: "x" } },
  });
  try {
    const ctx = await chrome.newContext();
    const { page } = await open(ctx);
    await signIn(page, fx.users.csrf, fx.password);
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.url() === base + "/logout" && r.request().method() === "POST"),
      page.goto(evil.url + "/logout"),
    ]);
    assert.equal(refused.status(), 403);
    await page.waitForLoadState();
    assert.match(await page.locator("main").innerText(), /another site|refused/i);
    await check(page, "error-cross-site");
    const still = await page.goto(base + "/account");
    assert.equal(new URL(page.url()).pathname, "/account", "the cross-site post signed the victim out");
    assert.equal(still.status(), 200);
    await ctx.close();

    // Login CSRF: the attacker's page signs a fresh browser in to the
    // attacker's account.
    const victim = await chrome.newContext();
    const vp = await victim.newPage();
    await vp.goto(base + "/login");
    const [loginPost] = await Promise.all([
      vp.waitForResponse((r) => r.url() === base + "/login" && r.request().method() === "POST"),
      vp.goto(evil.url + "/login"),
    ]);
    assert.equal(loginPost.status(), 403);
    assert.equal(byName(await victim.cookies(base), "__Host-idp_session"), undefined, "a cross-site post signed the browser in");
    await victim.close();
  } finally {
    await evil.close();
  }
});

test("return_to off idp is refused: no redirect to another site", async () => {
  const ctx = await chrome.newContext();
  const { page } = await open(ctx);
  const offsite = [];
  await ctx.route((url) => url.hostname.endsWith("evil.example"), (route) => {
    offsite.push(route.request().url());
    return route.abort();
  });
  for (const target of ["https://evil.example", "//evil.example/x", "/\\evil.example", "https:evil.example", "http://127.0.0.1.evil.example/"]) {
    const resp = await page.goto(`${base}/login?return_to=${encodeURIComponent(target)}`);
    if (resp.status() === 400) {
      assert.match(await page.locator("main").innerText(), /another site|not on this site/i, target);
      if (target === "https://evil.example") await check(page, "error-return_to");
      continue;
    }
    // Accepted as a path on idp: signing in must stay on idp.
    await fillSignIn(page, fx.users.returnto, fx.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForLoadState();
    assert.equal(new URL(page.url()).origin, base, `${target} led to ${page.url()}`);
    await ctx.clearCookies();
  }
  assert.deepEqual(offsite, [], "the browser was sent to evil.example");
  // A path on idp is honoured.
  await ctx.clearCookies();
  await signIn(page, fx.users.returnto, fx.password, { query: "?return_to=" + encodeURIComponent("/logout") });
  assert.equal(new URL(page.url()).pathname, "/logout");
  await ctx.close();
});

test("the owner's browser with its device cookie signs in while the account is hammered from elsewhere", async () => {
  const owner = await chrome.newContext();
  const { page } = await open(owner);
  await signIn(page, fx.users.victim, fx.password);
  assert.equal(new URL(page.url()).pathname, "/account");
  assert.ok(byName(await owner.cookies(base), "__Host-idp_device"), "no device cookie");
  // The owner closes the browser: the session cookie goes, the device cookie stays.
  await owner.clearCookies({ name: "__Host-idp_session" });

  // The attack: wrong passwords from 24 addresses, well past both the
  // per-source and the whole-account limit.
  const codes = {};
  for (let i = 0; i < 3 * fx.lockout.accountMaxAttempts; i++) {
    const r = await api("/api/v1/auth/token", { email: fx.users.victim, password: `guess ${i}` }, { "X-Forwarded-For": `198.51.100.${1 + (i % 24)}` });
    codes[r.status] = (codes[r.status] || 0) + 1;
  }
  assert.ok(codes[429] > 0, `the attack was never throttled: ${JSON.stringify(codes)}`);

  // A browser without the owner's device cookie is refused even with the
  // right password: the account as a whole is locked...
  const stranger = await chrome.newContext();
  const sp = await stranger.newPage();
  await sp.goto(base + "/login");
  await fillSignIn(sp, fx.users.victim, fx.password);
  const [locked] = await Promise.all([
    sp.waitForResponse((r) => r.url().endsWith("/login") && r.request().method() === "POST"),
    sp.getByRole("button", { name: "Sign in" }).click(),
  ]);
  assert.equal(locked.status(), 429, "the account is not locked for others, so the test proves nothing");
  await sp.waitForLoadState();
  assert.match(await alertText(sp), /Too many attempts/);
  assert.doesNotMatch(await alertText(sp), /\d+ (minutes|seconds)/, "the lock's end is shown");
  await check(sp, "login-too-many");
  await stranger.close();

  // ...and the owner gets in.
  await signIn(page, fx.users.victim, fx.password);
  assert.equal(new URL(page.url()).pathname, "/account", "the owner was locked out by the attack");
  await owner.close();
});

test("https: Chromium keeps the __Host- cookies, over HTTP/2", async () => {
  const tls = await launch(["--ignore-certificate-errors"]);
  try {
    const ctx = await tls.newContext({ ignoreHTTPSErrors: true });
    const page = await ctx.newPage();
    await signIn(page, fx.users.https, fx.password, { origin: fx.httpsUrl });
    assert.equal(page.url(), fx.httpsUrl + "/account");
    const cookies = await ctx.cookies(fx.httpsUrl);
    for (const name of ["__Host-idp_session", "__Host-idp_device", "__Host-idp_csrf"]) assertHostCookie(byName(cookies, name), name, "127.0.0.1");
    const resp = await page.reload();
    assert.equal(resp.status(), 200);
    assert.equal(await page.locator("h1").innerText(), "Your account");
    const proto = await page.evaluate(() => performance.getEntriesByType("navigation")[0].nextHopProtocol);
    assert.equal(proto, "h2");
    await ctx.close();
  } finally {
    await tls.close();
  }
});

test("the pages in German, chosen by Accept-Language and by ui_locales", async () => {
  const ctx = await chrome.newContext({ locale: "de-DE" });
  const { page } = await open(ctx);
  await page.goto(base + "/login");
  assert.equal(await page.locator("html").getAttribute("lang"), "de");
  assert.equal(await page.getByRole("button", { name: "Anmelden" }).count(), 1);
  await page.goto(base + "/login?ui_locales=en");
  assert.equal(await page.locator("html").getAttribute("lang"), "en");
  await page.goto(base + "/password/forgot?ui_locales=fr+de");
  assert.equal(await page.getByRole("button", { name: "Link senden" }).count(), 1);
  await check(page, "password_forgot-de");
  await ctx.close();
});

test("an app's sign-in: the consent page, Allow, the code; the app on the account page, removed; Deny", async (t) => {
  const ctx = await chrome.newContext();
  const { page, problems } = await open(ctx);
  // The app's callback: a server on the registered redirect URI's port.
  const landed = [];
  const redirect = new URL(fx.app.redirectUri);
  const app = http.createServer((req, res) => {
    landed.push(new URL(req.url, redirect));
    res.writeHead(200, { "Content-Type": "text/html" }).end("<!doctype html><title>app</title><p>back in the app</p>");
  });
  await new Promise((r) => app.listen(+redirect.port, redirect.hostname, r));
  t.after(() => new Promise((r) => app.close(r)));
  const authorize = (state) => {
    const verifier = randomBytes(32).toString("base64url");
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const q = new URLSearchParams({ response_type: "code", client_id: fx.app.clientId, redirect_uri: fx.app.redirectUri,
      scope: "openid profile email", state, code_challenge: challenge, code_challenge_method: "S256" });
    return { url: `${base}/oauth2/authorize?${q}`, verifier };
  };

  const first = authorize("s1");
  await page.goto(first.url);
  assert.equal(new URL(page.url()).pathname, "/login");
  await fillSignIn(page, fx.users.consent, fx.password);
  await Promise.all([page.waitForEvent("framenavigated"), page.getByRole("button", { name: "Sign in" }).click()]);
  await page.waitForLoadState();
  assert.equal(await page.locator("h1").innerText(), "Allow access?");
  const text = await page.locator("main").innerText();
  assert.match(text, /Team Wiki wants to use your account/);
  assert.match(text, /See your email address/);
  await check(page, "consent");
  await page.getByRole("button", { name: "Allow", exact: true }).click();
  await page.waitForURL((u) => u.href.startsWith(fx.app.redirectUri));
  const cb = landed.at(-1);
  assert.equal(cb.searchParams.get("state"), "s1");
  assert.ok(cb.searchParams.get("code"), `no code: ${cb}`);
  const token = await fetch(base + "/oauth2/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code: cb.searchParams.get("code"), redirect_uri: fx.app.redirectUri,
      client_id: fx.app.clientId, code_verifier: first.verifier }),
  });
  assert.equal(token.status, 200, await token.clone().text());
  assert.ok((await token.json()).id_token);

  await page.goto(base + "/account");
  const apps = page.locator("section", { has: page.getByRole("heading", { name: "Apps with access" }) });
  assert.match(await apps.innerText(), /Team Wiki/);
  await check(page, "account-apps");
  await apps.getByRole("button", { name: "Remove access" }).click();
  await page.waitForURL(/\/account/);
  assert.match(await page.locator("#notice").innerText(), /no longer has access/);
  assert.match(await apps.innerText(), /No app has access/);

  // Access removed: the app asks again, and this time the answer is no.
  const second = authorize("s2");
  await page.goto(second.url);
  assert.equal(await page.locator("h1").innerText(), "Allow access?");
  await page.getByRole("button", { name: "Deny", exact: true }).click();
  await page.waitForURL((u) => u.href.startsWith(fx.app.redirectUri));
  assert.equal(landed.at(-1).searchParams.get("error"), "access_denied");
  assert.equal(landed.at(-1).searchParams.get("state"), "s2");
  assert.deepEqual(problems, []);
  await ctx.close();
});
