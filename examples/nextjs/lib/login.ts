// The sign-in in flight between /auth/login and /auth/callback: the PKCE
// verifier, the nonce and the page to return to, in a short-lived
// encrypted cookie named after the request's state, so that two tabs
// signing in at once don't overwrite each other's.
import { appPath } from "./config";
import { decrypt, encrypt } from "./session";

const PREFIX = "__Host-app_login_";
const PURPOSE = "login";
export const LOGIN_TTL = 600; // seconds to finish signing in at idp

export type PendingLogin = { verifier: string; nonce: string; returnTo: string };

// loginCookie names the cookie of a state; null for a state this app
// can't have made (openid-client's are 43 base64url characters).
export function loginCookie(state: string | null): string | null {
  return state && /^[A-Za-z0-9_-]{16,128}$/.test(state) ? PREFIX + state : null;
}

export async function sealLogin(p: PendingLogin, expiresAt: number): Promise<string> {
  return encrypt({ ...p }, PURPOSE, expiresAt);
}

export async function unsealLogin(value: string | undefined): Promise<PendingLogin | null> {
  return (await decrypt(value, PURPOSE)) as PendingLogin | null;
}

// safeReturnTo keeps return_to a path of this app: anything else (another
// origin, "//evil.example", a backslash trick) becomes /me.
export function safeReturnTo(value: string | null): string {
  if (!value || !value.startsWith("/") || value.startsWith("//") || value.includes("\\")) return "/me";
  const url = appPath(value);
  if (url.origin !== appPath("/").origin) return "/me";
  return url.pathname + url.search;
}
