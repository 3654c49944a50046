package server_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/server"
)

// open dials addr from the loopback address local and asks for /healthz
// on a kept-alive connection. It returns the connection when the server
// answered, nil when the server refused it.
func open(t *testing.T, addr, local string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if errors.Is(err, syscall.ECONNRESET) {
		return nil // reset before the dial had even seen its connection established
	}
	if err != nil {
		t.Fatalf("dial from %s: %v", local, err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: idp.test\r\n\r\n"); err != nil {
		c.Close()
		return nil
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil // closed before any answer: refused
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/healthz from %s = %d", local, resp.StatusCode)
	}
	_ = c.SetDeadline(time.Time{})
	t.Cleanup(func() { c.Close() })
	return c
}

// The connection cap (http.max_connections) and its per-IP share: over
// either, a connection is closed at once, unanswered; a slot given back is
// usable again; trusted proxies count towards the total only.
func TestConnectionCap(t *testing.T) {
	const total = 20
	perIP := server.PerIPConnections(total) // 8: the floor, above a quarter
	if perIP != 8 {
		t.Fatalf("PerIPConnections(%d) = %d, want 8", total, perIP)
	}
	proxy := "127.0.0.9"
	addr, _, _ := startServe(t, server.Options{MaxConnections: total,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix(proxy + "/32")}}, time.Second)

	var first []net.Conn
	for i := 0; i < perIP; i++ {
		c := open(t, addr, "127.0.0.1")
		if c == nil {
			t.Fatalf("connection %d from 127.0.0.1 refused under its share of %d", i+1, perIP)
		}
		first = append(first, c)
	}
	if open(t, addr, "127.0.0.1") != nil {
		t.Fatalf("connection %d from one IP accepted over its share of %d", perIP+1, perIP)
	}
	// Other IPs still get in, up to the total.
	held := perIP
	for _, ip := range []string{"127.0.0.2", "127.0.0.3"} {
		for i := 0; i < perIP && held < total; i++ {
			if open(t, addr, ip) == nil {
				t.Fatalf("connection from %s refused with %d of %d open", ip, held, total)
			}
			held++
		}
	}
	if held != total {
		t.Fatalf("held %d, want %d", held, total)
	}
	for _, ip := range []string{"127.0.0.4", proxy} {
		if open(t, addr, ip) != nil {
			t.Fatalf("connection from %s accepted over the total of %d", ip, total)
		}
	}
	// A connection closed gives its slot back.
	first[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for open(t, addr, "127.0.0.4") == nil {
		if time.Now().After(deadline) {
			t.Fatal("no slot back 5 s after a connection closed")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A trusted proxy carries many clients: no per-IP share for it.
	addr, _, _ = startServe(t, server.Options{MaxConnections: total,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix(proxy + "/32")}}, time.Second)
	for i := 0; i < total; i++ {
		if open(t, addr, proxy) == nil {
			t.Fatalf("connection %d from the trusted proxy refused under the total of %d", i+1, total)
		}
	}
	if open(t, addr, proxy) != nil {
		t.Fatalf("the trusted proxy got past the total of %d", total)
	}
}

func TestMachineMaxConnections(t *testing.T) {
	n := server.MachineMaxConnections()
	if n < 64 || n > 1<<20 {
		t.Fatalf("MachineMaxConnections() = %d, want 64..1Mi", n)
	}
	for total, want := range map[int]int{1: 1, 5: 5, 8: 8, 20: 8, 40: 10, 1000: 250} {
		if got := server.PerIPConnections(total); got != want {
			t.Errorf("PerIPConnections(%d) = %d, want %d", total, got, want)
		}
	}
}

// Slow clients that never finish their request headers hold the server's
// memory until the header timeout: it must stay within the budget per
// connection that sizes http.max_connections (256 KiB). With the old
// 1.5 MiB header limit, 40 such connections held over 100 MiB.
func TestSlowHeadersBoundedMemory(t *testing.T) {
	const conns = 40
	const budget = 256 << 10
	for _, size := range []int{1400 << 10, 60 << 10} { // over and under the 64 KiB limit
		t.Run(fmt.Sprintf("%d KiB header", size>>10), func(t *testing.T) {
			addr, _, _ := startServe(t, server.Options{MaxConnections: 1000}, time.Second)
			pad := []byte("GET /healthz HTTP/1.1\r\nHost: idp.test\r\nX-Pad: " + strings.Repeat("a", size))
			before := liveHeap()
			var held []net.Conn
			for i := 0; i < conns; i++ {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				held = append(held, c)
				go func() {
					_ = c.SetWriteDeadline(time.Now().Add(3 * time.Second))
					_, _ = c.Write(pad) // the header never ends
				}()
			}
			// The server reads what it will within moments; take the
			// highest reading over a second, well inside the 5 s header timeout.
			var peak uint64
			for i := 0; i < 10; i++ {
				time.Sleep(100 * time.Millisecond)
				peak = max(peak, liveHeap())
			}
			for _, c := range held {
				c.Close()
			}
			grew := int64(peak) - int64(before)
			t.Logf("%d slow connections with a %d KiB header: live heap +%.1f MiB", conns, size>>10, float64(grew)/(1<<20))
			if grew > conns*budget {
				t.Fatalf("%d slow connections grew the live heap by %.1f MiB, over %d KiB each",
					conns, float64(grew)/(1<<20), budget>>10)
			}
		})
	}
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
