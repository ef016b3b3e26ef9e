package kafka

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/internal/heapq"
	"github.com/portmq/portmq/internal/keyhold"
	"github.com/portmq/portmq/internal/offsets"
)

// entry is one fetched record the subscription tracks until it is
// settled. Every field is guarded by subscription.mu.
type entry struct {
	rec     *kgo.Record // nil once done
	off     int64
	part    *partition   // consumer-group records
	sh      *shareMember // share-group records
	attempt int          // of the current or next delivery, 1-based
	base    int          // deliveries before this record was written (retry copies)
	due     int64        // Unix nanoseconds; not delivered before
	state   state
	gen     uint64 // counts hand-outs; an AckID carries the one it was made for
	heapIdx int
}

type state uint8

const (
	stNew    state = iota
	stReady        // in the ready queue
	stHeld         // waiting for its due time in the heap
	stQueued       // waiting behind an earlier message of its key
	stOut          // handed out, not settled
	stBusy         // being copied to the retry or dead-letter topic
	stDone         // settled
)

// stale reports whether e belongs to a partition this handle no longer
// owns (revoked, lost, replaced by Seek) or a share client that closed.
func (e *entry) stale() bool {
	if e.part != nil {
		return e.part.dead
	}
	return e.sh == nil || e.sh.gone
}

func (e *entry) key() string {
	if e.rec == nil {
		return ""
	}
	return string(e.rec.Key)
}

// partition is the state of one partition a consumer-group member owns.
type partition struct {
	m     *member
	topic string
	id    int32
	retry bool // the subscription's retry topic
	dead  bool // revoked, lost or replaced by Seek
	// revoking: the group is taking the partition away; nothing more is
	// handed out while its deliveries are settled.
	revoking bool

	win offsets.Window[*entry] // fetched entries; what to commit
	// committedAt is what was last committed.
	committedAt commitAt
	// restart counts the deliveries of the first record fetched after
	// the partition was assigned, committed in the commit metadata.
	restart offsets.Restart
	out     int // entries handed out or busy
	waiting int // entries held for their due time or behind their key
	paused  bool
	keys    keyhold.Hold[*entry] // ordered subscriptions
}

func newPartition(m *member, topic string, id int32, retry bool) *partition {
	return &partition{m: m, topic: topic, id: id, retry: retry, win: offsets.New[*entry](), committedAt: commitAt{off: -1}, restart: offsets.NewRestart()}
}

// Offset and Settled make an entry an offsets.Entry.
func (e *entry) Offset() int64 { return e.off }
func (e *entry) Settled() bool { return e.state == stDone }

// newDueHeap returns the heap of held entries, by due time.
func newDueHeap() heapq.Heap[*entry] {
	return heapq.New(func(a, b *entry) bool { return a.due < b.due }, func(e *entry, i int) { e.heapIdx = i })
}

func nanos(t time.Time) int64 { return t.UnixNano() }
