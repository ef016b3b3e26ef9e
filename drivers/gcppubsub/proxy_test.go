package gcppubsub

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// proxy forwards TCP connections to a pstest server and can take the
// "broker" away: outage closes every connection and refuses new ones for a
// while, which is what clients see of a broker restart. pstest keeps its
// state in process, as a restarted broker keeps its durable state.
type proxy struct {
	t      *testing.T
	ln     net.Listener
	target string
	down   time.Duration

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	refuse  bool
	refused int
	wg      sync.WaitGroup
}

func startProxy(t *testing.T, target string, down time.Duration) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: target, down: down, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		p.wg.Go(func() { p.pipe(c) })
	}
}

// track registers c, or closes it while the broker is away.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refuse {
		p.refused++
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		c.Close()
	}
}

func (p *proxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		p.untrack(c)
		return
	}
	if !p.track(up) {
		p.untrack(c)
		return
	}
	var once sync.Once
	done := func() { once.Do(func() { p.untrack(c, up) }) }
	p.wg.Go(func() { _, _ = io.Copy(up, c); done() })
	_, _ = io.Copy(c, up)
	done()
}

// outage drops every connection and refuses new ones for p.down.
func (p *proxy) outage(ctx context.Context) error {
	p.mu.Lock()
	p.refuse, p.refused = true, 0
	cut := len(p.conns)
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
	p.mu.Unlock()
	t := time.NewTimer(p.down)
	defer t.Stop()
	var err error
	select {
	case <-t.C:
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.mu.Lock()
	p.refuse = false
	refused := p.refused
	p.mu.Unlock()
	p.t.Logf("proxy outage of %v: cut %d connections, refused %d", p.down, cut, refused)
	return err
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.refuse = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
