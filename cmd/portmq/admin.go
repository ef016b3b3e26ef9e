package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/portmq/portmq/mq"
)

var adminCmd = &command{
	name:    "admin",
	args:    "create-topic|create-subscription|delete-topic|delete-subscription [flags] ADMIN-URL TOPIC [SUBSCRIPTION]",
	summary: "create and delete topics and subscriptions (mq.Admin)",
	about: `Admin provisions through the backend's mq.Admin. ADMIN-URL is the backend's
admin URL (see its package doc: mem:// for mem, amqp://HOST/VHOST for
RabbitMQ, kafka://BROKERS for Kafka, ...); TOPIC and SUBSCRIPTION are the
names in the backend's namespace.

  create-topic ADMIN-URL TOPIC [-dedup-window d]
  create-subscription ADMIN-URL TOPIC SUBSCRIPTION [-lease d] [-max-attempts n]
      [-dead-letter TOPIC] [-ordered] [-retention d]
  delete-topic ADMIN-URL TOPIC
  delete-subscription ADMIN-URL TOPIC SUBSCRIPTION

Zero settings mean the backend's defaults. A backend without an admin
interface fails with an error saying so; one that cannot honour a setting
fails rather than ignore it. With -json it prints {"done":..., "topic":...,
"subscription":...} on success.`,
	example: `  portmq admin create-topic mem:// orders
  portmq admin create-subscription 'amqp://guest:guest@localhost/' orders payments -max-attempts 5 -dead-letter orders.dlq -lease 30s
  portmq admin delete-subscription 'amqp://guest:guest@localhost/' orders payments`,
	flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
		dedup := fs.Duration("dedup-window", 0, "create-topic: drop a message whose DedupID was sent within this `duration`")
		lease := fs.Duration("lease", 0, "create-subscription: lease of a delivery")
		maxAttempts := fs.Int("max-attempts", 0, "create-subscription: dead-letter after this many failed deliveries (0: never)")
		deadLetter := fs.String("dead-letter", "", "create-subscription: the `topic` dead letters go to")
		ordered := fs.Bool("ordered", false, "create-subscription: deliver the messages of one key in order")
		retention := fs.Duration("retention", 0, "create-subscription: keep acked messages this long, for seek")
		asJSON := fs.Bool("json", false, "print the result as a JSON object")
		return func(ctx context.Context, e *env, args []string) int {
			if len(args) == 0 {
				return e.usageError("want an action: create-topic, create-subscription, delete-topic or delete-subscription")
			}
			action, args := args[0], args[1:]
			want := map[string]int{"create-topic": 2, "delete-topic": 2, "create-subscription": 3, "delete-subscription": 3}
			n, ok := want[action]
			switch {
			case !ok:
				return e.usageError("unknown action %q", action)
			case len(args) != n:
				return e.usageError("%s wants %d arguments (ADMIN-URL TOPIC%s), got %d", action, n, map[bool]string{true: " SUBSCRIPTION"}[n == 3], len(args))
			case *dedup < 0 || *lease < 0 || *retention < 0 || *maxAttempts < 0:
				return e.usageError("durations and -max-attempts must not be negative")
			}
			for _, f := range []string{"lease", "max-attempts", "dead-letter", "ordered", "retention"} {
				if isSet(fs, f) && action != "create-subscription" {
					return e.usageError("-%s is for create-subscription", f)
				}
			}
			if isSet(fs, "dedup-window") && action != "create-topic" {
				return e.usageError("-dedup-window is for create-topic")
			}
			topic := args[1]
			sub := ""
			if n == 3 {
				sub = args[2]
			}
			a, err := mq.OpenAdmin(ctx, args[0])
			if err != nil {
				return e.fail(err)
			}
			defer a.Close()
			switch action {
			case "create-topic":
				err = a.CreateTopic(ctx, topic, mq.TopicConfig{DedupWindow: *dedup})
			case "delete-topic":
				err = a.DeleteTopic(ctx, topic)
			case "create-subscription":
				err = a.CreateSubscription(ctx, topic, sub, mq.SubscriptionConfig{Lease: *lease, MaxAttempts: *maxAttempts,
					DeadLetterTopic: *deadLetter, Ordered: *ordered, Retention: *retention})
			case "delete-subscription":
				err = a.DeleteSubscription(ctx, topic, sub)
			}
			if err != nil {
				return e.fail(err)
			}
			if *asJSON {
				writeJSON(e.stdout, struct {
					Done         string `json:"done"`
					Topic        string `json:"topic"`
					Subscription string `json:"subscription,omitempty"`
				}{action, topic, sub})
				return exitOK
			}
			what := "topic " + topic
			if sub != "" {
				what = "subscription " + sub + " of topic " + topic
			}
			verb, _, _ := strings.Cut(action, "-")
			fmt.Fprintf(e.stdout, "%sd %s\n", verb, what)
			return exitOK
		}
	},
}
