package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

type revokeOptions struct {
	addrs                        []string
	apiKey, workspace            string
	streams, others, conns, reps int
	json                         bool
}

func runRevoke(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var o revokeOptions
	var addrs string
	fs := newFlagSet("ingestbench revoke", stderr)
	fs.StringVar(&addrs, "addrs", or(getenv("INGESTGATE_ADDR"), "127.0.0.1:50051"), "the nodes' gRPC addresses, comma-separated; streams spread over them, the revocation goes through the first")
	fs.StringVar(&o.apiKey, "api-key", getenv("INGESTGATE_API_KEY"), "a management key with keys:write (INGESTGATE_API_KEY)")
	fs.StringVar(&o.workspace, "workspace", or(getenv("INGESTGATE_WORKSPACE"), "default"), "workspace of the run's keys")
	fs.IntVar(&o.streams, "streams", 1000, "streams of the key that is revoked")
	fs.IntVar(&o.others, "others", 100, "streams of another key, which must stay open")
	fs.IntVar(&o.conns, "conns", 0, "gRPC connections per node the streams share (0: one per 100 streams)")
	fs.IntVar(&o.reps, "reps", 5, "revocations to time")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON on stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o.addrs = strings.Split(addrs, ",")
	if o.streams < 1 || o.others < 0 || o.conns < 0 || o.reps < 1 || o.apiKey == "" || slices.Contains(o.addrs, "") {
		fmt.Fprintln(stderr, "ingestbench revoke: --api-key and --addrs are required; --streams and --reps at least 1")
		return errUsage
	}
	res, err := revoke(ctx, o, stderr)
	return emit(stdout, o.json, res, err)
}

type revokeResult struct {
	Workload string `json:"workload"`
	Nodes    int    `json:"nodes"`
	Streams  int    `json:"streams"`
	Others   int    `json:"other_streams"`
	Reps     int    `json:"repetitions"`
	// Per repetition: from RevokeIngestKey returning (and from its call)
	// to the last of the key's streams ending.
	LastClosedAfterReturnMs quantiles `json:"last_closed_after_return_ms"`
	LastClosedAfterCallMs   quantiles `json:"last_closed_after_call_ms"`
	// Over every stream of every repetition: from the call to its end.
	StreamClosedAfterCallMs quantiles `json:"stream_closed_after_call_ms"`
	WronglyClosed           int       `json:"other_streams_wrongly_closed"`
	MeasuredAtUTC           string    `json:"measured_at"`
}

type quantiles struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func quantilesOf(ms []float64) quantiles {
	slices.Sort(ms)
	at := func(q float64) float64 { return ms[min(len(ms)-1, int(q*float64(len(ms))))] }
	return quantiles{P50: at(0.5), P99: at(0.99), Max: ms[len(ms)-1]}
}

func (r *revokeResult) writeText(w io.Writer) {
	fmt.Fprintf(w, "revoke: %d streams of the key on %d nodes, %d others, %d repetitions\n", r.Streams, r.Nodes, r.Others, r.Reps)
	fmt.Fprintf(w, "last stream closed after the revoke returned: p50 %.2fms  p99 %.2fms  max %.2fms\n", r.LastClosedAfterReturnMs.P50, r.LastClosedAfterReturnMs.P99, r.LastClosedAfterReturnMs.Max)
	fmt.Fprintf(w, "last stream closed after the revoke call:     p50 %.2fms  p99 %.2fms  max %.2fms\n", r.LastClosedAfterCallMs.P50, r.LastClosedAfterCallMs.P99, r.LastClosedAfterCallMs.Max)
	fmt.Fprintf(w, "each stream closed after the revoke call:     p50 %.2fms  p99 %.2fms  max %.2fms\n", r.StreamClosedAfterCallMs.P50, r.StreamClosedAfterCallMs.P99, r.StreamClosedAfterCallMs.Max)
	fmt.Fprintf(w, "other keys' streams wrongly closed: %d\n", r.WronglyClosed)
}

// openStream is one device's stream, open once its first batch is acked;
// ended is closed (and at set) when the stream ends.
type openStream struct {
	cancel context.CancelFunc
	ended  chan struct{}
	at     atomic.Int64 // unix ns of the end
}

func startStream(ctx context.Context, cc *grpc.ClientConn, id, key string) (*openStream, error) {
	ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(ctx, "x-device-id", id, "authorization", "Bearer "+key))
	s, err := ingestgatev1.NewTelemetryServiceClient(cc).Connect(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	b := &ingestgatev1.TelemetryBatch{Seq: 1, Records: records(1)}
	if err := s.Send(&ingestgatev1.ConnectRequest{Message: &ingestgatev1.ConnectRequest_Batch{Batch: b}}); err != nil {
		cancel()
		return nil, err
	}
	if m, err := s.Recv(); err != nil || m.GetAck() == nil {
		cancel()
		return nil, fmt.Errorf("stream %s not acked: %v", id, err)
	}
	os := &openStream{cancel: cancel, ended: make(chan struct{})}
	go func() {
		for {
			if _, err := s.Recv(); err != nil {
				os.at.Store(time.Now().UnixNano())
				close(os.ended)
				return
			}
		}
	}()
	return os, nil
}

func revoke(ctx context.Context, o revokeOptions, progress io.Writer) (*revokeResult, error) {
	perNode := o.conns
	if perNode == 0 {
		perNode = max(1, (o.streams+o.others)/len(o.addrs)/100)
	}
	var conns []*grpc.ClientConn // node i's connections at i, i+len(addrs), ...
	for range perNode {
		for _, a := range o.addrs {
			c, err := dial(a)
			if err != nil {
				return nil, err
			}
			defer c.Close()
			conns = append(conns, c)
		}
	}
	keys := ingestgatev1.NewIngestKeyServiceClient(conns[0])
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+o.apiKey)
	res := &revokeResult{Workload: "revoke", Nodes: len(o.addrs), Streams: o.streams, Others: o.others, Reps: o.reps}
	var lastReturn, lastCall, each []float64
	for rep := range o.reps {
		mk := func(name string) (*ingestgatev1.CreateIngestKeyResponse, error) {
			return keys.CreateIngestKey(actx, &ingestgatev1.CreateIngestKeyRequest{WorkspaceId: o.workspace, IngestKey: &ingestgatev1.IngestKey{
				Name: fmt.Sprintf("ingestbench revoke %d %s", rep, name), Limits: &ingestgatev1.KeyLimits{MaxStreams: uint32(o.streams + o.others)},
			}})
		}
		victim, err := mk("revoked")
		if err != nil {
			return nil, fmt.Errorf("create key: %w", err)
		}
		other, err := mk("bystander")
		if err != nil {
			return nil, fmt.Errorf("create key: %w", err)
		}
		open := func(n int, prefix, key string) ([]*openStream, error) {
			out := make([]*openStream, n)
			var g errgroup.Group // not WithContext: its ctx ends with Wait, and the streams must not
			g.SetLimit(64)
			for i := range n {
				g.Go(func() error {
					s, err := startStream(ctx, conns[i%len(conns)], fmt.Sprintf("%s-%d", prefix, i), key)
					out[i] = s
					return err
				})
			}
			return out, g.Wait()
		}
		victims, err := open(o.streams, "revoke", victim.GetSecret())
		if err != nil {
			return nil, err
		}
		others, err := open(o.others, "bystander", other.GetSecret())
		if err != nil {
			return nil, err
		}
		call := time.Now()
		if _, err := keys.RevokeIngestKey(actx, &ingestgatev1.RevokeIngestKeyRequest{WorkspaceId: o.workspace, KeyId: victim.GetIngestKey().GetId(), Reason: "ingestbench"}); err != nil {
			return nil, fmt.Errorf("revoke: %w", err)
		}
		returned := time.Now()
		timeout := time.After(time.Minute)
		var last int64
		for _, s := range victims {
			select {
			case <-s.ended:
			case <-timeout:
				return nil, errors.New("streams of the revoked key still open a minute later")
			}
			at := s.at.Load()
			last = max(last, at)
			each = append(each, float64(at-call.UnixNano())/1e6)
		}
		lastReturn = append(lastReturn, float64(last-returned.UnixNano())/1e6)
		lastCall = append(lastCall, float64(last-call.UnixNano())/1e6)
		time.Sleep(200 * time.Millisecond) // a wrong close of a bystander would have landed
		for _, s := range others {
			select {
			case <-s.ended:
				res.WronglyClosed++
			default:
			}
		}
		var wg sync.WaitGroup
		for _, s := range slices.Concat(victims, others) {
			s.cancel()
			wg.Go(func() { <-s.ended })
		}
		wg.Wait()
		for _, k := range []string{victim.GetIngestKey().GetId(), other.GetIngestKey().GetId()} {
			keys.DeleteIngestKey(actx, &ingestgatev1.DeleteIngestKeyRequest{WorkspaceId: o.workspace, KeyId: k})
		}
		fmt.Fprintf(progress, "  rep %d: last of %d streams closed %.2fms after the revoke returned (%.2fms after the call)\n", rep+1, o.streams, lastReturn[rep], lastCall[rep])
	}
	res.LastClosedAfterReturnMs = quantilesOf(lastReturn)
	res.LastClosedAfterCallMs = quantilesOf(lastCall)
	res.StreamClosedAfterCallMs = quantilesOf(each)
	res.MeasuredAtUTC = time.Now().UTC().Format(time.RFC3339)
	return res, nil
}
