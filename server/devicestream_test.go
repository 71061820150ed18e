package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// waitFor bounds how long a test waits for something that must happen; it
// is generous because CI machines are small and noisy.
const waitFor = 20 * time.Second

// newIngestKey creates an ingest key in ws and returns it with its secret.
func newIngestKey(t testing.TB, n *servertest.Node, k *ingestgatev1.IngestKey) (*ingestgatev1.IngestKey, string) {
	t.Helper()
	if k.GetName() == "" {
		k.Name = "test key"
	}
	r, err := ingestgatev1.NewIngestKeyServiceClient(n.Conn).CreateIngestKey(adminCtx(n), &ingestgatev1.CreateIngestKeyRequest{WorkspaceId: ws, IngestKey: k})
	if err != nil {
		t.Fatalf("create ingest key: %v", err)
	}
	return r.GetIngestKey(), r.GetSecret()
}

func adminCtx(n *servertest.Node) context.Context {
	return servertest.WithKey(context.Background(), n.AdminKey)
}

// deviceCtx carries a device's credentials as the SDK sends them.
func deviceCtx(ctx context.Context, device, secret string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-device-id", device, "authorization", "Bearer "+secret)
}

// devStream is one device stream driven by a test: batches go out through
// send, and a reader goroutine records every server message and the final
// status.
type devStream struct {
	t      testing.TB
	device string
	stream ingestgatev1.TelemetryService_ConnectClient
	cancel context.CancelFunc

	mu      sync.Mutex
	acks    []*ingestgatev1.Ack
	goodbye *ingestgatev1.Goodbye
	throttl int
	end     error // final status once the stream ended
	changed chan struct{}
	done    chan struct{}
}

// openStream connects a device and waits until the server accepted the
// stream (a first batch is acked), so the stream is registered.
func openStream(t testing.TB, n *servertest.Node, device, secret string) *devStream {
	t.Helper()
	d := dial(t, n, device, secret)
	d.send(1, record("boot", 1))
	d.waitAcks(1)
	return d
}

// dial connects without waiting for anything.
func dial(t testing.TB, n *servertest.Node, device, secret string) *devStream {
	t.Helper()
	return dialOn(t, n.Conn, device, secret)
}

// dialOn is dial over a connection of the caller's.
func dialOn(t testing.TB, cc grpc.ClientConnInterface, device, secret string) *devStream {
	t.Helper()
	ctx, cancel := context.WithCancel(deviceCtx(context.Background(), device, secret))
	s, err := ingestgatev1.NewTelemetryServiceClient(cc).Connect(ctx)
	if err != nil {
		cancel()
		t.Fatalf("connect %s: %v", device, err)
	}
	d := &devStream{t: t, device: device, stream: s, cancel: cancel, changed: make(chan struct{}, 1), done: make(chan struct{})}
	t.Cleanup(func() { cancel(); <-d.done })
	go d.read()
	return d
}

func (d *devStream) read() {
	defer close(d.done)
	for {
		m, err := d.stream.Recv()
		d.mu.Lock()
		switch {
		case err != nil:
			d.end = err
		case m.GetAck() != nil:
			d.acks = append(d.acks, m.GetAck())
		case m.GetGoodbye() != nil:
			d.goodbye = m.GetGoodbye()
		case m.GetThrottle() != nil:
			d.throttl++
		}
		d.mu.Unlock()
		select {
		case d.changed <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

func record(name string, v float64) *ingestgatev1.Record {
	return &ingestgatev1.Record{Name: name, Value: &ingestgatev1.Record_NumberValue{NumberValue: v}}
}

// records makes n records named name.i.
func records(name string, n int) []*ingestgatev1.Record {
	out := make([]*ingestgatev1.Record, n)
	for i := range out {
		out[i] = record(fmt.Sprintf("%s.%d", name, i), float64(i))
	}
	return out
}

// send sends one batch; an error means the stream has ended, which the
// caller learns from waitEnd.
func (d *devStream) send(seq uint64, recs ...*ingestgatev1.Record) error {
	return d.stream.Send(&ingestgatev1.ConnectRequest{Message: &ingestgatev1.ConnectRequest_Batch{Batch: &ingestgatev1.TelemetryBatch{Seq: seq, Records: recs}}})
}

// until waits for cond (checked under the lock) or fails the test.
func (d *devStream) until(what string, cond func() bool) {
	d.t.Helper()
	deadline := time.After(waitFor)
	for {
		d.mu.Lock()
		ok := cond()
		d.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-d.changed:
		case <-deadline:
			d.mu.Lock()
			defer d.mu.Unlock()
			d.t.Fatalf("device %s: waited %s for %s; acks=%d goodbye=%v end=%v", d.device, waitFor, what, len(d.acks), d.goodbye, d.end)
		}
	}
}

func (d *devStream) waitAcks(n int) []*ingestgatev1.Ack {
	d.t.Helper()
	d.until(fmt.Sprintf("%d acks", n), func() bool { return len(d.acks) >= n || d.end != nil })
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.acks) < n {
		d.t.Fatalf("device %s: stream ended after %d of %d acks: %v", d.device, len(d.acks), n, d.end)
	}
	return append([]*ingestgatev1.Ack(nil), d.acks...)
}

// waitEnd waits for the stream to end and returns the Goodbye (nil if none)
// and the final status.
func (d *devStream) waitEnd() (*ingestgatev1.Goodbye, *status.Status) {
	d.t.Helper()
	d.until("the stream to end", func() bool { return d.end != nil })
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.goodbye, status.Convert(d.end)
}

// wantClosed checks the stream ended with Goodbye{reason} and code.
func (d *devStream) wantClosed(reason ingestgatev1.GoodbyeReason, code codes.Code) {
	d.t.Helper()
	gb, st := d.waitEnd()
	if gb.GetReason() != reason || st.Code() != code {
		d.t.Fatalf("device %s: ended with goodbye %v and status %v (%s), want %v and %v", d.device, gb.GetReason(), st.Code(), st.Message(), reason, code)
	}
}

func (d *devStream) ended() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.end != nil
}

func (d *devStream) ackCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.acks)
}

// readAll reads every stored entry of a device, oldest first.
func readAll(t testing.TB, n *servertest.Node, device string) []*ingestgatev1.TelemetryEntry {
	t.Helper()
	return n.ReadTelemetry(t, ws, device)
}
