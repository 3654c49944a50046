package verify

// WithClock lets the tests of package verify_test run the Verifier on a
// fake clock.
var WithClock = withClock
