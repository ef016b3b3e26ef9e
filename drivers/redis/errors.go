package redis

import (
	"errors"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portmq/portmq/mq/driver"
)

const prefix = "redis"

// errClosed is returned by calls on a handle after Close.
var errClosed = &driver.Error{Code: driver.Closed, Msg: "redis: handle is closed"}

func optionError(msg string) error {
	return &driver.Error{Code: driver.InvalidArgument, Msg: "redis: " + msg}
}

func notFound(msg string) error {
	return &driver.Error{Code: driver.NotFound, Msg: "redis: " + msg}
}

// classifier is the driver's error chain: go-redis's own sentinels and
// server replies after the driver's errors, before the network's.
var classifier = driver.Classifier{Native: func(err error) (driver.ErrorCode, bool) {
	switch {
	case errors.Is(err, goredis.ErrClosed):
		return driver.Closed, true
	case errors.Is(err, goredis.ErrPoolTimeout), errors.Is(err, goredis.ErrPoolExhausted):
		return driver.Unavailable, true
	}
	if re, ok := errors.AsType[goredis.Error](err); ok {
		if c := serverCode(re.Error()); c != driver.Unknown {
			return c, true
		}
	}
	return driver.Unknown, false
}}

// classify returns the code of an error from this driver or go-redis.
func classify(err error) driver.ErrorCode { return classifier.Code(err) }

// serverCode classifies a Redis error reply by its prefix.
func serverCode(msg string) driver.ErrorCode {
	word, _, _ := strings.Cut(strings.TrimPrefix(msg, "ERR "), " ")
	switch word {
	case "NOGROUP":
		return driver.NotFound
	case "BUSYGROUP":
		return driver.AlreadyExists
	case "WRONGTYPE":
		return driver.FailedPrecondition
	case "NOAUTH", "WRONGPASS":
		return driver.Unauthenticated
	case "NOPERM":
		return driver.PermissionDenied
	case "OOM":
		return driver.ResourceExhausted
	case "LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "MISCONF":
		return driver.Unavailable
	case "NOSCRIPT":
		// go-redis re-sends the script with EVAL; one that still reaches
		// here met a server that lost its cache mid-call: retry.
		return driver.Unavailable
	}
	if strings.Contains(msg, "no such key") {
		return driver.NotFound // XINFO, XGROUP on a missing stream
	}
	if strings.Contains(msg, "max number of clients") {
		return driver.ResourceExhausted
	}
	if strings.Contains(msg, "user_script") || strings.Contains(msg, "Error running script") {
		return driver.Internal // a bug in one of the driver's scripts
	}
	return driver.Unknown
}

// coded gives an error from opening a handle its code: mq classifies open
// errors by driver.Error codes only.
func coded(err error) error { return classifier.Coded(err, prefix) }

// errorAs implements ErrorAs for every handle: the native errors are
// go-redis's Error (a server reply) and net errors.
func errorAs(err error, i any) bool {
	switch p := i.(type) {
	case *goredis.Error:
		return errors.As(err, p)
	}
	return driver.NetErrorAs(err, i)
}
