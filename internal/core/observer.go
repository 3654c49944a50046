package core

import (
	"errors"
	"slices"
	"time"
)

// Observer is told about the events an operator watches: password checks,
// lockouts, refreshes, the hashing slots, signing-key loads and janitor
// runs (docs/operations.md, "Metrics"). Every string it gets is one of the
// constants below or a reason code of this package, never anything a
// client sent, so an implementation may use them as metric labels. Its
// methods run on request paths: they must be quick and never block.
type Observer interface {
	// Login is one password check (API, hosted pages or OAuth password
	// grant): LoginSuccess, LoginFailure (with the reason the audit log
	// gets) or LoginError (the server could not decide: ReasonUnavailable
	// or ReasonInternal).
	Login(outcome, reason string)
	// Lockout is one lock set by a failed check: LockSource or LockAccount.
	Lockout(scope string)
	// Refresh is one refresh-token presentation: RefreshRotated,
	// RefreshReplayed (inside the grace window), RefreshReuse (the session
	// was revoked), RefreshRefused (with its reason) or RefreshError.
	Refresh(outcome, reason string)
	// HashSlot is one wait for a hashing slot, with HashAcquired,
	// HashBusy (answered 503 after security.max_concurrent_hashes stayed
	// taken) or HashCancelled (the request ended first).
	HashSlot(wait time.Duration, outcome string)
	// KeysLoaded is one load of the signing keys; rotated says the active
	// key differs from the one this process loaded before.
	KeysLoaded(rotated bool, err error)
	// JanitorRun is one janitor run that was not a dry run.
	JanitorRun(rep PruneReport, err error)
}

// The outcomes an Observer is told.
const (
	LoginSuccess = "success"
	LoginFailure = "failure"
	LoginError   = "error"

	LockSource  = "source"
	LockAccount = "account"

	RefreshRotated  = "rotated"
	RefreshReplayed = "replayed"
	RefreshReuse    = "reuse_detected"
	RefreshRefused  = "refused"
	RefreshError    = "error"

	HashAcquired  = "acquired"
	HashBusy      = "busy"
	HashCancelled = "cancelled"
)

// Reasons of LoginError and RefreshError: the store or Redis did not
// answer (503), or something unexpected failed (500).
const (
	ReasonUnavailable = "unavailable"
	ReasonInternal    = "internal"
)

// NopObserver observes nothing: the default, for the admin commands and
// tests.
type NopObserver struct{}

func (NopObserver) Login(string, string)           {}
func (NopObserver) Lockout(string)                 {}
func (NopObserver) Refresh(string, string)         {}
func (NopObserver) HashSlot(time.Duration, string) {}
func (NopObserver) KeysLoaded(bool, error)         {}
func (NopObserver) JanitorRun(PruneReport, error)  {}

// The reasons a login or refresh failure may be told by: anything else
// (there should be nothing else) is told as ReasonInternal, so an
// observer's label values stay a fixed, small set whatever a future
// change puts into an error.
var (
	loginReasons = []string{ReasonUnknownEmail, ReasonBadPassword, ReasonDisabled, ReasonPending,
		ReasonTenantDisabled, ReasonLocked, ReasonRateLimited, ReasonPasswordExpire, ReasonInvalidRequest}
	refreshReasons = []string{ReasonUnknownToken, ReasonSessionRevoked, ReasonSessionExpired,
		ReasonUserInactive, ReasonTenantDisabled, ReasonOtherClient, ReasonRateLimited, ReasonInvalidRequest}
)

// failureOf classifies the error of a login or refresh for an observer:
// a refusal with its reason (one of known), or an error the server could
// not decide past.
func failureOf(err error, known []string, refused string) (outcome, reason string) {
	var e *Error
	if !errors.As(err, &e) {
		return LoginError, ReasonInternal
	}
	switch e.Code {
	case EINVALID:
		return refused, ReasonInvalidRequest
	case EDENIED, ETHROTTLED:
		if slices.Contains(known, e.Reason) {
			return refused, e.Reason
		}
		return refused, ReasonInternal
	case EUNAVAILABLE:
		return LoginError, ReasonUnavailable
	default:
		return LoginError, ReasonInternal
	}
}

// observeLogin tells the observer how a password check ended.
func (e *env) observeLogin(err error) {
	if err == nil {
		e.observe.Login(LoginSuccess, "")
		return
	}
	e.observe.Login(failureOf(err, loginReasons, LoginFailure))
}

// observeRefresh tells the observer how a refresh ended.
func (e *env) observeRefresh(replayed bool, err error) {
	switch {
	case err == nil && replayed:
		e.observe.Refresh(RefreshReplayed, "")
	case err == nil:
		e.observe.Refresh(RefreshRotated, "")
	case isReuse(err):
		e.observe.Refresh(RefreshReuse, "")
	default:
		outcome, reason := failureOf(err, refreshReasons, RefreshRefused)
		e.observe.Refresh(outcome, reason)
	}
}

func isReuse(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == EDENIED && e.Reason == ReasonReuse
}
