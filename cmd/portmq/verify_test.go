package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portmq/portmq/internal/testenv"
)

// runVerify runs verify -json with the test binary as its consumers.
func runVerify(t *testing.T, args ...string) (int, verifyReport, string) {
	t.Helper()
	t.Setenv("PORTMQ_CLI_AS_MAIN", "1")
	code, out, errs := runCmd(t, "", append([]string{"verify", "-json"}, args...)...)
	var r verifyReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("verify: exit %d, stdout %q (%v), stderr %s", code, out, err, errs)
	}
	if strings.Contains(out+errs, "guest:guest") {
		t.Errorf("password in output:\n%s\n%s", out, errs)
	}
	return code, r, errs
}

func TestVerifyOnRabbitMQLosesNothingAcrossAConsumerKill(t *testing.T) {
	u := rabbitmq(t)
	code, r, errs := runVerify(t, u, "-messages", "400", "-consumers", "3", "-lease", "2s")
	if code != 0 || !r.Killed || r.AckedSends != 400 || r.Lost != 0 || r.Effects != 400 {
		t.Errorf("exit %d, report %+v, stderr %s; want a consumer killed and all 400 messages taking effect", code, r, errs)
	}
}

// A handler that acks before its effect loses the messages it held when
// it is killed: verify must say so and exit 1.
func TestVerifyReportsTheLossOfALossyHandler(t *testing.T) {
	u := rabbitmq(t)
	code, r, errs := runVerify(t, u, "-messages", "400", "-consumers", "2", "-lease", "1s", "-work", "50ms", "-lossy", "-idle", "3s")
	if code != 1 || !r.Killed || r.Lost == 0 || len(r.LostSample) == 0 || !strings.Contains(errs, "were lost") {
		t.Errorf("exit %d, report %+v, stderr %s; want exit 1 and lost messages", code, r, errs)
	}
	if r.Effects+r.Lost != r.AckedSends {
		t.Errorf("effects %d + lost %d != acked sends %d", r.Effects, r.Lost, r.AckedSends)
	}
}

func TestVerifyCountsDeadLetters(t *testing.T) {
	u := rabbitmq(t)
	// One attempt each and a killed consumer: what the victim held is
	// dead-lettered (its delivery failed) or redone, never lost.
	code, r, errs := runVerify(t, u, "-messages", "200", "-consumers", "2", "-lease", "1s", "-max-attempts", "1", "-idle", "3s")
	if code != 0 || r.Lost != 0 || r.Effects+r.DeadLettered < r.AckedSends {
		t.Errorf("exit %d, report %+v, stderr %s", code, r, errs)
	}
}

// A broker restart mid-run (rabbitmqctl stop_app && start_app) loses
// nothing: sends and consumers wait the outage out.
func TestVerifyOnRabbitMQAcrossABrokerRestart(t *testing.T) {
	u := rabbitmq(t) // skips when absent; holds the broker lock shared
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Skip("rabbitmqctl is not on PATH: cannot restart the broker")
	}
	// Restarting needs the lock exclusive: give up the shared hold first.
	releaseShared(t)
	l, err := testenv.LockBroker("rabbitmq", true)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	code, r, errs := runVerify(t, u, "-messages", "2000", "-consumers", "3", "-lease", "2s", "-work", "5ms",
		"-fault", "rabbitmqctl stop_app && rabbitmqctl start_app && rabbitmqctl await_startup")
	if code != 0 || r.Lost != 0 || !strings.HasPrefix(r.FaultResult, "ok") || !r.Killed {
		t.Errorf("exit %d, report %+v, stderr %s; want the fault run, a kill and nothing lost", code, r, errs)
	}
	t.Logf("across a restart: %+v", r)
}

// redisURL is the test Redis server's URL, skipping when it is absent.
func redisURL(t *testing.T) string {
	t.Helper()
	u := "redis://127.0.0.1:6379/0"
	if v := os.Getenv("PORTMQ_TEST_REDIS_URL"); v != "" {
		u = v
	}
	opts, err := goredis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		testenv.Unavailable(t, "Redis", err, `start it with: redis-server --daemonize yes --port 6379 --save "" (or set PORTMQ_TEST_REDIS_URL)`)
	}
	return u
}

// With the Redis IdempotencyStore the handler the kill interrupted runs
// again once its claim lapses: nothing lost, and no message has two
// effects (the killed handler never finished).
func TestVerifyWithAnIdempotencyStore(t *testing.T) {
	u := rabbitmq(t)
	store := redisURL(t)
	code, r, errs := runVerify(t, u, "-messages", "300", "-consumers", "2", "-lease", "1s", "-idempotency", store)
	if code != 0 || !r.Killed || r.Lost != 0 || r.Effects != 300 || r.Idempotency == "" {
		t.Errorf("exit %d, report %+v, stderr %s", code, r, errs)
	}
}
