// Package verify checks idp access tokens in downstream Go services.
//
// A Verifier reads the issuer's discovery document once, then keeps its JWK
// set in memory: it honours the Cache-Control max-age and ETag of the JWKS
// response, refetches at most once per MinRefresh when a token names an
// unknown kid (so a flood of forged kids cannot hammer idp), and keeps
// verifying with the keys it has while idp is unreachable, up to the stale
// bound, after which it fails closed with ErrUnavailable.
//
// Tokens are checked by the same code idp uses itself: EdDSA only, typ
// at+jwt, the key picked strictly by kid, iss, aud and exp required, 60 s of
// clock skew at most. Tokens of a session whose password must be changed
// first are refused unless WithPasswordChangeAllowed is given.
//
// Access tokens stay valid until they expire (tokens.access_ttl, 15 minutes
// by default), even when their session is revoked. Services that must see a
// revocation at once add WithIntrospection, which asks idp's RFC 7662
// introspection endpoint about every token (with a cache of a few seconds).
//
// docs/integrate.md in the idp repository describes the trust contract this
// package implements; package verifytest runs a local issuer for unit tests.
package verify
