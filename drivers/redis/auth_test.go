package redis_test

import (
	"context"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portmq/portmq/mq"
)

// TestRefusedCredentialsAreUnauthenticatedAndNoSendLooksSent runs on a
// redis-server of its own, with an ACL user whose password it changes.
// go-redis reports a connection whose AUTH was refused as the error of
// the whole pipeline while every queued command keeps a nil error and a
// zero value. Before the driver checked for that, an open with a wrong
// password failed as NotFound ("topic does not exist"), and a Send after
// the password was rotated returned nil with nothing written: an
// acknowledged send lost.
func TestRefusedCredentialsAreUnauthenticatedAndNoSendLooksSent(t *testing.T) {
	serverURL(t) // skips or fails as the shared server's tests do
	srv := startPersistentServer(t)
	ctx := ctxFor(t, 30*time.Second)
	root := goredis.NewClient(&goredis.Options{Addr: srv.addr()})
	defer root.Close()
	must(t, root.Do(ctx, "ACL", "SETUSER", "app", "on", ">first-pw", "~*", "&*", "+@all").Err())

	base := "redis://app:first-pw@" + srv.addr() + "/0?prefix=portmq-auth"
	setup(t, base, "t", mq.SubscriptionConfig{}, "s")
	p, err := mq.OpenProducer(ctx, withQuery(base, "topic", "t"))
	must(t, err)
	defer func() { _ = p.Shutdown(ctx) }()
	must(t, p.Send(ctx, &mq.Message{Body: []byte("before")}))

	wrong := "redis://app:not-the-pw@" + srv.addr() + "/0?prefix=portmq-auth"
	if _, err := mq.OpenProducer(ctx, withQuery(wrong, "topic", "t")); mq.Code(err) != mq.Unauthenticated {
		t.Errorf("OpenProducer with a wrong password: %v (code %v), want Unauthenticated", err, mq.Code(err))
	} else if strings.Contains(err.Error(), "not-the-pw") {
		t.Errorf("the error shows the password: %v", err)
	}
	if _, err := mq.OpenSubscription(ctx, subURL(wrong, "t", "s")); mq.Code(err) != mq.Unauthenticated {
		t.Errorf("OpenSubscription with a wrong password: %v (code %v), want Unauthenticated", err, mq.Code(err))
	}

	// Rotate the password and drop the producer's connections: its next
	// connection's AUTH is refused.
	must(t, root.Do(ctx, "ACL", "SETUSER", "app", "resetpass", ">second-pw").Err())
	must(t, root.Do(ctx, "CLIENT", "KILL", "USER", "app").Err())
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err = p.Send(sctx, &mq.Message{Body: []byte("after")})
	if err == nil {
		t.Errorf("Send after the password changed: nil, want an error")
	} else if mq.Code(err) != mq.Unauthenticated {
		t.Errorf("Send after the password changed: %v (code %v), want Unauthenticated", err, mq.Code(err))
	}
	n, err := root.XLen(ctx, "portmq-auth:t").Result() // the topic's stream
	must(t, err)
	if n != 1 {
		t.Errorf("the stream holds %d entries, want 1 (the send before the change)", n)
	}
}
