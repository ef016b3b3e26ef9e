package kafka

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/mq/driver"
	"github.com/portmq/portmq/mq/driver/redeliver"
)

// Ack settles the deliveries: their offsets become committable (group
// mode) or the broker accepts them (share mode).
func (s *subscription) Ack(ctx context.Context, ids []driver.AckID) error {
	var errs []error
	s.mu.Lock()
	for i, id := range ids {
		e := s.outLocked(id)
		if e == nil {
			errs = driver.SetItemError(errs, len(ids), i, driver.ErrLeaseExpired())
			continue
		}
		s.finishLocked(e, kgo.AckAccept)
	}
	s.wakeLocked()
	s.mu.Unlock()
	return driver.BatchResult(errs)
}

// Nack makes the deliveries available again no sooner than delay, one
// attempt later, or dead-letters those at MaxAttempts. Unordered
// subscriptions write a copy to the retry topic (group mode, and share
// mode with a delay); share mode without a delay releases the record to
// the broker; ordered subscriptions keep the message in memory, holding
// its key.
func (s *subscription) Nack(ctx context.Context, ids []driver.AckID, delay time.Duration) error {
	now := time.Now()
	var errs []error
	var jobs []copyJob
	release := false
	s.mu.Lock()
	for i, id := range ids {
		e := s.outLocked(id)
		switch {
		case e == nil:
			errs = driver.SetItemError(errs, len(ids), i, driver.ErrLeaseExpired())
		case redeliver.Exhausted(e.attempt, s.o.MaxAttempts):
			e.state = stBusy
			jobs = append(jobs, s.deadLetterJob(i, e, redeliver.MaxAttemptsReason(s.o.MaxAttempts)))
		case e.sh != nil && delay == 0:
			s.finishLocked(e, kgo.AckRelease)
			release = true
		case s.retryable(e):
			e.state = stBusy
			jobs = append(jobs, copyJob{i: i, e: e, m: retryCopy(e.rec, e.attempt, redeliver.Due(now, delay)), due: nanos(now.Add(delay))})
		default:
			s.redeliverLocked(e, nanos(now.Add(delay)))
		}
	}
	s.mu.Unlock()
	errs = s.runCopies(ctx, jobs, errs, len(ids))
	if release {
		s.share.flush(ctx)
	}
	return driver.BatchResult(errs)
}

// DeadLetter writes each delivery to the dead-letter topic with its
// reason, attempts and source, then settles it.
func (s *subscription) DeadLetter(ctx context.Context, items []driver.DeadLetter) error {
	var errs []error
	var jobs []copyJob
	s.mu.Lock()
	for i, it := range items {
		e := s.outLocked(it.AckID)
		if e == nil {
			errs = driver.SetItemError(errs, len(items), i, driver.ErrLeaseExpired())
			continue
		}
		e.state = stBusy
		jobs = append(jobs, s.deadLetterJob(i, e, it.Reason))
	}
	s.mu.Unlock()
	return driver.BatchResult(s.runCopies(ctx, jobs, errs, len(items)))
}

// copyJob is one copy to the retry or dead-letter topic of a busy entry.
type copyJob struct {
	i    int // index in the caller's batch
	e    *entry
	m    driver.Message
	dead bool  // to the dead-letter topic
	due  int64 // retry: when to redeliver from memory if the copy fails
}

func (s *subscription) deadLetterJob(i int, e *entry, reason string) copyJob {
	return copyJob{i: i, e: e, dead: true, due: time.Now().UnixNano(),
		m: deadLetterCopy(e.rec, s.o.sourceName, s.topic, e.attempt, reason)}
}

// runCopies moves the jobs' entries with redeliver.Move, the retry copies
// and then the dead letters: it sends the copies through a topic of the
// subscription's client (SendBatch: acknowledged by all in-sync replicas)
// and settles their entries. A copy that fails leaves the message with
// this handle (redelivered from memory, or released to the share group),
// so nothing is lost; a failed dead-letter copy is reported.
func (s *subscription) runCopies(ctx context.Context, jobs []copyJob, errs []error, n int) []error {
	if len(jobs) == 0 {
		return errs
	}
	for _, dead := range [...]bool{false, true} {
		var js []copyJob
		var copies []driver.Message
		var at []int
		for _, j := range jobs {
			if j.dead == dead {
				js, copies, at = append(js, j), append(copies, j.m), append(at, j.i)
			}
		}
		errs = redeliver.Move(ctx, s.copySender(dead), copies, at, func(k int, err error) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.settleCopyLocked(js[k], err)
		}, errs, n)
	}
	s.mu.Lock()
	s.wakeLocked()
	s.mu.Unlock()
	return errs
}

// copySender sends copies to the retry topic or (creating it on first
// use) the dead-letter topic.
func (s *subscription) copySender(dead bool) redeliver.Send {
	t := &topic{cl: s.base, name: s.copyTopic(dead)}
	if !dead {
		return t.SendBatch
	}
	return func(ctx context.Context, ms []driver.Message) error {
		if err := s.ensureDeadLetterTopic(ctx); err != nil {
			return err
		}
		return t.SendBatch(ctx, ms)
	}
}

// copyTopic is where a copy goes.
func (s *subscription) copyTopic(dead bool) string {
	if dead {
		return s.o.DeadLetterTopic
	}
	return s.o.RetryTopic
}

// settleCopyLocked settles the entry of a job whose copy was written (err
// nil) or not, and returns the job's error.
func (s *subscription) settleCopyLocked(j copyJob, err error) error {
	e := j.e
	switch {
	case e.state != stBusy || e.stale():
	case err != nil:
		s.redeliverLocked(e, j.due)
		if j.dead {
			return wrap("dead-letter to "+s.o.DeadLetterTopic, err)
		}
	case j.dead:
		s.finishLocked(e, kgo.AckReject)
	default:
		s.finishLocked(e, kgo.AckAccept)
	}
	return nil
}

// copyAsyncLocked writes a fetched entry's copy in the background: to the
// dead-letter topic (dead) or, not yet due, to the retry topic. The entry
// counts as handed out until the copy is acknowledged.
func (s *subscription) copyAsyncLocked(e *entry, dead bool, reason string, delivered int) {
	e.state = stBusy
	var wg *sync.WaitGroup
	if p := e.part; p != nil {
		p.out++
		p.m.out++
		wg = &p.m.copies
	} else {
		wg = &e.sh.copies
	}
	var m driver.Message
	if dead {
		m = deadLetterCopy(e.rec, s.o.sourceName, s.topic, delivered, reason)
	} else {
		m = retryCopy(e.rec, delivered, time.Unix(0, e.due))
	}
	rec := copyRecord(&m, s.copyTopic(dead))
	done := func(_ *kgo.Record, err error) {
		s.mu.Lock()
		s.copiedLocked(e, dead, err)
		s.mu.Unlock()
		wg.Done()
	}
	wg.Add(1)
	if !dead || s.dlqReady {
		s.base.Produce(s.copyCtx, rec, done)
		return
	}
	go func() {
		if err := s.ensureDeadLetterTopic(s.copyCtx); err != nil {
			done(rec, err)
			return
		}
		s.base.Produce(s.copyCtx, rec, done)
	}()
}

// copiedLocked settles an entry whose background copy finished, or keeps
// it in memory when the copy failed.
func (s *subscription) copiedLocked(e *entry, dead bool, err error) {
	if e.state != stBusy || e.stale() {
		return
	}
	switch {
	case err == nil && dead:
		s.finishLocked(e, kgo.AckReject)
	case err == nil:
		s.finishLocked(e, kgo.AckAccept)
	case e.sh != nil:
		s.finishLocked(e, kgo.AckRelease)
	default:
		p := e.part
		p.out--
		p.m.out--
		if p.revoking {
			p.m.settled.Notify()
		}
		if dead {
			e.due = time.Now().Add(time.Second).UnixNano()
		}
		s.placeLocked(e, time.Now().UnixNano(), true)
	}
	s.wakeLocked()
}

// ensureDeadLetterTopic creates the dead-letter topic on first use.
func (s *subscription) ensureDeadLetterTopic(ctx context.Context) error {
	s.mu.Lock()
	ready := s.dlqReady
	s.mu.Unlock()
	if ready {
		return nil
	}
	if err := ensureTopic(ctx, s.base, s.o.DeadLetterTopic, s.topic); err != nil {
		return err
	}
	s.mu.Lock()
	s.dlqReady = true
	s.mu.Unlock()
	return nil
}
