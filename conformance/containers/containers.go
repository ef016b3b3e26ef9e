// Package containers starts a real server for each portmq backend in a
// Docker container, with testcontainers-go, and returns the URLs to test
// with: Kafka, RabbitMQ, Redis, NATS, PostgreSQL, LocalStack (SQS, SNS and
// Kinesis) and Google's Pub/Sub emulator.
//
// Drivers' tests call [ForTest], which runs only when
// PORTMQ_TEST_CONTAINERS=1 and a Docker engine answers:
//
//	func TestConformanceContainer(t *testing.T) {
//		srv := containers.ForTest(t, "rabbitmq")
//		conformance.Run(t, harness(srv.URL("rabbitmq")))
//	}
//
// Without PORTMQ_TEST_CONTAINERS=1 the test skips (the container path is
// opt-in); with it and no Docker engine it skips with a message saying
// what to install, or fails when PORTMQ_REQUIRE_SERVERS=1. The portmq
// CLI's conformance command starts the same containers with -container.
//
// Only the core module of testcontainers-go is used (GenericContainer and
// its wait strategies): its per-technology modules are not served by the
// module proxy this project builds with, so each [Backend] here says
// itself which image, port, environment, command and wait strategy its
// server needs. Images are pinned to a minor version.
package containers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// EnableEnv is the variable that turns the container tests on.
const EnableEnv = "PORTMQ_TEST_CONTAINERS"

// HowToInstall says what a machine needs for the container tests.
const HowToInstall = "install Docker (docker.io or Docker Desktop) and make sure `docker info` works for this user (or set DOCKER_HOST), then run with " + EnableEnv + "=1"

// Enabled reports whether PORTMQ_TEST_CONTAINERS asks for the container
// tests.
func Enabled() bool {
	v := os.Getenv(EnableEnv)
	return v != "" && v != "0" && v != "false"
}

// Backend describes the container of one server.
type Backend struct {
	// Name is the server's name: kafka, rabbitmq, redis, nats, postgres,
	// localstack or pubsub.
	Name string
	// Drivers are the names [Lookup] also accepts for it, the portmq URL
	// schemes its server backs (for example sqs, sns and kinesis for
	// localstack).
	Drivers []string
	// Image is the image, pinned to a minor version.
	Image string
	// Port is the container port the URLs reach, for example "9092/tcp".
	Port string
	// SamePort makes the host port equal to the container port's number,
	// chosen free on the host at start: for servers that advertise their
	// own address to clients (Kafka), which must then be the host's.
	SamePort bool
	// Env and Cmd configure the server. For a SamePort backend, {port} in
	// them is the chosen port and {host} the Docker host.
	Env map[string]string
	Cmd []string
	// Wait returns the strategy that says the server is ready, for the
	// container port port.
	Wait func(port string) wait.Strategy
	// urls returns the URLs for each driver, given the host and port the
	// server is reached at.
	urls func(host string, port int) map[string]string
	// env returns the environment a client needs besides the URL (for
	// example PUBSUB_EMULATOR_HOST), given the host and port.
	env func(host string, port int) map[string]string
}

// startup bounds how long a server may take to become ready once its
// image was pulled.
const startup = 3 * time.Minute

func logWait(line string, n int) func(string) wait.Strategy {
	return func(port string) wait.Strategy {
		return wait.ForAll(
			wait.ForLog(line).WithOccurrence(n).WithStartupTimeout(startup),
			wait.ForListeningPort(port).WithStartupTimeout(startup),
		)
	}
}

// PubSubProject is the project the Pub/Sub emulator's URLs name.
const PubSubProject = "portmq-test"

// LocalStackRegion is the region the LocalStack URLs name.
const LocalStackRegion = "us-east-1"

var backends = []Backend{
	{
		Name:     "kafka",
		Image:    "apache/kafka:4.1.0",
		Port:     "9092/tcp",
		SamePort: true,
		Env: map[string]string{
			"KAFKA_NODE_ID":                                          "1",
			"KAFKA_PROCESS_ROLES":                                    "broker,controller",
			"KAFKA_LISTENERS":                                        "PLAINTEXT://:{port},CONTROLLER://:9093",
			"KAFKA_ADVERTISED_LISTENERS":                             "PLAINTEXT://{host}:{port}",
			"KAFKA_CONTROLLER_LISTENER_NAMES":                        "CONTROLLER",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":                   "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
			"KAFKA_CONTROLLER_QUORUM_VOTERS":                         "1@localhost:9093",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":                 "1",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR":         "1",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":                    "1",
			"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
			"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR":            "1",
			"KAFKA_GROUP_COORDINATOR_REBALANCE_PROTOCOLS":            "classic,consumer,share",
			"KAFKA_UNSTABLE_API_VERSIONS_ENABLE":                     "true",
			"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":                 "0",
		},
		Wait: logWait("Kafka Server started", 1),
		urls: func(host string, port int) map[string]string {
			return map[string]string{"kafka": "kafka://" + hostPort(host, port) + "/"}
		},
	},
	{
		Name:    "rabbitmq",
		Drivers: []string{"amqp"},
		Image:   "rabbitmq:4.1-alpine",
		Port:    "5672/tcp",
		Env:     map[string]string{"RABBITMQ_DEFAULT_USER": "guest", "RABBITMQ_DEFAULT_PASS": "guest"},
		Wait:    logWait("Server startup complete", 1),
		urls: func(host string, port int) map[string]string {
			return map[string]string{"rabbitmq": "amqp://guest:guest@" + hostPort(host, port) + "/"}
		},
	},
	{
		Name:  "redis",
		Image: "redis:7.4-alpine",
		Port:  "6379/tcp",
		Wait:  logWait("Ready to accept connections", 1),
		urls: func(host string, port int) map[string]string {
			return map[string]string{"redis": "redis://" + hostPort(host, port) + "/0"}
		},
	},
	{
		Name:  "nats",
		Image: "nats:2.11-alpine",
		Port:  "4222/tcp",
		Cmd:   []string{"-js"},
		Wait:  logWait("Server is ready", 1),
		urls: func(host string, port int) map[string]string {
			return map[string]string{"nats": "nats://" + hostPort(host, port)}
		},
	},
	{
		Name:    "postgres",
		Drivers: []string{"postgresql"},
		Image:   "postgres:17-alpine",
		Port:    "5432/tcp",
		Env:     map[string]string{"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "postgres", "POSTGRES_DB": "portmq"},
		// The image starts the server twice: once to initialise, then
		// for good.
		Wait: logWait("database system is ready to accept connections", 2),
		urls: func(host string, port int) map[string]string {
			return map[string]string{"postgres": "postgres://postgres:postgres@" + hostPort(host, port) + "/portmq?sslmode=disable"}
		},
	},
	{
		Name:    "localstack",
		Drivers: []string{"sqs", "sns", "kinesis"},
		Image:   "localstack/localstack:4.4",
		Port:    "4566/tcp",
		Env:     map[string]string{"SERVICES": "sqs,sns,kinesis", "EAGER_SERVICE_LOADING": "1"},
		Wait: func(port string) wait.Strategy {
			return wait.ForAll(
				wait.ForHTTP("/_localstack/health").WithPort(port).WithStartupTimeout(startup),
				wait.ForLog("Ready.").WithStartupTimeout(startup),
			)
		},
		urls: func(host string, port int) map[string]string {
			q := "?region=" + LocalStackRegion + "&endpoint=http://" + hostPort(host, port)
			return map[string]string{
				"sqs":     "sqs://" + q,
				"sns":     "sns://" + q,
				"kinesis": "kinesis://" + q,
			}
		},
		env: func(string, int) map[string]string {
			// LocalStack takes any credentials; the SDK needs some.
			return map[string]string{"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": LocalStackRegion}
		},
	},
	{
		// The SDK version of the emulator .ci/run tests against.
		Name:    "pubsub",
		Drivers: []string{"gcppubsub"},
		Image:   "gcr.io/google.com/cloudsdktool/google-cloud-cli:528.0.0-emulators",
		Port:    "8085/tcp",
		Cmd:     []string{"gcloud", "beta", "emulators", "pubsub", "start", "--host-port=0.0.0.0:8085", "--project=" + PubSubProject},
		Wait:    logWait("Server started", 1),
		urls: func(string, int) map[string]string {
			return map[string]string{"gcppubsub": "gcppubsub://projects/" + PubSubProject}
		},
		env: func(host string, port int) map[string]string {
			return map[string]string{"PUBSUB_EMULATOR_HOST": hostPort(host, port)}
		},
	},
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// Backends returns every backend, in a fixed order.
func Backends() []Backend { return slices.Clone(backends) }

// Lookup returns the backend named name, or whose Drivers hold it.
func Lookup(name string) (Backend, bool) {
	for _, b := range backends {
		if b.Name == name || slices.Contains(b.Drivers, name) {
			return b, true
		}
	}
	return Backend{}, false
}

// Names lists the names Lookup accepts.
func Names() []string {
	var out []string
	for _, b := range backends {
		out = append(out, b.Name)
		out = append(out, b.Drivers...)
	}
	slices.Sort(out)
	return out
}

// URLs returns the URL of each driver the server backs when it is reached
// at host:port.
func (b Backend) URLs(host string, port int) map[string]string { return b.urls(host, port) }

// ClientEnv returns the environment a client needs besides the URLs
// (nil when none).
func (b Backend) ClientEnv(host string, port int) map[string]string {
	if b.env == nil {
		return nil
	}
	return b.env(host, port)
}

// Request returns the container request for the backend. For a SamePort
// backend, host and port are the Docker host and the host port chosen;
// others ignore them.
func (b Backend) Request(host string, port int) testcontainers.ContainerRequest {
	ctrPort := b.Port
	env := make(map[string]string, len(b.Env))
	expand := strings.NewReplacer("{host}", host, "{port}", strconv.Itoa(port)).Replace
	for k, v := range b.Env {
		env[k] = v
		if b.SamePort {
			env[k] = expand(v)
		}
	}
	req := testcontainers.ContainerRequest{
		Image:  b.Image,
		Env:    env,
		Cmd:    slices.Clone(b.Cmd),
		Labels: map[string]string{"org.portmq.test": b.Name},
	}
	if b.SamePort {
		ctrPort = strconv.Itoa(port) + "/tcp"
		p := network.MustParsePort(ctrPort)
		req.HostConfigModifier = func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{p: {{HostIP: netip.IPv4Unspecified(), HostPort: strconv.Itoa(port)}}}
		}
	}
	req.ExposedPorts = []string{ctrPort}
	req.WaitingFor = b.Wait(ctrPort)
	return req
}

// Server is a running container.
type Server struct {
	Backend Backend
	// Host and Port reach the server.
	Host string
	Port int
	c    testcontainers.Container
}

// URL returns the URL of driver (a name of the backend's Drivers, or its
// Name) on the server, or "" if the server does not back it.
func (s *Server) URL(driver string) string {
	urls := s.Backend.URLs(s.Host, s.Port)
	if u, ok := urls[driver]; ok {
		return u
	}
	if driver == s.Backend.Name && len(urls) == 1 {
		for _, u := range urls {
			return u
		}
	}
	return ""
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return hostPort(s.Host, s.Port) }

// Env returns the environment a client of the server needs besides its
// URLs, for example PUBSUB_EMULATOR_HOST.
func (s *Server) Env() map[string]string { return s.Backend.ClientEnv(s.Host, s.Port) }

// Terminate stops and removes the container.
func (s *Server) Terminate(ctx context.Context) error {
	if s == nil || s.c == nil {
		return nil
	}
	return s.c.Terminate(ctx)
}

// ErrNoDocker is matched by the error of DockerAvailable and Start when
// no Docker engine answers.
var ErrNoDocker = errors.New("containers: no Docker engine answers")

// DockerAvailable returns nil if a Docker engine answers, else an error
// matching ErrNoDocker that says what to install.
func DockerAvailable(ctx context.Context) (err error) {
	defer func() {
		// The Docker client panics on some malformed DOCKER_HOST values.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w (%v); %s", ErrNoDocker, r, HowToInstall)
		}
	}()
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return fmt.Errorf("%w (%v); %s", ErrNoDocker, err, HowToInstall)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.Health(ctx); err != nil { // Health closes p
		return fmt.Errorf("%w (%v); %s", ErrNoDocker, err, HowToInstall)
	}
	return nil
}

// Start starts the server named name (see Lookup) and waits until it is
// ready. The caller terminates it.
func Start(ctx context.Context, name string) (*Server, error) {
	b, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("containers: unknown server %q; known: %s", name, strings.Join(Names(), ", "))
	}
	if err := DockerAvailable(ctx); err != nil {
		return nil, err
	}
	host, port := "", 0
	if b.SamePort {
		var err error
		if host, err = dockerHost(ctx); err != nil {
			return nil, err
		}
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	req := b.Request(host, port)
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	if err != nil {
		if c != nil {
			_ = c.Terminate(context.WithoutCancel(ctx))
		}
		return nil, fmt.Errorf("containers: start %s (%s): %w", b.Name, b.Image, err)
	}
	s := &Server{Backend: b, c: c, Host: host, Port: port}
	if !b.SamePort {
		if s.Host, err = c.Host(ctx); err == nil {
			var p network.Port
			if p, err = c.MappedPort(ctx, req.ExposedPorts[0]); err == nil {
				s.Port = int(p.Num())
			}
		}
		if err != nil {
			_ = c.Terminate(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("containers: %s: mapped port: %w", b.Name, err)
		}
	}
	return s, nil
}

// dockerHost returns the host the Docker engine publishes ports on.
func dockerHost(ctx context.Context) (string, error) {
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return "", fmt.Errorf("%w (%v); %s", ErrNoDocker, err, HowToInstall)
	}
	defer p.Close()
	return p.DaemonHost(ctx)
}

// freePort returns a TCP port free on this host right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
