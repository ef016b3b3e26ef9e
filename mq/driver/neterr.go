package driver

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// NetworkCode classifies the errors of the network under a client
// library, so that every driver reports a connection loss the same way: a
// context's errors are Canceled and DeadlineExceeded (as mq classifies
// them); an error of the connection itself is Unavailable (retryable: a
// new connection may work). It reports false for an error it does not
// recognise, which the driver then classifies itself or reports Unknown.
// Drivers call it from ErrorCode after their client's own codes, so that a
// native error that wraps a network error keeps its native code.
//
// Unavailable are: io.EOF and io.ErrUnexpectedEOF (the peer closed the
// connection, also inside a TLS handshake, where crypto/tls passes the
// transport's error through), io.ErrClosedPipe, net.ErrClosed (a
// connection closed under a pending call), the errno values of a refused,
// reset, aborted, broken, timed-out or unreachable connection, any
// *net.OpError (a failed dial, read or write), any net.Error whose Timeout
// is true (os.ErrDeadlineExceeded, a TLS handshake timeout), and a
// *net.DNSError except a name that does not exist (InvalidArgument: fix the
// address).
func NetworkCode(err error) (ErrorCode, bool) {
	switch {
	case err == nil:
		return OK, false
	case errors.Is(err, context.Canceled):
		return Canceled, true
	case errors.Is(err, context.DeadlineExceeded):
		return DeadlineExceeded, true
	}
	if de, ok := errors.AsType[*net.DNSError](err); ok {
		if de.IsNotFound && !de.IsTemporary && !de.IsTimeout {
			return InvalidArgument, true
		}
		return Unavailable, true
	}
	for _, target := range lostConnection {
		if errors.Is(err, target) {
			return Unavailable, true
		}
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return Unavailable, true
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return Unavailable, true
	}
	return Unknown, false
}

// lostConnection are the sentinel and errno errors of a connection that
// was cut, refused or timed out.
var lostConnection = [...]error{
	io.EOF, io.ErrUnexpectedEOF, io.ErrClosedPipe, net.ErrClosed, os.ErrDeadlineExceeded,
	syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
	syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN, syscall.EHOSTDOWN,
}

// NetErrorAs is errors.As for the network's error types, the part every
// driver's ErrorAs shares: it fills a *net.Error or **net.OpError target
// from err's chain and reports false for any other target.
func NetErrorAs(err error, target any) bool {
	switch p := target.(type) {
	case *net.Error:
		return errors.As(err, p)
	case **net.OpError:
		return errors.As(err, p)
	}
	return false
}
