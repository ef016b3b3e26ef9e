package rabbitmq

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// errNoRedial: the connection is gone and the handle cannot dial.
var errNoRedial = errors.New("the handle was made without Options.Redial, so it does not reconnect")

// link is a handle's connection to the broker. amqp091-go does not
// reconnect by itself; link redials (with backoff) when a caller needs a
// connection and the last one is gone.
type link struct {
	redial func(ctx context.Context) (*amqp.Connection, error) // nil: never redial
	secret string                                              // redacted from dial errors

	mu       sync.Mutex
	conn     *amqp.Connection
	owned    bool // conn was dialed by the link (Close closes it)
	closed   bool
	dialing  chan struct{} // non-nil while a dial runs; closed when it ends
	failures int
	nextTry  time.Time
}

// dialLink dials ep once and returns a link that redials it.
func dialLink(ctx context.Context, ep *endpoint, name string) (*link, error) {
	l := &link{redial: ep.dialer("portmq " + name), secret: ep.password}
	conn, err := l.redial(ctx)
	if err != nil {
		return nil, err
	}
	l.conn, l.owned = conn, true
	return l, nil
}

// newLink wraps a connection the caller owns.
func newLink(conn *amqp.Connection, redial func(ctx context.Context) (*amqp.Connection, error)) *link {
	return &link{conn: conn, redial: redial}
}

// dialer returns a function that dials ep, honouring ctx for the TCP dial
// and the handshake, with password-free errors.
func (ep *endpoint) dialer(connName string) func(ctx context.Context) (*amqp.Connection, error) {
	return func(ctx context.Context) (*amqp.Connection, error) {
		cfg := amqp.Config{
			Heartbeat:       ep.heartbeat,
			TLSClientConfig: ep.tls,
			Properties:      amqp.NewConnectionProperties(),
			Dial: func(network, addr string) (net.Conn, error) {
				dctx, cancel := context.WithTimeout(ctx, ep.dialTimeout)
				defer cancel()
				c, err := new(net.Dialer).DialContext(dctx, network, addr)
				if err != nil {
					return nil, err
				}
				// A deadline for the TLS and AMQP handshakes, which
				// amqp091-go clears once the connection is open.
				dl, _ := dctx.Deadline()
				if err := c.SetDeadline(dl); err != nil {
					c.Close()
					return nil, err
				}
				return c, nil
			},
		}
		cfg.Properties.SetClientConnectionName(connName)
		conn, err := amqp.DialConfig(ep.dialURL, cfg)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, &redactedError{err: unavailableIfNet(err, "dial "+ep.redacted), secret: ep.password}
		}
		return conn, nil
	}
}

// unavailableIfNet explains network-level dial failures; AMQP-level ones
// (wrong password, unknown vhost) keep their own code.
func unavailableIfNet(err error, what string) error {
	if _, ok := err.(*amqp.Error); ok {
		return err
	}
	if retryable(err) {
		return unavailable(what+" failed", err)
	}
	return err
}

// get returns a live connection, redialing (at most one dial at a time,
// spaced by backoff, within ctx) when the last one is gone.
func (l *link) get(ctx context.Context) (*amqp.Connection, error) {
	l.mu.Lock()
	for {
		switch {
		case l.closed:
			l.mu.Unlock()
			return nil, errClosed
		case l.conn != nil && !l.conn.IsClosed():
			c := l.conn
			l.mu.Unlock()
			return c, nil
		case l.redial == nil:
			l.mu.Unlock()
			return nil, unavailable("connection lost", errNoRedial)
		case l.dialing != nil:
			wait := l.dialing
			l.mu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			l.mu.Lock()
			continue
		}
		wait := time.Until(l.nextTry)
		done := make(chan struct{})
		l.dialing = done
		l.mu.Unlock()
		conn, err := l.dialAfter(ctx, wait)
		l.mu.Lock()
		l.dialing = nil
		close(done)
		if err != nil {
			if ctx.Err() == nil {
				l.failures++
				l.nextTry = time.Now().Add(backoff(l.failures))
			}
			l.mu.Unlock()
			return nil, err
		}
		if l.closed {
			l.mu.Unlock()
			_ = conn.Close()
			return nil, errClosed
		}
		if l.owned && l.conn != nil {
			_ = l.conn.Close()
		}
		l.conn, l.owned, l.failures = conn, true, 0
	}
}

func (l *link) dialAfter(ctx context.Context, wait time.Duration) (*amqp.Connection, error) {
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	return l.redial(ctx)
}

// backoff is the pause before redial number n+1 after n failures: 100 ms
// doubling to 3 s, with ±20 % jitter.
func backoff(n int) time.Duration {
	d := 100 * time.Millisecond << min(n-1, 5)
	d = min(d, 3*time.Second)
	return d - d/5 + time.Duration(rand.Int64N(int64(d/5)*2+1))
}

// withChannel runs f on a channel of its own (a failed declare closes
// the channel it runs on).
func (l *link) withChannel(ctx context.Context, f func(ch *amqp.Channel) error) error {
	conn, err := l.get(ctx)
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	return f(ch)
}

// callerLink checks the arguments of a plain constructor and wraps the
// caller's connection.
func callerLink(what string, conn *amqp.Connection, name string, redial func(context.Context) (*amqp.Connection, error)) (*link, error) {
	if conn == nil {
		return nil, optionError(what + ": nil connection")
	}
	if name == "" || len(name) > 255 {
		return nil, optionError(what + ": name must be 1 to 255 bytes")
	}
	return newLink(conn, redial), nil
}

// current returns the connection without dialing (nil if none).
func (l *link) current() *amqp.Connection {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conn
}

// close closes the connection if the link dialed it. It waits at most a
// few seconds for the broker.
func (l *link) close() {
	l.mu.Lock()
	l.closed = true
	c, owned := l.conn, l.owned
	l.mu.Unlock()
	if c != nil && owned {
		_ = c.CloseDeadline(time.Now().Add(5 * time.Second))
	}
}
