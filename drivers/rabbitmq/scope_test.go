package rabbitmq_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portmq/portmq/mq"
)

// TestSubscriptionNameOnAnotherTopicIsRefused checks rule 9 on RabbitMQ,
// whose queue names are global to the vhost: subscription S opened on
// topic A and then on topic B must not be one queue bound to both
// exchanges (before issue 12 it was, and A's handle received B's
// messages). The second open is refused with FailedPrecondition naming
// the topic S belongs to, and S is not bound to B.
func TestSubscriptionNameOnAnotherTopicIsRefused(t *testing.T) {
	base := serverURL(t)
	ctx := ctxFor(t, time.Minute)
	a, b := uniqueName(t, "scope-a"), uniqueName(t, "scope-b")
	shared := uniqueName(t, "shared")
	t.Cleanup(func() { deleteSubscription(t, a, shared); deleteSubscription(t, b, b+".other") })

	sa, err := mq.OpenSubscription(ctx, withQuery(t, base, "topic", a, "subscription", shared))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sa.Shutdown(context.Background()) })

	sb, err := mq.OpenSubscription(ctx, withQuery(t, base, "topic", b, "subscription", shared))
	if err == nil {
		_ = sb.Shutdown(context.Background())
		t.Fatalf("subscription %q opened on topic %q after topic %q: one queue would get both topics' messages", shared, b, a)
	}
	if mq.Code(err) != mq.FailedPrecondition || mq.IsRetryable(err) || !strings.Contains(err.Error(), `belongs to topic "`+a+`"`) {
		t.Fatalf("opening %q on a second topic: %v (code %v), want FailedPrecondition naming topic %q", shared, err, mq.Code(err), a)
	}

	// Nothing was bound to B: a send to B has no queue (unroutable=error).
	// Another subscription keeps B's exchange from being unused.
	other, err := mq.OpenSubscription(ctx, withQuery(t, base, "topic", b, "subscription", b+".other"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Shutdown(context.Background()) })
	pb, err := mq.OpenProducer(ctx, withQuery(t, base, "topic", b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pb.Shutdown(context.Background()) })
	pa, err := mq.OpenProducer(ctx, withQuery(t, base, "topic", a))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pa.Shutdown(context.Background()) })
	send(t, pb, "to-b")
	send(t, pa, "to-a")
	if d := recv(t, sa); string(d.Body) != "to-a" {
		t.Fatalf("subscription %q of topic %q received %q", shared, a, d.Body)
	} else if err := d.Ack(); err != nil {
		t.Fatal(err)
	}
	if d := recv(t, other); string(d.Body) != "to-b" {
		t.Fatalf("subscription of topic %q received %q", b, d.Body)
	} else if err := d.Ack(); err != nil {
		t.Fatal(err)
	}
	qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if d, err := sa.Receive(qctx); err == nil {
		t.Fatalf("subscription %q of topic %q also received %q", shared, a, d.Body)
	} else if !errors.Is(err, context.DeadlineExceeded) && mq.Code(err) != mq.DeadlineExceeded {
		t.Fatalf("Receive: %v", err)
	}

	// The admin refuses it the same way, and once S is deleted the name
	// is free for B.
	adm, err := mq.OpenAdmin(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	err = adm.CreateSubscription(ctx, b, shared, mq.SubscriptionConfig{})
	if mq.Code(err) != mq.FailedPrecondition || !strings.Contains(err.Error(), `belongs to topic "`+a+`"`) {
		t.Fatalf("Admin.CreateSubscription of %q on a second topic: %v, want FailedPrecondition naming topic %q", shared, err, a)
	}
	if err := sa.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := adm.DeleteSubscription(ctx, a, shared); err != nil {
		t.Fatal(err)
	}
	sb, err = mq.OpenSubscription(ctx, withQuery(t, base, "topic", b, "subscription", shared))
	if err != nil {
		t.Fatalf("opening %q on topic %q after deleting it from %q: %v", shared, b, a, err)
	}
	t.Cleanup(func() { _ = sb.Shutdown(context.Background()); deleteSubscription(t, b, shared) })
}
