package server

import (
	"context"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server/registry"
)

// metrics are the node's own instruments. Labels are few and bounded
// (a reason, a transport, a credential kind): never a key, secret, device
// or workspace id.
type metrics struct {
	streamsOpened   metric.Int64Counter
	streamsClosed   metric.Int64Counter
	records         metric.Int64Counter
	batches         metric.Int64Counter
	ackLatency      metric.Float64Histogram
	authFailures    metric.Int64Counter
	eventsPublished metric.Int64Counter
	eventsReceived  metric.Int64Counter
	revocationDelay metric.Float64Histogram
}

// Buckets for latencies in seconds, from 100 µs to 10 s.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

func newMetrics(mp metric.MeterProvider, live func() int) (*metrics, error) {
	m := mp.Meter("github.com/ingestgate/ingestgate/server")
	var out metrics
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	seconds := func(name, desc string) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc), metric.WithExplicitBucketBoundaries(latencyBuckets...))
		errs = append(errs, err)
		return h
	}
	out.streamsOpened = counter("ingestgate.streams.opened", "{stream}", "Device streams admitted.")
	out.streamsClosed = counter("ingestgate.streams.closed", "{stream}", "Device streams ended, by reason (a Goodbye reason, or client/error when the device or the transport ended it).")
	out.records = counter("ingestgate.records.ingested", "{record}", "Records stored and acknowledged, by transport (stream, publish).")
	out.batches = counter("ingestgate.batches.ingested", "{batch}", "Batches stored and acknowledged, by transport.")
	out.ackLatency = seconds("ingestgate.ack.latency", "From a stream batch's arrival to its acknowledgement (rate limiting, queueing and the durable commit).")
	out.authFailures = counter("ingestgate.auth.failures", "{failure}", "Refused credentials, by credential kind and reason.")
	out.eventsPublished = counter("ingestgate.key_events.published", "{event}", "Key events this node committed and broadcast.")
	out.eventsReceived = counter("ingestgate.key_events.received", "{event}", "Key events this node received from the bus (its own included).")
	out.revocationDelay = seconds("ingestgate.revocation.propagation", "From a revocation's commit (on any node) to this node closing the key's streams.")
	_, err := m.Int64ObservableGauge("ingestgate.streams.live", metric.WithUnit("{stream}"), metric.WithDescription("Device streams open on this node."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(live()))
			return nil
		}))
	errs = append(errs, err)
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return &out, nil
}

var (
	transportStream  = metric.WithAttributes(attribute.String("transport", "stream"))
	transportPublish = metric.WithAttributes(attribute.String("transport", "publish"))
)

// ingested counts one stored batch.
func (m *metrics) ingested(ctx context.Context, records int, transport metric.AddOption) {
	m.records.Add(ctx, int64(records), transport)
	m.batches.Add(ctx, 1, transport)
}

// closed counts a stream's end: the Goodbye reason of a server-side close,
// else how it ended.
func (m *metrics) closed(ctx context.Context, st *registry.Stream, err error) {
	reason := "client"
	if c := st.Closure(); c != nil {
		reason = strings.ToLower(strings.TrimPrefix(c.Reason.String(), "GOODBYE_REASON_"))
		if c.Reason == ingestgatev1.GoodbyeReason_GOODBYE_REASON_UNSPECIFIED {
			reason = "idle"
		}
	} else if err != nil && ctx.Err() == nil {
		reason = "error"
	}
	m.streamsClosed.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
}

// authFailed counts a refused credential.
func (m *metrics) authFailed(ctx context.Context, credential, reason string) {
	m.authFailures.Add(ctx, 1, metric.WithAttributes(attribute.String("credential", credential), attribute.String("reason", reason)))
}

// revoked records how long after its commit a revocation closed streams
// here.
func (m *metrics) revoked(committed time.Time) {
	if !committed.IsZero() {
		m.revocationDelay.Record(context.Background(), time.Since(committed).Seconds())
	}
}
