package main

import (
	"bufio"
	"net"
	"strings"
	"sync/atomic"
	"time"
)

// smtpSink is a local SMTP server that accepts every mail after a delay,
// like a real relay across a network: the reset-timing scenario uses it to
// show that mail delivery no longer shows in the request's time.
type smtpSink struct {
	l     net.Listener
	delay time.Duration
	mails atomic.Int64
}

func startSMTPSink(delay time.Duration) (*smtpSink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &smtpSink{l: l, delay: delay}
	go s.accept()
	return s, nil
}

func (s *smtpSink) port() int { return s.l.Addr().(*net.TCPAddr).Port }

func (s *smtpSink) close() { _ = s.l.Close() }

func (s *smtpSink) accept() {
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		go s.serve(c)
	}
}

func (s *smtpSink) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(c)
	say := func(line string) { _, _ = c.Write([]byte(line + "\r\n")) }
	say("220 sink ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		switch verb {
		case "EHLO":
			say("250-sink")
			say("250 8BITMIME")
		case "DATA":
			say("354 go ahead")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			time.Sleep(s.delay)
			s.mails.Add(1)
			say("250 queued")
		case "QUIT":
			say("221 bye")
			return
		default: // HELO, MAIL, RCPT, RSET, NOOP
			say("250 ok")
		}
	}
}
