package scenario

import (
	"errors"
	"flag"
	"time"
)

// Config describes one run of the scenario. DefaultConfig gives the
// defaults; RegisterFlags binds every field to a command-line flag.
type Config struct {
	// ProducerURL is where the order service publishes.
	ProducerURL string
	// SubscriptionURL is where the payment service consumes. It must set
	// a max attempts and a dead-letter destination.
	SubscriptionURL string
	// DLQURL is a subscription on the dead-letter destination, read back
	// at the end to check what was dead-lettered. It is opened before
	// anything is sent.
	DLQURL string

	// Orders is how many distinct orders the burst holds.
	Orders int
	// Burst is how long the order service takes to publish them, paced
	// evenly.
	Burst time.Duration
	// Rate bounds payment attempts per second (0: unbounded).
	Rate float64
	// Concurrency is how many payments run at once.
	Concurrency int
	// FailRate is the fraction of orders whose first payment attempt fails
	// transiently (retried with backoff).
	FailRate float64
	// PoisonRate is the fraction of orders that can never be paid: half
	// fail with a permanent error (dead-lettered at once), half fail on
	// every attempt (dead-lettered at max attempts).
	PoisonRate float64
	// DupRate is the fraction of orders the order service sends twice with
	// the same DedupID, as a client retrying after a timeout would.
	DupRate float64
	// Seed makes the choice of failing, poison and duplicated orders
	// reproducible.
	Seed uint64
	// Timeout bounds the whole run.
	Timeout time.Duration
}

// Default URLs: topic "orders", subscription "payments", dead letters on
// topic "orders.payments.dlq". The producer URL sets no dedup window, so
// duplicates reach the payment service and its idempotency store.
const (
	DefaultProducerURL     = "mem://orders"
	DefaultSubscriptionURL = "mem://orders/payments?max_attempts=5&dead_letter=orders.payments.dlq&visibility=30s"
	DefaultDLQURL          = "mem://orders.payments.dlq/dlq"
)

// DefaultConfig returns the spike: 20 000 orders in one second (10× a
// normal 2 000 orders/s) against a payment service limited to 4 000
// payments/s, with 5 % transient failures, 0.1 % poison orders and 2 %
// duplicates. On mem:// it runs in about six seconds.
func DefaultConfig() Config {
	return Config{
		ProducerURL:     DefaultProducerURL,
		SubscriptionURL: DefaultSubscriptionURL,
		DLQURL:          DefaultDLQURL,
		Orders:          20000,
		Burst:           time.Second,
		Rate:            4000,
		Concurrency:     16,
		FailRate:        0.05,
		PoisonRate:      0.001,
		DupRate:         0.02,
		Seed:            1,
		Timeout:         2 * time.Minute,
	}
}

// RegisterFlags binds c's fields to flags on fs, with c's current values as
// defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.ProducerURL, "producer-url", c.ProducerURL, "`URL` the order service publishes to")
	fs.StringVar(&c.SubscriptionURL, "subscription-url", c.SubscriptionURL, "`URL` the payment service consumes from (needs max attempts and a dead-letter destination)")
	fs.StringVar(&c.DLQURL, "dlq-url", c.DLQURL, "`URL` of a subscription on the dead-letter destination")
	fs.IntVar(&c.Orders, "orders", c.Orders, "number of distinct orders in the burst")
	fs.DurationVar(&c.Burst, "burst", c.Burst, "how long the burst of orders lasts")
	fs.Float64Var(&c.Rate, "rate", c.Rate, "payment attempts per second (0: unbounded)")
	fs.IntVar(&c.Concurrency, "concurrency", c.Concurrency, "payments running at once")
	fs.Float64Var(&c.FailRate, "fail-rate", c.FailRate, "fraction of orders whose first payment fails transiently")
	fs.Float64Var(&c.PoisonRate, "poison-rate", c.PoisonRate, "fraction of orders that can never be paid (dead-lettered)")
	fs.Float64Var(&c.DupRate, "dup-rate", c.DupRate, "fraction of orders sent twice with the same DedupID")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "random seed for choosing failing, poison and duplicated orders")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "give up if the run takes longer")
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.ProducerURL == "" || c.SubscriptionURL == "" || c.DLQURL == "":
		return errors.New("producer, subscription and DLQ URLs are required")
	case c.Orders < 1:
		return errors.New("orders must be at least 1")
	case c.Burst < 0:
		return errors.New("burst must not be negative")
	case c.Rate < 0:
		return errors.New("rate must not be negative")
	case c.Concurrency < 1:
		return errors.New("concurrency must be at least 1")
	case !fraction(c.FailRate) || !fraction(c.PoisonRate) || !fraction(c.DupRate):
		return errors.New("fail, poison and dup rates must be between 0 and 1")
	case c.FailRate+c.PoisonRate > 1:
		return errors.New("fail rate plus poison rate must not exceed 1")
	case c.Timeout <= 0:
		return errors.New("timeout must be positive")
	}
	return nil
}

func fraction(f float64) bool { return f >= 0 && f <= 1 }
