package server

import (
	"bufio"
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Connection limits (docs/operations.md, "Client connections"): every open
// connection costs a file descriptor and, while its request header is
// read, up to maxHeaderBytes of memory, so the number held open at once is
// capped, and one client IP may hold only a share of it.
const (
	// connBudget is the memory set aside per connection when the cap is
	// sized to the machine: the header limit, the read and write buffers,
	// a goroutine and the request, with room to spare.
	connBudget = 256 << 10
	// reservedFDs are kept for everything else: the PostgreSQL and Redis
	// pools, log and mail files, the listener.
	reservedFDs = 256
	minConns    = 64
	maxConns    = 1 << 20
	// minPerIP is the least a client IP may hold, so that a small cap
	// still lets a NAT gateway or a browser with many tabs in.
	minPerIP = 8
	// refusalLogEvery spaces the warnings about refused connections.
	refusalLogEvery = 10 * time.Second
)

// MachineMaxConnections is the default of http.max_connections: the lower
// of the file-descriptor limit less reservedFDs and a quarter of the
// memory limit (the cgroup's, else the machine's) divided by connBudget,
// but at least minConns.
func MachineMaxConnections() int {
	n := maxConns
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < uint64(maxConns) {
		n = int(rl.Cur) - reservedFDs
	}
	if mem := memoryLimit(); mem > 0 {
		n = min(n, int(mem/4/connBudget))
	}
	return max(n, minConns)
}

// PerIPConnections is the share of total one client IP may hold: a
// quarter, at least minPerIP (never more than total).
func PerIPConnections(total int) int {
	return max(total/4, min(minPerIP, total))
}

// memoryLimit is the cgroup memory limit (v2, then v1) or else the
// machine's RAM, in bytes; zero when none can be read.
func memoryLimit() uint64 {
	var limit uint64
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		if n, err := strconv.ParseUint(string(bytes.TrimSpace(raw)), 10, 64); err == nil && n > 0 {
			limit = n // "max" (v2) or a huge number (v1) means none
			break
		}
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return limit
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		f := strings.Fields(sc.Text()) // "MemTotal:  16318756 kB"
		if len(f) != 3 || f[0] != "MemTotal:" || f[2] != "kB" {
			continue
		}
		if kb, err := strconv.ParseUint(f[1], 10, 64); err == nil {
			if ram := kb << 10; limit == 0 || ram < limit {
				limit = ram
			}
		}
		break
	}
	return limit
}

// limitListener accepts at most total connections at once, and at most
// perIP from one client IP (IPv4 address or IPv6 prefix of v6Bits, the TCP
// peer: ratelimit.ipv6_prefix, /64 by default). A
// connection over either cap is closed at once, before anything is read
// from it, instead of being queued: the client sees a reset and may retry.
// Peers in exempt (trusted proxies, which carry many clients) count
// towards the total only.
type limitListener struct {
	net.Listener
	total, perIP int
	v6Bits       int
	exempt       []netip.Prefix
	log          *slog.Logger

	mu   sync.Mutex
	open int
	byIP map[netip.Addr]int

	refused  atomic.Int64 // since the last warning
	lastWarn atomic.Int64 // UnixNano
}

func newLimitListener(l net.Listener, total, perIP, v6Bits int, exempt []netip.Prefix, log *slog.Logger) *limitListener {
	if v6Bits <= 0 || v6Bits > 128 {
		v6Bits = 64
	}
	return &limitListener{Listener: l, total: total, perIP: perIP, v6Bits: v6Bits, exempt: exempt, log: log, byIP: map[netip.Addr]int{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, counted := l.key(c.RemoteAddr())
		if l.admit(key, counted) {
			return &limitedConn{Conn: c, release: func() { l.release(key, counted) }}, nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset: no TIME_WAIT left behind per refused connection
		}
		_ = c.Close()
		l.warnRefused(key)
	}
}

// key is the per-IP bucket of a peer, and whether the per-IP cap applies.
func (l *limitListener) key(a net.Addr) (netip.Addr, bool) {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip := tcp.AddrPort().Addr().Unmap().WithZone("")
	for _, p := range l.exempt {
		if p.Contains(ip) {
			return ip, false
		}
	}
	if ip.Is6() {
		p, _ := ip.Prefix(l.v6Bits)
		return p.Addr(), true
	}
	return ip, true
}

func (l *limitListener) admit(key netip.Addr, counted bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.total || counted && l.byIP[key] >= l.perIP {
		return false
	}
	l.open++
	if counted {
		l.byIP[key]++
	}
	return true
}

func (l *limitListener) release(key netip.Addr, counted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if counted {
		if l.byIP[key]--; l.byIP[key] <= 0 {
			delete(l.byIP, key)
		}
	}
}

// warnRefused logs refusals at most once per refusalLogEvery, with how
// many there were since the last warning.
func (l *limitListener) warnRefused(peer netip.Addr) {
	n := l.refused.Add(1)
	now := time.Now().UnixNano()
	last := l.lastWarn.Load()
	if now-last < int64(refusalLogEvery) || !l.lastWarn.CompareAndSwap(last, now) {
		return
	}
	l.refused.Add(-n)
	l.mu.Lock()
	open := l.open
	l.mu.Unlock()
	l.log.Warn("connections refused: over http.max_connections or its per-IP share",
		"refused", n, "last_peer", peer.String(), "open", open, "max_connections", l.total, "per_ip", l.perIP)
}

// limitedConn gives its slot back once, when closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
