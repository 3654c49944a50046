package core

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/idp-dev/idp/internal/core/token"
)

// Keys manages the Ed25519 signing keys: one active (signs), one next
// (published, not yet signing) and retired ones that stay published until the
// tokens they signed have expired. Each server holds the set in memory and
// reloads it on a change notice and on a periodic poll.
type Keys struct {
	*env
	set atomic.Pointer[keySet]
}

// keySet is an immutable snapshot: readers never lock.
type keySet struct {
	active token.Key
	// activeSince is when the active key started signing.
	activeSince time.Time
	public      map[string]ed25519.PublicKey
	jwks        []byte
	etag        string
	loaded      time.Time
}

// KeyInfo describes a signing key for `idp keys list`; it has no private part.
type KeyInfo struct {
	KID         string     `json:"kid"`
	State       KeyState   `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	Published   bool       `json:"published"`
}

// Ensure creates the first active and next keys when they are missing. It
// is safe when several processes start at once: the store serializes key
// changes, and whoever comes second finds the keys there.
func (k *Keys) Ensure(ctx context.Context, meta Meta) error {
	var created []string
	err := k.store.InTx(ctx, func(tx Tx) error {
		keys, err := tx.LockSigningKeys(ctx)
		if err != nil {
			return err
		}
		var haveActive, haveNext bool
		for _, sk := range keys {
			haveActive = haveActive || sk.State == KeyActive
			haveNext = haveNext || sk.State == KeyNext
		}
		now := k.now()
		if !haveActive {
			sk, err := k.newKey(KeyActive, now)
			if err != nil {
				return err
			}
			if err := tx.InsertSigningKey(ctx, sk); err != nil {
				return err
			}
			created = append(created, sk.KID)
		}
		if !haveNext {
			sk, err := k.newKey(KeyNext, now)
			if err != nil {
				return err
			}
			if err := tx.InsertSigningKey(ctx, sk); err != nil {
				return err
			}
			created = append(created, sk.KID)
		}
		for _, kid := range created {
			ev := event(EventKeyCreate, OutcomeSuccess, kid, meta)
			if err := k.audit.record(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ensure signing keys: %w", err)
	}
	if len(created) > 0 && k.notify != nil {
		_ = k.notify.PublishKeysChanged(ctx)
	}
	return nil
}

func (k *Keys) newKey(state KeyState, now time.Time) (*SigningKey, error) {
	key, err := token.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	sealed, err := k.sealer.Seal(key.Private.Seed(), []byte(key.ID))
	if err != nil {
		return nil, fmt.Errorf("seal signing key: %w", err)
	}
	sk := &SigningKey{KID: key.ID, State: state, Public: key.Public, PrivateSealed: sealed, CreatedAt: now}
	if state == KeyActive {
		sk.ActivatedAt = &now
	}
	return sk, nil
}

// Load reads the keys from the store and swaps in a new snapshot.
func (k *Keys) Load(ctx context.Context) error {
	prev := k.set.Load()
	err := k.load(ctx)
	rotated := err == nil && prev != nil && k.set.Load().active.ID != prev.active.ID
	k.observe.KeysLoaded(rotated, err)
	return err
}

func (k *Keys) load(ctx context.Context) error {
	keys, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	now := k.now()
	set := &keySet{public: map[string]ed25519.PublicKey{}, loaded: now}
	var pubs []ed25519.PublicKey
	// Order: active, next, then retired, so the JWKS is stable.
	for _, state := range []KeyState{KeyActive, KeyNext, KeyRetired} {
		for _, sk := range keys {
			if sk.State != state || !published(sk, now) {
				continue
			}
			set.public[sk.KID] = sk.Public
			pubs = append(pubs, sk.Public)
			if sk.State == KeyActive {
				seed, err := k.sealer.Open(sk.PrivateSealed, []byte(sk.KID))
				if err != nil {
					return fmt.Errorf("open signing key %s (is keys.encryption_key right?): %w", sk.KID, err)
				}
				priv := ed25519.NewKeyFromSeed(seed)
				set.active = token.Key{ID: sk.KID, Private: priv, Public: priv.Public().(ed25519.PublicKey)}
				set.activeSince = sk.CreatedAt
				if sk.ActivatedAt != nil {
					set.activeSince = *sk.ActivatedAt
				}
			}
		}
	}
	if set.active.ID == "" {
		return Errorf(EUNAVAILABLE, "no active signing key (run idp migrate up)")
	}
	jwks, err := token.RenderJWKS(pubs)
	if err != nil {
		return fmt.Errorf("render jwks: %w", err)
	}
	set.jwks = jwks
	sum := sha256.Sum256(jwks)
	set.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
	k.set.Store(set)
	return nil
}

func published(sk SigningKey, now time.Time) bool {
	if sk.State != KeyRetired {
		return true
	}
	return sk.ExpiresAt != nil && sk.ExpiresAt.After(now)
}

// Watch reloads the keys on every change notice and every poll interval
// until ctx ends, so a rotation reaches this process within seconds.
func (k *Keys) Watch(ctx context.Context) {
	var notices <-chan struct{}
	if k.notify != nil {
		notices = k.notify.SubscribeKeysChanged(ctx)
	}
	tick := time.NewTicker(k.cfg.KeyPollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-notices:
			if !ok {
				notices = nil // subscription ended with ctx; keep polling until Done
				continue
			}
		case <-tick.C:
		}
		if err := k.Load(ctx); err != nil && ctx.Err() == nil {
			k.log.WarnContext(ctx, "reload signing keys failed", "err", err)
		}
	}
}

func (k *Keys) current() (*keySet, error) {
	set := k.set.Load()
	if set == nil {
		return nil, Errorf(EUNAVAILABLE, "signing keys are not loaded")
	}
	return set, nil
}

// Lookup returns the public key for kid, if it is published.
func (k *Keys) Lookup(kid string) (ed25519.PublicKey, bool) {
	set := k.set.Load()
	if set == nil {
		return nil, false
	}
	pub, ok := set.public[kid]
	return pub, ok
}

// JWKS returns the precomputed JWK set and its ETag.
func (k *Keys) JWKS() ([]byte, string, error) {
	set, err := k.current()
	if err != nil {
		return nil, "", err
	}
	return set.jwks, set.etag, nil
}

// ActiveKID is the kid new tokens are signed with.
func (k *Keys) ActiveKID() string {
	if set := k.set.Load(); set != nil {
		return set.active.ID
	}
	return ""
}

// KeyStatus is what this process holds of the signing keys, for metrics.
type KeyStatus struct {
	// Loaded is false until the first successful Load.
	Loaded      bool
	ActiveKID   string
	ActiveSince time.Time // when the active key started signing
	Published   int       // keys in the JWKS
	LoadedAt    time.Time // the last successful load
}

// Status describes the key set this process signs and verifies with.
func (k *Keys) Status() KeyStatus {
	set := k.set.Load()
	if set == nil {
		return KeyStatus{}
	}
	return KeyStatus{Loaded: true, ActiveKID: set.active.ID, ActiveSince: set.activeSince,
		Published: len(set.public), LoadedAt: set.loaded}
}

// sign signs claims with the active key.
func (k *Keys) sign(c token.Claims) (string, string, error) {
	set, err := k.current()
	if err != nil {
		return "", "", err
	}
	raw, err := token.Sign(set.active, c)
	if err != nil {
		return "", "", fmt.Errorf("sign access token: %w", err)
	}
	return raw, set.active.ID, nil
}

// verifier checks access tokens against the published keys only.
func (k *Keys) verifier() token.Verifier {
	return token.Verifier{
		Issuer:   k.cfg.Issuer,
		Audience: k.cfg.Audience,
		Leeway:   60 * time.Second,
		Lookup:   k.Lookup,
		Now:      k.now,
	}
}

// List returns every key with its state and dates.
func (k *Keys) List(ctx context.Context) ([]KeyInfo, error) {
	keys, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	now := k.now()
	out := make([]KeyInfo, 0, len(keys))
	for _, sk := range keys {
		out = append(out, KeyInfo{
			KID: sk.KID, State: sk.State, CreatedAt: sk.CreatedAt,
			ActivatedAt: sk.ActivatedAt, RetiredAt: sk.RetiredAt, ExpiresAt: sk.ExpiresAt,
			Published: published(sk, now),
		})
	}
	return out, nil
}

// RotateResult says what a rotation did.
type RotateResult struct {
	Retired   string `json:"retired"`
	Active    string `json:"active"`
	Next      string `json:"next"`
	Emergency bool   `json:"emergency"`
}

// RotateOptions select the kind of rotation.
type RotateOptions struct {
	// Emergency unpublishes the old active key at once.
	Emergency bool
	// Force activates a next key even if verifiers may not have fetched it.
	Force bool
}

// Rotate promotes next to active, retires the old active key and makes a new
// next key, in one transaction that is safe against concurrent rotations.
// A retired key stays published until every token it signed has expired
// (access TTL, plus the poll interval other servers may still sign with it,
// plus verifier leeway); an emergency rotation unpublishes it at once, which
// kills every token it signed. A staged rotation refuses to activate a next
// key published more recently than verifiers may cache the JWKS: they would
// not know the key yet, and refuse its tokens.
func (k *Keys) Rotate(ctx context.Context, opts RotateOptions, meta Meta) (RotateResult, error) {
	emergency := opts.Emergency
	var res RotateResult
	err := k.store.InTx(ctx, func(tx Tx) error {
		keys, err := tx.LockSigningKeys(ctx)
		if err != nil {
			return err
		}
		var active, next *SigningKey
		for i := range keys {
			switch keys[i].State {
			case KeyActive:
				active = &keys[i]
			case KeyNext:
				next = &keys[i]
			}
		}
		if active == nil || next == nil {
			return Errorf(ECONFLICT, "signing keys are not initialised (run idp migrate up)")
		}
		now := k.now()
		// The first pair is published together: whoever knows the active key
		// knows next too. Later next keys need the cache time to spread.
		if age := now.Sub(next.CreatedAt); next.CreatedAt.After(active.CreatedAt) && !emergency && !opts.Force && age < k.cfg.JWKSMaxAge {
			return Errorf(ECONFLICT, "the next key was published %s ago; verifiers may cache the JWKS for %s and would refuse its tokens: wait %s, or use --force (or --emergency if a key is compromised)",
				age.Round(time.Second), k.cfg.JWKSMaxAge, (k.cfg.JWKSMaxAge - age).Round(time.Second))
		}
		expires := now.Add(k.cfg.AccessTTL + k.cfg.KeyPollInterval + time.Minute)
		if emergency {
			// Already past: the key leaves every JWKS at its next load.
			expires = now.Add(-time.Second)
		}
		active.State, active.RetiredAt, active.ExpiresAt = KeyRetired, &now, &expires
		if err := tx.UpdateSigningKey(ctx, active); err != nil {
			return err
		}
		next.State, next.ActivatedAt = KeyActive, &now
		if err := tx.UpdateSigningKey(ctx, next); err != nil {
			return err
		}
		fresh, err := k.newKey(KeyNext, now)
		if err != nil {
			return err
		}
		if err := tx.InsertSigningKey(ctx, fresh); err != nil {
			return err
		}
		res = RotateResult{Retired: active.KID, Active: next.KID, Next: fresh.KID, Emergency: emergency}
		reason := "staged"
		if emergency {
			reason = "emergency"
		}
		return k.audit.record(ctx, tx, event(EventKeyRotate, OutcomeSuccess, reason, meta))
	})
	if err != nil {
		return RotateResult{}, err
	}
	if k.notify != nil {
		if err := k.notify.PublishKeysChanged(ctx); err != nil {
			k.log.WarnContext(ctx, "key change notice not sent; servers will pick the change up at their next poll", "err", err)
		}
	}
	if k.set.Load() != nil {
		_ = k.Load(ctx)
	}
	return res, nil
}
