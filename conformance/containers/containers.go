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
// # Modules
//
// Each server is run by its testcontainers-go module where the module
// proxy serves one that builds with the core module at v0.45.0 (go.mod):
//
//   - redis: modules/redis v0.45.0, with its port and wait strategy;
//   - postgres: modules/postgres v0.45.0, with its BasicWaitStrategies
//     (the image starts the server twice) and the user, password and
//     database the URL names;
//   - localstack (sqs, sns, kinesis): modules/localstack v0.45.0, with
//     SERVICES and EAGER_SERVICE_LOADING, waiting for the health endpoint
//     and then the "Ready." line (the module waits for the first only);
//   - pubsub: modules/gcloud v0.45.0 (package pubsub), with the project the
//     URL names;
//   - nats: modules/nats v0.40.0, the newest the proxy serves: it builds
//     with core v0.45.0, as its Run uses only core options whose
//     signatures have not changed since; its command is "-js" without
//     the module's -DV protocol tracing, and it also waits for the
//     "Server is ready" line.
//
// Kafka and RabbitMQ are configured here on the core module
// ([testcontainers.Run]): their modules are served only up to v0.40.0,
// and that version does not compile against core v0.45.0 (it passes
// nat.Port values where the core's wait.ForMappedPort and
// Container.PortEndpoint now take a string), while the core cannot go
// back to v0.40.0, as the other modules at v0.45.0 require v0.45.0.
//
// Images are pinned here, to a minor version or a release, rather than
// taken from the modules' defaults.
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
	"github.com/testcontainers/testcontainers-go/modules/gcloud/pubsub"
	"github.com/testcontainers/testcontainers-go/modules/localstack"
	"github.com/testcontainers/testcontainers-go/modules/nats"
	"github.com/testcontainers/testcontainers-go/modules/postgres"
	"github.com/testcontainers/testcontainers-go/modules/redis"
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
	// Module is the import path of the testcontainers-go module that runs
	// the server, or "" when this package configures it on the core module
	// (see the package doc).
	Module string
	// Image is the image, pinned to a minor version or a release.
	Image string
	// Port is the container port the URLs reach, for example "9092/tcp".
	Port string
	// SamePort makes the host port equal to the container port's number,
	// chosen free on the host at start: for servers that advertise their
	// own address to clients (Kafka), which must then be the host's.
	SamePort bool
	// run is the module's Run (testcontainers.Run for the core module).
	run func(ctx context.Context, img string, opts ...testcontainers.ContainerCustomizer) (testcontainers.Container, error)
	// opts returns this package's options on top of the module's
	// defaults. For a SamePort backend, host and port are the Docker host
	// and the host port chosen; others ignore them.
	opts func(host string, port int) []testcontainers.ContainerCustomizer
	// engineFirst says the module's Run asks the Docker engine before it
	// applies any option (LocalStack's, for the socket to mount), so
	// [Backend.Request] cannot ask it for its request without one.
	engineFirst bool
	// urls returns the URLs for each driver, given the host and port the
	// server is reached at.
	urls func(host string, port int) map[string]string
	// env returns the environment a client needs besides the URL (for
	// example PUBSUB_EMULATOR_HOST), given the host and port.
	env func(host string, port int) map[string]string
}

// startup bounds how long a server configured here may take to become
// ready once its image was pulled (the modules' own wait strategies
// keep their deadlines).
const startup = 3 * time.Minute

// waitFor waits for every strategy within startup.
func waitFor(s ...wait.Strategy) testcontainers.CustomizeRequestOption {
	return testcontainers.WithWaitStrategyAndDeadline(startup, s...)
}

// logAndPort waits for line to be logged n times and for port to listen.
func logAndPort(line string, n int, port string) testcontainers.CustomizeRequestOption {
	return waitFor(
		wait.ForLog(line).WithOccurrence(n).WithStartupTimeout(startup),
		wait.ForListeningPort(port).WithStartupTimeout(startup),
	)
}

// core runs a container on the core module, without a module.
func core(ctx context.Context, img string, opts ...testcontainers.ContainerCustomizer) (testcontainers.Container, error) {
	return asContainer(testcontainers.Run(ctx, img, opts...))
}

// asContainer turns a module's typed container into a
// testcontainers.Container, nil (not a typed nil) when there is none.
func asContainer[C testcontainers.Container](c C, err error) (testcontainers.Container, error) {
	var zero C
	if any(c) == any(zero) {
		return nil, err
	}
	return c, err
}

// PubSubProject is the project the Pub/Sub emulator's URLs name.
const PubSubProject = "portmq-test"

// LocalStackRegion is the region the LocalStack URLs name.
const LocalStackRegion = "us-east-1"

// The PostgreSQL credentials and database the URL names.
const (
	postgresUser     = "postgres"
	postgresPassword = "postgres"
	postgresDB       = "portmq"
)

var kafkaEnv = map[string]string{
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
}

var backends = []Backend{
	{
		Name:     "kafka",
		Image:    "apache/kafka:4.1.0",
		Port:     "9092/tcp",
		SamePort: true,
		run:      core,
		opts: func(host string, port int) []testcontainers.ContainerCustomizer {
			expand := strings.NewReplacer("{host}", host, "{port}", strconv.Itoa(port)).Replace
			env := make(map[string]string, len(kafkaEnv))
			for k, v := range kafkaEnv {
				env[k] = expand(v)
			}
			ctrPort := strconv.Itoa(port) + "/tcp"
			p := network.MustParsePort(ctrPort)
			return []testcontainers.ContainerCustomizer{
				testcontainers.WithEnv(env),
				testcontainers.WithExposedPorts(ctrPort),
				testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
					hc.PortBindings = network.PortMap{p: {{HostIP: netip.IPv4Unspecified(), HostPort: strconv.Itoa(port)}}}
				}),
				logAndPort("Kafka Server started", 1, ctrPort),
			}
		},
		urls: func(host string, port int) map[string]string {
			return map[string]string{"kafka": "kafka://" + hostPort(host, port) + "/"}
		},
	},
	{
		Name:    "rabbitmq",
		Drivers: []string{"amqp"},
		Image:   "rabbitmq:4.1-alpine",
		Port:    "5672/tcp",
		run:     core,
		opts: func(string, int) []testcontainers.ContainerCustomizer {
			return []testcontainers.ContainerCustomizer{
				testcontainers.WithEnv(map[string]string{"RABBITMQ_DEFAULT_USER": "guest", "RABBITMQ_DEFAULT_PASS": "guest"}),
				testcontainers.WithExposedPorts("5672/tcp"),
				logAndPort("Server startup complete", 1, "5672/tcp"),
			}
		},
		urls: func(host string, port int) map[string]string {
			return map[string]string{"rabbitmq": "amqp://guest:guest@" + hostPort(host, port) + "/"}
		},
	},
	{
		Name:   "redis",
		Module: "github.com/testcontainers/testcontainers-go/modules/redis",
		Image:  "redis:7.4-alpine",
		Port:   "6379/tcp",
		run: func(ctx context.Context, img string, opts ...testcontainers.ContainerCustomizer) (testcontainers.Container, error) {
			return asContainer(redis.Run(ctx, img, opts...))
		},
		urls: func(host string, port int) map[string]string {
			return map[string]string{"redis": "redis://" + hostPort(host, port) + "/0"}
		},
	},
	{
		Name:   "nats",
		Module: "github.com/testcontainers/testcontainers-go/modules/nats",
		Image:  "nats:2.11-alpine",
		Port:   "4222/tcp",
		run: func(ctx context.Context, img string, opts ...testcontainers.ContainerCustomizer) (testcontainers.Container, error) {
			return asContainer(nats.Run(ctx, img, opts...))
		},
		opts: func(string, int) []testcontainers.ContainerCustomizer {
			return []testcontainers.ContainerCustomizer{
				testcontainers.WithCmd("-js"),
				testcontainers.WithAdditionalWaitStrategyAndDeadline(startup, wait.ForLog("Server is ready").WithStartupTimeout(startup)),
			}
		},
		urls: func(host string, port int) map[string]string {
			return map[string]string{"nats": "nats://" + hostPort(host, port)}
		},
	},
	{
		Name:    "postgres",
		Drivers: []string{"postgresql"},
		Module:  "github.com/testcontainers/testcontainers-go/modules/postgres",
		Image:   "postgres:17-alpine",
		Port:    "5432/tcp",
		run: func(ctx context.Context, img string, opts ...testcontainers.ContainerCustomizer) (testcontainers.Container, error) {
			return asContainer(postgres.Run(ctx, img, opts...))
		},
		opts: func(string, int) []testcontainers.ContainerCustomizer {
			return []testcontainers.ContainerCustomizer{
				postgres.WithUsername(postgresUser),
				postgres.WithPassword(postgresPassword),
				postgres.WithDatabase(postgresDB),
				// The image starts the server twice: once to
				// initialise, then for good.
				postgres.BasicWaitStrategies(),
			}
		},
		urls: func(host string, port int) map[string]string {
			return map[string]string{"postgres": "postgres://" + postgresUser + ":" + postgresPassword + "@" + hostPort(host, port) + "/" + postgresDB + "?sslmode=disable"}
		},
	},
	{
		Name:        "localstack",
		Drivers:     []string{"sqs", "sns", "kinesis"},
		Module:      "github.com/testcontainers/testcontainers-go/modules/localstack",
		Image:       "localstack/localstack:4.4",
		Port:        "4566/tcp",
		engineFirst: true,
		run: func(ctx context.Context, img string, opts ...testcontainers.ContainerCustomizer) (testcontainers.Container, error) {
			return asContainer(localstack.Run(ctx, img, opts...))
		},
		opts: func(string, int) []testcontainers.ContainerCustomizer {
			return []testcontainers.ContainerCustomizer{
				testcontainers.WithEnv(map[string]string{"SERVICES": "sqs,sns,kinesis", "EAGER_SERVICE_LOADING": "1"}),
				// The health endpoint answers before the services
				// are loaded; "Ready." follows them.
				waitFor(
					wait.ForHTTP("/_localstack/health").WithPort("4566/tcp").WithStartupTimeout(startup),
					wait.ForLog("Ready.").WithStartupTimeout(startup),
				),
			}
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
		Name:    "pubsub",
		Drivers: []string{"gcppubsub"},
		Module:  "github.com/testcontainers/testcontainers-go/modules/gcloud",
		// The SDK version of the emulator .ci/run tests against.
		Image: "gcr.io/google.com/cloudsdktool/google-cloud-cli:528.0.0-emulators",
		Port:  "8085/tcp",
		run: func(ctx context.Context, img string, opts ...testcontainers.ContainerCustomizer) (testcontainers.Container, error) {
			return asContainer(pubsub.Run(ctx, img, opts...))
		},
		opts: func(string, int) []testcontainers.ContainerCustomizer {
			return []testcontainers.ContainerCustomizer{pubsub.WithProjectID(PubSubProject)}
		},
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

// Options returns the options [Start] gives the backend's module (or the
// core module's Run) on top of the module's defaults: a label
// org.portmq.test naming the backend and what the package doc lists. For a SamePort backend, host and port
// are the Docker host and the host port chosen; others ignore them.
func (b Backend) Options(host string, port int) []testcontainers.ContainerCustomizer {
	opts := []testcontainers.ContainerCustomizer{testcontainers.WithLabels(map[string]string{"org.portmq.test": b.Name})}
	if b.opts != nil {
		opts = append(opts, b.opts(host, port)...)
	}
	return opts
}

// errDryRun stops a module's Run once it applied every option.
var errDryRun = errors.New("containers: dry run")

// Request returns the container request [Start] has the backend's module
// send to the Docker engine, without one: it runs the module's Run with a
// last option that records the request and stops it before it reaches
// the engine. LocalStack's module asks the engine for its socket before
// it applies any option, so for it the request is [Backend.Options]
// alone on the image (the module adds port 4566, its health wait, which
// the options replace, a mount of the Docker socket and LOCALSTACK_HOST).
func (b Backend) Request(host string, port int) (testcontainers.ContainerRequest, error) {
	var req testcontainers.ContainerRequest
	record := testcontainers.CustomizeRequestOption(func(r *testcontainers.GenericContainerRequest) error {
		req = r.ContainerRequest
		return errDryRun
	})
	opts := append(b.Options(host, port), record)
	if b.engineFirst {
		g := testcontainers.GenericContainerRequest{ContainerRequest: testcontainers.ContainerRequest{Image: b.Image}}
		for _, o := range opts {
			if err := o.Customize(&g); err != nil && !errors.Is(err, errDryRun) {
				return req, err
			}
		}
		return req, nil
	}
	c, err := b.run(context.Background(), b.Image, opts...)
	if c != nil || !errors.Is(err, errDryRun) {
		return req, fmt.Errorf("containers: %s: the dry run did not stop at its last option: %v", b.Name, err)
	}
	return req, nil
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
	c, err := run(ctx, b, host, port)
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
			if p, err = c.MappedPort(ctx, b.Port); err == nil {
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

// run runs the backend's module. Modules panic when the Docker engine
// they ask for something is gone (LocalStack's, for its socket): that is
// an error matching ErrNoDocker.
func run(ctx context.Context, b Backend, host string, port int) (c testcontainers.Container, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("%w (%v); %s", ErrNoDocker, r, HowToInstall)
		}
	}()
	return b.run(ctx, b.Image, b.Options(host, port)...)
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
