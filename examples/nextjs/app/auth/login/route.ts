// GET /auth/login?return_to=/path: starts the authorization code flow with
// PKCE (RFC 7636) and sends the browser to idp's /oauth2/authorize.
import type { NextRequest } from "next/server";
import { appPath } from "../../../lib/config";
import { LOGIN_TTL, loginCookie, safeReturnTo, sealLogin } from "../../../lib/login";
import { SCOPE, client, oidc } from "../../../lib/oidc";
import { redirect } from "../../../lib/respond";
import { cookieOptions } from "../../../lib/session";

export async function GET(request: NextRequest) {
  const returnTo = safeReturnTo(request.nextUrl.searchParams.get("return_to"));
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorize = client.buildAuthorizationUrl(await oidc(), {
    redirect_uri: appPath("/auth/callback").href,
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  });
  const expiresAt = Math.floor(Date.now() / 1000) + LOGIN_TTL;
  const response = redirect(authorize);
  response.cookies.set(loginCookie(state)!, await sealLogin({ verifier, nonce, returnTo }, expiresAt), cookieOptions(expiresAt));
  return response;
}
