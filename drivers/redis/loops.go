package redis

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The driver's background loops, one per process for each subscription
// (the reaper) and each delay set (the mover), shared by every handle of
// the process that opened them through the same client.

// moverCap bounds the mover's sleep: an entry another process put into a
// delay set before the earliest one this process knows of is moved within
// moverCap (one this process adds wakes its mover at once).
const moverCap = 2 * time.Second

type loopID struct {
	c   *goredis.Client
	key string
}

type loop struct {
	refs   int
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
	lost   atomic.Int64 // reaper: pending entries found trimmed away
}

var (
	loopsMu sync.Mutex
	loops   = map[loopID]*loop{}
)

// loopRef is one handle's share of a loop.
type loopRef struct {
	id   loopID
	l    *loop
	once sync.Once
}

// acquire returns the loop of id, starting it with run when it is not
// running yet.
func acquire(id loopID, run func(ctx context.Context, l *loop)) *loopRef {
	loopsMu.Lock()
	defer loopsMu.Unlock()
	l, ok := loops[id]
	if !ok {
		ctx, cancel := context.WithCancel(context.Background())
		l = &loop{wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
		loops[id] = l
		go func() {
			defer close(l.done)
			run(ctx, l)
		}()
	}
	l.refs++
	return &loopRef{id: id, l: l}
}

// poke wakes the loop now.
func (r *loopRef) poke() {
	select {
	case r.l.wake <- struct{}{}:
	default:
	}
}

// stop lets go of the loop, stopping it (and waiting for it) when this
// was its last handle.
func (r *loopRef) stop() {
	r.once.Do(func() {
		loopsMu.Lock()
		r.l.refs--
		last := r.l.refs == 0
		if last {
			delete(loops, r.id)
		}
		loopsMu.Unlock()
		if last {
			r.l.cancel()
			<-r.l.done
		}
	})
}

// sleep waits d (forever when d < 0) or until the loop is poked or
// stopped; it reports false when stopped.
func (l *loop) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-l.wake:
		return true
	case <-t.C:
		return true
	}
}

// startMover starts (or joins) the mover of delay set set, which moves
// due entries into stream dest. It sleeps until the earliest due time in
// the set, at most moverCap, and wakes when this process adds an entry.
func startMover(c *goredis.Client, set, dest string, log *slog.Logger) *loopRef {
	return acquire(loopID{c, "mover " + set}, func(ctx context.Context, l *loop) {
		const batch = 256
		failures := 0
		for {
			wait := moverCap
			v, err := moveScript.Run(ctx, c, []string{set, dest}, batch).Int64Slice()
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				failures++
				wait = min(time.Duration(failures)*100*time.Millisecond, moverCap)
				if failures == 1 || failures%50 == 0 {
					log.Warn("moving due delayed messages failed; retrying", "set", set, "err", err)
				}
			case len(v) == 3:
				failures = 0
				moved, next, now := v[0], v[1], v[2]
				switch {
				case moved == batch:
					wait = 0
				case next >= 0:
					wait = min(time.Duration(next-now)*time.Millisecond, moverCap)
				}
			}
			if !l.sleep(ctx, max(wait, 0)) {
				return
			}
		}
	})
}

// reaperConfig is what the reaper of one subscription needs.
type reaperConfig struct {
	main, retry, dlq string
	owners, park     string // "" when unordered
	group, source    string
	lease            time.Duration
	maxAttempts      int
	hasDLQ, ordered  bool
	log              *slog.Logger
	interval         time.Duration
}

// reapInterval is how often the reaper looks for expired leases: a
// quarter of the lease, from 10 ms to 5 s. An entry is redelivered between
// one lease and about 1.25 leases after it was last delivered or
// extended.
func reapInterval(lease time.Duration) time.Duration {
	return min(max(lease/4, 10*time.Millisecond), 5*time.Second)
}

// startReaper starts (or joins) the reaper of a subscription: every
// reapInterval it runs reapScript on the subscription's main and retry
// streams, which moves each entry pending longer than the lease to the
// retry stream with its attempt count, or to the dead-letter stream at max
// attempts.
func startReaper(c *goredis.Client, cfg reaperConfig) *loopRef {
	return acquire(loopID{c, "reaper " + cfg.main + " " + cfg.group}, func(ctx context.Context, l *loop) {
		cursors := [2]string{"0-0", "0-0"}
		streams := [2]string{cfg.main, cfg.retry}
		dlq := cfg.dlq
		if dlq == "" {
			dlq = cfg.main
		}
		owners, park := cfg.owners, cfg.park
		if owners == "" {
			owners, park = cfg.main, cfg.main
		}
		failures := 0
		for {
			more := false
			for i, s := range streams {
				keys := []string{s, cfg.retry, dlq, owners, park}
				v, err := reapScript.Run(ctx, c, keys, cfg.group, "portmq-reaper", cfg.lease.Milliseconds(), cursors[i], 100,
					cfg.maxAttempts, flag(cfg.hasDLQ), cfg.source, flag(i == 1), flag(cfg.ordered)).Slice()
				if ctx.Err() != nil {
					return
				}
				if err != nil || len(v) != 4 {
					failures++
					if failures == 1 || failures%100 == 0 {
						cfg.log.Warn("reclaiming expired leases failed; retrying", "stream", s, "group", cfg.group, "err", err)
					}
					cursors[i] = "0-0"
					continue
				}
				failures = 0
				next, _ := v[0].(string)
				if next == "" {
					next = "0-0"
				}
				cursors[i] = next
				if next != "0-0" {
					more = true
				}
				if n, _ := v[3].(int64); n > 0 {
					l.lost.Add(n)
					cfg.log.Error("unacked messages were trimmed from the stream before they were settled: they are lost (raise maxlen or retention)",
						"stream", s, "group", cfg.group, "lost", n, "lost_total", l.lost.Load())
				}
			}
			wait := cfg.interval
			if more {
				wait = 0
			}
			if !l.sleep(ctx, wait) {
				return
			}
		}
	})
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
