package driver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// realNetErrors produces, on loopback, the errors the net and crypto/tls
// packages really return for a refused dial, a reset read, a broken
// write, a read timeout and a TLS handshake the server cut.
func realNetErrors(t *testing.T) map[string]error {
	t.Helper()
	out := map[string]error{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func() (net.Conn, net.Conn) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return c, <-accepted
	}
	rst := func(c net.Conn) {
		_ = c.(*net.TCPConn).SetLinger(0)
		_ = c.Close()
	}

	c, s := dial()
	rst(s)
	_, out["read after reset"] = c.Read(make([]byte, 1))
	c.Close()

	c, s = dial()
	s.Close()
	_, out["read after close (EOF)"] = c.Read(make([]byte, 1))
	c.Close()

	c, s = dial()
	rst(s)
	_, _ = c.Read(make([]byte, 1)) // sees the RST
	for i := 0; i < 100 && out["write after reset"] == nil; i++ {
		_, out["write after reset"] = c.Write([]byte("x"))
	}
	c.Close()

	c, s = dial()
	_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
	_, out["read timeout"] = c.Read(make([]byte, 1))
	c.Close()
	s.Close()

	c, _ = dial()
	c.Close()
	_, out["read on a closed connection"] = c.Read(make([]byte, 1))

	go func() {
		if s, ok := <-accepted; ok {
			rst(s)
		}
	}()
	_, out["TLS handshake cut"] = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})

	ln.Close()
	for range accepted {
	}
	_, out["refused dial"] = net.Dial("tcp", addr)
	for name, err := range out {
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
	}
	return out
}

func TestNetworkCodeOfRealConnectionLosses(t *testing.T) {
	for name, err := range realNetErrors(t) {
		if c, ok := NetworkCode(err); !ok || c != Unavailable {
			t.Errorf("%s: NetworkCode(%v) = %v, %v; want Unavailable", name, err, c, ok)
		}
		if c, ok := NetworkCode(fmt.Errorf("driver: send: %w", err)); !ok || c != Unavailable {
			t.Errorf("%s, wrapped: NetworkCode = %v, %v; want Unavailable", name, c, ok)
		}
	}
}

func TestNetworkCode(t *testing.T) {
	op := func(o string, err error) error { return &net.OpError{Op: o, Net: "tcp", Err: err} }
	cases := []struct {
		err  error
		want ErrorCode
		ok   bool
	}{
		{nil, OK, false},
		{errors.New("other"), Unknown, false},
		{&Error{Code: NotFound, Msg: "x"}, Unknown, false},
		{context.Canceled, Canceled, true},
		{context.DeadlineExceeded, DeadlineExceeded, true},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), DeadlineExceeded, true},
		{io.EOF, Unavailable, true},
		{io.ErrUnexpectedEOF, Unavailable, true},
		{io.ErrClosedPipe, Unavailable, true},
		{net.ErrClosed, Unavailable, true},
		{os.ErrDeadlineExceeded, Unavailable, true},
		{syscall.ECONNREFUSED, Unavailable, true},
		{syscall.ECONNRESET, Unavailable, true},
		{syscall.ECONNABORTED, Unavailable, true},
		{syscall.EPIPE, Unavailable, true},
		{syscall.ETIMEDOUT, Unavailable, true},
		{syscall.EHOSTUNREACH, Unavailable, true},
		{syscall.ENETUNREACH, Unavailable, true},
		{op("dial", os.NewSyscallError("connect", syscall.ECONNREFUSED)), Unavailable, true},
		{op("read", os.NewSyscallError("read", syscall.ECONNRESET)), Unavailable, true},
		{op("write", os.NewSyscallError("write", syscall.EPIPE)), Unavailable, true},
		{op("dial", errors.New("something the dialer said")), Unavailable, true},
		{&net.DNSError{Err: "server misbehaving", Name: "broker", IsTemporary: true}, Unavailable, true},
		{&net.DNSError{Err: "i/o timeout", Name: "broker", IsTimeout: true}, Unavailable, true},
		{op("dial", &net.DNSError{Err: "no such host", Name: "brokr", IsNotFound: true}), InvalidArgument, true},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, Unknown, false},
		{&net.AddrError{Err: "missing port in address", Addr: "h"}, Unknown, false},
	}
	for _, c := range cases {
		if got, ok := NetworkCode(c.err); got != c.want || ok != c.ok {
			t.Errorf("NetworkCode(%v) = %v, %v; want %v, %v", c.err, got, ok, c.want, c.ok)
		}
	}
}

func TestNetErrorAsFillsOnlyTheNetworksTypes(t *testing.T) {
	op := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	err := fmt.Errorf("open: %w", op)
	var ne net.Error
	if !NetErrorAs(err, &ne) || ne != op {
		t.Errorf("*net.Error target: %v", ne)
	}
	var gotOp *net.OpError
	if !NetErrorAs(err, &gotOp) || gotOp != op {
		t.Errorf("**net.OpError target: %v", gotOp)
	}
	var pe *os.PathError
	if NetErrorAs(err, &pe) || NetErrorAs(err, nil) || NetErrorAs(errors.New("x"), &gotOp) {
		t.Error("NetErrorAs accepted a foreign target or an error without a network error")
	}
}
