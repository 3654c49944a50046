// A Node.js service that trusts idp's access tokens (docs/integrate.md), with
// node:http and jose.
//
//   GET /api/me      any valid token: {"sub","tenant_id","roles","email"}
//   GET /api/admin   role admin in the token's tenant, else 403
//
// Configuration: IDP_ISSUER (idp's issuer URL), IDP_AUDIENCE (its
// tokens.audience, default idp), PORT (default 8083), JWKS_MAX_AGE (seconds
// the key set is cached; use idp's keys.jwks_max_age, default 300).
import http from 'node:http';
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify } from 'jose';

const issuer = (process.env.IDP_ISSUER ?? '').replace(/\/$/, '');
const audience = process.env.IDP_AUDIENCE || 'idp';
const port = Number(process.env.PORT || 8083);
const maxAgeMs = Number(process.env.JWKS_MAX_AGE || 300) * 1000;
if (!issuer) throw new Error('IDP_ISSUER is required (idp\'s issuer URL)');

// Discovery gives the JWKS URL; its issuer must be ours (OpenID Connect
// Discovery 1.0 section 4.3).
const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
if (discovery.issuer !== issuer) {
  throw new Error(`discovery names issuer ${discovery.issuer}, not ${issuer}`);
}
// cooldownDuration: an unknown kid refetches the set at most every 30 s.
const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri), {
  cacheMaxAge: maxAgeMs,
  cooldownDuration: 30_000,
  timeoutDuration: 5_000,
});

class Refused extends Error {}

async function verify(token) {
  // jose would try every key when a token names none: insist on a kid, so the
  // key is picked strictly by it.
  let kid;
  try {
    ({ kid } = decodeProtectedHeader(token));
  } catch {
    throw new Refused('malformed');
  }
  if (typeof kid !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(kid)) throw new Refused('bad kid');
  const { payload } = await jwtVerify(token, jwks, {
    issuer,
    audience,
    algorithms: ['EdDSA'],
    typ: 'at+jwt',
    clockTolerance: 60,
    requiredClaims: ['exp', 'iat', 'sub', 'jti', 'sid', 'tenant_id'],
  });
  if (payload.pwd_change) throw new Refused('password change pending');
  return payload;
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

function refuse(res, err) {
  // A JWKS that can't be fetched says nothing about the token: 503.
  if (err instanceof errors.JWKSTimeout || !(err instanceof errors.JOSEError || err instanceof Refused)) {
    return send(res, 503, { error: 'temporarily_unavailable', error_description: "the access token can't be checked right now" },
      { 'Retry-After': '5' });
  }
  send(res, 401, { error: 'invalid_token', error_description: 'the access token is invalid or expired' },
    { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
}

const routes = {
  '/api/me': (claims) => ({ sub: claims.sub, tenant_id: claims.tenant_id, roles: claims.roles, email: claims.email }),
  '/api/admin': (claims, res) => {
    if (!Array.isArray(claims.roles) || !claims.roles.includes('admin')) {
      send(res, 403, { error: 'forbidden', error_description: 'the access token does not grant the role admin' });
      return undefined;
    }
    return { sub: claims.sub, tenant_id: claims.tenant_id, admin: true };
  },
};

const server = http.createServer(async (req, res) => {
  const route = routes[new URL(req.url, 'http://localhost').pathname];
  if (req.method !== 'GET' || !route) return send(res, 404, { error: 'not_found', error_description: 'no such endpoint' });
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(req.headers.authorization ?? '');
  let claims;
  try {
    if (!m) throw new Refused('no bearer token');
    claims = await verify(m[1]);
  } catch (err) {
    return refuse(res, err);
  }
  const body = route(claims, res);
  if (body !== undefined) send(res, 200, body);
});

server.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
