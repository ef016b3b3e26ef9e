package main

import (
	"fmt"
	"net/url"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portmq/portmq/drivers/redis"
	"github.com/portmq/portmq/mq"
)

// openStore opens the IdempotencyStore a URL names: redis://HOST:PORT/DB
// (go-redis's URL syntax) for the Redis store, with keys under prefix.
func openStore(rawURL, prefix string) (mq.IdempotencyStore, func(), error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return nil, nil, fmt.Errorf("idempotency store %s: want redis://HOST:PORT/DB", mq.Redact(rawURL))
	}
	opts, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("idempotency store %s: %s", mq.Redact(rawURL), "bad URL")
	}
	c := goredis.NewClient(opts)
	return redis.NewIdempotencyStore(c, &redis.StoreOptions{Prefix: prefix}), func() { _ = c.Close() }, nil
}
