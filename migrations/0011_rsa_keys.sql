-- +goose Up
-- RS256 signing keys, for the ID tokens of clients that can't verify EdDSA
-- (docs/auth/idp.md, "Signing keys"). They rotate like the Ed25519 keys in
-- signing_keys, in the same transactions under the same advisory lock: one
-- active and one next key per algorithm.
--
-- A table of their own rather than an alg column on signing_keys: the
-- previous release reads every row of signing_keys as an Ed25519 key (its
-- key loader would fail on an RSA row, and panic on an active one), and it
-- must keep working on this schema while instances roll (docs/deploy.md,
-- "Upgrades").
CREATE TABLE rsa_signing_keys (
    kid                 text PRIMARY KEY CHECK (length(kid) BETWEEN 1 AND 128),
    state               text NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    -- PKCS #1 DER: 270 bytes for 2048 bits, 398 for the 3072 bits idp
    -- makes, 526 for 4096.
    public_key          bytea NOT NULL CHECK (length(public_key) BETWEEN 256 AND 1100),
    -- PKCS #1 DER of the private key, AES-256-GCM under keys.encryption_key
    -- with the kid as associated data; never plaintext.
    private_key_sealed  bytea NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    activated_at        timestamptz,
    retired_at          timestamptz,
    -- When a retired key leaves the JWKS.
    expires_at          timestamptz
);

-- One active and one next RS256 key, as signing_keys_one_active does for
-- Ed25519.
CREATE UNIQUE INDEX rsa_signing_keys_one_active ON rsa_signing_keys (state) WHERE state IN ('active', 'next');

-- +goose Down
DROP TABLE rsa_signing_keys;
