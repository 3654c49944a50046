// openid-client v6 (npm) as the relying party of a running `idp serve`,
// signing in through the hosted sign-in page with plain fetch and a cookie
// jar: discovery, the authorization URL with PKCE, state and nonce, the
// code grant (openid-client checks the ID token's claims, and with
// enableNonRepudiationChecks its signature against idp's JWKS), UserInfo,
// the refresh grant and RP-initiated logout. internal/e2e
// TestOpenIDClientNode starts idp, registers the clients and passes them
// in IDP_OIDC_FIXTURE; see docs/integrate.md.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";

const fx = JSON.parse(process.env.IDP_OIDC_FIXTURE || "null");
if (!fx) throw new Error("IDP_OIDC_FIXTURE is not set: run this through internal/e2e TestOpenIDClientNode (make test)");
const issuer = new URL(fx.issuer);

// A browser's cookies: per host name (not port), as browsers keep them.
class Jar {
  #byHost = new Map();
  header(url) {
    const host = this.#byHost.get(new URL(url).hostname) || new Map();
    return [...host].map(([k, v]) => `${k}=${v}`).join("; ");
  }
  store(url, resp) {
    const hostname = new URL(url).hostname;
    if (!this.#byHost.has(hostname)) this.#byHost.set(hostname, new Map());
    const host = this.#byHost.get(hostname);
    for (const line of resp.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const i = pair.indexOf("=");
      const name = pair.slice(0, i).trim(), value = pair.slice(i + 1).trim();
      const gone = attrs.some((a) => {
        const [k, v = ""] = a.trim().split("=");
        return (k.toLowerCase() === "max-age" && +v <= 0) || (k.toLowerCase() === "expires" && Date.parse(v) < Date.now());
      });
      if (gone || value === "") host.delete(name);
      else host.set(name, value);
    }
  }
}

// navigate follows redirects as a browser does until it lands on a page,
// or reaches a URL starting with stopAt (the app's redirect URI: no server
// needs to listen there, the test reads the URL).
async function navigate(jar, url, { method = "GET", form, stopAt } = {}) {
  for (let hops = 0; hops < 15; hops++) {
    if (stopAt && url.startsWith(stopAt)) return { url: new URL(url) };
    const headers = { cookie: jar.header(url) };
    let body;
    if (form) {
      body = new URLSearchParams(form);
      headers["content-type"] = "application/x-www-form-urlencoded";
      headers.origin = new URL(url).origin;
      headers["sec-fetch-site"] = "same-origin";
    }
    const resp = await fetch(url, { method, headers, body, redirect: "manual" });
    jar.store(url, resp);
    if (resp.status >= 300 && resp.status < 400) {
      url = new URL(resp.headers.get("location"), url).href;
      method = "GET";
      form = undefined;
      continue;
    }
    return { url: new URL(url), status: resp.status, body: await resp.text() };
  }
  throw new Error(`too many redirects at ${url}`);
}

const unescape = (s) => s.replace(/&#(\d+);/g, (_, d) => String.fromCharCode(+d)).replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

// hiddenFields reads the hidden inputs of the page's form posting to action.
function hiddenFields(html, action) {
  for (const [, act, inner] of html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)) {
    if (unescape(act) !== action) continue;
    const out = {};
    for (const [input] of inner.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
      const name = input.match(/\bname="([^"]*)"/), value = input.match(/\bvalue="([^"]*)"/);
      if (name && value) out[name[1]] = unescape(value[1]);
    }
    return out;
  }
  throw new Error(`no form posting to ${action} in:\n${html.slice(0, 2000)}`);
}

// signInThrough goes from the authorization URL through idp's sign-in
// page (when the browser isn't signed in yet) back to the redirect URI.
async function signInThrough(jar, authorizationUrl, redirectUri) {
  let p = await navigate(jar, authorizationUrl.href, { stopAt: redirectUri });
  if (p.body !== undefined) {
    assert.equal(p.status, 200, p.body);
    assert.equal(p.url.pathname, "/login", `not idp's sign-in page: ${p.url}`);
    const form = { ...hiddenFields(p.body, "/login"), email: fx.email, password: fx.password };
    p = await navigate(jar, new URL("/login", issuer).href, { method: "POST", form, stopAt: redirectUri });
  }
  assert.ok(p.body === undefined, `did not come back to the app: ${p.status} ${p.url}\n${p.body?.slice(0, 2000)}`);
  return p.url;
}

// refused expects the promise to fail with re in its message or in one of
// its causes (openid-client wraps oauth4webapi's errors).
async function refused(promise, re) {
  await assert.rejects(promise, (err) => {
    const messages = [];
    for (let e = err; e; e = e.cause) messages.push(e.message);
    assert.match(messages.join(" / "), re);
    return true;
  });
}

function jwtHeader(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[0], "base64url").toString());
}

// The config of one registered client: the ID token algorithm pinned to
// the client's own, the signature checked against the JWKS.
// A confidential client authenticates with client_secret_basic, a public
// one with its client_id alone (PKCE is what protects its code).
async function configure(c, { verifySignatures = true } = {}) {
  const execute = [client.allowInsecureRequests]; // idp here is plain http on 127.0.0.1
  if (verifySignatures) execute.push(client.enableNonRepudiationChecks);
  const metadata = { id_token_signed_response_alg: c.alg };
  if (c.public) return client.discovery(issuer, c.clientId, metadata, client.None(), { execute });
  return client.discovery(issuer, c.clientId, { ...metadata, client_secret: c.clientSecret }, client.ClientSecretBasic(c.clientSecret), { execute });
}

async function authorizationRequest(config, c, extra = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const params = {
    redirect_uri: c.redirectUri, scope: "openid email profile offline_access",
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256",
    state: client.randomState(), nonce: client.randomNonce(), ...extra,
  };
  return { url: client.buildAuthorizationUrl(config, params), verifier, state: params.state, nonce: params.nonce };
}

for (const c of fx.clients) {
  const { alg } = c;

  test(`${c.name} client (${alg}): discovery, code flow with PKCE through the sign-in page, ID token, userinfo, refresh, logout`, async () => {
    const config = await configure(c);
    const meta = config.serverMetadata();
    assert.equal(meta.issuer, issuer.href.replace(/\/$/, ""));
    assert.ok(meta.supportsPKCE("S256"));
    assert.ok(meta.id_token_signing_alg_values_supported.includes(alg));

    const jar = new Jar();
    const req = await authorizationRequest(config, c);
    assert.equal(req.url.origin + req.url.pathname, meta.authorization_endpoint);
    const callback = await signInThrough(jar, req.url, c.redirectUri);
    assert.equal(callback.searchParams.get("iss"), meta.issuer);

    // A callback whose state isn't the one this app sent: refused before
    // the code is spent.
    await refused(client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: req.verifier, expectedState: "another", expectedNonce: req.nonce }),
      /unexpected "state"/);

    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce, idTokenExpected: true,
    });
    assert.equal(jwtHeader(tokens.id_token).alg, alg);
    const claims = tokens.claims();
    assert.equal(claims.iss, meta.issuer);
    assert.equal(claims.aud, c.clientId);
    assert.equal(claims.nonce, req.nonce);
    assert.equal(claims.email, fx.email);
    assert.equal(claims.name, fx.name);
    assert.equal(typeof claims.auth_time, "number");
    assert.ok(tokens.refresh_token, "no refresh token");
    assert.equal(tokens.token_type.toLowerCase(), "bearer");

    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.sub, claims.sub);
    assert.equal(info.email, fx.email);

    // Refresh: a rotated refresh token and an ID token about the same
    // sign-in.
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(refreshed.access_token && refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token);
    const again = refreshed.claims();
    assert.equal(again.sub, claims.sub);
    assert.equal(again.sid, claims.sid);
    assert.equal(again.auth_time, claims.auth_time);
    assert.equal(jwtHeader(refreshed.id_token).alg, alg);

    // The browser is signed in: the next request gets its code at once
    // (SSO); an ID token whose nonce isn't the one sent is refused.
    const sso = await authorizationRequest(config, c);
    const ssoCallback = await signInThrough(jar, sso.url, c.redirectUri);
    await refused(client.authorizationCodeGrant(config, ssoCallback, { pkceCodeVerifier: sso.verifier, expectedState: sso.state, expectedNonce: "not-the-nonce" }),
      /unexpected ID Token "nonce"/);

    // RP-initiated logout with id_token_hint: back to the registered page
    // with the state; idp's session is over, so signing in asks again.
    const logoutState = client.randomState();
    const end = client.buildEndSessionUrl(config, { id_token_hint: refreshed.id_token, post_logout_redirect_uri: c.postLogoutUri, state: logoutState });
    assert.equal(end.origin + end.pathname, meta.end_session_endpoint);
    const back = await navigate(jar, end.href, { stopAt: c.postLogoutUri });
    assert.ok(back.body === undefined, `logout did not come back: ${back.status} ${back.url}\n${back.body?.slice(0, 2000)}`);
    assert.equal(back.url.searchParams.get("state"), logoutState);
    const next = await authorizationRequest(config, c);
    const page = await navigate(jar, next.url.href, { stopAt: c.redirectUri });
    assert.equal(page.url.pathname, "/login", "still signed in at idp after logout");
  });

  test(`${c.name} client (${alg}): with enableNonRepudiationChecks a forged ID token signature is refused; without, openid-client trusts the token endpoint`, async () => {
    // The token endpoint's answer with one byte of the signature changed.
    const forge = (config) => {
      config[client.customFetch] = async (url, options) => {
        const resp = await fetch(url, options);
        if (new URL(url).pathname !== "/oauth2/token") return resp;
        const body = await resp.json();
        const [h, p, s] = body.id_token.split(".");
        const sig = Buffer.from(s, "base64url");
        sig[0] ^= 1;
        body.id_token = `${h}.${p}.${sig.toString("base64url")}`;
        const headers = new Headers(resp.headers);
        headers.delete("content-length");
        return new Response(JSON.stringify(body), { status: resp.status, headers });
      };
      return config;
    };
    const jar = new Jar();
    for (const verifySignatures of [true, false]) {
      const config = forge(await configure(c, { verifySignatures }));
      const req = await authorizationRequest(config, c);
      const callback = await signInThrough(jar, req.url, c.redirectUri);
      const grant = client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce });
      if (verifySignatures) await refused(grant, /signature/i);
      else assert.equal((await grant).claims().email, fx.email, "openid-client without enableNonRepudiationChecks");
    }
  });
}
