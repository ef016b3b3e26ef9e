package postgres

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/portmq/portmq/mq/driver"
)

const prefix = "postgres"

// errClosed is returned by calls on a handle after Close.
var errClosed = &driver.Error{Code: driver.Closed, Msg: "postgres: handle is closed"}

// classifier is the driver's error chain: pgx's sentinels, server errors
// and pgconn's timeouts after the driver's errors, before the network's;
// pgconn's connect errors and its "safe to retry" ones after.
var classifier = driver.Classifier{
	Native: func(err error) (driver.ErrorCode, bool) {
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return driver.NotFound, true
		case errors.Is(err, pgx.ErrTxClosed):
			return driver.FailedPrecondition, true
		}
		if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
			return sqlStateCode(pe.Code), true
		}
		// A timeout of pgconn's context watcher.
		return driver.Unavailable, pgconn.Timeout(err)
	},
	Fallback: func(err error) (driver.ErrorCode, bool) {
		if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
			return driver.Unavailable, true
		}
		return driver.Unavailable, pgconn.SafeToRetry(err) || strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "closed pool")
	},
}

// classify returns the code of an error from this driver or pgx.
func classify(err error) driver.ErrorCode { return classifier.Code(err) }

// sqlStateCode maps SQLSTATE classes and codes to portmq codes.
func sqlStateCode(state string) driver.ErrorCode {
	switch state {
	case "23505": // unique_violation
		return driver.AlreadyExists
	case "42P01", "3F000", "42883": // undefined_table, invalid_schema_name, undefined_function
		return driver.NotFound
	case "42501": // insufficient_privilege
		return driver.PermissionDenied
	case "28000", "28P01": // invalid_authorization_specification, invalid_password
		return driver.Unauthenticated
	case "3D000": // invalid_catalog_name: the database does not exist
		return driver.NotFound
	case "40001", "40P01", "55P03": // serialization_failure, deadlock_detected, lock_not_available
		return driver.Unavailable
	case "57014": // query_canceled (statement_timeout)
		return driver.DeadlineExceeded
	case "54000", "53200", "53300", "53400": // program_limit_exceeded, out_of_memory, too_many_connections, configuration_limit_exceeded
		return driver.ResourceExhausted
	case "54001":
		return driver.InvalidArgument
	}
	switch state[:2] {
	case "08", "57": // connection_exception, operator_intervention (admin shutdown, crash shutdown)
		return driver.Unavailable
	case "53": // insufficient_resources
		return driver.ResourceExhausted
	case "22", "42": // data_exception, syntax_error_or_access_rule_violation
		return driver.InvalidArgument
	case "23": // integrity_constraint_violation
		return driver.FailedPrecondition
	case "XX":
		return driver.Internal
	}
	return driver.Unknown
}

// classified wraps err in a *driver.Error carrying its code, for errors
// returned where mq cannot ask a handle (openers, Migrate, Send in a
// transaction). The native error stays reachable with errors.As.
func classified(err error) error { return classifier.Coded(err, prefix) }

// errorAs implements driver.Common.ErrorAs: *pgconn.PgError,
// *pgconn.ConnectError and the network's (driver.NetErrorAs) are the
// native error types.
func errorAs(err error, i any) bool {
	switch p := i.(type) {
	case **pgconn.PgError:
		return errors.As(err, p)
	case **pgconn.ConnectError:
		return errors.As(err, p)
	}
	return driver.NetErrorAs(err, i)
}
