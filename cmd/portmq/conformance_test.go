package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/conformance/containers"
	"github.com/portmq/portmq/drivers/sqs/sqstest"
	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/mq"
)

// confCases decodes the -json output: the case lines by name, and the
// summary.
func confCases(t *testing.T, out string) (map[string]caseLine, summaryLine) {
	t.Helper()
	cases := map[string]caseLine{}
	var sum summaryLine
	n := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if strings.Contains(string(line), `"summary":true`) {
			if err := json.Unmarshal(line, &sum); err != nil {
				t.Fatalf("summary %s: %v", line, err)
			}
			n++
			continue
		}
		var c caseLine
		if err := json.Unmarshal(line, &c); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		cases[c.Case] = c
	}
	if n != 1 {
		t.Fatalf("%d summary lines, want 1:\n%s", n, out)
	}
	return cases, sum
}

// needsHarness is the reason a case skips when the harness cannot restart
// the broker or cut the network, which the command never can.
func needsHarness(msg string) bool {
	return strings.Contains(msg, "Harness.Restart is nil") || strings.Contains(msg, "Harness.Cut is nil") ||
		strings.Contains(msg, "Harness.Cut and Harness.Restart are nil")
}

func TestConformanceOnMemPassesEveryCase(t *testing.T) {
	code, out, errs := runCmd(t, "", "conformance", "-json", "-lease", "200ms", "mem://")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q\n%s", code, errs, out)
	}
	cases, sum := confCases(t, out)
	if len(cases) != len(conformance.Cases()) {
		t.Errorf("%d case lines, want %d", len(cases), len(conformance.Cases()))
	}
	for _, c := range conformance.Cases() {
		got, ok := cases[c.Name]
		switch {
		case !ok:
			t.Errorf("no line for case %s", c.Name)
		case got.Status == "SKIP" && !needsHarness(got.Message):
			t.Errorf("%s skipped on mem: %s", c.Name, got.Message)
		case got.Status != "PASS" && got.Status != "SKIP":
			t.Errorf("%s: %s %s", c.Name, got.Status, got.Message)
		case got.Rule != c.Rule:
			t.Errorf("%s: rule %q, want %q", c.Name, got.Rule, c.Rule)
		}
	}
	if sum.Failed != 0 || sum.Passed+sum.Skipped != len(conformance.Cases()) || sum.Passed < len(conformance.Cases())-5 {
		t.Errorf("summary %+v", sum)
	}
	if !strings.HasPrefix(sum.Prefix, "portmq-conformance-") || sum.Lease != "200ms" {
		t.Errorf("summary prefix %q, lease %q", sum.Prefix, sum.Lease)
	}
}

func TestConformanceTextOutputHasALinePerCaseAndASummary(t *testing.T) {
	code, out, errs := runCmd(t, "", "conformance", "mem://", "-lease", "200ms", "-run", "^(AckedMessageIsNotRedelivered|DelayedMessageIsNotDeliveredEarly)$",
		"-skip", "DelayedMessageIsNotDeliveredEarly=checked elsewhere", "-prefix", "cli-text")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q\n%s", code, errs, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("want a header, 2 case lines and a summary, got:\n%s", out)
	}
	if !strings.Contains(lines[0], "prefix cli-text") {
		t.Errorf("header %q does not name the prefix", lines[0])
	}
	if !strings.HasPrefix(lines[1], "PASS  AckedMessageIsNotRedelivered ") || !strings.HasSuffix(lines[1], "s") {
		t.Errorf("case line %q", lines[1])
	}
	if !strings.HasPrefix(lines[2], "SKIP  DelayedMessageIsNotDeliveredEarly") || !strings.Contains(lines[2], "checked elsewhere") {
		t.Errorf("skip line %q lacks the reason", lines[2])
	}
	want := "1 passed, 0 failed, 1 skipped, " + strconv.Itoa(len(conformance.Cases())-2) + " not selected by -run"
	if !strings.Contains(lines[3], want) {
		t.Errorf("summary %q, want %q", lines[3], want)
	}
}

// memTemplates describe mem:// through URL templates, as for a backend
// without an admin; visibility is what the subscriptions' lease becomes.
func memTemplates(visibility string) []string {
	return []string{
		"-topic-url", "mem://{name}?dedup_window=1m",
		"-subscription-url", "mem://{name}/{sub}?visibility=" + visibility + "&max_attempts={max_attempts}&dead_letter={name}-dlq",
		"-dlq-url", "mem://{name}-dlq/{sub}",
	}
}

const templateCases = "^(UnackedMessageIsRedeliveredAfterLease|AckedMessageIsNotRedelivered|NackedToMaxAttemptsIsDeadLettered|EverySubscriptionGetsEveryMessage)$"

func TestConformanceFromTemplatesPasses(t *testing.T) {
	args := append([]string{"conformance", "-lease", "200ms", "-run", templateCases, "mem://"}, memTemplates("{lease}")...)
	code, out, errs := runCmd(t, "", args...)
	if code != exitOK || !strings.Contains(out, "4 passed, 0 failed") {
		t.Fatalf("exit %d, stderr %q\n%s", code, errs, out)
	}
	if !strings.Contains(out, "provisioned through the templates") {
		t.Errorf("header does not say the templates provisioned:\n%s", out)
	}
}

// A harness whose subscriptions never redeliver in time (a lease of an
// hour where the suite expects 200 ms) fails, naming the case.
func TestConformanceFailsOnABrokenHarnessNamingTheCase(t *testing.T) {
	args := append([]string{"conformance", "-lease", "200ms", "-run", templateCases, "mem://"}, memTemplates("1h")...)
	code, out, errs := runCmd(t, "", args...)
	if code != exitError {
		t.Fatalf("exit %d, want %d; stderr %q\n%s", code, exitError, errs, out)
	}
	var failLine string
	for l := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(l, "FAIL  UnackedMessageIsRedeliveredAfterLease") {
			failLine = l
		}
	}
	if failLine == "" || !strings.Contains(failLine, "redeliver") && !strings.Contains(failLine, "deliver") {
		t.Errorf("no FAIL line with the failure for UnackedMessageIsRedeliveredAfterLease:\n%s", out)
	}
	if !strings.Contains(out, "FAILED: ") || !strings.Contains(out[strings.Index(out, "FAILED: "):], "UnackedMessageIsRedeliveredAfterLease") {
		t.Errorf("summary does not name the failing case:\n%s", out)
	}
	if strings.Contains(out, "PASS  UnackedMessageIsRedeliveredAfterLease") || !strings.Contains(out, "PASS  AckedMessageIsNotRedelivered") {
		t.Errorf("want the redelivery case failed and the ack case passed:\n%s", out)
	}
}

func TestConformanceUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"conformance"},
		{"conformance", "-run", "(", "mem://"},
		{"conformance", "-skip", "NoSuchCase=because", "mem://"},
		{"conformance", "-skip", "AckedMessageIsNotRedelivered", "mem://"},
		{"conformance", "-prefix", "Bad Prefix", "mem://"},
		{"conformance", "-lease", "-1s", "mem://"},
		{"conformance", "-container", "frobnicate"},
		{"conformance", "-container", "kafka", "mem://"},
		{"conformance", "frob://x"},
		{"conformance", "-topic-url", "mem://t", "-subscription-url", "mem://t/{sub}", "mem://"},
		{"conformance", "-topic-url", "mem://{name}", "mem://"},
		{"conformance", "-cut", "mem://"},
		{"conformance", "-container", "nats"},
	} {
		code, _, errs := runCmd(t, "", args...)
		if code != exitUsage || !strings.Contains(errs, "usage: portmq conformance") {
			t.Errorf("%q: exit %d, stderr %q; want %d and the usage line", args, code, errs, exitUsage)
		}
	}
}

func TestConformanceContainerWithoutDockerSaysWhatToInstall(t *testing.T) {
	if containers.DockerAvailable(t.Context()) == nil {
		t.Skip("a Docker engine answers here: this test is of machines without one")
	}
	code, out, errs := runCmd(t, "", "conformance", "-container", "kafka")
	if code != exitError || !strings.Contains(errs, "install Docker") {
		t.Errorf("exit %d, stderr %q, stdout %q; want 1 and what to install", code, errs, out)
	}
}

func TestContainerURLsAreOnesTheCommandProvisions(t *testing.T) {
	for name, want := range map[string]string{
		"kafka":      "kafka://h:1/",
		"rabbitmq":   "amqp://guest:guest@h:1/",
		"amqp":       "amqp://guest:guest@h:1/",
		"sqs":        "sqs://?region=us-east-1&endpoint=http://h:1",
		"localstack": "sqs://?region=us-east-1&endpoint=http://h:1",
		"sns":        "sns://?region=us-east-1&endpoint=http://h:1",
		"gcppubsub":  "gcppubsub://projects/portmq-test",
		"pubsub":     "gcppubsub://projects/portmq-test",
		"redis":      "redis://h:1/0",
		"postgres":   "postgres://postgres:postgres@h:1/portmq?sslmode=disable",
		"nats":       "",
	} {
		b, _ := containers.Lookup(name)
		if got := containerURL(b, name, "h", 1); got != want {
			t.Errorf("containerURL(%s) = %q, want %q", name, got, want)
		}
	}
}

func TestProvisionerNamesStayUnderThePrefixAndTheLimit(t *testing.T) {
	p := &provisioner{prefix: "portmq-conformance-abc123", max: 80}
	long := "cf-consumer-runs-handler-to-success-once-per-dedup-i-9f8e7d123"
	seen := map[string]bool{}
	for _, s := range []string{"a", long, long + "-s0", long + "-s1", long + "x"} {
		n := p.name(s, 12)
		if !strings.HasPrefix(n, p.prefix+"-") || len(n) > 80-12 {
			t.Errorf("name(%q) = %q (%d bytes): want the prefix and at most %d bytes", s, n, len(n), 80-12)
		}
		if seen[n] {
			t.Errorf("name(%q) = %q twice", s, n)
		}
		seen[n] = true
	}
	if got := p.name("a", 0); got != "portmq-conformance-abc123-a" {
		t.Errorf("short name changed: %q", got)
	}
}

// rabbitCases is the subset run against RabbitMQ: a case per kind of
// rule and two that cut the network through -cut's fault proxy (the whole
// suite takes minutes at a 1 s lease, and drivers/rabbitmq runs it in
// full).
const rabbitCases = "^(SentMessageSurvivesProducerShutdown|UnackedMessageIsRedeliveredAfterLease|NackedToMaxAttemptsIsDeadLettered|DeadLetterMovesAtOnce|SameKeyIsDeliveredInSendOrder|EverySubscriptionGetsEveryMessage|SubscriptionNameIsScopedToTopic|ErrorsNeverContainPassword|SendDuringCutSucceedsAfterIt|ReceiveBlockedAcrossCutGetsLaterMessage)$"

func TestConformanceOnRabbitMQPassesAndCleansUp(t *testing.T) {
	u := testenv.RabbitMQURL()
	c, err := amqp.DialConfig(u, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
	if err != nil {
		testenv.Unavailable(t, "RabbitMQ at "+u, err, testenv.RabbitMQHowToStart)
	}
	_ = c.Close()
	// drivers/rabbitmq restarts the broker in its reconnect case while
	// holding this lock exclusively.
	lock, err := testenv.LockBroker("rabbitmq", false)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Unlock() }()
	var b [3]byte
	_, _ = rand.Read(b[:])
	prefix := "cli-test-" + hex.EncodeToString(b[:])
	code, out, errs := runCmd(t, "", "conformance", "-json", "-cut", "-run", rabbitCases, "-prefix", prefix, u)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q\n%s", code, errs, out)
	}
	cases, sum := confCases(t, out)
	if len(cases) != 10 || sum.Passed != 10 {
		t.Errorf("want 10 cases passed, got summary %+v:\n%s", sum, out)
	}
	if strings.Contains(out, "guest:guest") {
		t.Errorf("output holds the password:\n%s", out)
	}
	// Everything created was under the prefix and is gone.
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Log("rabbitmqctl not found: the cleanup check is skipped")
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for _, what := range []string{"list_queues", "list_exchanges"} {
		o, err := exec.CommandContext(ctx, "rabbitmqctl", "-q", what, "name").CombinedOutput()
		if err != nil {
			t.Fatalf("rabbitmqctl %s: %v: %s", what, err, o)
		}
		if strings.Contains(string(o), prefix) {
			t.Errorf("rabbitmqctl %s still lists resources of the run:\n%s", what, o)
		}
	}
}

// backendCases is the subset run against the in-process fakes of the
// other schemes of the table, enough to check its URLs: a subscription
// that redelivers, dead-letters and fans out, and a subscription name
// reused on another topic.
const backendCases = "^(UnackedMessageIsRedeliveredAfterLease|NackedToMaxAttemptsIsDeadLettered|EverySubscriptionGetsEveryMessage|SubscriptionNameIsScopedToTopic)$"

// wantPassed runs the command and checks that every selected case passed.
func wantPassed(t *testing.T, n int, args ...string) {
	t.Helper()
	code, out, errs := runCmd(t, "", append([]string{"conformance", "-json", "-run", backendCases}, args...)...)
	cases, sum := confCases(t, out)
	if code != exitOK || sum.Passed != n || len(cases) != n {
		t.Fatalf("exit %d, summary %+v, stderr %q\n%s", code, sum, errs, out)
	}
}

func TestConformanceOnKafkaFake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100*time.Millisecond), kfake.BrokerConfigs(map[string]string{
		"share.record.lock.sweep.interval.ms": "50",
		"group.share.heartbeat.interval.ms":   "100",
		"group.share.session.timeout.ms":      "3000",
		"group.share.record.lock.duration.ms": "1000",
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fast := "-subscription-query=idle_leave=300ms&heartbeat_interval=100ms&session_timeout=3s&fetch_max_wait=200ms"
	base := "kafka://" + strings.Join(c.ListenAddrs(), ",") + "/"
	t.Run("group", func(t *testing.T) { wantPassed(t, 4, "-lease", "1s", fast, base) })
	t.Run("share", func(t *testing.T) { wantPassed(t, 4, "-lease", "1s", fast, base+"?mode=share") })
}

func TestConformanceOnPubSubFake(t *testing.T) {
	pstest.SetMinAckDeadline(time.Second)
	srv := pstest.NewServer()
	defer srv.Close()
	t.Setenv("PUBSUB_EMULATOR_HOST", srv.Addr)
	wantPassed(t, 4, "-lease", "1s", "gcppubsub://projects/portmq-cli-test")
}

// serverURL returns the test server's URL (env, else def) once something
// answers at its host (port defPort when it names none); it skips (fails
// in CI) otherwise.
func serverURL(t *testing.T, what, env, def, defPort, how string) *url.URL {
	t.Helper()
	u := os.Getenv(env)
	if u == "" {
		u = def
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	addr := pu.Host
	if pu.Port() == "" {
		addr = net.JoinHostPort(pu.Hostname(), defPort)
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		testenv.Unavailable(t, what+" at "+mq.Redact(u), err, how+" (or set "+env+")")
	}
	_ = c.Close()
	return pu
}

// conformanceSubset is the subset run on Redis and PostgreSQL: a case per
// kind of behaviour and one cut.
const conformanceSubset = "^(UnackedMessageIsRedeliveredAfterLease|NackedToMaxAttemptsIsDeadLettered|EverySubscriptionGetsEveryMessage|SubscriptionNameIsScopedToTopic|SameKeyIsDeliveredInSendOrder|SendDuringCutSucceedsAfterIt)$"

func TestConformanceOnRedis(t *testing.T) {
	u := serverURL(t, "Redis", "PORTMQ_TEST_REDIS_URL", "redis://127.0.0.1:6379/0", "6379", "start it with: redis-server --daemonize yes")
	// The redis driver's own tests take a key prefix of their own; this
	// run's keys are named by its -prefix.
	wantPassed(t, 6, "-cut", "-run", conformanceSubset, u.String())
}

// TestConformanceOnPostgreSQL runs the subset, a cut case among them, on
// the test server, in a schema of its own, and checks that nothing of the
// run's prefix is left.
func TestConformanceOnPostgreSQL(t *testing.T) {
	pu := serverURL(t, "PostgreSQL", "PORTMQ_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test", "5432", "start it with: pg_ctlcluster 15 main start")
	u := pu.String()
	q := pu.Query()
	q.Set("schema", "portmq_cli_test")
	pu.RawQuery = q.Encode()
	prefix := fmt.Sprintf("cli-pg-%d", time.Now().UnixNano())
	wantPassed(t, 6, "-cut", "-prefix", prefix, "-run", conformanceSubset, pu.String())
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var left int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM portmq_cli_test.topics WHERE name LIKE $1`, prefix+"%").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d topics of the run's prefix left", left)
	}
}

func TestConformanceOnSQSAndSNSFakes(t *testing.T) {
	s := sqstest.Shared(t)
	t.Cleanup(sqstest.Stop)
	for _, scheme := range []string{"sqs", "sns"} {
		t.Run(scheme, func(t *testing.T) { wantPassed(t, 4, scheme+"://?"+s.Query()) })
	}
}

func TestConformanceHelpShowsItsFlags(t *testing.T) {
	code, out, errs := runCmd(t, "", "conformance", "-h")
	if code != exitOK || errs != "" || !strings.HasPrefix(out, "usage: portmq conformance") || !strings.Contains(out, "Example:") {
		t.Fatalf("exit %d, stderr %q:\n%s", code, errs, out)
	}
	for _, f := range []string{"-prefix", "-run", "-json", "-lease", "-granularity", "-timeout", "-skip", "-topic-url", "-subscription-url", "-dlq-url", "-topic-query", "-subscription-query", "-cut", "-container"} {
		if !strings.Contains(out, "  "+f+" ") && !strings.Contains(out, "  "+f+"\n") {
			t.Errorf("help lacks flag %s", f)
		}
	}
	_, list, _ := runCmd(t, "", "help")
	if !strings.Contains(list, "conformance") {
		t.Errorf("the command list lacks conformance:\n%s", list)
	}
}
