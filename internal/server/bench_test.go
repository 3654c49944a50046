package server_test

import (
	"encoding/json"
	"testing"

	"github.com/idp-dev/idp/internal/core"
)

// BenchmarkRefreshHTTP follows one refresh token chain through the whole
// HTTP stack on real PostgreSQL and Redis. It is for profiling
// (-cpuprofile); the throughput figures that matter come from `make bench`.
func BenchmarkRefreshHTTP(b *testing.B) {
	env := newTestEnv(b, nil)
	tok := login(b, env.TS, testUser)
	cur := tok.RefreshToken
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := do(b, env.TS, "POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": cur})
		if r.StatusCode != 200 {
			b.Fatalf("refresh = %d %s", r.StatusCode, r.Body)
		}
		var next core.TokenResponse
		if err := json.Unmarshal(r.Body, &next); err != nil {
			b.Fatal(err)
		}
		cur = next.RefreshToken
	}
}

// BenchmarkMeHTTP is /me through the whole stack, for profiling.
func BenchmarkMeHTTP(b *testing.B) {
	env := newTestEnv(b, nil)
	tok := login(b, env.TS, testUser)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := do(b, env.TS, "GET", "/api/v1/auth/me", nil, "Authorization", bearer(tok.AccessToken))
		if r.StatusCode != 200 {
			b.Fatalf("/me = %d", r.StatusCode)
		}
	}
}
