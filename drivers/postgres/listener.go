package postgres

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The subscription handles of one pool and schema share one LISTEN
// connection (outside the pool, dialled from its config): a listener. It
// reads the notifications of the schema's channel, whose payload is a
// subscription id, and wakes one waiting receive of that subscription on
// this pool, whichever handle it belongs to; after (re)connecting it wakes
// them all, since notifications sent meanwhile are lost. The listener
// lives while a handle uses it: the last handle's Close stops it and waits
// for its goroutine.
type listener struct {
	key  listenKey
	refs int // handles using it; guarded by listenersMu

	mu   sync.Mutex
	subs map[int64]*waiters // by subscription id, with their handles' count
	poll time.Duration      // the reconnect backoff's cap: the smallest poll interval of the handles

	stop context.CancelFunc
	done chan struct{}
}

type listenKey struct {
	pool    *pgxpool.Pool
	channel string
}

var (
	listenersMu sync.Mutex
	listeners   = map[listenKey]*listener{}
)

// acquireListener returns the listener of pool and channel, starting it
// if this is its first handle, and the waiters of subscription id on it.
// Each call is undone by one release.
func acquireListener(pool *pgxpool.Pool, channel string, id int64, poll time.Duration) (*listener, *waiters) {
	key := listenKey{pool, channel}
	listenersMu.Lock()
	defer listenersMu.Unlock()
	l := listeners[key]
	if l == nil {
		ctx, cancel := context.WithCancel(context.Background())
		l = &listener{key: key, subs: map[int64]*waiters{}, poll: poll, stop: cancel, done: make(chan struct{})}
		listeners[key] = l
		go l.run(ctx)
	}
	l.refs++
	l.mu.Lock()
	defer l.mu.Unlock()
	l.poll = min(l.poll, poll)
	w := l.subs[id]
	if w == nil {
		w = &waiters{}
		l.subs[id] = w
	}
	w.handles++
	return l, w
}

// release undoes one acquireListener for subscription id; the last
// release stops the listener and waits for it.
func (l *listener) release(id int64) {
	listenersMu.Lock()
	l.mu.Lock()
	if w := l.subs[id]; w != nil {
		if w.handles--; w.handles == 0 {
			delete(l.subs, id)
		}
	}
	l.mu.Unlock()
	l.refs--
	last := l.refs == 0
	if last {
		delete(listeners, l.key)
	}
	listenersMu.Unlock()
	if last {
		l.stop()
		<-l.done
	}
}

func (l *listener) waitersOf(id int64) *waiters {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.subs[id]
}

func (l *listener) wakeAll() {
	l.mu.Lock()
	ws := make([]*waiters, 0, len(l.subs))
	for _, w := range l.subs {
		ws = append(ws, w)
	}
	l.mu.Unlock()
	for _, w := range ws {
		w.wakeAll()
	}
}

// run keeps the LISTEN connection, reconnecting with backoff (100 ms
// steps up to the poll interval).
func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	cfg := l.key.pool.Config().ConnConfig.Copy()
	failures := 0
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+l.key.channel)
		}
		if err == nil {
			failures = 0
			l.wakeAll()
			if testHookListening != nil {
				testHookListening()
			}
			for {
				n, err := conn.WaitForNotification(ctx)
				if err != nil {
					break
				}
				id, err := strconv.ParseInt(n.Payload, 10, 64)
				if err != nil {
					continue
				}
				if w := l.waitersOf(id); w != nil {
					w.wakeOne()
				}
			}
		}
		if conn != nil {
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(cctx)
			cancel()
		}
		if ctx.Err() != nil {
			return
		}
		failures++
		l.mu.Lock()
		backoff := min(time.Duration(failures)*100*time.Millisecond, l.poll)
		l.mu.Unlock()
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// waiters are the receives of one subscription (on one listener) that
// may need a notification: a receive joins before it picks, so that a
// notification sent while it picks is not lost, and leaves when it has
// rows or stops waiting. A notification wakes the receive that joined
// first, not all of them: one pick takes what one send committed, and
// the others would find nothing. The woken receive must pick again; one
// that is woken and returns without picking (it had rows from a pick
// begun before the notification, its ctx ended, or it failed) passes the
// wake on, and one that waited (woken, or at its timer) and took a full
// batch wakes the next too, since more may wait. A receive that took a
// full batch without waiting wakes nobody: it took no wake's rows, and
// the receives it would wake would find nothing in a queue's last
// batches.
type waiters struct {
	handles int // guarded by the listener's mu

	mu sync.Mutex
	q  []*waiter // in joining order
}

type waiter struct {
	ch    chan struct{} // closed when woken
	woken bool          // guarded by waiters.mu
}

// wasWoken reports whether w was woken.
func (w *waiter) wasWoken() bool {
	select {
	case <-w.ch:
		return true
	default:
		return false
	}
}

// join adds a receive to the waiters.
func (ws *waiters) join() *waiter {
	w := &waiter{ch: make(chan struct{})}
	ws.mu.Lock()
	ws.q = append(ws.q, w)
	ws.mu.Unlock()
	return w
}

// leave takes w out of the waiters and reports whether it was woken.
func (ws *waiters) leave(w *waiter) (woken bool) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if w.woken {
		return true
	}
	if i := slices.Index(ws.q, w); i >= 0 {
		ws.q = slices.Delete(ws.q, i, i+1)
	}
	return false
}

// wakeOne wakes the receive that joined first, if any.
func (ws *waiters) wakeOne() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if len(ws.q) == 0 {
		return
	}
	w := ws.q[0]
	ws.q[0] = nil
	ws.q = ws.q[1:]
	w.woken = true
	close(w.ch)
}

// wakeAll wakes every receive.
func (ws *waiters) wakeAll() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for i, w := range ws.q {
		w.woken = true
		close(w.ch)
		ws.q[i] = nil
	}
	ws.q = ws.q[:0]
}
