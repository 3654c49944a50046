// GET /auth/callback?code=...&state=...&iss=...: idp's answer. openid-client
// checks state and iss (RFC 9207), redeems the code with the PKCE verifier
// and the client secret, and validates the ID token (iss, aud, azp, exp,
// nonce). Its signature needs no check of its own: it came straight from
// the token endpoint (OpenID Connect Core 3.1.3.7).
import type { NextRequest } from "next/server";
import { appPath } from "../../../lib/config";
import { loginCookie, unsealLogin } from "../../../lib/login";
import { client, oidc } from "../../../lib/oidc";
import { problem, redirect } from "../../../lib/respond";
import { SESSION_COOKIE, clearCookie, cookieOptions, fromTokens, seal, unseal } from "../../../lib/session";

export async function GET(request: NextRequest) {
  const state = request.nextUrl.searchParams.get("state");
  const name = loginCookie(state);
  const pending = name ? await unsealLogin(request.cookies.get(name)?.value) : null;
  if (!name || !pending) {
    return problem(400, "This sign-in expired or was started in another browser.");
  }
  let tokens;
  try {
    // The URL idp redirected to, on APP_URL (not the Host header).
    const current = appPath("/auth/callback" + request.nextUrl.search);
    tokens = await client.authorizationCodeGrant(await oidc(), current, {
      pkceCodeVerifier: pending.verifier,
      expectedState: state!,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
  } catch (err) {
    if (err instanceof client.AuthorizationResponseError) {
      // The user said no, or idp refused the request: error=access_denied...
      return problem(403, `idp answered ${err.error}${err.error_description ? `: ${err.error_description}` : ""}.`);
    }
    if (err instanceof client.ResponseBodyError) {
      return problem(400, `The sign-in could not be completed (${err.error}). Please sign in again.`);
    }
    throw err;
  }
  const session = fromTokens(tokens);
  // Signed in already (another sign-in in this browser): the session this
  // one replaces is of no use to anyone, so idp may end it now.
  const replaced = await unseal(request.cookies.get(SESSION_COOKIE)?.value);
  if (replaced) {
    await client.tokenRevocation(await oidc(), replaced.refreshToken, { token_type_hint: "refresh_token" }).catch(() => {});
  }
  const response = redirect(appPath(pending.returnTo));
  response.cookies.set(SESSION_COOKIE, await seal(session), cookieOptions(session.endsAt));
  clearCookie(response.cookies, name);
  return response;
}
