// The admin pages in Chromium, against `idp serve`: the seeded admin of
// tenant "acme" invites a member, the member completes the invite from the
// mail outbox and signs in, the admin disables them and their session
// dies, and the audit log shows each step. axe and screenshots
// (var/screenshots/real-admin-*.png) on every admin page met.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, watch, axe, shootAll, env, mails, waitForMail } from "./lib.js";

const fx = JSON.parse(env("IDP_BROWSER_FIXTURE"));
const base = fx.url;
const admin = fx.tenantAdmin;
let chrome;

before(async () => {
  chrome = await launch();
});
after(async () => chrome && (await chrome.close()));

async function check(page, name) {
  await axe(page, name);
  await page.emulateMedia({ colorScheme: "dark" });
  await axe(page, `${name} (dark)`);
  await page.emulateMedia({ colorScheme: "light" });
  await shootAll(page, `real-${name}`);
}

// submit clicks a button and waits for the page its form leads to.
async function submit(page, name) {
  await Promise.all([page.waitForEvent("framenavigated"), page.getByRole("button", { name, exact: true }).click()]);
  await page.waitForLoadState();
}

async function signIn(page, email, password) {
  await page.goto(`${base}/login?tenant=${admin.tenant}`);
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await submit(page, "Sign in");
}

test("admin pages: invite a member, who signs in; disable them and their session dies; the audit log shows it", async () => {
  const adminCtx = await chrome.newContext();
  const page = await adminCtx.newPage();
  const problems = watch(page);

  // The seeded admin: the one-time password first, then the account page
  // links the admin pages.
  await signIn(page, admin.email, admin.password);
  assert.equal(new URL(page.url()).pathname, "/password/change");
  await page.getByLabel("Current password", { exact: true }).fill(admin.password);
  await page.getByLabel("New password", { exact: true }).fill("a long passphrase of my own");
  await page.getByLabel("Confirm new password", { exact: true }).fill("a long passphrase of my own");
  await submit(page, "Change password");
  assert.equal(new URL(page.url()).pathname, "/account");
  await Promise.all([page.waitForURL(/\/admin\/users$/), page.getByRole("link", { name: "Open administration" }).click()]);
  assert.equal(await page.locator("h1").innerText(), "Users");
  assert.equal(await page.getByRole("navigation", { name: "Administration" }).getByRole("link", { name: "Users" }).getAttribute("aria-current"), "page");
  const listed = await page.locator("table").innerText();
  assert.match(listed, new RegExp(admin.email));
  assert.ok(!listed.includes("@example.com"), "acme's admin sees another tenant's users");
  await check(page, "admin-users");

  // Invite a member.
  await Promise.all([page.waitForURL(/\/admin\/users\/new$/), page.getByRole("link", { name: "Invite a user" }).click()]);
  await check(page, "admin-user-new");
  const before = mails(fx.mailFile).length;
  const invitee = "newbie@acme.example";
  await page.getByLabel("Email", { exact: true }).fill(invitee);
  await page.getByLabel("Name", { exact: true }).fill("New Bie");
  await page.getByRole("checkbox", { name: "member" }).check();
  await submit(page, "Send invite");
  assert.match(new URL(page.url()).pathname, /^\/admin\/users\/[0-9a-f-]{36}$/);
  const userURL = base + new URL(page.url()).pathname;
  assert.match(await page.locator("#notice").innerText(), /invite is sent/i);
  assert.ok(await page.getByRole("checkbox", { name: "member" }).isChecked());
  assert.match(await page.locator(".facts").innerText(), /invited/);

  // The member completes the invite from the outbox and signs in.
  const mail = await waitForMail(fx.mailFile, (m) => m.to === invitee && m.kind === "invite", before);
  const personCtx = await chrome.newContext();
  const person = await personCtx.newPage();
  const personProblems = watch(person);
  await person.goto(mail.url);
  await person.getByLabel("New password", { exact: true }).fill("a welcome passphrase");
  await person.getByLabel("Confirm new password", { exact: true }).fill("a welcome passphrase");
  await submit(person, "Set password");
  assert.match(await person.locator("#notice").innerText(), /password is set/i);
  await signIn(person, invitee, "a welcome passphrase");
  assert.equal(new URL(person.url()).pathname, "/account");
  assert.match(await person.locator("main").innerText(), /member/);
  assert.equal(await person.getByRole("link", { name: "Open administration" }).count(), 0, "a member is offered the admin pages");
  const forbidden = await person.goto(base + "/admin/users");
  assert.equal(forbidden.status(), 403);

  // The admin sees the member signed in, and disables them.
  await page.goto(userURL);
  assert.match(await page.locator(".facts").innerText(), /active/);
  assert.equal(await page.getByRole("button", { name: "Revoke", exact: true }).count(), 1, "the member's browser session");
  await check(page, "admin-user");
  await submit(page, "Disable user");
  assert.match(await page.locator("#notice").innerText(), /disabled/i);
  assert.match(await page.locator(".facts").innerText(), /disabled/);

  // The member's session is gone at once.
  await person.goto(base + "/account");
  assert.equal(new URL(person.url()).pathname, "/login");

  // The audit log shows each step, with the admin as actor.
  await Promise.all([page.waitForURL(/\/admin\/audit\?user=/), page.getByRole("link", { name: "All events of this user" }).click()]);
  const log = await page.locator("ol.events").innerText();
  for (const step of ["User created", "Password set from a link", "Signed in", "User disabled"]) {
    assert.match(log, new RegExp(step), `the audit log lacks ${step}`);
  }
  assert.match(log, new RegExp(`By\\s+${admin.email.replace(".", "\\.")}`));
  await check(page, "admin-audit");

  await page.getByRole("link", { name: "Roles", exact: true }).click();
  await page.waitForURL(/\/admin\/roles$/);
  assert.match(await page.locator("table").innerText(), /member\s[\s\S]*1 user/);
  await check(page, "admin-roles");

  assert.deepEqual(problems, []);
  assert.deepEqual(personProblems.filter((p) => !/status of 403/.test(p)), []);
  await personCtx.close();
  await adminCtx.close();
});
