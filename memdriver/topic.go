package memdriver

import (
	"context"
	"maps"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/portmq/portmq/clock"
	"github.com/portmq/portmq/mq/driver"
)

// topic is a named destination. Its subscriptions are read on every send
// through an atomic pointer to an immutable slice; they change under
// Engine.mu.
type topic struct {
	eng  *Engine
	name string
	subs atomic.Pointer[[]*subscription]
	// byName and dedupSet are guarded by eng.mu.
	byName   map[string]*subscription
	dedupSet bool
	deleted  atomic.Bool
	dedup    dedup
}

func newTopic(e *Engine, name string) *topic {
	t := &topic{eng: e, name: name, byName: make(map[string]*subscription)}
	t.subs.Store(new([]*subscription))
	return t
}

// addSubLocked adds s; eng.mu is held.
func (t *topic) addSubLocked(s *subscription) {
	t.byName[s.name] = s
	old := *t.subs.Load()
	next := make([]*subscription, len(old), len(old)+1)
	copy(next, old)
	next = append(next, s)
	t.subs.Store(&next)
}

// removeSubLocked removes s; eng.mu is held.
func (t *topic) removeSubLocked(s *subscription) {
	delete(t.byName, s.name)
	old := *t.subs.Load()
	next := make([]*subscription, 0, len(old))
	for _, x := range old {
		if x != s {
			next = append(next, x)
		}
	}
	t.subs.Store(&next)
}

// sendRec is one message on its way to the subscriptions: copied, with its
// ID assigned.
type sendRec struct {
	seq     uint64
	id      string
	body    []byte
	attrs   map[string]string
	key     string
	dedupID string
	delay   time.Duration
}

const sendChunk = 16

// send copies msgs, assigns their IDs (or, for duplicates within the dedup
// window, the original's ID) and appends them to every subscription that
// exists now. No subscription lock may be held.
func (t *topic) send(msgs []driver.Message, now time.Time) {
	if len(msgs) == 1 { // the common case, without zeroing a whole chunk
		var one [1]sendRec
		t.sendChunk(msgs, one[:], now)
		return
	}
	var recs [sendChunk]sendRec
	for len(msgs) > 0 {
		n := min(len(msgs), sendChunk)
		t.sendChunk(msgs[:n], recs[:n], now)
		msgs = msgs[n:]
	}
}

// sendChunk sends msgs using recs, of the same length, as scratch space.
func (t *topic) sendChunk(msgs []driver.Message, recs []sendRec, now time.Time) {
	window := t.dedup.getWindow()
	n := 0
	claimed := false
	for i := range msgs {
		m := &msgs[i]
		seq, id := t.eng.nextID()
		if window > 0 && m.DedupID != "" {
			claimed = true
			if orig, dup := t.dedup.claim(m.DedupID, id, now, window); dup {
				m.ID = orig
				continue
			}
		}
		m.ID = id
		r := &recs[n]
		n++
		*r = sendRec{seq: seq, id: id, key: m.Key, dedupID: m.DedupID, delay: m.Delay}
		r.body = make([]byte, len(m.Body))
		copy(r.body, m.Body)
		if m.AttributesOwned {
			r.attrs = m.Attributes // mq's, made for this message (a trace context)
		} else if len(m.Attributes) > 0 {
			r.attrs = maps.Clone(m.Attributes)
		}
	}
	if window > 0 && !claimed {
		t.dedup.expire(now) // claim expires records; without one, do it here
	}
	for _, s := range *t.subs.Load() {
		s.enqueue(recs[:n], now)
	}
	clear(recs[:n])
}

// topicHandle is the driver.Topic of one OpenTopic call.
type topicHandle struct {
	t      *topic
	caps   driver.Capabilities
	closed atomic.Bool
}

func newTopicHandle(t *topic, emu Emulate, maxBody int) *topicHandle {
	caps := nativeCaps(maxBody)
	if emu&EmulateDelay != 0 {
		caps.Delay = driver.None
	}
	return &topicHandle{t: t, caps: caps}
}

// SendBatch implements driver.Topic.
func (h *topicHandle) SendBatch(ctx context.Context, msgs []driver.Message) error {
	if h.closed.Load() {
		return errTopicClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if h.t.deleted.Load() {
		return notFound("topic " + h.t.name + " was deleted")
	}
	if max := h.caps.MaxBodySize; max > 0 {
		for i := range msgs {
			if len(msgs[i].Body) > max {
				return invalid("message " + strconv.Itoa(i) + ": body of " + strconv.Itoa(len(msgs[i].Body)) +
					" bytes exceeds max_body " + strconv.Itoa(max))
			}
		}
	}
	for i := range msgs {
		if msgs[i].Delay < 0 {
			return invalid("message " + strconv.Itoa(i) + ": negative delay")
		}
	}
	h.t.send(msgs, h.t.eng.clk.Now())
	return nil
}

// Capabilities implements driver.Topic.
func (h *topicHandle) Capabilities() driver.Capabilities { return h.caps }

// Clock returns the engine's clock (driver.Clocked).
func (h *topicHandle) Clock() clock.Clock { return h.t.eng.clk }

// As exposes the *Engine through a **Engine.
func (h *topicHandle) As(i any) bool { return asEngine(h.t.eng, i) }

// ErrorAs reports false: memdriver has no native errors.
func (h *topicHandle) ErrorAs(error, any) bool { return false }

// ErrorCode implements driver.Common.
func (h *topicHandle) ErrorCode(err error) driver.ErrorCode { return errorCode(err) }

// Close implements driver.Common. Calls after Close fail with code Closed.
func (h *topicHandle) Close() error {
	if !h.closed.CompareAndSwap(false, true) {
		return errTopicClosed
	}
	return nil
}

// nativeCaps returns the capabilities of a handle that emulates nothing.
func nativeCaps(maxBody int) driver.Capabilities {
	switch {
	case maxBody == 0:
		maxBody = DefaultMaxBodySize
	case maxBody < 0:
		maxBody = 0
	}
	return driver.Capabilities{
		Lease:       driver.Native,
		NackDelay:   driver.Native,
		Attempts:    driver.Native,
		DeadLetter:  driver.Native,
		Dedup:       driver.Native,
		Ordering:    driver.Native,
		Delay:       driver.Native,
		Seek:        driver.Native,
		MaxBodySize: maxBody,
	}
}
