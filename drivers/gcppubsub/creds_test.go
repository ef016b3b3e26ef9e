package gcppubsub

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portmq/portmq/mq"
)

// A fake service-account key: what ADC would load from
// GOOGLE_APPLICATION_CREDENTIALS. Its secret parts must never show up in an
// error.
const (
	fakeKeySecret   = "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCsecretkeymaterial"
	fakeKeyID       = "0123456789abcdefsecretkeyid"
	fakeCredentials = `{
  "type": "service_account",
  "project_id": "portmq-creds-test",
  "private_key_id": "` + fakeKeyID + `",
  "private_key": "-----BEGIN PRIVATE KEY-----\n` + fakeKeySecret + `\n-----END PRIVATE KEY-----\n",
  "client_email": "portmq@portmq-creds-test.iam.gserviceaccount.com",
  "client_id": "1234567890",
  "token_uri": "http://127.0.0.1:1/token"
}`
)

// TestCredentialsNeverAppearInErrors points Application Default
// Credentials at a service-account key whose private key is not a key, and
// at a file that is not JSON, and checks every error on the way (open,
// send, receive, admin) for the key's secret parts. Not parallel: it sets
// the environment.
func TestCredentialsNeverAppearInErrors(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"service-account.json": fakeCredentials,
		"broken.json":          `{"type": "service_account", "private_key": "` + fakeKeySecret + `", `,
	}
	t.Setenv("PUBSUB_EMULATOR_HOST", "")
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
		mux := new(mq.URLMux)
		mux.Register(Scheme, &URLOpener{})
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		var errs []error
		p, err := mux.OpenProducer(ctx, "gcppubsub://projects/portmq-creds-test/topics/creds")
		errs = append(errs, err)
		if err == nil {
			errs = append(errs, p.Send(ctx, &mq.Message{Body: []byte("x")}))
			errs = append(errs, p.Shutdown(context.Background()))
		}
		_, err = mux.OpenSubscription(ctx, "gcppubsub://projects/portmq-creds-test/subscriptions/creds")
		errs = append(errs, err)
		a, err := mux.OpenAdmin(ctx, "gcppubsub://projects/portmq-creds-test")
		errs = append(errs, err)
		if err == nil {
			errs = append(errs, a.CreateTopic(ctx, "creds", mq.TopicConfig{}))
			errs = append(errs, a.Close())
		}
		cancel()
		failed := 0
		for _, err := range errs {
			if err == nil {
				continue
			}
			failed++
			t.Logf("%s: %v", name, err)
			if mq.Code(err) != mq.Unauthenticated {
				t.Errorf("%s: code %v, want Unauthenticated", name, mq.Code(err))
			}
			for _, secret := range []string{fakeKeySecret, fakeKeyID, "secretkeymaterial"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("%s: error contains a secret of the credentials: %v", name, err)
				}
			}
		}
		if failed == 0 {
			t.Errorf("%s: nothing failed with unusable credentials", name)
		}
	}
}
