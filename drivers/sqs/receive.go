package sqs

import (
	"context"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/portmq/portmq/drivers/sqs/awsmq"
	"github.com/portmq/portmq/mq/driver"
)

var allAttributes = []string{"All"}

// poll is one ReceiveMessage request. Its caller may leave (its context
// ended) while it runs: the request is not canceled, because SQS would
// still take messages for it and hide them for a visibility timeout.
// Instead the poll becomes an orphan: the next ReceiveBatch waits for it
// rather than starting another, and what it receives meanwhile is stashed
// for the next call.
type poll struct {
	done  chan struct{}
	owned bool // a ReceiveBatch call waits for it; guarded by s.mu
	got   []driver.Message
	err   error
}

// ReceiveBatch implements driver.Subscription with long polling
// (ReceiveMessage with WaitTimeSeconds). It returns as soon as ctx ends.
func (s *subscription) ReceiveBatch(ctx context.Context, dst []driver.Message) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(dst) == 0 {
		return 0, nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, errSubClosed
	}
	if n := s.takeLocked(dst, time.Now()); n > 0 {
		s.mu.Unlock()
		return n, nil
	}
	var p *poll
	if len(s.orphans) > 0 {
		p = s.orphans[0]
		s.orphans = s.orphans[1:]
		p.owned = true
	} else {
		p = &poll{done: make(chan struct{}), owned: true}
		s.polls.Add(1)
		go s.run(p, int32(min(len(dst), int(s.maxRecv))), s.waitFor(ctx))
	}
	s.mu.Unlock()

	select {
	case <-p.done:
	case <-ctx.Done():
		s.mu.Lock()
		select {
		case <-p.done:
			s.stash = append(s.stash, p.got...)
		default:
			p.owned = false
			s.orphans = append(s.orphans, p)
		}
		s.mu.Unlock()
		return 0, ctx.Err()
	}
	n := copy(dst, p.got)
	if n < len(p.got) {
		s.mu.Lock()
		s.stash = append(s.stash, p.got[n:]...)
		s.mu.Unlock()
	}
	if n == 0 && p.err != nil {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return 0, p.err
	}
	return n, nil
}

// waitFor returns the long-poll time for a caller: the subscription's,
// or less when ctx ends sooner (at least 1 s, so that an empty queue is
// never polled busily).
func (s *subscription) waitFor(ctx context.Context) int32 {
	w := s.wait
	if dl, ok := ctx.Deadline(); ok {
		if left := awsmq.CeilSeconds(time.Until(dl)); left < w {
			w = max(left, time.Second)
		}
	}
	return int32(w / time.Second)
}

// run performs a poll's request.
func (s *subscription) run(p *poll, maxMsgs, wait int32) {
	defer s.polls.Done()
	start := time.Now()
	out, err := s.c.ReceiveMessage(s.pollCtx, &awssqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(s.q.url),
		MaxNumberOfMessages:         maxMsgs,
		WaitTimeSeconds:             wait,
		VisibilityTimeout:           int32(s.lease / time.Second),
		MessageAttributeNames:       allAttributes,
		MessageSystemAttributeNames: awsmq.SystemAttributes,
	})
	var got []driver.Message
	var rs []*receipt
	if err == nil && len(out.Messages) > 0 {
		deadline := leaseEnd(start, time.Now(), s.lease)
		got = make([]driver.Message, len(out.Messages))
		rs = make([]*receipt, len(out.Messages))
		for i := range out.Messages {
			m := &out.Messages[i]
			r := &receipt{sub: s, msg: m, received: start}
			r.deadline.Store(deadline.UnixNano())
			d := &got[i]
			awsmq.Decode(m, d)
			r.attempt = d.Attempt
			s.annotate(d, m)
			d.AckID = driver.AckID{Ref: r}
			d.Deadline = deadline
			d.Native = r
			rs[i] = r
		}
	}
	s.mu.Lock()
	p.got, p.err = got, err
	s.trackLocked(rs)
	s.sweepLocked(start)
	if !p.owned {
		s.orphans = slices.DeleteFunc(s.orphans, func(o *poll) bool { return o == p })
		s.stash = append(s.stash, got...)
	}
	close(p.done)
	s.mu.Unlock()
}

// takeLocked moves stashed deliveries whose lease has not ended into dst
// and returns how many; s.mu must be held.
func (s *subscription) takeLocked(dst []driver.Message, now time.Time) int {
	n, k := 0, 0
	for k < len(s.stash) && n < len(dst) {
		m := s.stash[k]
		k++
		r := m.AckID.Ref.(*receipt)
		if !r.live(now) {
			delete(s.out, r) // SQS delivers it again
			continue
		}
		dst[n] = m
		n++
	}
	rest := copy(s.stash, s.stash[k:])
	clear(s.stash[rest:])
	s.stash = s.stash[:rest]
	return n
}

// leaseEnd estimates when the lease of a message received by a request
// that ran from start to end ends. SQS starts the visibility timeout when
// it hands the message out: after a long poll's wait, shortly before the
// response. So the lease runs from the end of the request, less the time
// the response may have taken to arrive, which is at most the request's
// duration; a quarter of the lease (at most 1 s) bounds that margin.
func leaseEnd(start, end time.Time, lease time.Duration) time.Time {
	return end.Add(lease - min(end.Sub(start), lease/4, time.Second))
}
