// Package sqstest gives tests of the sqs and sns drivers an SQS/SNS
// endpoint: moto (the AWS emulator, https://github.com/getmoto/moto)
// started on a free loopback port, or the endpoint named by
// PORTMQ_TEST_SQS_ENDPOINT. It also has a TCP proxy that can cut the
// connection to the endpoint for a while, to test reconnecting.
//
// A test calls Shared, which starts moto once per test process; Main
// stops it after the tests ran and checks for leaked goroutines:
//
//	func TestMain(m *testing.M) { os.Exit(sqstest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		srv := sqstest.Shared(t) // skips, or fails in CI, without moto
//		u := "sqs://orders?" + srv.Query()
//		...
//	}
//
// RunConformance runs portmq's conformance suite on the server, with
// queues, FIFO queues or SNS topics (see Mode).
package sqstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portmq/portmq/internal/testenv"
)

// EndpointEnv names the variable that points the tests at another
// endpoint serving both SQS and SNS: a URL (localstack, a moto started
// elsewhere), or "aws" for the real AWS endpoints with the SDK's default
// credentials. RegionEnv sets the region (default us-east-1).
const (
	EndpointEnv = "PORTMQ_TEST_SQS_ENDPOINT"
	RegionEnv   = "PORTMQ_TEST_SQS_REGION"
)

// HowToStart says how to make an endpoint available.
const HowToStart = "install moto so that moto_server is on PATH (pip install 'moto[server]'), " +
	"or set " + EndpointEnv + " to the URL of an SQS and SNS endpoint, or to \"aws\" for real AWS"

// The dummy credentials tests use with moto. Tests check that they never
// appear in an error.
const (
	AccessKeyID     = "AKIAPORTMQTESTKEY000"
	SecretAccessKey = "portmq-test-secret-never-print-me"
)

// Server is an SQS/SNS endpoint for tests.
type Server struct {
	// Endpoint is the endpoint's base URL; empty for real AWS.
	Endpoint string
	// Region is the region to use.
	Region string
	// Moto is true for a moto started by this package.
	Moto bool

	cmd    *exec.Cmd
	log    *os.File
	exited chan error // the result of cmd.Wait
}

// Query returns the URL query parameters that reach the server, for
// example "region=us-east-1&endpoint=http%3A%2F%2F127.0.0.1%3A5000".
func (s *Server) Query() string {
	v := url.Values{}
	v.Set("region", s.Region)
	if s.Endpoint != "" {
		v.Set("endpoint", s.Endpoint)
	}
	return v.Encode()
}

// Reset drops every queue and topic of a moto server (POST
// /moto-api/reset). It does nothing on other endpoints.
func (s *Server) Reset(ctx context.Context) error {
	if !s.Moto {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint+"/moto-api/reset", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("sqstest: moto reset: %s", resp.Status)
	}
	return nil
}

var (
	sharedMu  sync.Mutex
	shared    *Server
	sharedErr error
	started   bool
)

// Shared returns the process's server, starting it on first use; without
// one it ends the test through testenv.Unavailable (a skip, or a failure
// with PORTMQ_REQUIRE_SERVERS=1).
func Shared(tb testing.TB) *Server {
	tb.Helper()
	sharedMu.Lock()
	if !started {
		started = true
		shared, sharedErr = FromEnv(context.Background())
	}
	s, err := shared, sharedErr
	sharedMu.Unlock()
	if err != nil {
		testenv.Unavailable(tb, "an SQS/SNS endpoint (moto_server)", err, HowToStart)
	}
	return s
}

// Stop stops the server Shared started, if any.
func Stop() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil {
		shared.Close()
	}
	shared, sharedErr, started = nil, nil, false
}

// FromEnv returns the endpoint named by PORTMQ_TEST_SQS_ENDPOINT, or
// starts moto. With moto it sets the AWS credential variables of the
// process to the dummy AccessKeyID and SecretAccessKey.
func FromEnv(ctx context.Context) (*Server, error) {
	region := os.Getenv(RegionEnv)
	if region == "" {
		region = "us-east-1"
	}
	switch ep := os.Getenv(EndpointEnv); ep {
	case "":
	case "aws":
		return &Server{Region: region}, nil
	default:
		return &Server{Endpoint: ep, Region: region}, nil
	}
	s, err := Start(ctx)
	if err != nil {
		return nil, err
	}
	s.Region = region
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":         AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":     SecretAccessKey,
		"AWS_SESSION_TOKEN":         "",
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		if err := os.Setenv(k, v); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Start starts moto_server on a free loopback port and waits until it
// answers.
func Start(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, err
	}
	var last error
	for range 3 {
		s, err := start(ctx, bin)
		if err == nil {
			return s, nil
		}
		last = err
	}
	return nil, last
}

func start(ctx context.Context, bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	log, err := os.CreateTemp("", "portmq-moto-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		os.Remove(log.Name())
		return nil, err
	}
	s := &Server{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), Moto: true, cmd: cmd, log: log, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if err := s.ping(ctx); err == nil {
			return s, nil
		}
		select {
		case err := <-s.exited:
			s.exited <- err
			tail := s.logTail()
			s.Close()
			return nil, fmt.Errorf("moto_server exited (%v): %s", err, tail)
		case <-ctx.Done():
			s.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Close()
			return nil, errors.New("moto_server did not answer within 90s")
		}
	}
}

func (s *Server) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/moto-api/", nil)
	if err != nil {
		return err
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func (s *Server) logTail() string {
	b, err := os.ReadFile(s.log.Name())
	if err != nil {
		return err.Error()
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// Close stops a moto server this package started (its whole process
// group) and removes its log. It does nothing for other endpoints.
func (s *Server) Close() {
	if s == nil || s.cmd == nil {
		return
	}
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.exited
	}
	s.cmd = nil
	s.log.Close()
	os.Remove(s.log.Name())
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
