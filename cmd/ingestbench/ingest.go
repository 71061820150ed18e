package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

type ingestOptions struct {
	target
	devices, conns, batch, window int
	rate                          float64 // batches/s over all devices; 0: as fast as acks allow
	mqtt                          string  // mqtt://…: load an MQTT broker instead
	publish                       bool    // unary Publish calls instead of streams
	rest                          string  // http://…: POST /v1/telemetry instead of streams
	metrics                       string  // the node's /metrics URL: report what the node itself saw
	duration, warmup              time.Duration
	json                          bool
}

func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var o ingestOptions
	fs := newFlagSet("ingestbench ingest", stderr)
	o.target.flags(fs, getenv)
	fs.IntVar(&o.devices, "devices", 100, "devices, each holding one stream")
	fs.IntVar(&o.conns, "conns", 0, "gRPC connections the streams share (0: one per device, as real devices)")
	fs.IntVar(&o.batch, "batch", 1, "records per batch")
	fs.IntVar(&o.window, "window", 32, "batches a device may have awaiting their ack (at most the node's --stream-window)")
	fs.Float64Var(&o.rate, "rate", 0, "target batches/s over all devices (0: as fast as acks allow)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to measure")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before measuring (not counted)")
	fs.StringVar(&o.mqtt, "mqtt", "", "mqtt://user:password@host:port: run the same workload against an MQTT broker (QoS 1 publishes; PUBACK is the ack) instead of ingestgate")
	fs.BoolVar(&o.publish, "publish", false, "send each batch as a unary Publish call (HTTP devices' path, over gRPC) instead of on a stream")
	fs.StringVar(&o.rest, "rest", "", "http://host:port of the node's HTTP listener: send each batch as POST /v1/telemetry (JSON, as an HTTP device) instead of on a stream")
	fs.StringVar(&o.metrics, "metrics", "", "the node's /metrics URL (e.g. http://127.0.0.1:8080/metrics): also report the node's CPU and its own ack latency over the measured time")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON on stdout (progress stays on stderr)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.metrics != "" && o.mqtt != "" {
		fmt.Fprintln(stderr, "ingestbench ingest: --metrics reads an ingestgate node; an MQTT broker has none")
		return errUsage
	}
	if o.devices < 1 || o.batch < 1 || o.window < 1 || o.conns < 0 || o.rate < 0 || o.duration <= 0 || o.warmup < 0 {
		fmt.Fprintln(stderr, "ingestbench ingest: --devices, --batch and --window must be at least 1, --duration positive, the rest not negative")
		return errUsage
	}
	if n := countTrue(o.mqtt != "", o.publish, o.rest != ""); n > 1 {
		fmt.Fprintln(stderr, "ingestbench ingest: --mqtt, --publish and --rest exclude each other")
		return errUsage
	}
	key, cleanup := "", func() {}
	if o.mqtt == "" {
		var err error
		if key, cleanup, err = o.ingestKey(ctx); err != nil {
			return err
		}
	}
	defer cleanup()
	res, err := ingest(ctx, o, key, stderr)
	return emit(stdout, o.json, res, err)
}

// load is what all devices share during one run.
type load struct {
	o          ingestOptions
	conns      int         // connections the devices share
	measuring  atomic.Bool // past the warmup
	stopped    atomic.Bool
	done       chan struct{} // closed with stopped: wakes paced devices
	start      time.Time     // of the measurement
	records    atomic.Int64
	batches    atomic.Int64
	duplicates atomic.Int64 // acked as stored before: not counted above
	errMu      sync.Mutex
	errs       map[string]int
	hists      []*hdrhistogram.Histogram // one per device, merged at the end
}

func (o *ingestOptions) targetName() string {
	if o.mqtt != "" {
		u, _ := url.Parse(o.mqtt)
		return "mqtt://" + u.Host
	}
	if o.publish {
		return "grpc://" + o.addr + " (Publish)"
	}
	if o.rest != "" {
		return o.rest + " (REST)"
	}
	return "grpc://" + o.addr
}

func (r *load) fail(err error) {
	r.errMu.Lock()
	r.errs[errorCode(err)]++
	r.errMu.Unlock()
}

func ingest(ctx context.Context, o ingestOptions, key string, progress io.Writer) (*result, error) {
	nconns := connections(o.conns, o.devices)
	var opener func(i int) func(ctx context.Context, id string) (link, error)
	if o.mqtt != "" {
		nconns = o.devices // an MQTT client is a connection
		open, err := openMQTT(o.mqtt, o.batch, o.window)
		if err != nil {
			return nil, err
		}
		opener = func(int) func(ctx context.Context, id string) (link, error) { return open }
	} else if o.rest != "" {
		u, err := url.Parse(o.rest)
		if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("--rest %q: want http://host:port", o.rest)
		}
		if err := loopback(u.Host); err != nil {
			return nil, err
		}
		// HTTP/1.1 holds one request per connection: up to window
		// connections per device, kept alive between requests.
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.devices * o.window}}
		defer client.CloseIdleConnections()
		nconns = o.devices
		open := openREST(client, "http://"+u.Host, key, o.batch, o.window)
		opener = func(int) func(ctx context.Context, id string) (link, error) { return open }
	} else {
		conns, closeAll, err := dialAll(o.addr, nconns)
		if err != nil {
			return nil, err
		}
		defer closeAll()
		opener = func(i int) func(ctx context.Context, id string) (link, error) {
			client := ingestgatev1.NewTelemetryServiceClient(conns[i%nconns])
			if o.publish {
				return openPublish(client, key, o.batch, o.window)
			}
			return openGRPC(client, key, o.batch)
		}
	}
	r := &load{o: o, conns: nconns, errs: map[string]int{}, done: make(chan struct{})}
	var interval time.Duration // between one device's batches
	if o.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(o.devices) / o.rate)
	}
	var wg sync.WaitGroup
	for i := range o.devices {
		h := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
		r.hists = append(r.hists, h)
		d := &device{load: r, id: fmt.Sprintf("bench-%d", i), hist: h, interval: interval,
			open: opener(i)}
		wg.Go(func() { d.loop(ctx) })
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	warm := time.After(o.warmup)
	var end <-chan time.Time
	var before, after nodeMetrics // of the node, with --metrics
	readNode := func(into *nodeMetrics) (err error) {
		if o.metrics != "" {
			*into, err = scrapeNode(ctx, o.metrics)
		}
		return err
	}
	var last int64
	lastT := time.Now()
	fmt.Fprintf(progress, "ingest: %s, %d devices on %d connections, batch %d, window %d, %s\n", o.targetName(), o.devices, nconns, o.batch, o.window, rateText(o.rate))
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-warm:
			if err := readNode(&before); err != nil {
				r.stop(&wg)
				return nil, err
			}
			r.start = time.Now()
			r.measuring.Store(true)
			end = time.After(o.duration)
		case <-end:
			if err := readNode(&after); err != nil {
				r.stop(&wg)
				return nil, err
			}
			break wait
		case now := <-tick.C:
			n := r.records.Load()
			phase := "warmup"
			if r.measuring.Load() {
				phase = fmt.Sprintf("%4.0fs", now.Sub(r.start).Seconds())
			}
			fmt.Fprintf(progress, "  %s  %10.0f records/s acked\n", phase, float64(n-last)/now.Sub(lastT).Seconds())
			last, lastT = n, now
		}
	}
	elapsed := time.Since(r.start)
	r.stop(&wg)
	if !r.start.IsZero() && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	res := r.result(elapsed)
	if o.metrics != "" && !r.start.IsZero() {
		res.Server = serverSeen(before, after, elapsed, res.Batches)
	}
	return res, nil
}

// stop ends every device's loop and waits for them.
func (r *load) stop(wg *sync.WaitGroup) {
	r.measuring.Store(false)
	r.stopped.Store(true)
	close(r.done)
	wg.Wait()
}

func rateText(rate float64) string {
	if rate == 0 {
		return "as fast as acks allow"
	}
	return fmt.Sprintf("%.0f batches/s", rate)
}

// errClosed is what a link's next returns once it was closed.
var errClosed = errors.New("link closed")

// inflight is the requests a link without a stream (MQTT, unary calls)
// has sent and not yet seen answered, in send order, until it is closed.
type inflight[T any] struct {
	pending chan T
	closed  chan struct{}
}

func newInflight[T any](window int) inflight[T] {
	return inflight[T]{pending: make(chan T, window+1), closed: make(chan struct{})}
}

func (f inflight[T]) push(v T) { f.pending <- v }

// oldest waits for the oldest request, or returns errClosed.
func (f inflight[T]) oldest() (T, error) {
	select {
	case v := <-f.pending:
		return v, nil
	case <-f.closed:
		var zero T
		return zero, errClosed
	}
}

func (f inflight[T]) close() { close(f.closed) }

// link is one device's connection to the server under test: it sends
// batch seq, and next returns the seq of the next acknowledged batch, in
// send order, and whether the server said it was a duplicate (stored
// before: a benchmark that counted those would measure the dedupe check,
// not the sink).
type link interface {
	send(seq uint64) error
	next() (seq uint64, duplicate bool, err error)
	// close ends the link: a next blocked or called after it returns an
	// error.
	close()
}

// device keeps up to window batches in flight on its link (paced when a
// rate is set), timing each from send to ack, and opens a new link after
// an error, as a device would.
type device struct {
	*load
	id       string
	open     func(ctx context.Context, id string) (link, error)
	hist     *hdrhistogram.Histogram
	interval time.Duration
}

func (d *device) loop(ctx context.Context) {
	for !d.stopped.Load() && ctx.Err() == nil {
		if err := d.session(ctx); err != nil && !d.stopped.Load() && ctx.Err() == nil {
			d.fail(err)
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func (d *device) session(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l, err := d.open(ctx, d.id)
	if err != nil {
		return err
	}
	w := d.o.window
	sent := make([]atomic.Int64, w) // send time (unix ns) by seq % window; 0: not timed
	slots := make(chan struct{}, w)
	recvErr := make(chan error, 1)
	recvDone := make(chan struct{})
	// The receiver records into the device's histogram: it must be gone
	// before the session returns, or it could race with the result.
	defer func() {
		cancel()
		l.close()
		<-recvDone
	}()
	go func() {
		defer close(recvDone)
		for {
			seq, dup, err := l.next()
			if err != nil {
				recvErr <- err
				return
			}
			// Every ack received while measuring counts, whenever its
			// batch was sent: counting only batches sent after the warmup
			// undercounts a node whose queues hold seconds of batches.
			if t := sent[seq%uint64(w)].Load(); t != 0 && d.measuring.Load() {
				d.hist.RecordValue(max(1, (time.Now().UnixNano()-t)/1e3))
				if dup {
					d.duplicates.Add(1)
				} else {
					d.records.Add(int64(d.o.batch))
					d.batches.Add(1)
				}
			}
			<-slots
		}
	}()
	// Devices start at random phases: paced in lockstep they would send in
	// bursts, and the latency measured would be the bursts' queueing.
	next := time.Now()
	if d.interval > 0 {
		next = next.Add(rand.N(d.interval))
	}
	for seq := uint64(1); !d.stopped.Load(); seq++ {
		if d.interval > 0 {
			next = next.Add(d.interval)
			if wait := time.Until(next); wait > 0 {
				select {
				case <-time.After(wait):
				case <-d.done:
					return nil
				}
			}
		}
		select {
		case slots <- struct{}{}:
		case err := <-recvErr:
			return err
		}
		sent[seq%uint64(w)].Store(time.Now().UnixNano())
		if err := l.send(seq); err != nil {
			// The link's own account of why (a gRPC status) comes from next.
			select {
			case rerr := <-recvErr:
				return rerr
			case <-time.After(5 * time.Second):
				return err
			}
		}
	}
	return nil
}

// records makes one batch's records, reused for every batch.
func records(n int) []*ingestgatev1.Record {
	out := make([]*ingestgatev1.Record, n)
	for i := range out {
		out[i] = &ingestgatev1.Record{Time: timestamppb.Now(), Name: "bench", Value: &ingestgatev1.Record_NumberValue{NumberValue: float64(i)}}
	}
	return out
}

// grpcLink is a Connect stream.
type grpcLink struct {
	s grpc.BidiStreamingClient[ingestgatev1.ConnectRequest, ingestgatev1.ConnectResponse]
	// base makes this stream's seqs new to the node, as the SDK's are
	// (it starts at the clock): seqs the device used before, in an
	// earlier run, would be acked as duplicates without being stored.
	base   uint64
	batch  *ingestgatev1.TelemetryBatch
	req    *ingestgatev1.ConnectRequest
	cancel context.CancelFunc
}

func openGRPC(client ingestgatev1.TelemetryServiceClient, key string, batch int) func(ctx context.Context, id string) (link, error) {
	return func(ctx context.Context, id string) (link, error) {
		ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(ctx, "x-device-id", id, "authorization", "Bearer "+key))
		s, err := client.Connect(ctx)
		if err != nil {
			cancel()
			return nil, err
		}
		b := &ingestgatev1.TelemetryBatch{Records: records(batch)}
		return &grpcLink{s: s, base: uint64(time.Now().UnixNano()), batch: b, req: &ingestgatev1.ConnectRequest{Message: &ingestgatev1.ConnectRequest_Batch{Batch: b}}, cancel: cancel}, nil
	}
}

func (g *grpcLink) send(seq uint64) error {
	g.batch.Seq = g.base + seq
	return g.s.Send(g.req) // io.EOF when the stream ended: next has its status
}

func (g *grpcLink) next() (uint64, bool, error) {
	for {
		m, err := g.s.Recv()
		if err != nil {
			return 0, false, err
		}
		if a := m.GetAck(); a != nil {
			return a.GetSeq() - g.base, a.GetDuplicate(), nil
		}
		// Throttle: the node paces us; Goodbye: the status follows.
	}
}

func (g *grpcLink) close() { g.cancel() }

func countTrue(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
