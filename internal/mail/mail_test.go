package mail

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
)

func TestFileAppendsWholeLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "mail.jsonl")
	f, err := NewFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			m := core.Mail{To: fmt.Sprintf("u%d@example.com", i), Kind: core.MailPasswordReset, Subject: "s",
				URL: "http://idp.test/password/reset?token=t", CreatedAt: time.Unix(0, 0).UTC()}
			if err := f.Send(context.Background(), m); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 50 {
		t.Fatalf("%d lines, want 50", len(lines))
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		for _, k := range []string{"to", "kind", "subject", "url", "created_at"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("line %q lacks %s", l, k)
			}
		}
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Fatalf("outbox mode %v: it holds reset links", info.Mode().Perm())
	}
	if _, err := NewFile("/proc/no/such/dir/mail.jsonl"); err == nil {
		t.Fatal("NewFile in an impossible directory succeeded")
	}
}

// fakeSMTP is just enough of an SMTP server for one delivery without TLS.
func fakeSMTP(t *testing.T, stall bool) (addr string, got chan string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got = make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if stall {
			time.Sleep(5 * time.Second)
			return
		}
		r := bufio.NewReader(c)
		say := func(s string) { fmt.Fprint(c, s+"\r\n") }
		say("220 fake ESMTP")
		var data strings.Builder
		inData := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if inData {
				if line == ".\r\n" {
					inData = false
					got <- data.String()
					say("250 queued")
					continue
				}
				data.WriteString(line)
				continue
			}
			switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
			case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
				say("250-fake")
				say("250 8BITMIME")
			case strings.HasPrefix(cmd, "MAIL"), strings.HasPrefix(cmd, "RCPT"), strings.HasPrefix(cmd, "RSET"), strings.HasPrefix(cmd, "NOOP"):
				say("250 ok")
			case cmd == "DATA":
				inData = true
				say("354 go on")
			case cmd == "QUIT":
				say("221 bye")
				return
			default:
				say("502 unknown")
			}
		}
	}()
	return l.Addr().String(), got
}

func TestSMTPDelivers(t *testing.T) {
	addr, got := fakeSMTP(t, false)
	host, port, _ := net.SplitHostPort(addr)
	var p int
	fmt.Sscan(port, &p)
	s, err := NewSMTP(SMTPOptions{Host: host, Port: p, From: "idp@example.com", StartTLS: false, Timeout: 3 * time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), core.Mail{To: "u@example.com", Kind: core.MailPasswordReset, Subject: "Reset your password", URL: "http://idp.test/password/reset?token=abc"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case body := <-got:
		if !strings.Contains(body, "Subject: Reset your password") || !strings.Contains(body, "token=3Dabc") && !strings.Contains(body, "token=abc") {
			t.Fatalf("message:\n%s", body)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no message reached the server")
	}
}

func TestSMTPGivesUpWithinTimeout(t *testing.T) {
	addr, _ := fakeSMTP(t, true)
	host, port, _ := net.SplitHostPort(addr)
	var p int
	fmt.Sscan(port, &p)
	s, _ := NewSMTP(SMTPOptions{Host: host, Port: p, From: "idp@example.com", Timeout: 300 * time.Millisecond}, slog.New(slog.DiscardHandler))
	start := time.Now()
	err := s.Send(context.Background(), core.Mail{To: "u@example.com", Kind: core.MailInvite, Subject: "s"})
	if err == nil {
		t.Fatal("send to a stalled server succeeded")
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("send took %v with a 300ms timeout", time.Since(start))
	}
}

func TestSMTPRejectsBadAddresses(t *testing.T) {
	s, _ := NewSMTP(SMTPOptions{Host: "127.0.0.1", Port: 1, From: "not an address"}, slog.New(slog.DiscardHandler))
	if err := s.Send(context.Background(), core.Mail{To: "u@example.com"}); err == nil {
		t.Fatal("bad From accepted")
	}
	s, _ = NewSMTP(SMTPOptions{Host: "127.0.0.1", Port: 1, From: "idp@example.com"}, slog.New(slog.DiscardHandler))
	if err := s.Send(context.Background(), core.Mail{To: "bad address"}); err == nil {
		t.Fatal("bad To accepted")
	}
	for _, kind := range []string{core.MailPasswordReset, core.MailInvite, core.MailPasswordChanged, "other"} {
		if body(core.Mail{Kind: kind, URL: "u", Subject: "s"}) == "" {
			t.Fatalf("empty body for %s", kind)
		}
	}
}
