package main

import (
	"math"
	"testing"
)

func TestQuantileInterpolatesWithinABucket(t *testing.T) {
	bs := []bucket{{0.001, 10}, {0.002, 30}, {0.005, 40}, {math.Inf(1), 50}}
	for _, tc := range []struct{ q, want float64 }{
		{0.1, 0.0005},  // rank 5 of the first 10, from 0
		{0.5, 0.00175}, // rank 25: 15 of the 20 in (1ms, 2ms]
		{0.8, 0.005},   // rank 40: the top of (2ms, 5ms]
		{0.99, 0.005},  // in +Inf: the highest finite bound
	} {
		if got := quantile(tc.q, bs); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := quantile(0.5, nil); !math.IsNaN(got) {
		t.Errorf("quantile of no buckets = %v, want NaN", got)
	}
	if got := quantile(0.5, []bucket{{0.001, 0}, {math.Inf(1), 0}}); !math.IsNaN(got) {
		t.Errorf("quantile of no observations = %v, want NaN", got)
	}
}

func TestAckLatencySinceSubtractsAnEarlierReading(t *testing.T) {
	then := nodeMetrics{ackBuckets: []bucket{{0.001, 5}, {math.Inf(1), 7}}}
	now := nodeMetrics{ackBuckets: []bucket{{0.001, 15}, {math.Inf(1), 27}}}
	got := now.ackLatencySince(then)
	if len(got) != 2 || got[0] != (bucket{0.001, 10}) || got[1] != (bucket{math.Inf(1), 20}) {
		t.Fatalf("got %v", got)
	}
	// Before the node's first ack the histogram is absent: all counts.
	if got := now.ackLatencySince(nodeMetrics{}); got[1].count != 27 {
		t.Fatalf("since nothing: %v", got)
	}
}

func TestBucketBound(t *testing.T) {
	for series, want := range map[string]float64{
		`ingestgate_ack_latency_seconds_bucket{le="0.005"}`:                      0.005,
		`ingestgate_ack_latency_seconds_bucket{otel_scope_name="x",le="+Inf"}`:   math.Inf(1),
		`ingestgate_ack_latency_seconds_bucket{le="2.5",otel_scope_version="1"}`: 2.5,
	} {
		if got, ok := bucketBound(series); !ok || got != want {
			t.Errorf("bucketBound(%s) = %v %v, want %v", series, got, ok, want)
		}
	}
	for _, series := range []string{`ingestgate_ack_latency_seconds_count`, `ingestgate_sink_commit_seconds_bucket{le="1"}`, `ingestgate_ack_latency_seconds_bucket{le="x"}`} {
		if _, ok := bucketBound(series); ok {
			t.Errorf("bucketBound(%s) took it for an ack latency bucket", series)
		}
	}
}
