package server

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/server/registry"
	"github.com/ingestgate/ingestgate/sink"
)

// metrics are the node's own instruments. Labels are few and bounded
// (a reason, a transport, a credential kind): never a key, secret, device
// or workspace id.
type metrics struct {
	streamsOpened metric.Int64Counter
	streamsClosed metric.Int64Counter
	// Records and batches are counted with atomics on the ingest path
	// and read when scraped: a synchronous OTel counter costs an
	// attribute-set lookup per call, a tenth of a batch's CPU at batch 1.
	stream, publish ingestCounts
	ackLatency      metric.Float64Histogram
	authFailures    metric.Int64Counter
	eventsPublished metric.Int64Counter
	eventsReceived  metric.Int64Counter
	revocationDelay metric.Float64Histogram
	sinkCommit      metric.Float64Histogram
	sinkBatches     metric.Int64Histogram
}

// gauges are what the metrics read from the node when scraped.
type gauges struct {
	live  func() int
	cache func() (ingestKeys, apiKeys keystore.CacheStats)
	// ping asks each dependency whether it answers (see pingDependencies).
	ping func(context.Context) map[string]error
}

func (s *Server) gauges() gauges {
	return gauges{live: s.streams.Len, cache: s.verifier.Stats, ping: s.pingDependencies}
}

// Buckets for latencies in seconds, from 100 µs to 10 s.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Buckets for how many batches one sink commit holds.
var commitBatchBuckets = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}

func newMetrics(mp metric.MeterProvider, g gauges) (*metrics, error) {
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
	out.ackLatency = seconds("ingestgate.ack.latency", "From a stream batch's arrival to its acknowledgement (rate limiting, queueing and the durable commit).")
	out.authFailures = counter("ingestgate.auth.failures", "{failure}", "Refused credentials, by credential kind and reason.")
	out.eventsPublished = counter("ingestgate.key_events.published", "{event}", "Key events this node committed and broadcast.")
	out.eventsReceived = counter("ingestgate.key_events.received", "{event}", "Key events this node received from the bus (its own included).")
	out.revocationDelay = seconds("ingestgate.revocation.propagation", "From a revocation's commit (on any node) to this node closing the key's streams.")
	out.sinkCommit = seconds("ingestgate.sink.commit.duration", "How long one group commit of the telemetry sink took, by outcome (ok, error).")
	var err error
	out.sinkBatches, err = m.Int64Histogram("ingestgate.sink.commit.batches", metric.WithUnit("{batch}"),
		metric.WithDescription("Batches stored by one group commit of the telemetry sink."), metric.WithExplicitBucketBoundaries(commitBatchBuckets...))
	errs = append(errs, err)
	_, err = m.Int64ObservableGauge("ingestgate.streams.live", metric.WithUnit("{stream}"), metric.WithDescription("Device streams open on this node."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(g.live()))
			return nil
		}))
	errs = append(errs, err)
	for _, c := range []struct {
		name, unit, desc string
		count            func(*ingestCounts) int64
	}{
		{"ingestgate.records.ingested", "{record}", "Records stored and acknowledged, by transport (stream, publish).", func(c *ingestCounts) int64 { return c.records.Load() }},
		{"ingestgate.batches.ingested", "{batch}", "Batches stored and acknowledged, by transport.", func(c *ingestCounts) int64 { return c.batches.Load() }},
	} {
		_, err = m.Int64ObservableCounter(c.name, metric.WithUnit(c.unit), metric.WithDescription(c.desc),
			metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
				o.Observe(c.count(&out.stream), transportStream)
				o.Observe(c.count(&out.publish), transportPublish)
				return nil
			}))
		errs = append(errs, err)
	}
	_, err = m.Int64ObservableCounter("ingestgate.auth.cache.lookups", metric.WithUnit("{lookup}"),
		metric.WithDescription("Well-formed credentials checked against the verification cache, by credential kind and result (hit, negative_hit: a cached unknown secret, miss: read from the store)."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			ik, ak := g.cache()
			for _, c := range []struct {
				kind string
				st   keystore.CacheStats
			}{{"ingest_key", ik}, {"api_key", ak}} {
				kind := attribute.String("credential", c.kind)
				o.Observe(int64(c.st.Hits), metric.WithAttributes(kind, attribute.String("result", "hit")))
				o.Observe(int64(c.st.NegativeHits), metric.WithAttributes(kind, attribute.String("result", "negative_hit")))
				o.Observe(int64(c.st.Misses), metric.WithAttributes(kind, attribute.String("result", "miss")))
			}
			return nil
		}))
	errs = append(errs, err)
	_, err = m.Int64ObservableGauge("ingestgate.dependency.up",
		metric.WithDescription("1 when a dependency (store; redis in a cluster) answered a ping within a second at scrape time, else 0."),
		metric.WithInt64Callback(func(ctx context.Context, o metric.Int64Observer) error {
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			for name, err := range g.ping(ctx) {
				up := int64(1)
				if err != nil {
					up = 0
				}
				o.Observe(up, metric.WithAttributes(attribute.String("dependency", name)))
			}
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

// ingestCounts are one transport's stored records and batches.
type ingestCounts struct{ records, batches atomic.Int64 }

// ingested counts one stored batch.
func (c *ingestCounts) ingested(records int) {
	c.records.Add(int64(records))
	c.batches.Add(1)
}

// closed counts a stream's end: the Goodbye reason of a server-side close,
// else how it ended.
func (m *metrics) closed(ctx context.Context, st *registry.Stream, err error) {
	reason := closedByClient
	if c := st.Closure(); c != nil {
		var ok bool
		if reason, ok = closedFor[c.Reason]; !ok {
			reason = closeReason(goodbyeReasonName(c.Reason))
		}
	} else if err != nil && ctx.Err() == nil {
		reason = closedByError
	}
	m.streamsClosed.Add(ctx, 1, reason)
}

// The reasons a stream closes for, as attribute options built once: a
// revocation closes thousands of streams at once, and building the
// attribute set on each close (it hashes the set, and grew each stream
// goroutine's small stack to do so) was most of the node's work per
// closed stream (BENCHMARKS.md).
var (
	closedByClient = closeReason("client")
	closedByError  = closeReason("error")
	closedFor      = func() map[ingestgatev1.GoodbyeReason]metric.AddOption {
		m := map[ingestgatev1.GoodbyeReason]metric.AddOption{
			// A closure without a Goodbye reason is the idle timeout.
			ingestgatev1.GoodbyeReason_GOODBYE_REASON_UNSPECIFIED: closeReason("idle"),
		}
		for v := range ingestgatev1.GoodbyeReason_name {
			if r := ingestgatev1.GoodbyeReason(v); r != ingestgatev1.GoodbyeReason_GOODBYE_REASON_UNSPECIFIED {
				m[r] = closeReason(goodbyeReasonName(r))
			}
		}
		return m
	}()
)

func closeReason(reason string) metric.AddOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reason)))
}

// goodbyeReasonName is a reason as metrics name it: GOODBYE_REASON_KEY_REVOKED
// is key_revoked.
func goodbyeReasonName(r ingestgatev1.GoodbyeReason) string {
	return strings.ToLower(strings.TrimPrefix(r.String(), "GOODBYE_REASON_"))
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

var (
	outcomeOK    = metric.WithAttributes(attribute.String("outcome", "ok"))
	outcomeError = metric.WithAttributes(attribute.String("outcome", "error"))
)

// sinkCommitted is the sink's OnCommit hook.
func (m *metrics) sinkCommitted(c sink.Commit) {
	ctx := context.Background()
	if c.Err != nil {
		m.sinkCommit.Record(ctx, c.Duration.Seconds(), outcomeError)
		return
	}
	m.sinkCommit.Record(ctx, c.Duration.Seconds(), outcomeOK)
	m.sinkBatches.Record(ctx, int64(c.Batches))
}
