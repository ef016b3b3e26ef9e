package memdriver

import (
	"time"

	"github.com/portmq/portmq/internal/heapq"
)

// leaseSet holds the leased entries of a subscription by deadline. Most
// leases are granted with the subscription's lease at a non-decreasing
// now, so they arrive in deadline order: those go to a linked list (O(1)
// add and remove); the rest (extended, emulated, or out of order) go to a
// heap.
type leaseSet struct {
	head, tail *entry
	heap       heapq.Heap[*entry] // newTimeHeap
}

func (l *leaseSet) add(e *entry) {
	if e.at != farFuture && (l.tail == nil || !e.at.Before(l.tail.at)) {
		e.inList = true
		e.lprev, e.lnext = l.tail, nil
		if l.tail == nil {
			l.head = e
		} else {
			l.tail.lnext = e
		}
		l.tail = e
		return
	}
	l.heap.Push(e)
}

func (l *leaseSet) remove(e *entry) {
	if !e.inList {
		l.heap.Remove(e.idx)
		return
	}
	if e.lprev == nil {
		l.head = e.lnext
	} else {
		e.lprev.lnext = e.lnext
	}
	if e.lnext == nil {
		l.tail = e.lprev
	} else {
		e.lnext.lprev = e.lprev
	}
	e.lprev, e.lnext, e.inList = nil, nil, false
}

// min returns the entry whose lease ends first, or nil.
func (l *leaseSet) min() *entry {
	e := l.head
	if l.heap.Len() > 0 {
		if m := l.heap.Peek(); e == nil || m.at.Before(e.at) {
			return m
		}
	}
	return e
}

// reschedule moves e's deadline to at.
func (l *leaseSet) reschedule(e *entry, at time.Time) {
	l.remove(e)
	e.at = at
	l.add(e)
}

// appendOwned appends the entries leased to h.
func (l *leaseSet) appendOwned(dst []*entry, h *subHandle) []*entry {
	for e := l.head; e != nil; e = e.lnext {
		if e.h == h {
			dst = append(dst, e)
		}
	}
	for i := range l.heap.Len() {
		if e := l.heap.At(i); e.h == h {
			dst = append(dst, e)
		}
	}
	return dst
}
