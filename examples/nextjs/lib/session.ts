// The session: idp's tokens in an encrypted, HttpOnly cookie.
//
// Why a cookie and not a server-side store: the app stays stateless (any
// number of instances, restarts keep everyone signed in, nothing to run
// beside it), and the cookie is useless outside this server: AES-256-GCM
// under SESSION_SECRET (a JWE, "dir" + "A256GCM"), HttpOnly so no script of
// the page can read even the ciphertext, Secure and SameSite=Lax. The
// browser only ever holds that ciphertext; the tokens are decrypted and
// used here, on the server. The price: about 3 KB of cookie on every
// request to the app, and the app can't end a stolen cookie by itself
// (sign-out ends idp's session, which kills its refresh token).
import { EncryptJWT, decodeJwt, jwtDecrypt, type JWTPayload } from "jose";
import type { TokenEndpointResponse } from "openid-client";
import { config } from "./config";

// __Host-: Secure, Path=/, no Domain, so no other site or subdomain can
// set it. Browsers treat http://127.0.0.1 and localhost as secure, so it
// works there without TLS too.
export const SESSION_COOKIE = "__Host-app_session";

export type Session = {
  accessToken: string;
  refreshToken: string;
  idToken: string; // for id_token_hint at sign-out, and the claims /me shows
  expiresAt: number; // seconds since the epoch: the access token's end
  refreshAt: number; // refresh from here on, ahead of expiresAt
  endsAt: number; // the refresh token's end: the cookie's too
};

const PURPOSE = "session";

// fromTokens builds a session from a token response. A refresh response
// without a new ID token keeps the previous one.
export function fromTokens(t: TokenEndpointResponse, previous?: Session): Session {
  const now = Math.floor(Date.now() / 1000);
  const ttl = t.expires_in ?? 300;
  const refreshTtl = typeof t.refresh_expires_in === "number" ? t.refresh_expires_in : 8 * 3600;
  const refreshToken = t.refresh_token ?? previous?.refreshToken;
  const idToken = t.id_token ?? previous?.idToken;
  if (!refreshToken || !idToken) throw new Error("idp sent no refresh token or no ID token");
  return {
    accessToken: t.access_token,
    refreshToken,
    idToken,
    expiresAt: now + ttl,
    // A minute early, or halfway for short-lived tokens: a request never
    // leaves with a token about to expire on its way.
    refreshAt: now + ttl - Math.min(60, ttl / 2),
    endsAt: now + refreshTtl,
  };
}

export function needsRefresh(s: Session): boolean {
  return Date.now() / 1000 >= s.refreshAt;
}

// claims are the ID token's claims: openid-client validated the token
// when it came from idp's token endpoint.
export function claims(s: Session): JWTPayload {
  return decodeJwt(s.idToken);
}

export async function seal(s: Session): Promise<string> {
  return encrypt({ ...s }, PURPOSE, s.endsAt);
}

// unseal returns the session in a cookie value, or null for none, an
// expired one, or anything this server didn't make.
export async function unseal(value: string | undefined): Promise<Session | null> {
  const payload = await decrypt(value, PURPOSE);
  return payload as Session | null;
}

export function cookieOptions(expiresAt: number) {
  return {
    httpOnly: true,
    secure: true,
    sameSite: "lax" as const,
    path: "/",
    maxAge: Math.max(0, expiresAt - Math.floor(Date.now() / 1000)),
  };
}

// clearCookie deletes a cookie of this app. A __Host- cookie is only
// replaced by one set with the same attributes (Secure, Path=/), so
// cookies.delete(name) alone would leave it in place.
export function clearCookie(jar: { set(name: string, value: string, options: object): unknown }, name: string) {
  jar.set(name, "", { ...cookieOptions(0), maxAge: 0 });
}

// encrypt and decrypt are the JWE both cookies use; purpose (the
// audience) keeps one kind of cookie from being accepted as the other.
export async function encrypt(payload: JWTPayload, purpose: string, expiresAt: number): Promise<string> {
  return new EncryptJWT(payload)
    .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
    .setAudience(purpose)
    .setIssuedAt()
    .setExpirationTime(expiresAt)
    .encrypt(config().sessionKey);
}

export async function decrypt(value: string | undefined, purpose: string): Promise<JWTPayload | null> {
  if (!value) return null;
  try {
    const { payload } = await jwtDecrypt(value, config().sessionKey, {
      audience: purpose,
      keyManagementAlgorithms: ["dir"],
      contentEncryptionAlgorithms: ["A256GCM"],
    });
    return payload;
  } catch {
    return null; // another key (SESSION_SECRET changed), expired, or forged
  }
}
