"""A FastAPI service that trusts idp's access tokens (docs/integrate.md).

    GET /api/me      any valid token: {"sub", "tenant_id", "roles", "email"}
    GET /api/admin   role admin in the token's tenant, else 403

Configuration: IDP_ISSUER (idp's issuer URL), IDP_AUDIENCE (its
tokens.audience, default idp), JWKS_MAX_AGE (seconds the key set is cached;
use idp's keys.jwks_max_age, default 300), JWKS_MIN_REFRESH (seconds between
refetches caused by unknown kids, default 30).

Run: /usr/bin/python3 -m uvicorn app:app --port 8082
"""

import json
import os
import re
import threading
import time
import urllib.request

import jwt
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

ISSUER = os.environ["IDP_ISSUER"].rstrip("/")
AUDIENCE = os.environ.get("IDP_AUDIENCE", "idp")
JWKS_MAX_AGE = int(os.environ.get("JWKS_MAX_AGE", "300"))
JWKS_MIN_REFRESH = float(os.environ.get("JWKS_MIN_REFRESH", "30"))
KID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def jwks_uri() -> str:
    """Reads discovery; its issuer must be ours (OpenID Connect Discovery 4.3)."""
    url = ISSUER + "/.well-known/openid-configuration"
    with urllib.request.urlopen(url, timeout=10) as resp:
        doc = json.load(resp)
    if doc.get("issuer") != ISSUER:
        raise RuntimeError(f"{url} names issuer {doc.get('issuer')!r}, not {ISSUER!r}")
    return doc["jwks_uri"]


class JWKSClient(jwt.PyJWKClient):
    """PyJWKClient, except that an unknown kid refetches the set at most once
    per JWKS_MIN_REFRESH: PyJWT refetches on every unknown kid, so a flood of
    forged kids would become a flood of JWKS requests to idp."""

    def __init__(self, uri: str):
        super().__init__(uri, cache_jwk_set=True, lifespan=JWKS_MAX_AGE)
        self._lock = threading.Lock()
        self._fetched = 0.0

    def fetch_data(self):
        # PyJWT's own fetch has no timeout: a stalled idp would hang every
        # request waiting for the lock.
        self._fetched = time.monotonic()
        try:
            with urllib.request.urlopen(self.uri, timeout=10) as resp:
                data = json.load(resp)
        except (OSError, ValueError) as e:
            raise jwt.PyJWKClientError(f"fetching the JWKS failed: {e}") from e
        if self.jwk_set_cache is not None:
            self.jwk_set_cache.put(data)
        return data

    def get_signing_key(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            key = self.match_kid(self.get_signing_keys(), kid)
            if key is None and time.monotonic() - self._fetched >= JWKS_MIN_REFRESH:
                key = self.match_kid(self.get_signing_keys(refresh=True), kid)
        if key is None:
            raise InvalidToken("unknown kid")
        return key


jwks = JWKSClient(jwks_uri())
app = FastAPI()
bearer = HTTPBearer(auto_error=False)


class InvalidToken(Exception):
    pass


class Forbidden(Exception):
    pass


class Unavailable(Exception):
    pass


def verify(token: str) -> dict:
    """The checks of docs/integrate.md: EdDSA only, typ at+jwt, the key
    strictly by kid, iss, aud and exp required, 60 s leeway."""
    header = jwt.get_unverified_header(token)
    if str(header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
        raise InvalidToken("wrong typ")
    kid = header.get("kid")
    if not isinstance(kid, str) or not KID.fullmatch(kid):
        raise InvalidToken("bad kid")
    try:
        key = jwks.get_signing_key(kid)
    except jwt.PyJWKClientError as e:  # the JWKS could not be fetched
        raise Unavailable(str(e)) from e
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["EdDSA"],
        audience=AUDIENCE,
        issuer=ISSUER,
        leeway=60,
        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti", "sid", "tenant_id"]},
    )
    if claims.get("pwd_change"):
        raise InvalidToken("password change pending")
    return claims


def current_claims(cred: HTTPAuthorizationCredentials | None = Depends(bearer)) -> dict:
    """The dependency that yields a verified token's claims."""
    if cred is None:
        raise InvalidToken("no bearer token")
    try:
        return verify(cred.credentials)
    except jwt.PyJWTError as e:
        raise InvalidToken(type(e).__name__) from e


def require_role(role: str):
    def check(claims: dict = Depends(current_claims)) -> dict:
        if role not in claims.get("roles", []):
            raise Forbidden(role)
        return claims

    return check


def error(status: int, code: str, description: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status_code=status,
                        headers={"Cache-Control": "no-store", **(headers or {})})


@app.exception_handler(InvalidToken)
def invalid_token(request: Request, exc: InvalidToken) -> JSONResponse:
    return error(401, "invalid_token", "the access token is invalid or expired",
                 {"WWW-Authenticate": 'Bearer error="invalid_token"'})


@app.exception_handler(Forbidden)
def forbidden(request: Request, exc: Forbidden) -> JSONResponse:
    return error(403, "forbidden", f"the access token does not grant the role {exc}")


@app.exception_handler(Unavailable)
def unavailable(request: Request, exc: Unavailable) -> JSONResponse:
    return error(503, "temporarily_unavailable", "the access token can't be checked right now", {"Retry-After": "5"})


@app.get("/api/me")
def me(claims: dict = Depends(current_claims)) -> dict:
    return {k: claims.get(k) for k in ("sub", "tenant_id", "roles", "email")}


@app.get("/api/admin")
def admin(claims: dict = Depends(require_role("admin"))) -> dict:
    return {"sub": claims["sub"], "tenant_id": claims["tenant_id"], "admin": True}
