package faultproxy_test

import (
	"bufio"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/portmq/portmq/conformance/faultproxy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer echoes lines until closed.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func roundTrip(c net.Conn, r *bufio.Reader, s string) (string, error) {
	if _, err := c.Write([]byte(s + "\n")); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return line[:len(line)-1], nil
}

func TestCutResetsConnectionsAndRefusesDialsUntilOver(t *testing.T) {
	p, err := faultproxy.Start(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if got, err := roundTrip(c, r, "hello"); err != nil || got != "hello" {
		t.Fatalf("before the cut: %q, %v", got, err)
	}
	if n := p.Conns(); n != 1 {
		t.Errorf("Conns = %d, want 1", n)
	}

	const d = 300 * time.Millisecond
	cutAt := time.Now()
	p.Cut(d)
	_, err = roundTrip(c, r, "lost")
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read after the cut: %v, want a connection reset (ECONNRESET)", err)
	}
	if _, err := net.Dial("tcp", p.Addr()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial during the cut: %v, want connection refused", err)
	}
	// Dial until the cut is over; it must not end early.
	var c2 net.Conn
	for c2 == nil {
		if time.Since(cutAt) > d+5*time.Second {
			t.Fatal("the proxy did not come back after the cut")
		}
		conn, err := net.Dial("tcp", p.Addr())
		if err == nil {
			c2 = conn
			break
		}
		time.Sleep(10 * time.Millisecond) // polling the real listener: no event to wait for
	}
	defer c2.Close()
	if since := time.Since(cutAt); since < d {
		t.Errorf("dial succeeded %v after a cut of %v", since, d)
	}
	if got, err := roundTrip(c2, bufio.NewReader(c2), "again"); err != nil || got != "again" {
		t.Errorf("after the cut: %q, %v", got, err)
	}
	if p.Cuts() != 1 {
		t.Errorf("Cuts = %d", p.Cuts())
	}
}

func TestStartRejectsBadTarget(t *testing.T) {
	if _, err := faultproxy.Start("no-port"); err == nil {
		t.Error("Start accepted a target without a port")
	}
}
