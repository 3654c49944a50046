-- +goose Up
CREATE TABLE signing_keys (
    kid                 text PRIMARY KEY CHECK (length(kid) BETWEEN 1 AND 128),
    state               text NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    public_key          bytea NOT NULL CHECK (length(public_key) = 32),
    -- AES-256-GCM under keys.encryption_key; never plaintext.
    private_key_sealed  bytea NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    activated_at        timestamptz,
    retired_at          timestamptz,
    -- When a retired key leaves the JWKS.
    expires_at          timestamptz
);

-- Exactly one active and one next key at any time (the rotation swaps
-- states inside one transaction).
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state IN ('active', 'next');

-- +goose Down
DROP TABLE signing_keys;
