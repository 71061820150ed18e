package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// nodeMetrics is one reading of a node's /metrics: the series the load
// tool uses, by name (process and Go runtime gauges) and the buckets of
// the node's ack latency histogram.
type nodeMetrics struct {
	rss, goroutines, cpuSeconds float64
	// ackBuckets are the cumulative counts of
	// ingestgate_ack_latency_seconds by upper bound, ascending, +Inf last;
	// empty before the node has acked a stream's batch.
	ackBuckets []bucket
}

type bucket struct{ le, count float64 }

// metricsClient gives up on a node that does not answer, rather than
// stall the run.
var metricsClient = &http.Client{Timeout: 10 * time.Second}

const ackLatencyBucket = "ingestgate_ack_latency_seconds_bucket{"

func scrapeNode(ctx context.Context, url string) (nodeMetrics, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nodeMetrics{}, err
	}
	resp, err := metricsClient.Do(req)
	if err != nil {
		return nodeMetrics{}, fmt.Errorf("read the node's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nodeMetrics{}, fmt.Errorf("read the node's metrics: %s: %s", url, resp.Status)
	}
	var m nodeMetrics
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		series, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(series, "#") {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch series {
		case "process_resident_memory_bytes":
			m.rss = v
			found++
		case "go_goroutines":
			m.goroutines = v
			found++
		case "process_cpu_seconds_total":
			m.cpuSeconds = v
			found++
		default:
			if le, ok := bucketBound(series); ok {
				m.ackBuckets = append(m.ackBuckets, bucket{le, v})
			}
		}
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("read the node's metrics: %w", err)
	}
	if found != 3 {
		return m, fmt.Errorf("%s lacks process_resident_memory_bytes, process_cpu_seconds_total or go_goroutines: not an ingestgate node's /metrics?", url)
	}
	slices.SortFunc(m.ackBuckets, func(a, b bucket) int { return cmp.Compare(a.le, b.le) })
	return m, nil
}

// bucketBound returns the le of an ack latency bucket series.
func bucketBound(series string) (float64, bool) {
	rest, ok := strings.CutPrefix(series, ackLatencyBucket)
	if !ok {
		return 0, false
	}
	_, rest, ok = strings.Cut(rest, `le="`)
	if !ok {
		return 0, false
	}
	le, _, ok := strings.Cut(rest, `"`)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
	return v, err == nil
}

// ackLatencySince returns the buckets of the acks between then and m.
func (m nodeMetrics) ackLatencySince(then nodeMetrics) []bucket {
	before := make(map[float64]float64, len(then.ackBuckets))
	for _, b := range then.ackBuckets {
		before[b.le] = b.count
	}
	out := make([]bucket, 0, len(m.ackBuckets))
	for _, b := range m.ackBuckets {
		out = append(out, bucket{b.le, b.count - before[b.le]})
	}
	return out
}

// quantile estimates the q-quantile (0 < q < 1) of cumulative buckets as
// Prometheus's histogram_quantile does: linearly within the bucket that
// holds it, from the bucket below's bound (0 for the first). It returns
// NaN with no observations, and the highest finite bound when the
// quantile lies in the +Inf bucket.
func quantile(q float64, bs []bucket) float64 {
	if len(bs) == 0 || bs[len(bs)-1].count <= 0 {
		return math.NaN()
	}
	rank := q * bs[len(bs)-1].count
	lower, below := 0.0, 0.0
	for _, b := range bs {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				return lower
			}
			return lower + (b.le-lower)*(rank-below)/(b.count-below)
		}
		lower, below = b.le, b.count
	}
	return lower
}
