package watermill

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/portmq/portmq/mq/driver"
)

// TopicOptions configures a topic made with NewTopic. Nil means defaults.
type TopicOptions struct {
	// MaxBodySize is the largest payload the backend takes; 0 means no
	// limit.
	MaxBodySize int
	// ErrorCode classifies the backend's errors; see Backend.ErrorCode.
	ErrorCode func(error) driver.ErrorCode
}

// topic is a driver.Topic over a Watermill Publisher.
type topic struct {
	pub   message.Publisher
	name  string
	caps  driver.Capabilities
	b     Backend
	now   func() time.Time
	close sync.Once
}

// NewTopic returns a driver.Topic that publishes to the Watermill topic
// name with pub; wrap it with mq.NewProducer. The driver takes pub over:
// closing the topic (Producer.Shutdown) closes pub.
func NewTopic(pub message.Publisher, name string, opts *TopicOptions) (driver.Topic, error) {
	var o TopicOptions
	if opts != nil {
		o = *opts
	}
	if pub == nil || name == "" || o.MaxBodySize < 0 {
		return nil, &driver.Error{Code: driver.InvalidArgument, Msg: "watermill: NewTopic needs a Publisher, a topic name and a non-negative MaxBodySize"}
	}
	return newTopic(pub, name, o.MaxBodySize, Backend{ErrorCode: o.ErrorCode}), nil
}

func newTopic(pub message.Publisher, name string, maxBody int, b Backend) *topic {
	return &topic{pub: pub, name: name, b: b, now: time.Now, caps: driver.Capabilities{MaxBodySize: maxBody}}
}

// SendBatch publishes the messages in one Publish call, each with a new
// UUID (its ID). Watermill's Publish takes no context: the call returns
// when the publisher does (with the message's context set to ctx, which
// some publishers honour). A failed Publish may have sent some of the
// messages; the driver cannot tell which.
func (t *topic) SendBatch(ctx context.Context, msgs []driver.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := t.now()
	wms := make([]*message.Message, len(msgs))
	for i := range msgs {
		wms[i] = encode(&msgs[i], watermill.NewUUID(), now)
		wms[i].SetContext(ctx)
	}
	if err := t.pub.Publish(t.name, wms...); err != nil {
		return &driver.Error{Code: classify(t.b, err), Msg: "watermill: publishing " + strconv.Itoa(len(msgs)) + " messages to topic " + t.name, Err: err}
	}
	for i := range msgs {
		msgs[i].ID = wms[i].UUID
	}
	return nil
}

// Capabilities implements driver.Topic: Delay is none (mq carries the due
// time in an attribute and holds the message on receipt), and so is Dedup.
func (t *topic) Capabilities() driver.Capabilities { return t.caps }

// As exposes the Watermill Publisher (*message.Publisher, or a pointer to
// its concrete type).
func (t *topic) As(i any) bool { return asValue(i, t.pub) }

// ErrorAs implements driver.Common: any error type in the chain.
func (t *topic) ErrorAs(err error, i any) bool { return errorAs(err, i) }

// ErrorCode implements driver.Common.
func (t *topic) ErrorCode(err error) driver.ErrorCode { return classify(t.b, err) }

// Close closes the Watermill Publisher.
func (t *topic) Close() error {
	var err error
	t.close.Do(func() { err = t.pub.Close() })
	return err
}
