// Package testenv holds what the tests of server-backed drivers share: the
// rule that a missing server skips the test on a laptop and fails it in CI
// (PORTMQ_REQUIRE_SERVERS=1), the addresses of the test servers, and a
// cross-process lock on the shared RabbitMQ server so that a test that
// restarts the broker does not pull it from under another package's tests
// running at the same time (go test runs packages in parallel processes).
package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

// RequireServersEnv is the variable that turns a skip for a missing server
// into a failure. .ci/run sets it to 1.
const RequireServersEnv = "PORTMQ_REQUIRE_SERVERS"

// RequireServers reports whether missing servers must fail tests.
func RequireServers() bool {
	v := os.Getenv(RequireServersEnv)
	return v != "" && v != "0" && v != "false"
}

// Unavailable ends the test because a server it needs is absent: a skip
// on a developer machine, a failure when RequireServers is set. how says
// how to start the server, for example
// "start it with: rabbitmq-server -detached".
func Unavailable(tb testing.TB, what string, err error, how string) {
	tb.Helper()
	msg := fmt.Sprintf("%s is not available (%v); %s", what, err, how)
	if RequireServers() {
		tb.Fatalf("%s [%s=1 makes this a failure]", msg, RequireServersEnv)
	}
	tb.Skip(msg)
}

// RabbitMQURL is the AMQP URL of the test RabbitMQ server:
// PORTMQ_TEST_RABBITMQ_URL, else amqp://guest:guest@127.0.0.1:5672/.
func RabbitMQURL() string {
	if u := os.Getenv("PORTMQ_TEST_RABBITMQ_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

// RabbitMQHowToStart says how to start the local RabbitMQ server.
const RabbitMQHowToStart = "start it with: rabbitmq-server -detached && rabbitmqctl await_startup (or set PORTMQ_TEST_RABBITMQ_URL)"

// RedisURL is the URL of the test Redis server:
// PORTMQ_TEST_REDIS_URL, else redis://127.0.0.1:6379/0.
func RedisURL() string {
	if u := os.Getenv("PORTMQ_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// RedisHowToStart says how to start the local Redis server.
const RedisHowToStart = `start it with: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no (or set PORTMQ_TEST_REDIS_URL)`

// BrokerLock is a cross-process reader/writer lock on a shared test
// server. Tests that use the server hold it shared; a test that restarts
// the server holds it exclusive for the restart.
type BrokerLock struct {
	f *os.File
}

// LockBroker takes the lock named name (for example "rabbitmq") in the
// temporary directory, shared or exclusive, waiting until it is granted.
func LockBroker(name string, exclusive bool) (*BrokerLock, error) {
	p := filepath.Join(os.TempDir(), "portmq-"+name+".lock")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, err
	}
	l := &BrokerLock{f: f}
	if err := l.set(exclusive); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

func (l *BrokerLock) set(exclusive bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err := syscall.Flock(int(l.f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// Exclusive upgrades the lock to exclusive, waiting for every other holder
// to let go. Shared downgrades it again.
func (l *BrokerLock) Exclusive() error { return l.set(true) }

// ExclusiveContext is Exclusive bounded by ctx: it polls for the exclusive
// lock until it is granted or ctx ends. flock converts locks by releasing
// and retaking them, so after an error the shared lock may be gone too:
// call Shared to take it again.
func (l *BrokerLock) ExclusiveContext(ctx context.Context) error {
	wait := time.Millisecond
	for {
		err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for the exclusive lock on the shared server: %w", ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// Shared turns the lock back into a shared one.
func (l *BrokerLock) Shared() error { return l.set(false) }

// Unlock releases the lock.
func (l *BrokerLock) Unlock() error {
	return l.f.Close()
}

// CheckURLError is what the URL parsers' fuzz targets assert about the
// error of parse(u) (raw as given): nil, or an error wrapping
// driver.ErrInvalidURL whose text does not repeat u's password (of four
// bytes or more, so that a one-letter password found elsewhere in the
// text is no false alarm). Where the text holds the password, parse runs
// again on u with another password of the same length: occurrences that
// come back then are the parser's own words ("tter" in "dead_letter"),
// not a leak.
func CheckURLError(tb testing.TB, raw string, u *url.URL, parse func(*url.URL) error) error {
	tb.Helper()
	err := parse(u)
	if err == nil {
		return nil
	}
	if !errors.Is(err, driver.ErrInvalidURL) {
		tb.Fatalf("%q: %v does not wrap ErrInvalidURL", raw, err)
	}
	pw, ok := u.User.Password()
	if !ok || len(pw) < 4 || !strings.Contains(err.Error(), pw) {
		return err
	}
	other := *u
	fill := "\x00"
	if strings.Contains(pw, fill) {
		fill = "\x01" // then pw cannot be in a run of \x01
	}
	other.User = url.UserPassword(u.User.Username(), strings.Repeat(fill, len(pw)))
	vocabulary := 0
	if again := parse(&other); again != nil {
		vocabulary = strings.Count(again.Error(), pw)
	}
	if strings.Count(err.Error(), pw) > vocabulary {
		tb.Fatalf("%q: error repeats the password: %v", raw, err)
	}
	return err
}
