package conformance

import (
	"errors"
	"fmt"
	"time"

	"github.com/portmq/portmq/mq"
)

// Rule 11: replay with Seek.

func testSeek(t tb, s *suite) {
	e := setup(t, s, Spec{Retention: time.Hour})
	p, sub := e.producer(), e.sub(0)
	if !sub.Capabilities().Seek.Has() {
		ctx, cancel := e.within(e.tm.patience)
		err := sub.Seek(ctx, time.Now())
		cancel()
		if !errors.Is(err, mq.ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Seek on a backend without the seek capability returned %v, want an error matching mq.ErrUnsupported and errors.ErrUnsupported", err)
		}
		t.Skipf("capability seek is none: the backend cannot replay")
	}
	// An old message, acked before the seek time, must stay acked.
	old := e.sendBody(p, "old")
	d := e.recv(sub, e.tm.patience, "the old message")
	if d.ID != old.ID {
		t.Fatalf("received %s, want %s", describe(d), old.ID)
	}
	oldPub := d.PublishedAt
	e.ack(d)
	// Leave a gap between the old and the new messages that the backend's
	// clock resolves, and seek to its middle, in the backend's time when
	// it reports PublishedAt.
	gap := max(2*e.gran(sub), 50*time.Millisecond)
	localMid := time.Now().Add(gap / 2)
	pause := time.NewTimer(gap)
	select {
	case <-pause.C:
	case <-e.ctx().Done():
		pause.Stop()
		t.Fatalf("case ended: %v", e.ctx().Err())
	}
	seekTo := localMid
	if !oldPub.IsZero() {
		seekTo = oldPub.Add(gap / 2)
	}

	want := map[string]bool{}
	for i := range 3 {
		want[e.sendBody(p, fmt.Sprintf("new-%d", i)).ID] = true
	}
	for i := 0; i < len(want); i++ {
		d := e.recv(sub, e.tm.patience, "the new messages")
		if !want[d.ID] {
			t.Fatalf("received %s, want one of the new messages", describe(d))
		}
		if !oldPub.IsZero() && !d.PublishedAt.IsZero() && !d.PublishedAt.After(seekTo) {
			t.Fatalf("message %s has PublishedAt %v, not after %v although sent %v later than the old one (published %v)", d.ID, d.PublishedAt, seekTo, gap, oldPub)
		}
		e.ack(d)
	}
	ctx, cancel := e.within(e.tm.patience)
	err := sub.Seek(ctx, seekTo)
	cancel()
	if err != nil {
		t.Fatalf("Seek(%v): %v", seekTo, err)
	}
	for len(want) > 0 {
		d := e.recv(sub, e.tm.patience, fmt.Sprintf("%d acked messages to be replayed after Seek", len(want)))
		if !want[d.ID] {
			t.Errorf("after Seek(%v) received %s (published %v): only the new messages, published after it, must be replayed, once", seekTo, describe(d), d.PublishedAt)
		}
		delete(want, d.ID)
		e.ack(d)
	}
	for _, d := range e.expectNone(sub, e.tm.quiet, "only messages published after the Seek time are replayed, once") {
		e.ack(d)
	}
}
