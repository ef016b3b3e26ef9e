package memdriver

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portmq/portmq/clock"
	"github.com/portmq/portmq/mq/driver"
)

// Default settings.
const (
	// DefaultLease is the lease (visibility timeout) of a subscription
	// opened without one.
	DefaultLease = 30 * time.Second
	// DefaultMaxBodySize is the largest body a handle accepts unless told
	// otherwise.
	DefaultMaxBodySize = 1 << 20
	// DeadLetterSubscription is the subscription created on a dead-letter
	// topic that has none, so that dead letters are never dropped.
	DeadLetterSubscription = "dlq"
)

// Options configures an Engine. The zero value (and a nil *Options) gives
// the defaults.
type Options struct {
	// Clock is the source of time; nil means clock.Real.
	Clock clock.Clock
}

// SubscriptionOptions configures one subscription handle (not the shared
// subscription). The zero value gives the defaults.
type SubscriptionOptions struct {
	// Emulate makes the handle declare the listed capabilities as
	// driver.None and behave like a backend without them.
	Emulate Emulate
	// MaxBodySize is reported in Capabilities: 0 means DefaultMaxBodySize,
	// a negative value means no limit.
	MaxBodySize int
}

// Engine is an independent namespace of topics and subscriptions held in
// memory. All its methods are safe for concurrent use.
type Engine struct {
	clk clock.Clock
	seq atomic.Uint64 // last message ID reserved
	ids atomic.Pointer[idBlock]

	mu     sync.Mutex // guards topics and each topic's subscription set
	topics map[string]*topic
}

// New returns an empty Engine.
func New(opts *Options) *Engine {
	e := &Engine{clk: clock.Real{}, topics: make(map[string]*topic)}
	if opts != nil && opts.Clock != nil {
		e.clk = opts.Clock
	}
	return e
}

var defaultEngine = sync.OnceValue(func() *Engine { return New(nil) })

// Default returns the process-wide Engine behind mem:// URLs.
func Default() *Engine { return defaultEngine() }

// Clock returns the engine's clock.
func (e *Engine) Clock() clock.Clock { return e.clk }

// OpenTopic returns a handle for sending to topic name, creating the topic
// if absent. If the topic exists and cfg sets a DedupWindow different from
// the one the topic was created with, it returns an error with code
// FailedPrecondition.
func (e *Engine) OpenTopic(name string, cfg *driver.TopicConfig) (driver.Topic, error) {
	return e.openTopic(name, cfg, 0, 0)
}

func (e *Engine) openTopic(name string, cfg *driver.TopicConfig, emu Emulate, maxBody int) (*topicHandle, error) {
	if err := checkName("topic", name); err != nil {
		return nil, err
	}
	var c driver.TopicConfig
	if cfg != nil {
		c = *cfg
	}
	if c.DedupWindow < 0 {
		return nil, invalid("negative dedup window")
	}
	e.mu.Lock()
	t := e.topicLocked(name)
	if c.DedupWindow != 0 {
		if !t.dedupSet {
			t.dedup.setWindow(c.DedupWindow)
			t.dedupSet = true
		} else if w := t.dedup.getWindow(); w != c.DedupWindow {
			e.mu.Unlock()
			return nil, driver.NewError(driver.FailedPrecondition, "memdriver: topic "+name+" exists with dedup_window "+w.String()+", not "+c.DedupWindow.String())
		}
	}
	e.mu.Unlock()
	return newTopicHandle(t, emu, maxBody), nil
}

// OpenSubscription returns a handle on subscription name of topic, creating
// both if absent (and the subscription's dead-letter topic, see the package
// doc). If the subscription exists and cfg sets a value that differs from
// the existing one, it returns an error with code FailedPrecondition naming
// the setting. Many handles may be open on one subscription: they compete
// for its messages. opts may be nil.
func (e *Engine) OpenSubscription(topic, name string, cfg *driver.SubscriptionConfig, opts *SubscriptionOptions) (driver.Subscription, error) {
	return e.openSubscription(topic, name, cfg, opts)
}

func (e *Engine) openSubscription(topicName, name string, cfg *driver.SubscriptionConfig, opts *SubscriptionOptions) (*subHandle, error) {
	if err := checkName("topic", topicName); err != nil {
		return nil, err
	}
	if err := checkName("subscription", name); err != nil {
		return nil, err
	}
	var c driver.SubscriptionConfig
	if cfg != nil {
		c = *cfg
	}
	if err := checkSubConfig(c); err != nil {
		return nil, err
	}
	var o SubscriptionOptions
	if opts != nil {
		o = *opts
	}
	e.mu.Lock()
	t := e.topicLocked(topicName)
	s := t.byName[name]
	var err error
	if s == nil {
		s = e.newSubscriptionLocked(t, name, c)
	} else {
		err = s.conflicts(c)
	}
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return newSubHandle(s, o), nil
}

// topicLocked returns topic name, creating it if absent; e.mu is held.
func (e *Engine) topicLocked(name string) *topic {
	t := e.topics[name]
	if t == nil {
		t = newTopic(e, name)
		e.topics[name] = t
	}
	return t
}

// newSubscriptionLocked creates subscription name on t with cfg, and its
// dead-letter topic; e.mu is held and cfg is valid.
func (e *Engine) newSubscriptionLocked(t *topic, name string, cfg driver.SubscriptionConfig) *subscription {
	s := newSubscription(e, t, name, cfg)
	if s.dlq != "" {
		e.deadLetterTopicLocked(s.dlq)
	}
	t.addSubLocked(s)
	return s
}

// deadLetterTopicLocked returns the dead-letter topic name, creating it and,
// if it has no subscription, its "dlq" subscription; e.mu is held.
func (e *Engine) deadLetterTopicLocked(name string) *topic {
	t := e.topicLocked(name)
	if len(t.byName) == 0 {
		t.addSubLocked(newSubscription(e, t, DeadLetterSubscription, driver.SubscriptionConfig{}))
	}
	return t
}

// publishDeadLetters sends msgs to dead-letter topic name. No subscription
// lock may be held.
func (e *Engine) publishDeadLetters(name string, msgs []driver.Message) {
	e.mu.Lock()
	t := e.deadLetterTopicLocked(name)
	e.mu.Unlock()
	t.send(msgs, e.clk.Now())
}

func checkSubConfig(c driver.SubscriptionConfig) error {
	switch {
	case c.Lease < 0:
		return invalid("negative visibility (lease)")
	case c.MaxAttempts < 0:
		return invalid("negative max attempts")
	case c.Retention < 0:
		return invalid("negative retention")
	}
	if c.DeadLetterTopic != "" {
		if err := checkName("dead-letter topic", c.DeadLetterTopic); err != nil {
			return err
		}
	}
	return nil
}

// checkName reports whether name is 1–255 bytes of [A-Za-z0-9._-].
func checkName(what, name string) error {
	if validName(name) {
		return nil
	}
	return invalid(what + " name " + strconv.Quote(name) + " must be 1-255 bytes of A-Z a-z 0-9 . _ -")
}

func validName(name string) bool {
	if len(name) == 0 || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
