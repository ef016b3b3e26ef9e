package gocloud

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"gocloud.dev/pubsub"
	_ "gocloud.dev/pubsub/mempubsub" // mem://, so that gocloud+mem:// works with this package alone

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

func init() {
	o := NewOpener(nil)
	names := make([]string, 0, len(schemes))
	for s := range schemes {
		names = append(names, s)
	}
	slices.Sort(names)
	for _, s := range names {
		mq.Register(Prefix+s, o)
	}
}

// Register makes the Go CDK scheme cdkScheme available as
// gocloud+cdkScheme on mq's default mux, for Go CDK drivers this package
// does not register itself (see the package doc). Like mq.Register, it
// panics if the scheme is already registered.
func Register(cdkScheme string) {
	mq.Register(Prefix+strings.ToLower(cdkScheme), NewOpener(nil))
}

// Options configures an Opener. Nil means defaults.
type Options struct {
	// Mux opens the Go CDK URLs. Nil means the Go CDK's
	// pubsub.DefaultURLMux(), where Go CDK driver packages register their
	// schemes from init. For the rabbit scheme on the default mux the
	// driver dials a connection per handle; see the package doc.
	Mux *pubsub.URLMux
}

// NewOpener returns a driver.Opener for gocloud+SCHEME URLs, to register
// on an mq.URLMux of your own under the schemes you choose (the package
// registers one on mq's default mux from init).
func NewOpener(opts *Options) driver.Opener {
	o := &opener{mux: pubsub.DefaultURLMux()}
	if opts != nil && opts.Mux != nil {
		o.mux = opts.Mux
	}
	return o
}

type opener struct {
	mux *pubsub.URLMux
}

// OpenTopic opens gocloud+SCHEME://NAME?CDKPARAMS as the Go CDK topic
// SCHEME://NAME?CDKPARAMS.
func (o *opener) OpenTopic(ctx context.Context, u *url.URL) (driver.Topic, error) {
	cu, err := parseTopicURL(u)
	if err != nil {
		return nil, err
	}
	return openTopic(ctx, o.mux, cu)
}

// OpenSubscription opens gocloud+SCHEME://NAME?PARAMS as the Go CDK
// subscription SCHEME://NAME with the Go CDK's parameters, and portmq's
// parameters (see the package doc) applied by the driver.
func (o *opener) OpenSubscription(ctx context.Context, u *url.URL) (driver.Subscription, error) {
	su, err := parseSubURL(u)
	if err != nil {
		return nil, err
	}
	return openSubscription(ctx, o.mux, su)
}
