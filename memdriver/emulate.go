package memdriver

import (
	"strings"
)

// Emulate is a set of capabilities a handle pretends not to have, so that
// package mq's emulation of them runs against a real engine.
type Emulate uint8

const (
	// EmulateLease: deliveries never expire (the lease is infinite),
	// Extend is a no-op, Deadline is zero and Capabilities.Lease is None.
	EmulateLease Emulate = 1 << iota
	// EmulateNackDelay: Nack with a delay above zero fails with code
	// Unsupported; Capabilities.NackDelay is None.
	EmulateNackDelay
	// EmulateDelay: Capabilities.Delay is None (a Delay that is given is
	// still honoured).
	EmulateDelay
	// EmulateDeadLetter: the subscription never dead-letters deliveries of
	// this handle by itself, DeadLetter fails with code Unsupported, and
	// Capabilities.DeadLetter is None; OpenDeadLetterTopic gives mq the
	// topic to republish to.
	EmulateDeadLetter

	// EmulateAll is every flag.
	EmulateAll = EmulateLease | EmulateNackDelay | EmulateDelay | EmulateDeadLetter
)

var emulateNames = [...]struct {
	name string
	flag Emulate
}{
	{"lease", EmulateLease},
	{"nack_delay", EmulateNackDelay},
	{"delay", EmulateDelay},
	{"dead_letter", EmulateDeadLetter},
}

// String returns the flags as in the emulate URL parameter, for example
// "lease,nack_delay".
func (e Emulate) String() string {
	var b strings.Builder
	for _, n := range emulateNames {
		if e&n.flag != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(n.name)
		}
	}
	return b.String()
}

// parseEmulate parses a comma-separated list of flag names or "all".
func parseEmulate(s string) (Emulate, bool) {
	var e Emulate
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "all" {
			e |= EmulateAll
			continue
		}
		ok := false
		for _, n := range emulateNames {
			if n.name == f {
				e |= n.flag
				ok = true
			}
		}
		if !ok {
			return 0, false
		}
	}
	return e, true
}
