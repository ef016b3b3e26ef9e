package sns_test

import (
	"context"
	"fmt"
	"log"

	_ "github.com/portmq/portmq/drivers/sns"
	"github.com/portmq/portmq/mq"
)

// A topic with two subscriptions (SQS queues subscribed with raw message
// delivery): each gets every message.
func Example() {
	ctx := context.Background()
	a, err := mq.OpenAdmin(ctx, "sns://?region=eu-west-1")
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateTopic(ctx, "orders", mq.TopicConfig{}); err != nil {
		log.Fatal(err)
	}
	for _, q := range []string{"billing", "shipping"} {
		if err := a.CreateSubscription(ctx, "orders", q, mq.SubscriptionConfig{MaxAttempts: 5}); err != nil {
			log.Fatal(err)
		}
	}

	p, err := mq.OpenProducer(ctx, "sns://orders?region=eu-west-1")
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(ctx)
	if err := p.Send(ctx, &mq.Message{Body: []byte(`{"order": 7}`)}); err != nil {
		log.Fatal(err)
	}
	s, err := mq.OpenSubscription(ctx, "sns://orders/billing?region=eu-west-1")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Shutdown(ctx)
	d, err := s.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(d.Body))
	_ = d.Ack()
}
