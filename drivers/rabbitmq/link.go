package rabbitmq

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq/driver"
)

// errNoRedial: the connection is gone and the handle cannot dial.
var errNoRedial = errors.New("the handle was made without Options.Redial, so it does not reconnect")

// link is a handle's connection to the broker. amqp091-go does not
// reconnect by itself; link dials again when a caller needs a connection
// and the last one is gone: one dial per call, bounded by the caller's
// context. It does not retry a failed dial: mq paces the retries of a
// call that failed Unavailable (rule 15), once for every driver.
type link struct {
	redial func(ctx context.Context) (*amqp.Connection, error) // nil: never redial
	secret string                                              // redacted from dial errors

	mu      sync.Mutex
	conn    *amqp.Connection
	owned   bool // conn was dialed by the link (Close closes it)
	closed  bool
	dialing *dialCall // non-nil while a dial runs
}

// dialCall is a dial in progress; callers that need a connection meanwhile
// wait for it and share its outcome.
type dialCall struct {
	done chan struct{} // closed when the dial ended
	err  error
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
			return nil, driver.Redacted(unavailableIfNet(err, "dial "+ep.redacted), ep.password)
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

// get returns a live connection, dialing once (one dial at a time; the
// callers that arrive meanwhile share its outcome) when the last one is
// gone. A failed dial's error is Unavailable for a network failure; the
// next call dials again.
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
			return nil, &driver.Error{Code: driver.FailedPrecondition, Msg: "rabbitmq: connection lost", Err: errNoRedial}
		case l.dialing != nil:
			d := l.dialing
			l.mu.Unlock()
			select {
			case <-d.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			// The dial of another caller whose context ended says nothing
			// about this one's: dial again.
			if d.err != nil && !isContextError(d.err) {
				return nil, d.err
			}
			l.mu.Lock()
			continue
		}
		break
	}
	d := &dialCall{done: make(chan struct{})}
	l.dialing = d
	l.mu.Unlock()
	conn, err := l.redial(ctx)
	l.mu.Lock()
	l.dialing = nil
	switch {
	case err != nil:
	case l.closed:
		_ = conn.Close()
		conn, err = nil, errClosed
	default:
		if l.owned && l.conn != nil {
			_ = l.conn.Close()
		}
		l.conn, l.owned = conn, true
	}
	d.err = err
	close(d.done)
	l.mu.Unlock()
	return conn, err
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
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
