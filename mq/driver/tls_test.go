package driver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeKeyPair writes a self-signed certificate and its key as PEM files
// in dir and returns their paths.
func writeKeyPair(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for path, b := range map[string]*pem.Block{certPath: {Type: "CERTIFICATE", Bytes: der}, keyPath: {Type: "EC PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certPath, keyPath
}

func TestQueryTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeKeyPair(t, dir)
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("secret-content"), 0o600); err != nil {
		t.Fatal(err)
	}
	query := func(t *testing.T, raw string) Query {
		t.Helper()
		q, err := ParseQuery("x", &url.URL{RawQuery: raw}, TLSParams...)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	t.Run("plaintext", func(t *testing.T) {
		for _, raw := range []string{"", "tls=false"} {
			if cfg, err := query(t, raw).TLS("x"); cfg != nil || err != nil {
				t.Errorf("%q: got %v, %v; want nil, nil", raw, cfg, err)
			}
		}
	})
	t.Run("full", func(t *testing.T) {
		raw := "tls=true&tls_server_name=broker&tls_insecure_skip_verify=true&tls_ca=" + url.QueryEscape(cert) +
			"&tls_cert=" + url.QueryEscape(cert) + "&tls_key=" + url.QueryEscape(key)
		cfg, err := query(t, raw).TLS("x")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.MinVersion != tls.VersionTLS12 || cfg.ServerName != "broker" || !cfg.InsecureSkipVerify ||
			cfg.RootCAs == nil || len(cfg.Certificates) != 1 {
			t.Errorf("config %+v", cfg)
		}
	})
	t.Run("tls only", func(t *testing.T) {
		cfg, err := query(t, "tls=true").TLS("x")
		if err != nil || cfg == nil || cfg.RootCAs != nil || cfg.InsecureSkipVerify || cfg.Certificates != nil {
			t.Errorf("got %+v, %v", cfg, err)
		}
	})
	for _, c := range []struct{ name, raw, want string }{
		{"bad tls", "tls=maybe", `"tls" must be a boolean`},
		{"ca without tls", "tls_ca=/x.pem", `"tls_ca" needs tls=true`},
		{"server name with tls=false", "tls=false&tls_server_name=x", `"tls_server_name" needs tls=true`},
		{"bad skip verify", "tls=true&tls_insecure_skip_verify=yes please", `"tls_insecure_skip_verify" must be a boolean`},
		{"missing CA", "tls=true&tls_ca=" + url.QueryEscape(filepath.Join(dir, "none.pem")), "cannot read"},
		{"CA not PEM", "tls=true&tls_ca=" + url.QueryEscape(junk), "no PEM certificate"},
		{"cert without key", "tls=true&tls_cert=" + url.QueryEscape(cert), "go together"},
		{"key without cert", "tls=true&tls_key=" + url.QueryEscape(key), "go together"},
		{"bad pair", "tls=true&tls_cert=" + url.QueryEscape(junk) + "&tls_key=" + url.QueryEscape(key), "cannot load the key pair"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := query(t, c.raw).TLS("x")
			if cfg != nil || err == nil || !errors.Is(err, ErrInvalidURL) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, %v; want an invalid-URL error containing %q", cfg, err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "x: ") || strings.Contains(err.Error(), "secret-content") {
				t.Errorf("error %q: want the prefix and no file content", err)
			}
		})
	}
}
