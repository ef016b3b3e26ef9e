package redis_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/portmq/portmq/mq"
)

// The crash test runs a consumer in a child process (this test binary,
// re-executed with crashChildEnv set) and kills it with SIGKILL while its
// handler runs: nothing is settled or handed back, as when a replica's
// host dies.
const (
	crashChildEnv = "PORTMQ_REDIS_CRASH_CHILD" // the subscription URL
	inHandler     = "IN-HANDLER"
)

// crashChild is the child's whole life: a Consumer whose handler reports
// the delivery on stdout and then blocks until the process is killed.
func crashChild() {
	ctx := context.Background()
	sub, err := mq.OpenSubscription(ctx, os.Getenv(crashChildEnv))
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	c, err := mq.NewConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
		fmt.Println(inHandler, d.ID, d.Attempt)
		select {} // killed here
	})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	_ = c.Run(ctx)
	os.Exit(2)
}

func TestCrashedConsumersDeliveryIsReclaimedAfterLeaseAsNextAttempt(t *testing.T) {
	const lease = time.Second
	base := serverURL(t)
	setup(t, base, "jobs", mq.SubscriptionConfig{Lease: lease}, "workers")
	ctx := ctxFor(t, time.Minute)
	p, err := mq.OpenProducer(ctx, withQuery(base, "topic", "jobs"))
	must(t, err)
	defer p.Shutdown(context.Background())
	m := &mq.Message{Body: []byte("crash me")}
	must(t, p.Send(ctx, m))

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+subURL(base, "jobs", "workers"))
	out, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child consumer: %v (output %q)", err, line)
	}
	want := fmt.Sprintf("%s %s 1\n", inHandler, m.ID)
	if line != want {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child consumer reported %q, want %q", line, want)
	}
	// The child's Consumer keeps extending the lease while the handler
	// runs; kill it mid-handler.
	must(t, cmd.Process.Kill())
	_ = cmd.Wait()
	killed := time.Now()

	sub, err := mq.OpenSubscription(ctx, subURL(base, "jobs", "workers"))
	must(t, err)
	defer sub.Shutdown(context.Background())
	rctx, cancel := context.WithTimeout(ctx, 5*lease+2*time.Second)
	defer cancel()
	d, err := sub.Receive(rctx)
	if err != nil {
		t.Fatalf("the crashed consumer's delivery was not redelivered within %v: %v", 5*lease+2*time.Second, err)
	}
	after := time.Since(killed)
	t.Logf("redelivered %v after the kill: attempt %d", after.Round(time.Millisecond), d.Attempt)
	if d.ID != m.ID || string(d.Body) != "crash me" {
		t.Fatalf("received %s %q, want %s", d.ID, d.Body, m.ID)
	}
	if d.Attempt != 2 {
		t.Errorf("redelivery has Attempt %d, want 2 (the crashed delivery counts)", d.Attempt)
	}
	must(t, d.Ack())
	if strings.Contains(line, "ERROR") {
		t.Fatal(line)
	}
}
