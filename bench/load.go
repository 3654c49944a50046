package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"
)

// clientTimeout is how long a client waits for an answer. A request that
// takes longer counts as a timeout: the overload target of S1 is that the
// server sheds load with quick 429/503s instead.
const clientTimeout = 5 * time.Second

// Pseudo status codes for requests that got no HTTP answer.
const (
	statusTimeout = -1
	statusError   = 0
)

// sample is one finished request.
type sample struct {
	status int
	lat    time.Duration
	end    time.Duration // since the run started
}

// loadResult is one fixed-duration run against the server.
type loadResult struct {
	window  time.Duration // requests started only within it
	warm    time.Duration // answers before this don't count towards rates
	elapsed time.Duration // until the last request finished
	samples []sample
	cpu     time.Duration // server CPU, from start until the last request finished
	dbCPU   time.Duration // PostgreSQL and Redis CPU over the same span
	// The load generator's own CPU and all cores' busy time over the same
	// span, for the CPU accounting in results.json.
	clientCPU, machineCPU time.Duration
}

// rate is how many requests with one of the codes finished within the
// window after the warm-up, per second. Counting from the start would
// miss the first round trip's worth of answers (a 60 ms login in a 2 s
// run is 3 %); the requests still in flight at the end are left out
// likewise, so the two edges match.
func (r *loadResult) rate(codes ...int) float64 {
	n := 0
	for _, s := range r.samples {
		if s.end > r.warm && s.end <= r.window && slices.Contains(codes, s.status) {
			n++
		}
	}
	return float64(n) / (r.window - r.warm).Seconds()
}

// unattributed is the share of all cores, over the run, that neither idp,
// PostgreSQL, Redis nor the load generator was charged for: other
// processes on a shared machine, and the kernel's loopback networking.
// A high share means the run competed with neighbours.
func (r *loadResult) unattributed() float64 {
	return share(r.machineCPU-r.cpu-r.dbCPU-r.clientCPU, r.elapsed)
}

func share(cpu, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return max(0, cpu.Seconds()/(elapsed.Seconds()*float64(runtime.NumCPU())))
}

// warmUp is the start of a run whose answers rates ignore.
func warmUp(window time.Duration) time.Duration { return min(window/8, time.Second) }

// count is how many requests finished with one of the codes, in the window
// or in the drain after it.
func (r *loadResult) count(codes ...int) int {
	n := 0
	for _, s := range r.samples {
		if slices.Contains(codes, s.status) {
			n++
		}
	}
	return n
}

// cpuPer is the server CPU time per request with one of the codes: all of
// the run's CPU over the requests counted, so the cost of the others (a
// 503 under overload) is charged to them.
func (r *loadResult) cpuPer(codes ...int) time.Duration {
	n := r.count(codes...)
	if n == 0 {
		return 0
	}
	return r.cpu / time.Duration(n)
}

func (r *loadResult) dbCPUPer(codes ...int) time.Duration {
	n := r.count(codes...)
	if n == 0 {
		return 0
	}
	return r.dbCPU / time.Duration(n)
}

// latency is the p-th percentile (0..1) of the requests with one of the
// codes; 0 when there were none.
func (r *loadResult) latency(p float64, codes ...int) time.Duration {
	var lat []time.Duration
	for _, s := range r.samples {
		if slices.Contains(codes, s.status) {
			lat = append(lat, s.lat)
		}
	}
	return percentile(lat, p)
}

// codes counts requests by status, for the JSON results and for spotting
// unexpected answers.
func (r *loadResult) codes() map[int]int {
	m := map[int]int{}
	for _, s := range r.samples {
		m[s.status]++
	}
	return m
}

// request does one request as worker w and returns its status.
type request func(ctx context.Context, w int) (int, error)

// meter reads the CPU counters a run is charged with.
type meter struct {
	srv *server
	svc *services
}

type cpuReading struct{ server, db, client, machine time.Duration }

func (m meter) read() cpuReading {
	self, _ := processCPU(os.Getpid())
	return cpuReading{server: m.srv.cpu(), db: m.svc.cpu(), client: self, machine: machineCPU()}
}

// charge stores the CPU used since r0.
func (m meter) charge(res *loadResult, r0 cpuReading) {
	r1 := m.read()
	res.cpu, res.dbCPU = r1.server-r0.server, r1.db-r0.db
	res.clientCPU, res.machineCPU = r1.client-r0.client, r1.machine-r0.machine
}

// closedLoop runs conc workers, each sending its next request as soon as
// the previous one is answered, for window; then it waits for the
// requests in flight.
func closedLoop(ctx context.Context, m meter, conc int, window time.Duration, do request) *loadResult {
	res := &loadResult{window: window, warm: warmUp(window)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	r0 := m.read()
	start := time.Now()
	deadline := start.Add(window)
	for w := range conc {
		wg.Go(func() {
			var local []sample
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				status, err := do(ctx, w)
				local = append(local, sample{status: classify(status, err), lat: time.Since(t0), end: time.Since(start)})
			}
			mu.Lock()
			res.samples = append(res.samples, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	m.charge(res, r0)
	return res
}

// openLoop sends requests at a fixed rate, each on its own goroutine, so a
// slow answer doesn't delay the next request (no coordinated omission).
func openLoop(ctx context.Context, m meter, rate float64, window time.Duration, do request) *loadResult {
	res := &loadResult{window: window}
	r0 := m.read()
	var mu sync.Mutex
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if at.Sub(start) >= window {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(at)):
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			t0 := time.Now()
			status, err := do(ctx, i)
			s := sample{status: classify(status, err), lat: time.Since(t0), end: time.Since(start)}
			mu.Lock()
			res.samples = append(res.samples, s)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	m.charge(res, r0)
	return res
}

func classify(status int, err error) int {
	if err == nil {
		return status
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return statusTimeout
	}
	return statusError
}

// newClient keeps one idle connection per worker, so every request after
// the first reuses a connection as a real client pool would.
func newClient(conc int) *http.Client {
	return &http.Client{
		Timeout: clientTimeout,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        conc,
			MaxIdleConnsPerHost: conc,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// call sends one request, reads the whole answer (so the connection can
// be reused) and decodes a 200 answer into out when out is not nil.
func call(ctx context.Context, c *http.Client, method, url string, body []byte, header map[string]string, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return 0, err
		}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// tokenPair is the part of a token response the bench uses.
type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func loginBody(email, password string) []byte {
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	return b
}

func refreshBody(refresh string) []byte {
	b, _ := json.Marshal(map[string]string{"refresh_token": refresh})
	return b
}
