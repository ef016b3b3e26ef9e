package sqstest

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"time"
)

// Proxy forwards TCP connections from a loopback port to an endpoint and
// can cut them for a while: what a client sees of a broker restart or a
// network outage, without the state loss of restarting moto (which keeps
// everything in memory).
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	up    *time.Timer // ends a Cut
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewProxy starts a proxy to the host of endpoint (an http URL).
func NewProxy(endpoint string) (*Proxy, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: u.Host, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Endpoint is the proxy's base URL.
func (p *Proxy) Endpoint() string { return "http://" + p.ln.Addr().String() }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(c)
	}
}

func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer p.forget(c)
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		up.Close()
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	defer p.forget(up)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	<-done
}

func (p *Proxy) forget(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// Outage cuts every connection and refuses new ones for d (or until ctx
// ends), then lets connections through again.
func (p *Proxy) Outage(ctx context.Context, d time.Duration) error {
	p.setDown(true)
	defer p.setDown(false)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Cut cuts every connection and refuses new ones for d, returning at
// once.
func (p *Proxy) Cut(d time.Duration) {
	p.setDown(true)
	p.mu.Lock()
	if p.up != nil {
		p.up.Stop()
	}
	p.up = time.AfterFunc(d, func() { p.setDown(false) })
	p.mu.Unlock()
}

func (p *Proxy) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	var cut []net.Conn
	if down {
		for c := range p.conns {
			cut = append(cut, c)
		}
	}
	p.mu.Unlock()
	for _, c := range cut {
		c.Close()
	}
}

// Close stops the proxy and waits for its goroutines.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	if p.up != nil {
		p.up.Stop()
	}
	p.mu.Unlock()
	p.setDown(true)
	p.wg.Wait()
}
