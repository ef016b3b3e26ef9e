package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/portmq/portmq/drivers/postgres"
)

// testSchema is this run's own schema, dropped when the run ends.
var testSchema = func() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "portmq_t" + hex.EncodeToString(b[:])
}()

// appName tags this run's connections, so that the reconnect case can
// cut exactly them.
var appName = "portmq-test-" + testSchema

const howToStart = "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start (or set PORTMQ_TEST_POSTGRES_URL)"

// baseURL is the server's URL: PORTMQ_TEST_POSTGRES_URL, else the local
// server's database test.
func baseURL() string {
	if u := os.Getenv("PORTMQ_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test"
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { dropSchema() }))
}

var (
	serverOnce sync.Once
	serverErr  error
)

func dropSchema() {
	if serverErr != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, baseURL())
	if err != nil {
		return
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "DROP SCHEMA IF EXISTS "+testSchema+" CASCADE"); err != nil {
		fmt.Fprintln(os.Stderr, "postgres tests: dropping the test schema:", err)
	}
}

// serverURL returns the URL of the run's schema with the given query
// pairs, or ends the test when the server is absent.
func serverURL(t testing.TB, kv ...string) string {
	t.Helper()
	serverOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, baseURL())
		if err != nil {
			serverErr = err
			return
		}
		serverErr = c.Ping(ctx)
		_ = c.Close(ctx)
	})
	if serverErr != nil {
		testenvUnavailable(t, serverErr)
	}
	return withQuery(baseURL(), append([]string{"schema", testSchema, "application_name", appName}, kv...)...)
}

// newPool returns a pool on the test server, closed when t ends.
func newPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	u := serverURL(t)
	cfg, err := pgxpool.ParseConfig(baseURL())
	if err != nil {
		t.Fatal(err)
	}
	_ = u
	cfg.ConnConfig.RuntimeParams["application_name"] = appName
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if err := postgres.Migrate(context.Background(), p, testSchema); err != nil {
		t.Fatal(err)
	}
	return p
}

func withQuery(base string, kv ...string) string {
	sep := "?"
	for i := 0; i < len(base); i++ {
		if base[i] == '?' {
			sep = "&"
		}
	}
	s := base
	for i := 0; i+1 < len(kv); i += 2 {
		s += sep + kv[i] + "=" + escape(kv[i+1])
		sep = "&"
	}
	return s
}

func escape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			out = append(out, c)
		} else {
			out = append(out, fmt.Sprintf("%%%02X", c)...)
		}
	}
	return string(out)
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
