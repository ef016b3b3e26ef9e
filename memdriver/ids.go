package memdriver

import (
	"strconv"
	"strings"
	"sync/atomic"
)

// Message IDs are decimal numbers from one counter per engine. To keep
// sending free of per-message allocations, IDs are formatted 64 at a time
// into one string and handed out as substrings.

const idBlockSize = 64

type idBlock struct {
	base uint64       // ID of the first entry
	next atomic.Int64 // index of the next free ID; may run past the end
	s    string
	off  [idBlockSize + 1]uint16
}

func newIDBlock(base uint64) *idBlock {
	b := &idBlock{base: base}
	var sb strings.Builder
	sb.Grow(idBlockSize * (len(strconv.FormatUint(base+idBlockSize, 10)) + 1))
	var tmp [20]byte
	for i := range idBlockSize {
		b.off[i] = uint16(sb.Len())
		sb.Write(strconv.AppendUint(tmp[:0], base+uint64(i), 10))
	}
	b.off[idBlockSize] = uint16(sb.Len())
	b.s = sb.String()
	return b
}

// nextID returns a new message ID and its number, which grows with send
// order within a goroutine.
func (e *Engine) nextID() (uint64, string) {
	for {
		b := e.ids.Load()
		if b != nil {
			if i := b.next.Add(1) - 1; i < idBlockSize {
				return b.base + uint64(i), b.s[b.off[i]:b.off[i+1]]
			}
		}
		nb := newIDBlock(e.seq.Add(idBlockSize) - idBlockSize + 1)
		e.ids.CompareAndSwap(b, nb) // the loser's numbers are skipped
	}
}
