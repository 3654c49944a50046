package core

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/idp-dev/idp/internal/core/token"
)

// The algorithms idp has signing keys for. Access tokens are always EdDSA;
// ID tokens are EdDSA unless the client is registered for RS256, for relying
// parties that can't verify EdDSA (docs/auth/idp.md, "Signing keys").
const (
	AlgEdDSA = token.AlgEdDSA
	AlgRS256 = token.AlgRS256
)

// keyAlgs is the order of the algorithms wherever keys are listed: the
// JWKS, rotation results. EdDSA, the default, comes first.
var keyAlgs = [...]string{AlgEdDSA, AlgRS256}

// Keys manages the signing keys of each algorithm: one active (signs), one
// next (published, not yet signing) and retired ones that stay published
// until the tokens they signed have expired. Each server holds the set in
// memory and reloads it on a change notice and on a periodic poll.
type Keys struct {
	*env
	set atomic.Pointer[keySet]
}

// keySet is an immutable snapshot: readers never lock.
type keySet struct {
	active    token.Key    // EdDSA: access tokens, and EdDSA ID tokens
	activeRSA token.RSAKey // RS256 ID tokens
	// activeSince is when the active EdDSA key started signing.
	activeSince time.Time
	// public holds the published EdDSA keys only: access tokens are EdDSA,
	// so an RSA kid never resolves for them.
	public map[string]ed25519.PublicKey
	// idTokenKeys holds every published key, of both algorithms, for
	// id_token_hint verification.
	idTokenKeys map[string]crypto.PublicKey
	jwks        []byte
	etag        string
	loaded      time.Time
}

// KeyInfo describes a signing key for `idp keys list`; it has no private part.
type KeyInfo struct {
	KID         string     `json:"kid"`
	Alg         string     `json:"alg"`
	State       KeyState   `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	Published   bool       `json:"published"`
}

// keySlot is one key every algorithm must have: its active or its next key.
type keySlot struct {
	alg   string
	state KeyState
}

// missingKeys lists the active and next keys that don't exist yet.
func missingKeys(keys []SigningKey) []keySlot {
	have := map[keySlot]bool{}
	for _, sk := range keys {
		have[keySlot{sk.Alg, sk.State}] = true
	}
	var out []keySlot
	for _, alg := range keyAlgs {
		for _, state := range [...]KeyState{KeyActive, KeyNext} {
			if !have[keySlot{alg, state}] {
				out = append(out, keySlot{alg, state})
			}
		}
	}
	return out
}

// Ensure creates the active and next keys of each algorithm that are
// missing. With every key there (any start but the first) it reads the keys
// once and writes nothing. It is safe when several processes start at once:
// the store serializes key changes, and whoever comes second finds the keys
// there. Keys are generated before the lock is taken: an RSA key takes long
// enough that a server waiting for the lock could hit its lock_timeout.
func (k *Keys) Ensure(ctx context.Context, meta Meta) error {
	keys, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("ensure signing keys: %w", err)
	}
	missing := missingKeys(keys)
	if len(missing) == 0 {
		return nil
	}
	now := k.now()
	made := map[keySlot]*SigningKey{}
	for _, slot := range missing {
		if made[slot], err = k.newKey(slot.alg, slot.state, now); err != nil {
			return fmt.Errorf("ensure signing keys: %w", err)
		}
	}
	var created []string
	err = k.store.InTx(ctx, func(tx Tx) error {
		created = created[:0]
		keys, err := tx.LockSigningKeys(ctx)
		if err != nil {
			return err
		}
		for _, slot := range missingKeys(keys) {
			sk := made[slot]
			if sk == nil { // deleted since the first read
				if sk, err = k.newKey(slot.alg, slot.state, now); err != nil {
					return err
				}
			}
			if err := tx.InsertSigningKey(ctx, sk); err != nil {
				return err
			}
			created = append(created, sk.KID)
			if err := k.audit.record(ctx, tx, event(EventKeyCreate, OutcomeSuccess, sk.KID, meta)); err != nil {
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

// newKey generates a key of alg and seals its private part under
// keys.encryption_key with the kid as associated data, so a sealed blob
// can't be moved to another row.
func (k *Keys) newKey(alg string, state KeyState, now time.Time) (*SigningKey, error) {
	var (
		kid            string
		public, secret []byte
	)
	switch alg {
	case AlgEdDSA:
		key, err := token.GenerateKey()
		if err != nil {
			return nil, fmt.Errorf("generate signing key: %w", err)
		}
		kid, public, secret = key.ID, key.Public, key.Private.Seed()
	case AlgRS256:
		key, err := token.GenerateRSAKey()
		if err != nil {
			return nil, fmt.Errorf("generate signing key: %w", err)
		}
		kid, public, secret = key.ID, token.MarshalRSAPublicKey(&key.Private.PublicKey), token.MarshalRSAPrivateKey(key.Private)
	default:
		return nil, fmt.Errorf("generate signing key: unknown algorithm %q", alg)
	}
	sealed, err := k.sealer.Seal(secret, []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("seal signing key: %w", err)
	}
	sk := &SigningKey{Alg: alg, KID: kid, State: state, Public: public, PrivateSealed: sealed, CreatedAt: now}
	if state == KeyActive {
		sk.ActivatedAt = &now
	}
	return sk, nil
}

// Load reads the keys from the store and swaps in a new snapshot. The
// private part of an active key is opened once: while the same key stays
// active, later loads (every poll) reuse it.
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
	prev := k.set.Load()
	set := &keySet{public: map[string]ed25519.PublicKey{}, idTokenKeys: map[string]crypto.PublicKey{}, loaded: now}
	var pubs []crypto.PublicKey
	// Order: per algorithm active, next, then retired, so the JWKS is stable.
	for _, alg := range keyAlgs {
		for _, state := range [...]KeyState{KeyActive, KeyNext, KeyRetired} {
			for _, sk := range keys {
				if sk.Alg != alg || sk.State != state || !published(sk, now) {
					continue
				}
				pub, err := publicKey(sk)
				if err != nil {
					return fmt.Errorf("load signing key %s: %w", sk.KID, err)
				}
				pubs = append(pubs, pub)
				set.idTokenKeys[sk.KID] = pub
				if edPub, ok := pub.(ed25519.PublicKey); ok {
					set.public[sk.KID] = edPub
				}
				if sk.State == KeyActive {
					if err := k.openActive(set, prev, sk, pub); err != nil {
						return err
					}
					if sk.Alg == AlgEdDSA {
						set.activeSince = sk.CreatedAt
						if sk.ActivatedAt != nil {
							set.activeSince = *sk.ActivatedAt
						}
					}
				}
			}
		}
	}
	if set.active.ID == "" || set.activeRSA.ID == "" {
		return Errorf(EUNAVAILABLE, "no active signing key of each algorithm (run idp migrate up)")
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

// publicKey decodes a stored public key and checks that its kid is its
// RFC 7638 thumbprint, the kid the JWKS will show for it.
func publicKey(sk SigningKey) (crypto.PublicKey, error) {
	var (
		pub crypto.PublicKey
		kid string
	)
	switch sk.Alg {
	case AlgEdDSA:
		if len(sk.Public) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("ed25519 public key is %d bytes", len(sk.Public))
		}
		edPub := ed25519.PublicKey(sk.Public)
		pub, kid = edPub, token.KeyID(edPub)
	case AlgRS256:
		rsaPub, err := token.ParseRSAPublicKey(sk.Public)
		if err != nil {
			return nil, err
		}
		pub, kid = rsaPub, token.RSAKeyID(rsaPub)
	default:
		return nil, fmt.Errorf("unknown algorithm %q", sk.Alg)
	}
	if kid != sk.KID {
		return nil, fmt.Errorf("kid is not the key's thumbprint")
	}
	return pub, nil
}

// openActive unseals the active key sk of its algorithm into set, or takes
// it from prev when it was already active there.
func (k *Keys) openActive(set, prev *keySet, sk SigningKey, pub crypto.PublicKey) error {
	if prev != nil && prev.active.ID == sk.KID {
		set.active = prev.active
		return nil
	}
	if prev != nil && prev.activeRSA.ID == sk.KID {
		set.activeRSA = prev.activeRSA
		return nil
	}
	secret, err := k.sealer.Open(sk.PrivateSealed, []byte(sk.KID))
	if err != nil {
		return fmt.Errorf("open signing key %s (is keys.encryption_key right?): %w", sk.KID, err)
	}
	switch p := pub.(type) {
	case ed25519.PublicKey:
		if len(secret) != ed25519.SeedSize {
			return fmt.Errorf("open signing key %s: not an ed25519 seed", sk.KID)
		}
		priv := ed25519.NewKeyFromSeed(secret)
		if !p.Equal(priv.Public()) {
			return fmt.Errorf("open signing key %s: private key does not match the public key", sk.KID)
		}
		set.active = token.Key{ID: sk.KID, Private: priv, Public: p}
	case *rsa.PublicKey:
		priv, err := token.ParseRSAPrivateKey(secret)
		if err != nil {
			return fmt.Errorf("open signing key %s: %w", sk.KID, err)
		}
		if !p.Equal(&priv.PublicKey) {
			return fmt.Errorf("open signing key %s: private key does not match the public key", sk.KID)
		}
		set.activeRSA = token.RSAKey{ID: sk.KID, Private: priv}
	}
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

// Lookup returns the public key for kid, if it is a published EdDSA key:
// the keys access tokens may be signed with. RS256 keys never resolve here.
func (k *Keys) Lookup(kid string) (ed25519.PublicKey, bool) {
	set := k.set.Load()
	if set == nil {
		return nil, false
	}
	pub, ok := set.public[kid]
	return pub, ok
}

// JWKS returns the precomputed JWK set (keys of both algorithms) and its
// ETag.
func (k *Keys) JWKS() ([]byte, string, error) {
	set, err := k.current()
	if err != nil {
		return nil, "", err
	}
	return set.jwks, set.etag, nil
}

// ActiveKID is the kid new access tokens are signed with (the active EdDSA
// key).
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
		Published: len(set.idTokenKeys), LoadedAt: set.loaded}
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

// SignIDToken signs an ID token with the active key of alg (AlgEdDSA or
// AlgRS256, the client's id_token_alg). The caller fills every claim,
// at_hash included (token.AtHash with the same alg). An unknown alg is
// EINVALID.
func (k *Keys) SignIDToken(alg string, c token.IDClaims) (string, error) {
	set, err := k.current()
	if err != nil {
		return "", err
	}
	var s token.Signer
	switch alg {
	case AlgEdDSA:
		s = set.active
	case AlgRS256:
		s = set.activeRSA
	default:
		return "", Errorf(EINVALID, "ID tokens are signed with EdDSA or RS256")
	}
	raw, err := token.SignIDToken(s, c)
	if err != nil {
		return "", fmt.Errorf("sign id token: %w", err)
	}
	return raw, nil
}

// VerifyIDTokenHint checks an id_token_hint (authorize, RP-initiated
// logout): an ID token this issuer signed with one of its published keys
// of either algorithm. It may have expired, by up to browser.remember_ttl
// (no browser session outlives that). The caller checks Audience against
// the client and Subject and SessionID against the browser session. Any
// failure is EINVALID; the wrapped cause says why, for the log.
func (k *Keys) VerifyIDTokenHint(raw string) (token.IDClaims, error) {
	set, err := k.current()
	if err != nil {
		return token.IDClaims{}, err
	}
	c, err := token.VerifyIDTokenHint(raw, token.HintOptions{
		Issuer: k.cfg.Issuer,
		Lookup: func(kid string) (crypto.PublicKey, bool) {
			pub, ok := set.idTokenKeys[kid]
			return pub, ok
		},
		MaxAge: k.cfg.BrowserRememberTTL,
		Leeway: 60 * time.Second,
		Now:    k.now,
	})
	if err != nil {
		return token.IDClaims{}, &Error{Code: EINVALID, Message: "id_token_hint is not a valid ID token of this issuer", Err: err}
	}
	return c, nil
}

// List returns every key with its algorithm, state and dates.
func (k *Keys) List(ctx context.Context) ([]KeyInfo, error) {
	keys, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	now := k.now()
	out := make([]KeyInfo, 0, len(keys))
	for _, sk := range keys {
		out = append(out, KeyInfo{
			KID: sk.KID, Alg: sk.Alg, State: sk.State, CreatedAt: sk.CreatedAt,
			ActivatedAt: sk.ActivatedAt, RetiredAt: sk.RetiredAt, ExpiresAt: sk.ExpiresAt,
			Published: published(sk, now),
		})
	}
	return out, nil
}

// RotateResult says what a rotation did. Retired, Active and Next name the
// EdDSA keys, as before RS256 keys existed, so scripts reading them keep
// working; Keys has every algorithm, EdDSA first.
type RotateResult struct {
	Retired   string        `json:"retired"`
	Active    string        `json:"active"`
	Next      string        `json:"next"`
	Emergency bool          `json:"emergency"`
	Keys      []AlgRotation `json:"keys"`
}

// AlgRotation is what a rotation did to the keys of one algorithm.
type AlgRotation struct {
	Alg     string `json:"alg"`
	Retired string `json:"retired"`
	Active  string `json:"active"`
	Next    string `json:"next"`
}

// RotateOptions select the kind of rotation.
type RotateOptions struct {
	// Emergency unpublishes the old active keys at once.
	Emergency bool
	// Force activates next keys even if verifiers may not have fetched them.
	Force bool
}

// Rotate promotes next to active, retires the old active key and makes a
// new next key, for every algorithm, in one transaction that is safe
// against concurrent rotations. A retired key stays published until every
// token it signed has expired (access TTL, plus the poll interval other
// servers may still sign with it, plus verifier leeway); an emergency
// rotation unpublishes it at once, which kills every token it signed. A
// staged rotation refuses to activate a next key (of any algorithm)
// published more recently than verifiers may cache the JWKS: they would not
// know the key yet, and refuse its tokens.
func (k *Keys) Rotate(ctx context.Context, opts RotateOptions, meta Meta) (RotateResult, error) {
	// Refusals come before the new keys are made, so they answer at once;
	// the transaction checks again under the lock.
	keys, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return RotateResult{}, err
	}
	now := k.now()
	if _, err := k.planRotation(keys, opts, now); err != nil {
		return RotateResult{}, err
	}
	// Made outside the transaction, for the reason Ensure gives.
	fresh := map[string]*SigningKey{}
	for _, alg := range keyAlgs {
		if fresh[alg], err = k.newKey(alg, KeyNext, now); err != nil {
			return RotateResult{}, err
		}
	}
	var res RotateResult
	err = k.store.InTx(ctx, func(tx Tx) error {
		keys, err := tx.LockSigningKeys(ctx)
		if err != nil {
			return err
		}
		plan, err := k.planRotation(keys, opts, now)
		if err != nil {
			return err
		}
		res = RotateResult{Emergency: opts.Emergency}
		for _, alg := range keyAlgs {
			if err := k.rotateAlg(ctx, tx, plan[alg], fresh[alg], opts.Emergency, now); err != nil {
				return err
			}
			res.Keys = append(res.Keys, AlgRotation{Alg: alg, Retired: plan[alg].active.KID, Active: plan[alg].next.KID, Next: fresh[alg].KID})
		}
		res.Retired, res.Active, res.Next = res.Keys[0].Retired, res.Keys[0].Active, res.Keys[0].Next
		reason := "staged"
		if opts.Emergency {
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

// rotation is the pair of keys of one algorithm a rotation moves.
type rotation struct {
	active, next *SigningKey
}

// planRotation finds each algorithm's active and next key in keys and
// applies the staging rule to each.
func (k *Keys) planRotation(keys []SigningKey, opts RotateOptions, now time.Time) (map[string]rotation, error) {
	plan := map[string]rotation{}
	for i := range keys {
		r := plan[keys[i].Alg]
		switch keys[i].State {
		case KeyActive:
			r.active = &keys[i]
		case KeyNext:
			r.next = &keys[i]
		}
		plan[keys[i].Alg] = r
	}
	var (
		tooSoon []string
		wait    time.Duration
	)
	for _, alg := range keyAlgs {
		r := plan[alg]
		if r.active == nil || r.next == nil {
			return nil, Errorf(ECONFLICT, "signing keys are not initialised (run idp migrate up)")
		}
		// The first pair is published together: whoever knows the active key
		// knows next too. Later next keys need the cache time to spread.
		age := now.Sub(r.next.CreatedAt)
		if r.next.CreatedAt.After(r.active.CreatedAt) && !opts.Emergency && !opts.Force && age < k.cfg.JWKSMaxAge {
			tooSoon = append(tooSoon, fmt.Sprintf("the next %s key was published %s ago", alg, age.Round(time.Second)))
			wait = max(wait, k.cfg.JWKSMaxAge-age)
		}
	}
	if len(tooSoon) > 0 {
		return nil, Errorf(ECONFLICT, "%s; verifiers may cache the JWKS for %s and would refuse its tokens: wait %s, or use --force (or --emergency if a key is compromised)",
			strings.Join(tooSoon, " and "), k.cfg.JWKSMaxAge, wait.Round(time.Second))
	}
	return plan, nil
}

// rotateAlg retires r.active, activates r.next and stores fresh as the new
// next key.
func (k *Keys) rotateAlg(ctx context.Context, tx Tx, r rotation, fresh *SigningKey, emergency bool, now time.Time) error {
	expires := now.Add(k.cfg.AccessTTL + k.cfg.KeyPollInterval + time.Minute)
	if emergency {
		// Already past: the key leaves every JWKS at its next load.
		expires = now.Add(-time.Second)
	}
	r.active.State, r.active.RetiredAt, r.active.ExpiresAt = KeyRetired, &now, &expires
	if err := tx.UpdateSigningKey(ctx, r.active); err != nil {
		return err
	}
	r.next.State, r.next.ActivatedAt = KeyActive, &now
	if err := tx.UpdateSigningKey(ctx, r.next); err != nil {
		return err
	}
	return tx.InsertSigningKey(ctx, fresh)
}
