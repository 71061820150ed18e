package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// result is what one run measured.
type result struct {
	Workload      string         `json:"workload"`
	Devices       int            `json:"devices"`
	Connections   int            `json:"connections"`
	Batch         int            `json:"batch"`
	Window        int            `json:"window"`
	TargetRate    float64        `json:"target_batches_per_second,omitempty"`
	Seconds       float64        `json:"seconds"`
	Records       int64          `json:"records_acked"`
	Batches       int64          `json:"batches_acked"`
	Duplicates    int64          `json:"batches_acked_as_duplicates"`
	RecordsPerSec float64        `json:"records_per_second"`
	BatchesPerSec float64        `json:"batches_per_second"`
	LatencyMs     latency        `json:"ack_latency_ms"`
	ErrorsByCode  map[string]int `json:"errors_by_code"`
	MeasuredAtUTC string         `json:"measured_at"`
	TargetAddress string         `json:"target"`
	// Server is what the node's own /metrics said over the measured
	// time (with --metrics).
	Server *serverSide `json:"server,omitempty"`
}

// serverSide separates the node's share from the load generator's: on
// one machine they compete for the same cores, and the latency a device
// sees includes the generator's own scheduling.
type serverSide struct {
	CPUSeconds float64 `json:"cpu_seconds"`
	// CoresBusy is CPUSeconds over the measured wall time.
	CoresBusy float64 `json:"cores_busy"`
	// BatchesPerCore is the batches acked (as the generator counted them)
	// per second of the node's CPU.
	BatchesPerCore float64 `json:"batches_per_cpu_second"`
	// StreamAcks is how many stream batches the node acked, from its ack
	// latency histogram; AckLatencyMs its quantiles, estimated from the
	// histogram's buckets (linear within a bucket, as Prometheus's
	// histogram_quantile). Unary Publish and REST calls are not in it.
	StreamAcks   int64               `json:"stream_acks"`
	AckLatencyMs *estimatedQuantiles `json:"ack_latency_ms,omitempty"`
}

type estimatedQuantiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
}

func serverSeen(before, after nodeMetrics, elapsed time.Duration, batches int64) *serverSide {
	s := &serverSide{CPUSeconds: after.cpuSeconds - before.cpuSeconds}
	s.CoresBusy = s.CPUSeconds / elapsed.Seconds()
	if s.CPUSeconds > 0 {
		s.BatchesPerCore = float64(batches) / s.CPUSeconds
	}
	bs := after.ackLatencySince(before)
	if len(bs) > 0 && bs[len(bs)-1].count > 0 {
		s.StreamAcks = int64(bs[len(bs)-1].count)
		ms := func(q float64) float64 { return quantile(q, bs) * 1e3 }
		s.AckLatencyMs = &estimatedQuantiles{P50: ms(0.5), P90: ms(0.9), P99: ms(0.99)}
	}
	return s
}

type latency struct {
	P50, P90, P99, Max float64
}

func (l latency) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]float64{"p50": l.P50, "p90": l.P90, "p99": l.P99, "max": l.Max})
}

func (r *load) result(elapsed time.Duration) *result {
	all := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
	for _, h := range r.hists {
		all.Merge(h)
	}
	ms := func(us int64) float64 { return float64(us) / 1e3 }
	res := &result{
		Workload: "ingest", Devices: r.o.devices, Connections: r.conns, Batch: r.o.batch, Window: r.o.window, TargetRate: r.o.rate,
		Seconds: elapsed.Seconds(), Records: r.records.Load(), Batches: r.batches.Load(), Duplicates: r.duplicates.Load(),
		LatencyMs: latency{
			P50: ms(all.ValueAtQuantile(50)), P90: ms(all.ValueAtQuantile(90)),
			P99: ms(all.ValueAtQuantile(99)), Max: ms(all.Max()),
		},
		ErrorsByCode:  r.errs,
		MeasuredAtUTC: time.Now().UTC().Format(time.RFC3339),
		TargetAddress: r.o.targetName(),
	}
	res.RecordsPerSec = float64(res.Records) / res.Seconds
	res.BatchesPerSec = float64(res.Batches) / res.Seconds
	return res
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (r *result) writeText(w io.Writer) {
	fmt.Fprintf(w, "acked:       %.0f records/s, %.0f batches/s (%d records in %.1fs)\n", r.RecordsPerSec, r.BatchesPerSec, r.Records, r.Seconds)
	fmt.Fprintf(w, "ack latency: p50 %.3fms  p90 %.3fms  p99 %.3fms  max %.3fms\n", r.LatencyMs.P50, r.LatencyMs.P90, r.LatencyMs.P99, r.LatencyMs.Max)
	if s := r.Server; s != nil {
		fmt.Fprintf(w, "node:        %.2f cores busy, %.0f batches per CPU second\n", s.CoresBusy, s.BatchesPerCore)
		if q := s.AckLatencyMs; q != nil {
			fmt.Fprintf(w, "node's own ack latency (from its histogram): p50 %.3fms  p90 %.3fms  p99 %.3fms\n", q.P50, q.P90, q.P99)
		}
	}
	if r.Duplicates > 0 {
		fmt.Fprintf(w, "duplicates:  %d batches acked as stored before (not counted above)\n", r.Duplicates)
	}
	if len(r.ErrorsByCode) == 0 {
		fmt.Fprintln(w, "errors:      none")
		return
	}
	fmt.Fprint(w, "errors:     ")
	for _, code := range slices.Sorted(maps.Keys(r.ErrorsByCode)) {
		fmt.Fprintf(w, " %s %d", code, r.ErrorsByCode[code])
	}
	fmt.Fprintln(w)
}

// report is a workload's result.
type report interface{ writeText(io.Writer) }

// emit prints a workload's result as text or JSON, or returns its error.
func emit[R report](stdout io.Writer, asJSON bool, res R, err error) error {
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, res)
	}
	res.writeText(stdout)
	return nil
}
