package conformance

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/portmq/portmq/mq"
)

// Rule 12: what is sent arrives unchanged; what cannot be sent fails before
// sending.

const maxRoundTripBody = 1 << 20

func testRoundTrip(t tb, s *suite) {
	e := setup(t, s, Spec{})
	p, sub := e.producer(), e.sub(0)
	caps := p.Capabilities()
	size := s.h.MaxBody
	if size <= 0 {
		size = caps.MaxBodySize
		if size <= 0 || size > maxRoundTripBody {
			size = maxRoundTripBody
		}
	}
	nattrs := mq.MaxAttributes
	if caps.MaxAttributes > 0 && caps.MaxAttributes < nattrs {
		t.Logf("backend takes at most %d attributes; sending that many", caps.MaxAttributes)
		nattrs = caps.MaxAttributes
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	large := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range large {
		large[i] = byte(rng.Uint32())
	}
	attrs := make(map[string]string, nattrs)
	for i := range nattrs {
		attrs[fmt.Sprintf("ключ-%d", i)] = fmt.Sprintf("значение ✓ %d — 🔑", i)
	}
	msgs := []*mq.Message{
		{Body: nil},
		{Body: []byte{0}},
		{Body: all, Key: "ключ-🔑"},
		{Body: large},
		{Body: []byte("attributes"), Attributes: attrs, Key: "k"},
	}
	names := []string{"0-byte body", "1-byte body", "all 256 byte values", fmt.Sprintf("%d-byte body", size), fmt.Sprintf("%d attributes", nattrs)}
	byID := map[string]int{}
	for i, m := range msgs {
		// Send a copy so that the check below compares with what the
		// caller asked for, not with something Send may have changed.
		cp := *m
		e.send(p, &cp)
		m.ID = cp.ID
		if _, dup := byID[m.ID]; dup {
			t.Errorf("two sent messages share ID %s", m.ID)
		}
		byID[m.ID] = i
	}
	for range msgs {
		d := e.recv(sub, e.tm.patience, "the sent messages")
		i, ok := byID[d.ID]
		if !ok {
			t.Errorf("received %s with an ID no Send returned (or twice)", describe(d))
			e.ack(d)
			continue
		}
		delete(byID, d.ID)
		m := msgs[i]
		if !bytes.Equal(d.Body, m.Body) {
			t.Errorf("%s: body of %d bytes arrived as %d bytes (%s)", names[i], len(m.Body), len(d.Body), firstDiff(m.Body, d.Body))
		}
		if d.Key != m.Key {
			t.Errorf("%s: Key %q arrived as %q", names[i], m.Key, d.Key)
		}
		if len(d.Attributes) != len(m.Attributes) {
			t.Errorf("%s: %d attributes arrived as %d: %v", names[i], len(m.Attributes), len(d.Attributes), d.Attributes)
		}
		bad := 0
		for k, v := range m.Attributes {
			if got, ok := d.Attributes[k]; !ok || got != v {
				if bad++; bad <= 3 {
					t.Errorf("%s: attribute %q = %q arrived as %q (present %v)", names[i], k, v, got, ok)
				}
			}
		}
		if bad > 3 {
			t.Errorf("%s: %d more attributes changed", names[i], bad-3)
		}
		e.ack(d)
	}
}

func firstDiff(a, b []byte) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("first difference at byte %d: %#x, want %#x", i, b[i], a[i])
		}
	}
	return "one is a prefix of the other"
}

func testInvalidMessages(t tb, s *suite) {
	e := setup(t, s, Spec{})
	p, sub := e.producer(), e.sub(0)
	caps := p.Capabilities()
	attrs := func(n int) map[string]string {
		m := make(map[string]string, n)
		for i := range n {
			m[fmt.Sprintf("k%d", i)] = "v"
		}
		return m
	}
	cases := []struct {
		name string
		m    *mq.Message
	}{
		{"nil message", nil},
		{"33 attributes", &mq.Message{Body: []byte("x"), Attributes: attrs(mq.MaxAttributes + 1)}},
		{"invalid UTF-8 attribute key", &mq.Message{Body: []byte("x"), Attributes: map[string]string{"\xff\xfe": "v"}}},
		{"invalid UTF-8 attribute value", &mq.Message{Body: []byte("x"), Attributes: map[string]string{"k": "\xff"}}},
		{"empty attribute key", &mq.Message{Body: []byte("x"), Attributes: map[string]string{"": "v"}}},
		{"reserved portmq- attribute key", &mq.Message{Body: []byte("x"), Attributes: map[string]string{mq.AttrDeadLetterReason: "forged"}}},
		{"129-byte Key", &mq.Message{Body: []byte("x"), Key: strings.Repeat("k", mq.MaxKeyLen+1)}},
		{"negative Delay", &mq.Message{Body: []byte("x"), Delay: -e.tm.lease}},
	}
	if caps.MaxBodySize > 0 {
		cases = append(cases, struct {
			name string
			m    *mq.Message
		}{fmt.Sprintf("%d-byte body over the backend's %d", caps.MaxBodySize+1, caps.MaxBodySize), &mq.Message{Body: make([]byte, caps.MaxBodySize+1)}})
	} else {
		t.Logf("backend reports no body size limit; over-limit body not tried")
	}
	for _, c := range cases {
		ctx, cancel := e.within(e.tm.patience)
		err := protect(func() error { return p.Send(ctx, c.m) })
		cancel()
		switch {
		case isPanic(err):
			t.Errorf("Send(%s) panicked: %v", c.name, err)
		case err == nil:
			t.Errorf("Send(%s) succeeded, want InvalidArgument", c.name)
		case mq.Code(err) != mq.InvalidArgument:
			t.Errorf("Send(%s) = %v (code %v), want code InvalidArgument", c.name, err, mq.Code(err))
		}
		if c.m != nil && c.m.ID != "" {
			t.Errorf("Send(%s) set ID %q", c.name, c.m.ID)
		}
		if c.m == nil {
			continue
		}
		// In a batch, one bad message stops the batch before anything is
		// sent.
		good := &mq.Message{Body: []byte("good, batched with " + c.name)}
		ctx, cancel = e.within(e.tm.patience)
		err = protect(func() error { return p.SendBatch(ctx, []*mq.Message{good, c.m}) })
		cancel()
		switch {
		case isPanic(err):
			t.Errorf("SendBatch(good, %s) panicked: %v", c.name, err)
		case mq.Code(err) != mq.InvalidArgument:
			t.Errorf("SendBatch(good, %s) = %v (code %v), want code InvalidArgument", c.name, err, mq.Code(err))
		}
		if good.ID != "" {
			t.Errorf("SendBatch(good, %s) sent the good message (ID %s) although the batch was invalid", c.name, good.ID)
		}
	}
	for _, d := range e.expectNone(sub, e.tm.quiet, "invalid messages (and batches) must fail before sending") {
		e.ack(d)
	}
}
