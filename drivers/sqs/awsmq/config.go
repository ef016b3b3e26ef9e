package awsmq

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/portmq/portmq/mq/driver"
)

// Conn is an aws.Config for one driver handle. When the handle owns the
// HTTP client (the config was loaded, not given), Close closes its idle
// connections, so that a closed handle leaves no goroutines behind.
type Conn struct {
	Config aws.Config
	tr     *http.Transport
}

// Close closes the idle connections of an owned HTTP client.
func (c *Conn) Close() {
	if c != nil && c.tr != nil {
		c.tr.CloseIdleConnections()
	}
}

// Load returns the configuration for p. With base nil it loads the SDK's
// default configuration (environment, shared files, IAM role) for p's
// region and profile, caches it for later handles with the same region and
// profile (so they share credentials), and gives the handle its own HTTP
// client. With base non-nil it copies base and keeps base's HTTP client if
// it has one. p.Endpoint, if set, becomes the base endpoint. A config
// without a region is an error.
func Load(ctx context.Context, drv string, base *aws.Config, p Params) (*Conn, error) {
	var cfg aws.Config
	if base != nil {
		cfg = base.Copy()
		if p.Region != "" {
			cfg.Region = p.Region
		}
	} else {
		var err error
		if cfg, err = loadDefault(ctx, p.Region, p.Profile); err != nil {
			return nil, err
		}
	}
	if cfg.Region == "" {
		return nil, driver.NewError(driver.InvalidArgument, drv+": no AWS region: set the region query parameter, AWS_REGION or a profile's region")
	}
	if p.Endpoint != "" {
		cfg.BaseEndpoint = aws.String(p.Endpoint)
	}
	c := &Conn{Config: cfg}
	if base == nil || base.HTTPClient == nil {
		// A copy of the SDK's transport keeps its settings (a custom CA
		// bundle from AWS_CA_BUNDLE, for one) and has its own connections.
		if bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
			c.tr = bc.GetTransport()
		} else {
			c.tr = awshttp.NewBuildableClient().GetTransport()
		}
		c.Config.HTTPClient = &http.Client{
			Transport: c.tr,
			// Like the SDK's own client: hand redirects back to the SDK.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return c, nil
}

type cacheKey struct{ region, profile string }

var (
	cacheMu sync.Mutex
	cache   = map[cacheKey]aws.Config{}
)

func loadDefault(ctx context.Context, region, profile string) (aws.Config, error) {
	k := cacheKey{region, profile}
	cacheMu.Lock()
	cfg, ok := cache[k]
	cacheMu.Unlock()
	if ok {
		return cfg.Copy(), nil
	}
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// The SDK's loading errors name files and profiles, not secrets.
		return aws.Config{}, &driver.Error{Code: loadCode(err), Msg: "loading the AWS configuration", Err: err}
	}
	cacheMu.Lock()
	cache[k] = cfg
	cacheMu.Unlock()
	return cfg.Copy(), nil
}

func loadCode(err error) driver.ErrorCode {
	var pe config.SharedConfigProfileNotExistError
	if errors.As(err, &pe) {
		return driver.NotFound
	}
	return driver.InvalidArgument
}

// Load loads the configuration for the connection parameters of q (see
// the package-level Load); with base non-nil the profile parameter does
// not apply.
func (q Query) Load(ctx context.Context, base *aws.Config) (*Conn, error) {
	p, err := q.Params()
	if err != nil {
		return nil, err
	}
	if base != nil {
		p.Profile = ""
	}
	return Load(ctx, q.drv, base, p)
}

// AdminConn loads the configuration of an admin URL, which takes the
// connection parameters only (a host, if given, is ignored); with base
// non-nil the profile parameter does not apply.
func AdminConn(ctx context.Context, drv string, u *url.URL, base *aws.Config) (*Conn, error) {
	if err := CheckURL(drv, u); err != nil {
		return nil, err
	}
	q, err := ParseQuery(drv, u, ConnParams)
	if err != nil {
		return nil, err
	}
	return q.Load(ctx, base)
}

// Handle is what the drivers' topics share: the error methods of
// driver.Common, and a Close that closes an owned connection once.
type Handle struct {
	Errors
	Conn   *Conn // owned by the handle; nil when the client is the caller's
	closed atomic.Bool
}

// IsClosed reports whether Close was called.
func (h *Handle) IsClosed() bool { return h.closed.Load() }

// Close implements driver.Common; later calls do nothing.
func (h *Handle) Close() error {
	if !h.closed.Swap(true) {
		h.Conn.Close()
	}
	return nil
}
