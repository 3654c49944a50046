// POST /auth/logout (the Sign out button): forgets the session here,
// revokes its refresh token (RFC 7009) and sends the browser to idp's
// end_session_endpoint with id_token_hint, which ends the idp session too
// and comes back to APP_URL/ (post_logout_redirect_uri).
import type { NextRequest } from "next/server";
import { NextResponse } from "next/server";
import { appPath } from "../../../lib/config";
import { client, oidc } from "../../../lib/oidc";
import { redirect } from "../../../lib/respond";
import { SESSION_COOKIE, clearCookie, unseal } from "../../../lib/session";

export async function POST(request: NextRequest) {
  // A form of another site must not sign the user out (browsers send
  // Origin with every POST).
  if (request.headers.get("origin") !== appPath("/").origin) {
    return new NextResponse("Cross-site sign-out refused.", { status: 403 });
  }
  const session = await unseal(request.cookies.get(SESSION_COOKIE)?.value);
  let target = appPath("/");
  if (session) {
    try {
      const oidcConfig = await oidc();
      // Revoked here, the refresh token is dead even if the browser never
      // reaches idp.
      await client.tokenRevocation(oidcConfig, session.refreshToken, { token_type_hint: "refresh_token" });
      target = client.buildEndSessionUrl(oidcConfig, {
        id_token_hint: session.idToken,
        post_logout_redirect_uri: appPath("/").href,
      });
    } catch (err) {
      console.error("sign-out at idp failed:", err instanceof Error ? err.message : err);
    }
  }
  const response = redirect(target);
  clearCookie(response.cookies, SESSION_COOKIE);
  return response;
}
