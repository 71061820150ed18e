package server_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// connFrom connects to n from the loopback address ip (any 127.x.y.z), so
// the server sees a different client address.
func connFrom(t *testing.T, n *servertest.Node, ip string) *grpc.ClientConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	conn, err := grpc.NewClient(n.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }))
	check(t, "dial from "+ip, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// publishWith publishes one record as a device with the given key.
func publishWith(ctx context.Context, conn *grpc.ClientConn, secret string) error {
	_, err := ingestgatev1.NewTelemetryServiceClient(conn).Publish(deviceCtx(ctx, "guarded", secret), &ingestgatev1.PublishRequest{Records: records("r", 1)})
	return err
}

// An address guessing ingest keys gets quick refusals, then slowed ones,
// then RESOURCE_EXHAUSTED with RetryInfo before its keys are even checked
// (a right key from it is refused too); another address is not affected,
// and neither x-forwarded-for sent over gRPC nor one sent through the REST
// gateway gets the guessing address out.
func TestGuessingKeysIsSlowedThenRefused(t *testing.T) {
	const perMinute = 6
	n := servertest.Start(t, func(c *server.Config) { c.AuthFailuresPerMinute = perMinute })
	_, secret := newIngestKey(t, n, &ingestgatev1.IngestKey{})
	guesser := connFrom(t, n, "127.0.0.2")
	bad := strings.Replace(secret, secret[10:14], "zzzz", 1)

	var took []time.Duration
	for i := range perMinute {
		start := time.Now()
		err := publishWith(context.Background(), guesser, bad)
		took = append(took, time.Since(start))
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("guess %d: %v, want UNAUTHENTICATED", i+1, err)
		}
	}
	// The first half answer at once, the rest are slowed (100, 200, 400 ms).
	if took[0] > 80*time.Millisecond || took[perMinute-1] < 350*time.Millisecond {
		t.Fatalf("answer times %v: want quick first guesses and slowed later ones", took)
	}
	err := publishWith(context.Background(), guesser, bad)
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("guess %d: %v, want RESOURCE_EXHAUSTED", perMinute+1, err)
	}
	var retry time.Duration
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			retry = ri.GetRetryDelay().AsDuration()
		}
	}
	if retry <= 0 || retry > time.Minute {
		t.Fatalf("RetryInfo %v, want up to a minute", retry)
	}
	if err := publishWith(context.Background(), guesser, secret); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("the right key from the blocked address: %v, want RESOURCE_EXHAUSTED", err)
	}
	spoofed := metadata.AppendToOutgoingContext(context.Background(), "x-forwarded-for", "10.9.9.9")
	if err := publishWith(spoofed, guesser, secret); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("x-forwarded-for over gRPC got the address out: %v", err)
	}
	// Another address is not affected.
	if err := publishWith(context.Background(), connFrom(t, n, "127.0.0.3"), secret); err != nil {
		t.Fatalf("another address: %v", err)
	}
	// Through the gateway the client address is the HTTP peer's, whatever
	// X-Forwarded-For it sends: block 127.0.0.1 and try to spoof.
	local := n.Conn
	for range perMinute + 1 {
		publishWith(context.Background(), local, bad)
	}
	req, _ := http.NewRequest("POST", n.BaseURL()+"/v1/telemetry", strings.NewReader(publishBody))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("X-Device-Id", "guarded")
	req.Header.Set("X-Forwarded-For", "10.9.9.9")
	resp, err := servertest.HTTPClient.Do(req)
	check(t, "REST publish", err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("REST from the blocked address with a spoofed X-Forwarded-For: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// Guessing management API keys trips the same guard.
func TestGuessingAPIKeysIsRefused(t *testing.T) {
	n := servertest.Start(t, func(c *server.Config) { c.AuthFailuresPerMinute = 4 })
	guesser := ingestgatev1.NewWorkspaceServiceClient(connFrom(t, n, "127.0.0.4"))
	var last error
	for range 5 {
		_, last = guesser.ListWorkspaces(servertest.WithKey(context.Background(), "ig_mkv1_guess"), &ingestgatev1.ListWorkspacesRequest{})
	}
	if status.Code(last) != codes.ResourceExhausted {
		t.Fatalf("fifth guess: %v, want RESOURCE_EXHAUSTED", last)
	}
	if _, err := ingestgatev1.NewWorkspaceServiceClient(n.Conn).ListWorkspaces(adminCtx(n), &ingestgatev1.ListWorkspacesRequest{}); err != nil {
		t.Fatalf("the admin from another address: %v", err)
	}
}

// Behind a trusted proxy, each client the proxy forwards for counts on
// its own: the guard blocks the guessing client, not the proxy, and the
// proxy's other clients go on. The same forwarded address sent by a peer
// that is not trusted is ignored.
func TestTrustedProxyForwardsTheClientAddress(t *testing.T) {
	const perMinute = 4
	n := servertest.Start(t, func(c *server.Config) {
		c.AuthFailuresPerMinute = perMinute
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	_, secret := newIngestKey(t, n, &ingestgatev1.IngestKey{})
	bad := strings.Replace(secret, secret[10:14], "zzzz", 1)
	// REST through the proxy at 127.0.0.1: the gateway appends the proxy's
	// address after the client's.
	restPublish := func(key, forwardedFor string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", n.BaseURL()+"/v1/telemetry", strings.NewReader(publishBody))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("X-Device-Id", "guarded")
		req.Header.Set("X-Forwarded-For", forwardedFor)
		resp, err := servertest.HTTPClient.Do(req)
		check(t, "REST publish", err)
		resp.Body.Close()
		return resp.StatusCode
	}
	for range perMinute + 1 {
		restPublish(bad, "198.51.100.7")
	}
	if code := restPublish(secret, "198.51.100.7"); code != http.StatusTooManyRequests {
		t.Fatalf("the guessing client behind the proxy: %d, want 429", code)
	}
	if code := restPublish(secret, "198.51.100.8"); code != http.StatusOK {
		t.Fatalf("another client behind the same proxy: %d, want 200", code)
	}
	// gRPC straight from the trusted proxy, forwarding for the blocked client.
	fwd := func(ip string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "x-forwarded-for", ip)
	}
	if err := publishWith(fwd("198.51.100.7"), n.Conn, secret); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("gRPC from the proxy for the blocked client: %v, want RESOURCE_EXHAUSTED", err)
	}
	if err := publishWith(fwd("198.51.100.8"), n.Conn, secret); err != nil {
		t.Fatalf("gRPC from the proxy for another client: %v", err)
	}
	// An untrusted peer claiming to forward for a fresh address is judged
	// by its own: block 127.0.0.2, then its claim does not get it out.
	other := connFrom(t, n, "127.0.0.2")
	for range perMinute + 1 {
		publishWith(fwd("198.51.100.9"), other, bad)
	}
	if err := publishWith(fwd("198.51.100.10"), other, secret); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("an untrusted peer forwarding for a fresh address: %v, want RESOURCE_EXHAUSTED", err)
	}
	if err := publishWith(fwd("198.51.100.9"), n.Conn, secret); err != nil {
		t.Fatalf("the address the untrusted peer claimed was not blocked: %v", err)
	}
}
