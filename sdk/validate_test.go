package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/sdk"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// TestInvalidRecords: Send refuses, before anything reaches the server, the
// records the server would refuse (which would end the stream for good);
// records at the limits pass and are stored.
func TestInvalidRecords(t *testing.T) {
	n := servertest.Start(t)
	_, secret := newKey(t, n, nil)
	c := dial(t, n.GRPCAddr, "picky", secret)
	ctx := timeout(t)

	attrs := func(k int) map[string]string {
		m := make(map[string]string, k)
		for i := range k {
			m[fmt.Sprintf("k%d", i)] = "v"
		}
		return m
	}
	bad := map[string]*ingestgatev1.Record{
		"nil":                    nil,
		"empty name":             sdk.Number("", 1),
		"name of 201 characters": sdk.Number(strings.Repeat("é", 201), 1),
		"name not UTF-8":         sdk.Number("a\xffb", 1),
		"no value":               {Name: "x"},
		"time out of range":      {Name: "x", Value: &ingestgatev1.Record_BoolValue{}, Time: &timestamppb.Timestamp{Seconds: -1 << 62}},
		"text not UTF-8":         sdk.Text("x", "\xc3"),
		"65 attributes":          sdk.Number("x", 1, sdk.Attrs(attrs(65))),
		"empty attribute key":    sdk.Number("x", 1, sdk.Attr("", "v")),
		"long attribute key":     sdk.Number("x", 1, sdk.Attr(strings.Repeat("k", 129), "v")),
		"long attribute value":   sdk.Number("x", 1, sdk.Attr("k", strings.Repeat("v", 1025))),
		"json without kind":      {Name: "x", Value: &ingestgatev1.Record_JsonValue{JsonValue: &structpb.Value{}}},
		"json nested bad string": {Name: "x", Value: &ingestgatev1.Record_JsonValue{JsonValue: structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewStringValue("\xff")}})}},
		"over one message":       sdk.Bytes("x", make([]byte, 1<<20)),
	}
	for name, r := range bad {
		t.Run(name, func(t *testing.T) {
			err := c.Send(ctx, sdk.Number("good", 1), r)
			if !errors.Is(err, sdk.ErrInvalidRecord) || !strings.Contains(err.Error(), "record 1") {
				t.Fatalf("got %v, want ErrInvalidRecord naming record 1", err)
			}
			if st := c.Stats(); st.Buffered != 0 {
				t.Fatalf("a refused call buffered %d records", st.Buffered)
			}
		})
	}

	// At the limits: accepted by Send and by the server.
	big, err := largestBytes(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	good := []*ingestgatev1.Record{
		sdk.Number(strings.Repeat("é", 200), 0),
		sdk.Number("attrs", 1, sdk.Attrs(attrs(62)), sdk.Attr(strings.Repeat("k", 128), strings.Repeat("v", 1024)), sdk.Attr("empty", "")),
		sdk.Text("empty text", ""),
		big,
	}
	if err := c.Send(ctx, good...); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if got := len(readAll(t, n, "picky")); got != len(good) {
		t.Fatalf("stored %d records, want %d", got, len(good))
	}
}

// TestOversizeBatchIsTerminal: with WithMaxBatchBytes above the server's
// message limit, the server refuses the batch; resending it would fail the
// same way forever, so the client stops instead.
func TestOversizeBatchIsTerminal(t *testing.T) {
	n := servertest.Start(t)
	_, secret := newKey(t, n, nil)
	var streams atomic.Int64
	c := dial(t, n.GRPCAddr, "too-big", secret, sdk.WithMaxBatchBytes(4<<20), countStreams(&streams))
	ctx := timeout(t)
	if err := c.Send(ctx, sdk.Bytes("blob", make([]byte, 2<<20))); err != nil {
		t.Fatal(err)
	}
	err := c.Flush(ctx)
	var te *sdk.TerminalError
	if !errors.As(err, &te) || te.Code != codes.ResourceExhausted {
		t.Fatalf("flush: %v, want a terminal ResourceExhausted", err)
	}
	if got := streams.Load(); got != 1 {
		t.Fatalf("client opened %d streams; want 1", got)
	}
}

// largestBytes finds the largest bytes record Send accepts with the default
// message limit, without buffering it.
func largestBytes(ctx context.Context, c *sdk.Client) (*ingestgatev1.Record, error) {
	tooBig := sdk.Bytes("blob", nil)
	lo, hi := 0, 1<<20 // Send accepts lo bytes, refuses hi
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		tooBig.Value = &ingestgatev1.Record_BytesValue{BytesValue: make([]byte, mid)}
		// A nil record makes every call fail after the size check of record 0.
		err := c.Send(ctx, tooBig, nil)
		switch {
		case errors.Is(err, sdk.ErrInvalidRecord) && strings.Contains(err.Error(), "record 0"):
			hi = mid
		case errors.Is(err, sdk.ErrInvalidRecord):
			lo = mid
		default:
			return nil, err
		}
	}
	if lo < 1<<20-64 {
		return nil, fmt.Errorf("largest accepted bytes value is %d bytes; want close to 1 MiB", lo)
	}
	tooBig.Value = &ingestgatev1.Record_BytesValue{BytesValue: make([]byte, lo)}
	return tooBig, nil
}

// TestDialValidation: bad arguments are refused at Dial, and the key never
// appears in the error.
func TestDialValidation(t *testing.T) {
	const key = "ig_ikv1_secretsecret"
	for name, tc := range map[string]struct {
		device, key string
		opts        []sdk.Option
	}{
		"empty device":        {"", key, nil},
		"device with space":   {"a b", key, nil},
		"long device":         {strings.Repeat("d", 129), key, nil},
		"empty key":           {"d", "", nil},
		"key with newline":    {"d", key + "\n", nil},
		"batch size 0":        {"d", key, []sdk.Option{sdk.WithBatchSize(0)}},
		"buffer below batch":  {"d", key, []sdk.Option{sdk.WithBatchSize(100), sdk.WithBufferLimit(99)}},
		"no in-flight":        {"d", key, []sdk.Option{sdk.WithMaxInFlight(0)}},
		"negative linger":     {"d", key, []sdk.Option{sdk.WithLinger(-time.Second)}},
		"backoff max < init":  {"d", key, []sdk.Option{sdk.WithBackoff(time.Second, time.Millisecond)}},
		"tiny message":        {"d", key, []sdk.Option{sdk.WithMaxBatchBytes(100)}},
		"unknown overflow":    {"d", key, []sdk.Option{sdk.WithOverflow(sdk.Overflow(7))}},
		"nil logger":          {"d", key, []sdk.Option{sdk.WithLogger(nil)}},
		"nil transport creds": {"d", key, []sdk.Option{sdk.WithTransportCredentials(nil)}},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := sdk.Dial(context.Background(), "127.0.0.1:1", tc.device, tc.key, append([]sdk.Option{sdk.WithPlaintext()}, tc.opts...)...)
			if err == nil {
				c.Close()
				t.Fatal("Dial accepted it")
			}
			if strings.Contains(err.Error(), "secretsecret") {
				t.Fatalf("error shows the key: %v", err)
			}
		})
	}
}
