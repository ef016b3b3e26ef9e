package memdriver

import (
	"github.com/portmq/portmq/mq/driver"
)

// errorCode classifies an error returned by this package: every error
// memdriver makes is a *driver.Error or wraps driver.ErrInvalidURL.
func errorCode(err error) driver.ErrorCode { return driver.CodeOf(err) }

func invalid(msg string) error {
	return driver.NewError(driver.InvalidArgument, "memdriver: "+msg)
}

func notFound(msg string) error { return driver.NewError(driver.NotFound, "memdriver: "+msg) }

var (
	errTopicClosed   = driver.NewError(driver.Closed, "memdriver: topic handle is closed")
	errSubClosed     = driver.NewError(driver.Closed, "memdriver: subscription handle is closed")
	errAdminClosed   = driver.NewError(driver.Closed, "memdriver: admin is closed")
	errNackDelayEmul = driver.NewError(driver.Unsupported, "memdriver: nack delay is emulated on this handle (emulate=nack_delay)")
	errDeadLetterEmu = driver.NewError(driver.Unsupported, "memdriver: dead-lettering is emulated on this handle (emulate=dead_letter)")
)

// asEngine implements the As methods: only **Engine is supported.
func asEngine(e *Engine, i any) bool {
	if p, ok := i.(**Engine); ok && p != nil {
		*p = e
		return true
	}
	return false
}
