package server

import (
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxies", "203.0.113.7:5000", nil, nil, "203.0.113.7"},
		{"no proxies ignores xff", "203.0.113.7:5000", []string{"198.51.100.1"}, nil, "203.0.113.7"},
		{"untrusted peer ignores xff", "203.0.113.7:5000", []string{"198.51.100.1"}, proxies, "203.0.113.7"},
		{"trusted peer", "10.0.0.2:443", []string{"198.51.100.1"}, proxies, "198.51.100.1"},
		{"trusted peer, no xff", "10.0.0.2:443", nil, proxies, "10.0.0.2"},
		{"chain: right-most untrusted wins", "10.0.0.2:443", []string{"1.1.1.1, 198.51.100.1, 10.0.0.9"}, proxies, "198.51.100.1"},
		{"spoofed left entries ignored", "10.0.0.2:443", []string{"127.0.0.1, 192.0.2.66"}, proxies, "192.0.2.66"},
		{"several headers read as one list", "10.0.0.2:443", []string{"1.1.1.1", "198.51.100.1, 10.0.0.3"}, proxies, "198.51.100.1"},
		{"all trusted: left-most hop", "10.0.0.2:443", []string{"10.0.0.5, 10.0.0.4"}, proxies, "10.0.0.5"},
		{"garbage right-most: nearest trusted hop", "10.0.0.2:443", []string{"198.51.100.1, nonsense"}, proxies, "10.0.0.2"},
		{"garbage after a trusted hop", "10.0.0.2:443", []string{"198.51.100.1, bad, 10.0.0.7"}, proxies, "10.0.0.7"},
		{"empty entries skipped", "10.0.0.2:443", []string{" , 198.51.100.1 ,, "}, proxies, "198.51.100.1"},
		{"entry with port", "10.0.0.2:443", []string{"198.51.100.1:1234"}, proxies, "198.51.100.1"},
		{"ipv6 peer", "[2001:db8::1]:443", nil, nil, "2001:db8::1"},
		{"ipv6 trusted peer, ipv6 client", "[fd00::1]:443", []string{"2001:db8::42"}, proxies, "2001:db8::42"},
		{"bracketed ipv6 with port in xff", "[fd00::1]:443", []string{"[2001:db8::42]:8080"}, proxies, "2001:db8::42"},
		{"ipv4-mapped peer is unmapped", "[::ffff:10.0.0.2]:443", []string{"198.51.100.1"}, proxies, "198.51.100.1"},
		{"ipv6 zone dropped", "[fe80::1%eth0]:443", nil, nil, "fe80::1"},
		{"huge entry", "10.0.0.2:443", []string{"198.51.100.1, " + string(make([]byte, 100))}, proxies, "10.0.0.2"},
		{"unparsable remote", "pipe", []string{"198.51.100.1"}, proxies, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := clientIP(tt.remote, tt.xff, tt.trusted)
			if addrString(got) != tt.want {
				t.Fatalf("clientIP = %q, want %q", addrString(got), tt.want)
			}
		})
	}
}
