// idp as seen through openid-client: discovery once per process, the
// authorization code grant with PKCE, refresh and end_session.
import * as client from "openid-client";
import { config } from "./config";
import { fromTokens, type Session } from "./session";

export const SCOPE = "openid email profile roles";

let discovered: Promise<client.Configuration> | undefined;

// oidc returns the discovered configuration (a failed discovery is
// retried on the next request, not cached).
export function oidc(): Promise<client.Configuration> {
  if (!discovered) {
    const c = config();
    // Plain http only for an idp on this machine (make dev, the tests):
    // anywhere else the tokens would cross the network in the clear.
    const loopback = c.issuer.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(c.issuer.hostname);
    discovered = client
      .discovery(c.issuer, c.clientId, c.clientSecret, undefined, {
        execute: loopback ? [client.allowInsecureRequests] : [],
      })
      .catch((err) => {
        discovered = undefined;
        throw err;
      });
  }
  return discovered;
}

// isInvalidGrant tells a refresh token idp refused (the session ended,
// was revoked or expired: sign in again) from an outage (try later).
export function isInvalidGrant(err: unknown): boolean {
  return err instanceof client.ResponseBodyError && err.error === "invalid_grant";
}

export { client };

// refresh trades the session's refresh token for a new pair. idp rotates
// refresh tokens on every use; two requests refreshing with the same one
// within tokens.refresh_grace (10 s) both get the same new pair, so two
// tabs (or two app instances) racing here end up with the same session.
export async function refresh(s: Session): Promise<Session> {
  const t = await client.refreshTokenGrant(await oidc(), s.refreshToken);
  return fromTokens(t, s);
}
