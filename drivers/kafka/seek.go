package kafka

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/portmq/portmq/mq/driver"
)

// seekReq asks a member's fetch loop to move its partitions of the
// subscribed topic; the loop does it between polls, so that no record
// fetched before the move is taken for one fetched after it.
type seekReq struct {
	offsets map[int32]int64
	done    chan struct{}
}

// Seek moves the subscription, in the subscribed topic, to the first
// record with a timestamp at or after t (ListOffsets by time), so that
// every retained message published since t is delivered again; the retry
// topic is left alone. A handle in the group moves the partitions it
// owns (deliveries it handed out before can no longer be settled); a
// handle not in the group commits the offsets for the group, which works
// when no other handle consumes.
func (s *subscription) Seek(ctx context.Context, t time.Time) error {
	if s.o.Mode == ShareMode {
		return &driver.Error{Code: driver.Unsupported, Msg: "kafka: a share group cannot seek", Err: errors.ErrUnsupported}
	}
	ms := (t.UnixNano() + int64(time.Millisecond) - 1) / int64(time.Millisecond)
	listed, err := s.adm.ListOffsetsAfterMilli(ctx, ms, s.topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return wrap("list offsets of "+s.topic+" by time", err)
	}
	offsets := make(map[int32]int64)
	listed.Each(func(lo kadm.ListedOffset) {
		if lo.Topic == s.topic && lo.Partition >= 0 {
			offsets[lo.Partition] = lo.Offset
		}
	})
	g := s.groups[0]
	s.mu.Lock()
	if m := g.m; m != nil && !m.closing {
		req := &seekReq{offsets: offsets, done: make(chan struct{})}
		m.seeks = append(m.seeks, req)
		if m.pollCancel != nil {
			m.pollCancel()
		}
		s.mu.Unlock()
		select {
		case <-req.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-m.left:
			// Left the group before moving: fall through.
		}
	} else {
		s.mu.Unlock()
	}
	set := make(kadm.Offsets)
	for p, o := range offsets {
		set.AddOffset(s.topic, p, o, -1)
	}
	resp, err := s.adm.CommitOffsets(ctx, g.id, set)
	if err == nil {
		err = resp.Error()
	}
	if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.RebalanceInProgress) {
		return &driver.Error{Code: driver.FailedPrecondition, Msg: "kafka: other handles consume group " + g.id + "; Seek from a handle that receives", Err: err}
	}
	return wrap("commit the seek offsets of group "+g.id, err)
}

// runSeeks performs the seeks asked for, from the fetch loop.
func (m *member) runSeeks() {
	s := m.g.s
	s.mu.Lock()
	reqs := m.seeks
	m.seeks = nil
	if len(reqs) == 0 {
		s.mu.Unlock()
		return
	}
	cs := make(commitSet)
	for _, r := range reqs {
		for id, off := range r.offsets {
			k := tp{s.topic, id}
			old := m.parts[k]
			if old == nil || old.dead || old.revoking {
				continue // another member's
			}
			m.dropLocked(old)
			p := newPartition(m, s.topic, id, false)
			p.win.Reset(off)
			m.parts[k] = p
			cs[k] = commitAt{off: off}
		}
	}
	if len(cs) > 0 {
		m.cl.SetOffsets(cs.epochOffsets())
	}
	s.mu.Unlock()
	m.commit(m.ctx, cs)
	for _, r := range reqs {
		close(r.done)
	}
}
