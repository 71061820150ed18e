package sdk_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/sdk"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// TestCredentialCloseIsTerminal: when an operator makes the key invalid for
// a streaming device, the client stops with the server's reason and status
// and never opens another stream.
func TestCredentialCloseIsTerminal(t *testing.T) {
	n := servertest.Start(t)
	keys := ingestgatev1.NewIngestKeyServiceClient(n.Conn)
	devices := ingestgatev1.NewDeviceServiceClient(n.Conn)
	for _, tc := range []struct {
		name   string
		act    func(ctx context.Context, keyID, device string) error
		reason ingestgatev1.GoodbyeReason
		code   codes.Code
	}{
		{"revoke", func(ctx context.Context, keyID, _ string) error {
			_, err := keys.RevokeIngestKey(ctx, &ingestgatev1.RevokeIngestKeyRequest{WorkspaceId: ws, KeyId: keyID, Reason: "stolen"})
			return err
		}, ingestgatev1.GoodbyeReason_GOODBYE_REASON_KEY_REVOKED, codes.Unauthenticated},
		{"deactivate", func(ctx context.Context, keyID, _ string) error {
			_, err := keys.DeactivateIngestKey(ctx, &ingestgatev1.DeactivateIngestKeyRequest{WorkspaceId: ws, KeyId: keyID})
			return err
		}, ingestgatev1.GoodbyeReason_GOODBYE_REASON_KEY_DEACTIVATED, codes.Unauthenticated},
		{"delete key", func(ctx context.Context, keyID, _ string) error {
			_, err := keys.DeleteIngestKey(ctx, &ingestgatev1.DeleteIngestKeyRequest{WorkspaceId: ws, KeyId: keyID})
			return err
		}, ingestgatev1.GoodbyeReason_GOODBYE_REASON_KEY_DELETED, codes.Unauthenticated},
		{"rotate without grace", func(ctx context.Context, keyID, _ string) error {
			_, err := keys.RotateIngestKey(ctx, &ingestgatev1.RotateIngestKeyRequest{WorkspaceId: ws, KeyId: keyID, GracePeriod: durationpb.New(0)})
			return err
		}, ingestgatev1.GoodbyeReason_GOODBYE_REASON_KEY_ROTATED, codes.Unauthenticated},
		{"scope excludes device", func(ctx context.Context, keyID, _ string) error {
			_, err := keys.UpdateIngestKey(ctx, &ingestgatev1.UpdateIngestKeyRequest{
				IngestKey:  &ingestgatev1.IngestKey{WorkspaceId: ws, Id: keyID, Scope: &ingestgatev1.KeyScope{DeviceIds: []string{"someone-else"}}},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"scope"}},
			})
			return err
		}, ingestgatev1.GoodbyeReason_GOODBYE_REASON_OUT_OF_SCOPE, codes.PermissionDenied},
		{"delete device", func(ctx context.Context, _, device string) error {
			_, err := devices.DeleteDevice(ctx, &ingestgatev1.DeleteDeviceRequest{WorkspaceId: ws, DeviceId: device})
			return err
		}, ingestgatev1.GoodbyeReason_GOODBYE_REASON_DEVICE_DELETED, codes.PermissionDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			device := "dev-" + tc.reason.String()[len("GOODBYE_REASON_"):]
			keyID, secret := newKey(t, n, nil)
			var streams atomic.Int64
			c := dial(t, n.GRPCAddr, sanitize(device), secret, countStreams(&streams), sdk.WithLinger(time.Millisecond))
			ctx := timeout(t)

			// Stream steadily, as a device would, until the client stops.
			sendErr := make(chan error, 1)
			go func() {
				for i := 0; ; i++ {
					if err := c.Send(ctx, sdk.Number("n", float64(i))); err != nil {
						sendErr <- err
						return
					}
					time.Sleep(2 * time.Millisecond)
				}
			}()
			waitUntil(t, ctx, "acks before the change", func() bool { return c.Stats().RecordsAcked >= 10 })
			if err := tc.act(adminCtx(n), keyID, sanitize(device)); err != nil {
				t.Fatalf("operator action: %v", err)
			}
			select {
			case <-c.Done():
			case <-ctx.Done():
				t.Fatalf("client still running after the key became invalid; stats %+v", c.Stats())
			}
			wantTerminal(t, c.Err(), tc.reason, tc.code)
			wantTerminal(t, <-sendErr, tc.reason, tc.code)
			wantTerminal(t, c.Send(ctx, sdk.Number("n", -1)), tc.reason, tc.code)
			wantTerminal(t, c.Flush(ctx), tc.reason, tc.code)

			// No reconnect storm: with 20ms backoffs, a retrying client would
			// have opened several streams within this second.
			time.Sleep(time.Second)
			if got := streams.Load(); got != 1 {
				t.Fatalf("client opened %d streams; want 1 and no retry after a terminal close", got)
			}
			if st := c.Stats(); st.Reconnects != 0 {
				t.Fatalf("reconnects %d after a terminal close", st.Reconnects)
			}
		})
	}
}

// TestRefusedAtConnectIsTerminal: a key the server does not accept, or a
// device outside the key's scope, stops the client at its first stream.
func TestRefusedAtConnectIsTerminal(t *testing.T) {
	n := servertest.Start(t)
	unknown, err := keystore.MustTokenFormat(keystore.DefaultIngestKeyPrefix).Generate()
	if err != nil {
		t.Fatal(err)
	}
	_, scoped := newKey(t, n, &ingestgatev1.IngestKey{Scope: &ingestgatev1.KeyScope{DeviceIds: []string{"allowed"}}})
	for _, tc := range []struct {
		name, device, secret string
		reason               ingestgatev1.GoodbyeReason
		code                 codes.Code
	}{
		// An unknown key gets no Goodbye: there is no key to give a reason about.
		{"unknown key", "d1", unknown, ingestgatev1.GoodbyeReason_GOODBYE_REASON_UNSPECIFIED, codes.Unauthenticated},
		{"device out of scope", "not-allowed", scoped, ingestgatev1.GoodbyeReason_GOODBYE_REASON_OUT_OF_SCOPE, codes.PermissionDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var streams atomic.Int64
			c := dial(t, n.GRPCAddr, tc.device, tc.secret, countStreams(&streams))
			ctx := timeout(t)
			// Buffered before the refusal is known: lost with the client.
			if err := c.Send(ctx, sdk.Number("n", 0)); err != nil && !errors.As(err, new(*sdk.TerminalError)) {
				t.Fatal(err)
			}
			select {
			case <-c.Done():
			case <-ctx.Done():
				t.Fatal("client still running with a refused credential")
			}
			wantTerminal(t, c.Err(), tc.reason, tc.code)
			wantTerminal(t, c.Flush(ctx), tc.reason, tc.code)
			time.Sleep(time.Second)
			if got := streams.Load(); got != 1 {
				t.Fatalf("client opened %d streams; want 1", got)
			}
		})
	}
}

// TestOperatorDisconnectReconnects: DisconnectDevice is not a credential
// close, so the client reconnects and loses nothing.
func TestOperatorDisconnectReconnects(t *testing.T) {
	n := servertest.Start(t)
	_, secret := newKey(t, n, nil)
	c := dial(t, n.GRPCAddr, "kicked", secret)
	ctx := timeout(t)
	devices := ingestgatev1.NewDeviceServiceClient(n.Conn)

	sent := 0
	send := func(k int) {
		for range k {
			if err := c.Send(ctx, sdk.Number("n", float64(sent))); err != nil {
				t.Fatal(err)
			}
			sent++
		}
	}
	send(50)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := devices.DisconnectDevice(adminCtx(n), &ingestgatev1.DisconnectDeviceRequest{WorkspaceId: ws, DeviceId: "kicked"})
	if err != nil || r.GetClosedStreams() != 1 {
		t.Fatalf("disconnect: %v, %d streams closed", err, r.GetClosedStreams())
	}
	// A client with nothing to send reconnects once it has records.
	for c.Stats().Reconnects == 0 {
		send(10)
		if err := c.Flush(ctx); err != nil {
			t.Fatalf("flush after disconnect: %v", err)
		}
	}
	if err := c.Err(); err != nil {
		t.Fatalf("client stopped: %v", err)
	}
	exactlyOnce(t, readAll(t, n, "kicked"), sent)
}

func wantTerminal(t *testing.T, err error, reason ingestgatev1.GoodbyeReason, code codes.Code) {
	t.Helper()
	var te *sdk.TerminalError
	if !errors.As(err, &te) {
		t.Fatalf("got %v, want a *TerminalError", err)
	}
	if te.Reason != reason || te.Code != code || te.Message == "" {
		t.Fatalf("got reason %v code %v message %q, want %v %v", te.Reason, te.Code, te.Message, reason, code)
	}
	if status.Code(err) != code {
		t.Fatalf("status.Code: %v, want %v", status.Code(err), code)
	}
}

// sanitize turns an enum name into a device id.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}

// TestRefusedBatchIsTerminal: a batch the server refuses (here: more
// records than the operator allows per batch) would be refused again on
// every resend, so the client stops with INVALID_ARGUMENT.
func TestRefusedBatchIsTerminal(t *testing.T) {
	n := servertest.Start(t, func(c *server.Config) { c.MaxRecordsPerBatch = 5 })
	_, secret := newKey(t, n, nil)
	var streams atomic.Int64
	c := dial(t, n.GRPCAddr, "oversharer", secret, sdk.WithBatchSize(10), countStreams(&streams))
	ctx := timeout(t)
	if err := c.Send(ctx, numberRecords(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)...); err != nil {
		t.Fatal(err)
	}
	wantTerminal(t, c.Flush(ctx), ingestgatev1.GoodbyeReason_GOODBYE_REASON_UNSPECIFIED, codes.InvalidArgument)
	if got := streams.Load(); got != 1 {
		t.Fatalf("client opened %d streams; want 1", got)
	}
}
