package driver

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"strconv"
)

// TLSParams are the URL parameters Query.TLS reads; a driver whose URLs
// take them adds them to what ParseQuery allows.
var TLSParams = []string{"tls", "tls_ca", "tls_cert", "tls_key", "tls_insecure_skip_verify", "tls_server_name"}

// TLS returns the TLS configuration the TLSParams ask for, or nil for
// plaintext (no tls=true): tls=true connects with TLS 1.2 or later;
// tls_ca names a PEM file of root certificates, tls_cert and tls_key the
// PEM files of a client key pair (both or neither); tls_server_name and
// tls_insecure_skip_verify set the like-named fields. Every parameter but
// tls needs tls=true. Its errors wrap ErrInvalidURL and name a file but
// never show its content.
func (q Query) TLS(prefix string) (*tls.Config, error) {
	on, err := q.Bool(prefix, "tls")
	if err != nil {
		return nil, err
	}
	for _, k := range TLSParams[1:] {
		if _, ok := q[k]; ok && !on {
			return nil, QueryError(prefix, "parameter "+strconv.Quote(k)+" needs tls=true")
		}
	}
	if !on {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: q["tls_server_name"]}
	if cfg.InsecureSkipVerify, err = q.Bool(prefix, "tls_insecure_skip_verify"); err != nil {
		return nil, err
	}
	if path, ok := q["tls_ca"]; ok {
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, QueryError(prefix, "parameter \"tls_ca\": cannot read "+strconv.Quote(path))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, QueryError(prefix, "parameter \"tls_ca\": no PEM certificate in "+strconv.Quote(path))
		}
		cfg.RootCAs = pool
	}
	cert, hasCert := q["tls_cert"]
	key, hasKey := q["tls_key"]
	if hasCert != hasKey {
		return nil, QueryError(prefix, "parameters \"tls_cert\" and \"tls_key\" go together")
	}
	if hasCert {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, QueryError(prefix, "parameters \"tls_cert\" and \"tls_key\": cannot load the key pair")
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
