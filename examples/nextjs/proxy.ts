// The guard in front of the private pages (Next.js 16 calls middleware
// "proxy"): a signed-out browser goes to sign in and comes back to the page
// it asked for; a signed-in one gets its access token refreshed ahead of
// expiry, here, so that pages only ever read the session.
import { NextResponse, type NextRequest } from "next/server";
import { isInvalidGrant, refresh } from "./lib/oidc";
import { appPath } from "./lib/config";
import { SESSION_COOKIE, claims, clearCookie, cookieOptions, needsRefresh, seal, unseal } from "./lib/session";

export const config = { matcher: ["/me", "/api-call"] };

export async function proxy(request: NextRequest) {
  let session = await unseal(request.cookies.get(SESSION_COOKIE)?.value);
  if (!session) return signIn(request);

  let sealed: string | undefined;
  if (needsRefresh(session)) {
    try {
      session = await refresh(session);
    } catch (err) {
      if (isInvalidGrant(err)) return signIn(request); // idp ended the session
      console.error("refresh failed:", err instanceof Error ? err.message : err);
      return new NextResponse("idp is unreachable; try again shortly.", {
        status: 503,
        headers: { "Retry-After": "5", "Cache-Control": "no-store" },
      });
    }
    sealed = await seal(session);
    // Never log a token; the user and the new expiry are enough.
    console.log(`refreshed the session of ${claims(session).sub}: access token until ${new Date(session.expiresAt * 1000).toISOString()}`);
  }
  const response = NextResponse.next();
  // The browser keeps the new cookie for its next request, and Next.js
  // hands it to the page rendering this one as well.
  if (sealed) response.cookies.set(SESSION_COOKIE, sealed, cookieOptions(session.endsAt));
  // Private pages are never stored: after sign-out, Back must not show them.
  response.headers.set("Cache-Control", "no-store");
  return response;
}

// signIn sends the browser to /auth/login with the page to return to, and
// drops a session cookie that is no use any more.
function signIn(request: NextRequest) {
  const target = appPath("/auth/login");
  target.searchParams.set("return_to", request.nextUrl.pathname + request.nextUrl.search);
  const response = NextResponse.redirect(target, 303);
  if (request.cookies.has(SESSION_COOKIE)) clearCookie(response.cookies, SESSION_COOKIE);
  response.headers.set("Cache-Control", "no-store");
  return response;
}
