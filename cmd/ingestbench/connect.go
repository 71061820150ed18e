package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

type connectOptions struct {
	target
	streams, conns int
	rate           float64 // opens/s; 0: as fast as they complete
	concurrency    int
	metrics        string
	settle         time.Duration
	json           bool
}

func runConnect(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var o connectOptions
	fs := newFlagSet("ingestbench connect", stderr)
	o.target.flags(fs, getenv)
	fs.IntVar(&o.streams, "streams", 1000, "idle device streams to open (each sends one batch, so it is authenticated, registered and acked)")
	fs.IntVar(&o.conns, "conns", 0, "gRPC connections the streams share (0: one per device, as real devices)")
	fs.Float64Var(&o.rate, "rate", 0, "streams opened per second (0: as fast as they open)")
	fs.IntVar(&o.concurrency, "concurrency", 256, "streams being opened at once at most")
	fs.StringVar(&o.metrics, "metrics", "", "the node's /metrics URL (e.g. http://127.0.0.1:8080/metrics): report its resident memory per stream")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "wait after the last open before reading the node's memory")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON on stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.streams < 1 || o.conns < 0 || o.rate < 0 || o.concurrency < 1 {
		fmt.Fprintln(stderr, "ingestbench connect: --streams and --concurrency must be at least 1")
		return errUsage
	}
	key, cleanup, err := o.ingestKey(ctx)
	if err != nil {
		return err
	}
	defer cleanup()
	res, err := connect(ctx, o, key, stderr)
	return emit(stdout, o.json, res, err)
}

type connectResult struct {
	Workload    string         `json:"workload"`
	Streams     int            `json:"streams"`
	Connections int            `json:"connections"`
	Opened      int            `json:"opened"`
	Seconds     float64        `json:"seconds_to_open"`
	OpensPerSec float64        `json:"opens_per_second"`
	Errors      map[string]int `json:"errors_by_code"`
	// From the node's /metrics before the first open and after the last
	// (with --metrics): resident memory and goroutines per open stream.
	RSSBeforeBytes      int64   `json:"rss_before_bytes,omitempty"`
	RSSAfterBytes       int64   `json:"rss_after_bytes,omitempty"`
	RSSPerStreamBytes   float64 `json:"rss_per_stream_bytes,omitempty"`
	GoroutinesPerStream float64 `json:"goroutines_per_stream,omitempty"`
	MeasuredAtUTC       string  `json:"measured_at"`
}

func (r *connectResult) writeText(w io.Writer) {
	fmt.Fprintf(w, "opened:  %d of %d streams on %d connections in %.2fs: %.0f streams/s\n", r.Opened, r.Streams, r.Connections, r.Seconds, r.OpensPerSec)
	if r.RSSAfterBytes > 0 {
		fmt.Fprintf(w, "memory:  node RSS %.1f MiB -> %.1f MiB: %.1f KiB per stream, %.1f goroutines per stream\n",
			float64(r.RSSBeforeBytes)/(1<<20), float64(r.RSSAfterBytes)/(1<<20), r.RSSPerStreamBytes/1024, r.GoroutinesPerStream)
	}
	fmt.Fprintf(w, "errors:  %v\n", r.Errors)
}

func connect(ctx context.Context, o connectOptions, key string, progress io.Writer) (*connectResult, error) {
	nconns := connections(o.conns, o.streams)
	res := &connectResult{Workload: "connect", Streams: o.streams, Connections: nconns, Errors: map[string]int{}}
	var before nodeMetrics
	if o.metrics != "" {
		var err error
		if before, err = scrapeNode(ctx, o.metrics); err != nil {
			return nil, err
		}
	}
	conns, closeAll, err := dialAll(o.addr, nconns)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	var (
		mu      sync.Mutex
		streams []*openStream
		opened  atomic.Int64
		wg      sync.WaitGroup
	)
	sem := make(chan struct{}, o.concurrency)
	var interval time.Duration
	if o.rate > 0 {
		interval = time.Duration(float64(time.Second) / o.rate)
	}
	start := time.Now()
	next := start
	for i := range o.streams {
		if interval > 0 {
			next = next.Add(interval)
			time.Sleep(time.Until(next))
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s, err := startStream(ctx, conns[i%nconns], fmt.Sprintf("conn-%d", i), key)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Errors[errorCode(err)]++
				return
			}
			streams = append(streams, s)
			if n := opened.Add(1); n%1000 == 0 {
				fmt.Fprintf(progress, "  %d streams open after %.2fs\n", n, time.Since(start).Seconds())
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.Opened, res.Seconds = int(opened.Load()), elapsed.Seconds()
	res.OpensPerSec = float64(res.Opened) / res.Seconds
	if o.metrics != "" && res.Opened > 0 {
		time.Sleep(o.settle)
		after, err := scrapeNode(ctx, o.metrics)
		if err != nil {
			return nil, err
		}
		res.RSSBeforeBytes, res.RSSAfterBytes = int64(before.rss), int64(after.rss)
		res.RSSPerStreamBytes = (after.rss - before.rss) / float64(res.Opened)
		res.GoroutinesPerStream = (after.goroutines - before.goroutines) / float64(res.Opened)
	}
	for _, s := range streams {
		s.cancel()
	}
	res.MeasuredAtUTC = time.Now().UTC().Format(time.RFC3339)
	return res, nil
}
