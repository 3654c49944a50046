package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// oracle checks SECURITY.md A6 against a server at bcrypt cost 6: failed
// logins of an unknown email, a wrong password of a real user, a disabled
// user and a user whose hash is cheaper than configured must take the same
// time, or response time tells an attacker which accounts exist. A low
// cost keeps 2000 logins quick and makes a difference easier to see: the
// hash no longer dwarfs everything else.
func (b *bench) oracle() {
	p := b.plan
	c := newClient(1)
	defer c.CloseIdleConnections()
	url := b.url("/api/v1/auth/token")
	classes := []struct {
		name string
		body func(i int) []byte
	}{
		{"unknown email", func(i int) []byte {
			return loginBody("nobody-oracle-"+strconv.Itoa(i)+"@bench.example", b.sec.password)
		}},
		{"wrong password", func(i int) []byte {
			return loginBody(oracleActiveEmail(i%oracleUsers), "wrong-"+b.sec.password)
		}},
		// The right password of a disabled account: the case that would
		// leak the most if the server skipped the hash for it.
		{"disabled user", func(i int) []byte {
			return loginBody(oracleDisabledEmail(i%oracleUsers), b.sec.password)
		}},
		// A wrong password for an account hashed at a lower cost.
		{"wrong password, cheaper hash", func(i int) []byte {
			return loginBody(oracleCheapEmail(i%oracleUsers), "wrong-"+b.sec.password)
		}},
	}
	lat := make([][]time.Duration, len(classes))
	unexpected := 0
	r := rand.New(rand.NewPCG(7, 7))
	// The first rounds warm up the connection and whatever the server
	// initialises lazily; they are not counted.
	const warmup = 20
	for i := range warmup + p.oraclePerClass {
		// A fresh random order each round, so drift over time (another
		// process waking up) spreads evenly over the classes.
		for _, k := range r.Perm(len(classes)) {
			t0 := time.Now()
			st, err := call(b.ctx, c, http.MethodPost, url, classes[k].body(i), nil, nil)
			d := time.Since(t0)
			if i < warmup {
				continue
			}
			if err != nil || st != http.StatusBadRequest {
				unexpected++
			}
			lat[k] = append(lat[k], d)
		}
		if b.ctx.Err() != nil {
			return
		}
	}
	var medians []float64
	sc := fmt.Sprintf("A6 timing oracle (cost %d)", oracleCost)
	for k, cl := range classes {
		m := msOf(percentile(lat[k], 0.5))
		medians = append(medians, m)
		b.add(figure{Scenario: sc, Name: fmt.Sprintf("median failed login, %s (n=%d)", cl.name, len(lat[k])), Unit: "ms", Value: newStat([]float64{m})})
	}
	diff := slices.Max(medians) - slices.Min(medians)
	b.logf("oracle: medians %v ms, largest difference %.3f ms, %d unexpected answers", medians, diff, unexpected)
	b.add(figure{Scenario: sc, Name: "largest difference between class medians", Unit: "ms", Value: newStat([]float64{diff}), Target: valueBelow(5)})
	b.add(figure{Scenario: sc, Name: "answers other than 400", Unit: "", Value: newStat([]float64{float64(unexpected)}), Target: valueIs(0)})
}
