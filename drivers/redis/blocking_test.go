package redis_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/portmq/portmq/mq"
)

// TestManyBlockedReceivesDoNotStarveCommands opens more subscriptions
// through one URL (one go-redis client) than the client's pool has
// connections (10 per CPU) and keeps a receive blocked on each. A blocking
// XREADGROUP holds its connection for as long as it waits; when those
// connections came from the pool every other command uses, the pool was
// soon exhausted and each send, ack and open waited out the pool timeout
// and failed Unavailable, again and again: Watermill's
// TestConcurrentSubscribeMultipleTopics over Redis (20 topics) got 2–9 of
// 100 messages per topic in 2 minutes. Blocking reads now have their own
// connections; the commands' pool serves commands only.
func TestManyBlockedReceivesDoNotStarveCommands(t *testing.T) {
	base := serverURL(t)
	ctx := ctxFor(t, 60*time.Second)
	n := 10*runtime.GOMAXPROCS(0) + 5
	subs := make([]*mq.Subscription, n)
	prods := make([]*mq.Producer, n)
	for i := range n {
		topic := fmt.Sprintf("t%d", i)
		setup(t, base, topic, mq.SubscriptionConfig{}, "s")
		var err error
		subs[i], err = mq.OpenSubscription(ctx, subURL(base, topic, "s"))
		must(t, err)
		prods[i], err = mq.OpenProducer(ctx, withQuery(base, "topic", topic))
		must(t, err)
	}
	defer func() {
		for i := range n {
			_ = prods[i].Shutdown(ctx)
			_ = subs[i].Shutdown(ctx)
		}
	}()
	// Every subscription gets a receive blocked in Redis, then every
	// topic one message: each receive must end with its message.
	got := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			d, err := subs[i].Receive(ctx)
			if err != nil {
				errs[i] = err
				return
			}
			got[i] = string(d.Body)
			errs[i] = d.Ack()
		})
	}
	for i := range n {
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := prods[i].Send(sctx, &mq.Message{Body: fmt.Appendf(nil, "m%d", i)})
		cancel()
		if err != nil {
			t.Fatalf("Send to topic %d of %d with a receive blocked on each: %v", i, n, err)
		}
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i] != fmt.Sprintf("m%d", i) {
			t.Errorf("subscription %d: got %q, %v; want m%d", i, got[i], errs[i], i)
		}
	}
}
