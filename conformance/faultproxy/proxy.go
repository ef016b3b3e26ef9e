// Package faultproxy is a loopback TCP proxy for fault tests: put it
// between a driver and its server, then Cut to drop every connection
// abruptly (a TCP reset, not an orderly close) and refuse new ones for a
// while, as a network cut or a crashed broker host does.
//
// A conformance harness passes Proxy.Cut as Harness.Cut and points the
// URLs it provisions at Proxy.Addr. It is exported so that third-party
// driver authors can use it too. It listens on 127.0.0.1 only.
//
//	p, err := faultproxy.Start("127.0.0.1:5672")
//	...
//	defer p.Close()
//	url := "amqp://guest:guest@" + p.Addr() + "/"
//	p.Cut(3 * time.Second) // every connection reset; dials refused for 3 s
package faultproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Proxy forwards TCP connections from its loopback address to a target.
type Proxy struct {
	target string
	addr   string
	dialer net.Dialer

	mu       sync.Mutex
	ln       net.Listener // nil while cut
	conns    map[net.Conn]struct{}
	cuts     int
	downTill time.Time
	restore  *time.Timer
	closed   bool
	wg       sync.WaitGroup
}

// Start listens on a free port of 127.0.0.1 and forwards every
// connection to target (host:port).
func Start(target string) (*Proxy, error) {
	return StartOn("127.0.0.1:0", target)
}

// StartOn is Start with the listening address given, for a server that
// must be reached on a known port (it advertises it, for example).
func StartOn(listen, target string) (*Proxy, error) {
	if _, _, err := net.SplitHostPort(target); err != nil {
		return nil, errors.New("faultproxy: target must be host:port: " + err.Error())
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), conns: make(map[net.Conn]struct{})}
	p.dialer.Timeout = 5 * time.Second
	p.serve(ln)
	return p, nil
}

// Addr is the proxy's address, host:port, to put in the driver's URL.
func (p *Proxy) Addr() string { return p.addr }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Conns reports how many client connections are open through the proxy.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}

// Cuts reports how many times Cut was called.
func (p *Proxy) Cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts
}

// Cut resets every connection through the proxy at once, on both sides,
// and refuses new connections for d; it returns without waiting for d.
// A Cut during a cut extends it to end d from now.
func (p *Proxy) Cut(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.cuts++
	if p.ln != nil {
		_ = p.ln.Close() // dials are refused from now on
		p.ln = nil
	}
	for c := range p.conns {
		reset(c)
	}
	clear(p.conns)
	p.downTill = time.Now().Add(d)
	if p.restore != nil {
		p.restore.Stop()
	}
	p.restore = time.AfterFunc(d, p.up)
}

// CutContext is Cut in the shape of conformance.Harness.Cut.
func (p *Proxy) CutContext(_ context.Context, d time.Duration) error {
	p.Cut(d)
	return nil
}

// Outage cuts for d and returns when the cut is over (or ctx ended): what
// clients see of a broker restart that keeps the broker's state. It fits
// conformance.Harness.Restart for a server that cannot restart itself.
func (p *Proxy) Outage(ctx context.Context, d time.Duration) error {
	p.Cut(d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// up listens again on the same address once a cut is over.
func (p *Proxy) up() {
	for {
		p.mu.Lock()
		if p.closed || p.ln != nil || time.Now().Before(p.downTill) {
			p.mu.Unlock()
			return
		}
		ln, err := net.Listen("tcp", p.addr)
		if err == nil {
			p.serveLocked(ln)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		// The port is briefly unavailable (TIME_WAIT is not an issue on
		// loopback listeners with SO_REUSEADDR, which Go sets; another
		// process could hold it): try again shortly.
		time.Sleep(10 * time.Millisecond)
	}
}

// Close stops the proxy and resets every connection. It waits for the
// proxy's goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if p.restore != nil {
		p.restore.Stop()
	}
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		reset(c)
	}
	clear(p.conns)
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.serveLocked(ln)
}

func (p *Proxy) serveLocked(ln net.Listener) {
	p.ln = ln
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Cut or Close
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.pipe(c)
			}()
		}
	}()
}

// pipe connects client c to the target until either side ends or a cut
// resets both.
func (p *Proxy) pipe(c net.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), p.dialer.Timeout)
	s, err := p.dialer.DialContext(ctx, "tcp", p.target)
	cancel()
	if err != nil {
		reset(c)
		return
	}
	p.mu.Lock()
	if p.closed || p.ln == nil {
		// Cut or closed while dialing: this connection belongs to the cut.
		p.mu.Unlock()
		reset(c)
		reset(s)
		return
	}
	p.conns[c] = struct{}{}
	p.conns[s] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { p.copyHalf(s, c); done <- struct{}{} }()
	go func() { p.copyHalf(c, s); done <- struct{}{} }()
	<-done
	// One side ended: end the other, orderly unless a cut reset both.
	_ = c.Close()
	_ = s.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

// copyHalf copies src to dst and then ends dst's writing in order
// (FIN), unless a cut reset dst: a cut resets the connections while
// holding p.mu and takes them out of p.conns, and a half whose src the
// cut reset must not send its peer a FIN ahead of the cut's reset (the
// client would read EOF instead of ECONNRESET).
func (p *Proxy) copyHalf(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	p.mu.Lock()
	_, live := p.conns[dst]
	p.mu.Unlock()
	if !live {
		return
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// reset closes c with SO_LINGER 0, so the peer sees a reset.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// InFront starts a proxy in front of the host of rawURL for a test and
// returns rawURL pointed at the proxy, and the proxy. The proxy is closed
// when the test ends; a URL without a host:port fails the test.
func InFront(tb testing.TB, rawURL string) (string, *Proxy) {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatalf("faultproxy: %v", err)
	}
	p, err := Start(u.Host)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.Close() })
	u.Host = p.Addr()
	return u.String(), p
}
