package containers

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The URLs each container yields, reached at 127.0.0.1:1234.
var wantURLs = map[string]map[string]string{
	"kafka":      {"kafka": "kafka://127.0.0.1:1234/"},
	"rabbitmq":   {"rabbitmq": "amqp://guest:guest@127.0.0.1:1234/"},
	"redis":      {"redis": "redis://127.0.0.1:1234/0"},
	"nats":       {"nats": "nats://127.0.0.1:1234"},
	"postgres":   {"postgres": "postgres://postgres:postgres@127.0.0.1:1234/portmq?sslmode=disable"},
	"localstack": {"sqs": "sqs://?region=us-east-1&endpoint=http://127.0.0.1:1234", "sns": "sns://?region=us-east-1&endpoint=http://127.0.0.1:1234", "kinesis": "kinesis://?region=us-east-1&endpoint=http://127.0.0.1:1234"},
	"pubsub":     {"gcppubsub": "gcppubsub://projects/portmq-test"},
}

var wantImages = map[string]string{
	"kafka":      "apache/kafka:4.1.0",
	"rabbitmq":   "rabbitmq:4.1-alpine",
	"redis":      "redis:7.4-alpine",
	"nats":       "nats:2.11-alpine",
	"postgres":   "postgres:17-alpine",
	"localstack": "localstack/localstack:4.4",
	"pubsub":     "gcr.io/google.com/cloudsdktool/google-cloud-cli:528.0.0-emulators",
}

var wantPorts = map[string]string{
	"kafka": "9092/tcp", "rabbitmq": "5672/tcp", "redis": "6379/tcp", "nats": "4222/tcp",
	"postgres": "5432/tcp", "localstack": "4566/tcp", "pubsub": "8085/tcp",
}

var wantModules = map[string]string{
	"kafka": "", "rabbitmq": "", // see the package doc
	"redis":      "github.com/testcontainers/testcontainers-go/modules/redis",
	"nats":       "github.com/testcontainers/testcontainers-go/modules/nats",
	"postgres":   "github.com/testcontainers/testcontainers-go/modules/postgres",
	"localstack": "github.com/testcontainers/testcontainers-go/modules/localstack",
	"pubsub":     "github.com/testcontainers/testcontainers-go/modules/gcloud",
}

// request returns b's request (its module's, built without Docker).
func request(t *testing.T, b Backend) testcontainers.ContainerRequest {
	t.Helper()
	// The dry run must not need an engine.
	t.Setenv("DOCKER_HOST", "unix://"+t.TempDir()+"/no-docker.sock")
	req, err := b.Request("127.0.0.1", 39092)
	if err != nil {
		t.Fatalf("%s: %v", b.Name, err)
	}
	return req
}

func TestEveryBackendHasItsImagePortModuleAndURLs(t *testing.T) {
	got := map[string]bool{}
	for _, b := range Backends() {
		got[b.Name] = true
		if b.Image != wantImages[b.Name] {
			t.Errorf("%s: image %q, want %q", b.Name, b.Image, wantImages[b.Name])
		}
		if tag := b.Image[strings.LastIndexByte(b.Image, ':')+1:]; tag == "latest" || !strings.Contains(b.Image, ":") {
			t.Errorf("%s: image %q is not pinned", b.Name, b.Image)
		}
		if b.Port != wantPorts[b.Name] {
			t.Errorf("%s: port %q, want %q", b.Name, b.Port, wantPorts[b.Name])
		}
		if b.Module != wantModules[b.Name] {
			t.Errorf("%s: module %q, want %q", b.Name, b.Module, wantModules[b.Name])
		}
		if u := b.URLs("127.0.0.1", 1234); !maps.Equal(u, wantURLs[b.Name]) {
			t.Errorf("%s: URLs %v, want %v", b.Name, u, wantURLs[b.Name])
		}
		req := request(t, b)
		if req.Image != b.Image || req.WaitingFor == nil || req.Labels["org.portmq.test"] != b.Name {
			t.Errorf("%s: request %+v lacks image, wait strategy or label", b.Name, req)
		}
		// LocalStack's module exposes its port before the options
		// the dry run sees (see Request).
		if !b.SamePort && !b.engineFirst && !slices.Contains(req.ExposedPorts, b.Port) {
			t.Errorf("%s: exposes %v, want %s", b.Name, req.ExposedPorts, b.Port)
		}
	}
	for name := range wantImages {
		if !got[name] {
			t.Errorf("no backend %s", name)
		}
	}
}

// The request of a backend with a module is the module's (its defaults
// are in it) with this package's options applied over them.
func TestModulesBuildTheRequestsWithOurOptionsOverTheirs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cmd     []string // nil: not checked
		exposed []string
		env     map[string]string
	}{
		// The module's ports; "-js" replaces its "-DV -js".
		{name: "nats", cmd: []string{"-js"}, exposed: []string{"4222/tcp", "6222/tcp", "8222/tcp"}},
		// The module's command and port; the database the URL names
		// replaces its default (the user's name).
		{name: "postgres", cmd: []string{"postgres", "-c", "fsync=off"}, exposed: []string{"5432/tcp"},
			env: map[string]string{"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "postgres", "POSTGRES_DB": "portmq"}},
		{name: "redis", exposed: []string{"6379/tcp"}},
		// The module's command, with the project the URL names.
		{name: "pubsub", cmd: []string{"/bin/sh", "-c", "gcloud beta emulators pubsub start --host-port 0.0.0.0:8085 --project=portmq-test"},
			exposed: []string{"8085/tcp"}},
		// Only this package's options (see Request).
		{name: "localstack", env: map[string]string{"SERVICES": "sqs,sns,kinesis", "EAGER_SERVICE_LOADING": "1"}},
		{name: "rabbitmq", exposed: []string{"5672/tcp"}, env: map[string]string{"RABBITMQ_DEFAULT_USER": "guest", "RABBITMQ_DEFAULT_PASS": "guest"}},
	} {
		req := request(t, mustLookup(t, tc.name))
		if tc.cmd != nil && !slices.Equal(req.Cmd, tc.cmd) {
			t.Errorf("%s: command %q, want %q", tc.name, req.Cmd, tc.cmd)
		}
		if !slices.Equal(req.ExposedPorts, tc.exposed) {
			t.Errorf("%s: exposes %q, want %q", tc.name, req.ExposedPorts, tc.exposed)
		}
		for k, v := range tc.env {
			if req.Env[k] != v {
				t.Errorf("%s: %s=%q, want %q", tc.name, k, req.Env[k], v)
			}
		}
	}
}

// strategies flattens a wait strategy into its parts.
func strategies(s wait.Strategy) []wait.Strategy {
	if m, ok := s.(*wait.MultiStrategy); ok {
		var out []wait.Strategy
		for _, c := range m.Strategies {
			out = append(out, strategies(c)...)
		}
		return out
	}
	return []wait.Strategy{s}
}

// Each server is ready when it logs its ready line (and, but for
// LocalStack, whose health endpoint answers, listens on its port): the
// line each waits for is in the one its server logs when ready.
func TestWaitStrategiesWaitForTheServersReadyLine(t *testing.T) {
	readyLine := map[string]string{
		"kafka":      "[2025-10-01 10:00:00,000] INFO [KafkaRaftServer nodeId=1] Kafka Server started (kafka.server.KafkaRaftServer)",
		"rabbitmq":   "2025-10-01 10:00:00.000000+00:00 [info] <0.606.0> Server startup complete; 0 plugins started.",
		"redis":      "1:M 01 Oct 2025 10:00:00.000 * Ready to accept connections tcp",
		"nats":       "[1] 2025/10/01 10:00:00.000000 [INF] Server is ready",
		"postgres":   "2025-10-01 10:00:00.000 UTC [1] LOG:  database system is ready to accept connections",
		"localstack": "Ready.",
		"pubsub":     "[pubsub] INFO: Server started, listening on 8085",
	}
	for _, b := range Backends() {
		var logs []string
		listens, http := false, false
		for _, s := range strategies(request(t, b).WaitingFor) {
			switch s := s.(type) {
			case *wait.LogStrategy:
				logs = append(logs, s.Log)
				if !strings.Contains(readyLine[b.Name], s.Log) {
					t.Errorf("%s: waits for %q, which its ready line %q lacks", b.Name, s.Log, readyLine[b.Name])
				}
				if b.Name == "postgres" && s.Occurrence != 2 {
					t.Errorf("postgres: waits for %d ready lines, want 2 (the image starts the server twice)", s.Occurrence)
				}
			case *wait.HostPortStrategy:
				listens = true
			case *wait.HTTPStrategy:
				http = s.Path == "/_localstack/health"
			}
		}
		if len(logs) == 0 {
			t.Errorf("%s: waits for no log line", b.Name)
		}
		if b.Name == "localstack" && !http || b.Name != "localstack" && !listens {
			t.Errorf("%s: listening %v, health endpoint %v", b.Name, listens, http)
		}
	}
}

// Kafka advertises the address clients use, so its container port is the
// host port, bound at start.
func TestKafkaAdvertisesTheHostPort(t *testing.T) {
	b := mustLookup(t, "kafka")
	req := request(t, b)
	if got := req.Env["KAFKA_ADVERTISED_LISTENERS"]; got != "PLAINTEXT://127.0.0.1:39092" {
		t.Errorf("advertised listeners %q", got)
	}
	if got := req.Env["KAFKA_LISTENERS"]; got != "PLAINTEXT://:39092,CONTROLLER://:9093" {
		t.Errorf("listeners %q", got)
	}
	if !slices.Equal(req.ExposedPorts, []string{"39092/tcp"}) {
		t.Errorf("exposed %v", req.ExposedPorts)
	}
	hc := &container.HostConfig{}
	req.HostConfigModifier(hc)
	bind := hc.PortBindings[network.MustParsePort("39092/tcp")]
	if len(bind) != 1 || bind[0].HostPort != "39092" {
		t.Errorf("port bindings %v", hc.PortBindings)
	}
	if strings.Contains(kafkaEnv["KAFKA_ADVERTISED_LISTENERS"], "39092") {
		t.Error("Request changed the backend's own environment")
	}
}

func TestLookupTakesServerAndDriverNames(t *testing.T) {
	for name, server := range map[string]string{
		"kafka": "kafka", "rabbitmq": "rabbitmq", "amqp": "rabbitmq", "sqs": "localstack", "sns": "localstack",
		"kinesis": "localstack", "gcppubsub": "pubsub", "pubsub": "pubsub", "postgres": "postgres", "redis": "redis", "nats": "nats",
	} {
		b, ok := Lookup(name)
		if !ok || b.Name != server {
			t.Errorf("Lookup(%q) = %q, %v; want %q", name, b.Name, ok, server)
		}
	}
	if _, ok := Lookup("frob"); ok {
		t.Error("Lookup(frob) found a backend")
	}
	s := &Server{Backend: mustLookup(t, "localstack"), Host: "h", Port: 1}
	if s.URL("sqs") != "sqs://?region=us-east-1&endpoint=http://h:1" || s.URL("rabbitmq") != "" {
		t.Errorf("Server.URL: sqs %q, rabbitmq %q", s.URL("sqs"), s.URL("rabbitmq"))
	}
	if s.Env()["AWS_ACCESS_KEY_ID"] == "" {
		t.Error("localstack gives no credentials for the SDK")
	}
	ps := &Server{Backend: mustLookup(t, "gcppubsub"), Host: "h", Port: 2}
	if ps.Env()["PUBSUB_EMULATOR_HOST"] != "h:2" || ps.URL("pubsub") != "gcppubsub://projects/portmq-test" {
		t.Errorf("pubsub: env %v, URL %q", ps.Env(), ps.URL("pubsub"))
	}
}

func mustLookup(t *testing.T, name string) Backend {
	t.Helper()
	b, ok := Lookup(name)
	if !ok {
		t.Fatalf("no backend %s", name)
	}
	return b
}

// noDocker points the Docker client at a socket that does not exist.
func noDocker(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+t.TempDir()+"/no-docker.sock")
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	if err := DockerAvailable(t.Context()); err == nil {
		t.Skip("a Docker engine answers even so")
	}
}

func TestWithoutDockerStartSaysWhatToInstall(t *testing.T) {
	noDocker(t)
	err := DockerAvailable(t.Context())
	if !errors.Is(err, ErrNoDocker) || !strings.Contains(err.Error(), "install Docker") {
		t.Errorf("DockerAvailable: %v", err)
	}
	for _, b := range Backends() { // modules too: LocalStack's panics without an engine
		s, err := Start(t.Context(), b.Name)
		if s != nil || !errors.Is(err, ErrNoDocker) {
			t.Errorf("Start(%s): %v, %v; want ErrNoDocker", b.Name, s, err)
		}
	}
	if _, err := Start(t.Context(), "frob"); err == nil || !strings.Contains(err.Error(), "unknown server") {
		t.Errorf("Start(frob): %v", err)
	}
}

// skipped runs ForTest in a subtest and reports whether it skipped (and
// never got past ForTest).
func skipped(t *testing.T, name string) bool {
	t.Helper()
	var was, passed bool
	t.Run(name, func(t *testing.T) {
		t.Cleanup(func() { was = t.Skipped() })
		ForTest(t, name)
		passed = true
	})
	return was && !passed
}

func TestForTestSkipsUnlessEnabled(t *testing.T) {
	t.Setenv(EnableEnv, "")
	for _, b := range Backends() {
		if !skipped(t, b.Name) {
			t.Errorf("%s: ForTest did not skip with %s unset", b.Name, EnableEnv)
		}
	}
}

func TestForTestWithoutDockerSkips(t *testing.T) {
	noDocker(t)
	t.Setenv(EnableEnv, "1")
	t.Setenv("PORTMQ_REQUIRE_SERVERS", "")
	if !skipped(t, "kafka") {
		t.Error("ForTest did not skip without Docker")
	}
}
