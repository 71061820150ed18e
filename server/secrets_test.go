package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// Everything a node says about a full lifecycle (its debug log, the spans
// it exports, /metrics) holds no secret: ingest keys created, rotated,
// streamed with, published with over REST, deactivated and revoked; a
// mistyped key; API keys created, used, rotated, revoked; a user's
// password, access and refresh tokens through sign-in, refresh, password
// change and sign-out.
func TestNoSecretInLogsSpansOrMetrics(t *testing.T) {
	rec, addr := startOTLPReceiver(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	// The bootstrap key is printed once by design; keep it out of the
	// log under test.
	n := servertest.Start(t, func(c *server.Config) { c.BootstrapOut = io.Discard })
	ctx := adminCtx(n)
	secrets := map[string]string{"bootstrap admin key": n.AdminKey}

	// An ingest key through its lifecycle, with a stream and HTTP publish.
	key, secret := newIngestKey(t, n, &ingestgatev1.IngestKey{Name: "lifecycle"})
	secrets["ingest key"] = secret
	d := openStream(t, n, "dev-1", secret)
	d.send(2, records("r", 3)...)
	d.waitAcks(2)
	req, _ := http.NewRequest("POST", n.BaseURL()+"/v1/telemetry", strings.NewReader(`{"records":[{"name":"t","number_value":1}]}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("X-Device-Id", "dev-1")
	resp, err := servertest.HTTPClient.Do(req)
	check(t, "REST publish", err)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("REST publish: %d", resp.StatusCode)
	}
	mistyped := secret[:len(secret)-3] + "abc"
	if mistyped == secret {
		mistyped = secret[:len(secret)-3] + "xyz"
	}
	secrets["mistyped ingest key"] = mistyped
	bad := dial(t, n, "dev-2", mistyped)
	bad.waitEnd()
	keys := keysClient(n)
	rot, err := keys.RotateIngestKey(ctx, &ingestgatev1.RotateIngestKeyRequest{WorkspaceId: ws, KeyId: key.GetId(), GracePeriod: durationpb.New(time.Minute)})
	check(t, "rotate", err)
	secrets["rotated ingest key"] = rot.GetSecret()
	d2 := openStream(t, n, "dev-3", rot.GetSecret())
	_, err = keys.DeactivateIngestKey(ctx, &ingestgatev1.DeactivateIngestKeyRequest{WorkspaceId: ws, KeyId: key.GetId()})
	check(t, "deactivate", err)
	d.waitEnd()
	d2.waitEnd()
	_, err = keys.ActivateIngestKey(ctx, &ingestgatev1.ActivateIngestKeyRequest{WorkspaceId: ws, KeyId: key.GetId()})
	check(t, "activate", err)
	_, err = keys.RevokeIngestKey(ctx, &ingestgatev1.RevokeIngestKeyRequest{WorkspaceId: ws, KeyId: key.GetId(), Reason: "lifecycle done"})
	check(t, "revoke", err)

	// A management API key, used, rotated and revoked.
	apiKeys := ingestgatev1.NewApiKeyServiceClient(n.Conn)
	ak, akSecret := newAPIKey(t, n, []string{"keys:read"})
	secrets["api key"] = akSecret
	_, err = keys.ListIngestKeys(servertest.WithKey(context.Background(), akSecret), &ingestgatev1.ListIngestKeysRequest{WorkspaceId: ws})
	check(t, "list with the api key", err)
	akRot, err := apiKeys.RotateApiKey(ctx, &ingestgatev1.RotateApiKeyRequest{ApiKeyId: ak.GetId()})
	check(t, "rotate api key", err)
	secrets["rotated api key"] = akRot.GetSecret()
	_, err = keys.ListIngestKeys(servertest.WithKey(context.Background(), akSecret), &ingestgatev1.ListIngestKeysRequest{WorkspaceId: ws})
	wantStatus(t, "the api key's old secret after a rotation without grace", err, codes.Unauthenticated, "")
	_, err = apiKeys.RevokeApiKey(ctx, &ingestgatev1.RevokeApiKeyRequest{ApiKeyId: ak.GetId(), Reason: "done"})
	check(t, "revoke api key", err)

	// A user signs in, refreshes, changes the password, signs out.
	newUser(t, n, ws, "leak@example.com", ingestgatev1.Role_ROLE_ADMIN)
	secrets["password"] = testPassword
	pair := login(t, n, "leak@example.com")
	secrets["access token"], secrets["refresh token"] = pair.GetAccessToken(), pair.GetRefreshToken()
	_, err = authClient(n).Login(context.Background(), &ingestgatev1.LoginRequest{Email: "leak@example.com", Password: "wrong " + testPassword})
	wantStatus(t, "a wrong password", err, codes.Unauthenticated, "")
	secrets["wrong password"] = "wrong " + testPassword
	refreshed, err := authClient(n).Refresh(context.Background(), &ingestgatev1.RefreshRequest{RefreshToken: pair.GetRefreshToken()})
	check(t, "refresh", err)
	secrets["refreshed access token"], secrets["refreshed refresh token"] = refreshed.GetAccessToken(), refreshed.GetRefreshToken()
	const newPassword = "a brand new passphrase"
	_, err = authClient(n).ChangePassword(bearer(refreshed.GetAccessToken()), &ingestgatev1.ChangePasswordRequest{CurrentPassword: testPassword, NewPassword: newPassword})
	check(t, "change password", err)
	secrets["new password"] = newPassword
	again, err := authClient(n).Login(context.Background(), &ingestgatev1.LoginRequest{Email: "leak@example.com", Password: newPassword})
	check(t, "login with the new password", err)
	_, err = authClient(n).Logout(bearer(again.GetAccessToken()), &ingestgatev1.LogoutRequest{RefreshToken: again.GetRefreshToken()})
	check(t, "logout", err)
	secrets["last access token"], secrets["last refresh token"] = again.GetAccessToken(), again.GetRefreshToken()

	mresp, err := servertest.HTTPClient.Get(n.BaseURL() + "/metrics")
	check(t, "GET /metrics", err)
	metrics, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	n.Stop() // flushes the exporter and the last log lines

	rec.mu.Lock()
	spans := rec.raw.String()
	rec.mu.Unlock()
	logs := n.Logs.String()
	if !strings.Contains(logs, "level=DEBUG") || !strings.Contains(spans, "RevokeIngestKey") {
		t.Fatalf("nothing to scan: %d bytes of debug log, %d of spans", len(logs), len(spans))
	}
	for where, text := range map[string]string{"the log": logs, "the spans": spans, "/metrics": string(metrics)} {
		for what, secret := range secrets {
			if secret == "" {
				t.Fatalf("no %s to look for", what)
			}
			if strings.Contains(text, secret) {
				t.Errorf("the %s appears in %s", what, where)
			}
		}
	}
}
