package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/server/registry"
	"github.com/ingestgate/ingestgate/sink"
)

type connectStream = grpc.BidiStreamingServer[ingestgatev1.ConnectRequest, ingestgatev1.ConnectResponse]

// Connect serves one device stream. Its life: authenticate before reading
// any message; register in the stream registry; then a receiver goroutine
// validates each batch and hands it to the sink, while this goroutine sends
// the acks in order as batches become durable. A close decided elsewhere
// (revocation, scope change, ...) arrives through the registry: the stream
// sends Goodbye and ends with the closure's status.
func (t *telemetryService) Connect(ss connectStream) error {
	// Authentication and the store reads (deep SQLite and pgx call
	// stacks) run on a goroutine of their own: the stack they grow goes
	// with it, instead of staying with this one for the days an idle
	// stream lives (a fleet's memory is mostly idle streams).
	var (
		st    *registry.Stream
		k     *keystore.IngestKey
		err   error
		crash any
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		// A panic belongs to the handler, whose recovery logs it: carry
		// it over with the stack where it happened.
		defer func() {
			if p := recover(); p != nil {
				crash = fmt.Sprintf("%v\n%s", p, debug.Stack())
			}
		}()
		st, k, err = t.openStream(ss.Context())
	}()
	<-done
	if crash != nil {
		panic(crash)
	}
	if err != nil {
		var r *refusal
		if errors.As(err, &r) && r.reason != ingestgatev1.GoodbyeReason_GOODBYE_REASON_UNSPECIFIED {
			gb := &ingestgatev1.Goodbye{Reason: r.reason, Message: r.st.Message()}
			_ = ss.Send(&ingestgatev1.ConnectResponse{Message: &ingestgatev1.ConnectResponse_Goodbye{Goodbye: gb}})
		}
		return err
	}
	defer t.seats.release(st)
	defer t.streams.Remove(st)
	t.metrics.streamsOpened.Add(ss.Context(), 1)
	if t.stopping.Err() != nil {
		// Registered after shutdown closed the live streams: close it too,
		// or GracefulStop would wait for it until its deadline.
		st.Close(closeFor(goodbyeShutdown))
	}
	err = t.serveStream(ss, st, k)
	t.metrics.closed(ss.Context(), st, err)
	return err
}

// openStream authenticates the device and registers its stream. The key is
// judged again and the device read from the store (an unknown device is
// registered then) only after registering, so a change committed while the
// stream was being set up is either seen by that check or finds the stream
// in the registry: never neither. The key is read again only when an
// invalidation reached the verifier's cache since it verified the token
// (IngestKeyGeneration); otherwise the cached key is as current as a read,
// since a change's event forgets the key before it rechecks the registry.
// (A fleet's reconnect storm so reads its key once, not once per device.)
// That check holds the key's judging lock (shared), so a recheck of the
// stream runs wholly before it (and leaves the still-opening stream to it)
// or wholly after it: an older read never overwrites the tags and deadline
// a newer one set.
func (t *telemetryService) openStream(ctx context.Context) (*registry.Stream, *keystore.IngestKey, error) {
	gen := t.verifier.IngestKeyGeneration() // before verifying: see above
	cached, hash, deviceID, err := t.authenticateDevice(ctx)
	if err != nil {
		return nil, nil, err
	}
	st := &registry.Stream{
		ID: t.newStreamID(), WorkspaceID: cached.WorkspaceID, KeyID: cached.ID, DeviceID: deviceID, Hash: hash,
		KeyPrefix: usedPrefix(cached, hash), Peer: peerAddr(ctx),
	}
	if err := t.streams.Add(ctx, st, t.maxStreams(cached)); err != nil {
		what := "ingest key " + cached.DisplayPrefix
		if errors.Is(err, registry.ErrTooManyDeviceStreams) {
			what = "device " + deviceID
		}
		return nil, nil, status.Errorf(codes.ResourceExhausted, "%s has too many open streams on this node; close one first", what)
	}
	fail := func(err error) (*registry.Stream, *keystore.IngestKey, error) {
		t.streams.Remove(st)
		t.seats.release(st)
		return nil, nil, err
	}
	if err := t.seats.take(ctx, st, cached, t.maxStreams(cached), t.cfg.MaxStreamsPerDevice); err != nil {
		return fail(err)
	}
	// While the store is unreachable, a key the verifier still holds (an
	// active key, cached) keeps admitting the devices its scope names without
	// tags, so a fleet rides out a brief outage. Such a stream is judged
	// against the store by the next sweep or resync once it is back.
	degradable := cached.Scope.Admits(deviceID, nil)
	mu := t.judging.of(cached.ID)
	mu.RLock()
	defer mu.RUnlock()
	k := *cached
	reread := t.verifier.IngestKeyGeneration() != gen
	if reread {
		k, err = t.store.GetIngestKey(ctx, cached.WorkspaceID, cached.ID)
	}
	degrade := func(err error) {
		t.log.WarnContext(ctx, "store unreachable; admitting a cached key until the store is back", slog.String("key_prefix", cached.DisplayPrefix), slog.Any("error", err))
		k = *cached
		st.Degraded.Store(true)
		st.SetTags(map[string]string{})
	}
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return fail(refuse(goodbyeDeleted, codes.Unauthenticated, "Invalid credentials: ingest key deleted"))
	case err != nil && degradable:
		degrade(err)
	case err != nil:
		t.log.ErrorContext(ctx, "read ingest key", slog.Any("error", err))
		return fail(status.Error(codes.Unavailable, "cannot verify credentials right now; retry"))
	default:
		if r := k.Check(hash, time.Now()); r != 0 {
			return fail(refuse(reasonClosures[r], codes.Unauthenticated, credentialMessage(r)))
		}
		// Reads the device, registers it when new and the scope names it,
		// and checks the scope. (Registering audits DEVICE_CREATED, which
		// rechecks nothing, so holding the judging lock here is safe.)
		d, err := t.admitDevice(ctx, &k, deviceID)
		switch {
		case status.Code(err) == codes.Unavailable && degradable && !reread:
			// The store is down and the key came from the cache, as it
			// would have had the key's read failed. (A key just read is
			// newer than the cached one: never fall back past it.)
			degrade(err)
		case err != nil:
			return fail(err)
		default:
			tags := d.Tags
			if tags == nil {
				tags = map[string]string{}
			}
			st.SetTags(tags)
		}
	}
	t.limits.update(&k)
	st.SetDeadline(k.Deadline(hash), func() { t.recheck([]*registry.Stream{st}, false) })
	t.log.DebugContext(ctx, "stream opened", slog.String("key_prefix", k.DisplayPrefix), slog.String("device_id", deviceID))
	// The stream keeps only what it uses of the key (the rest, name,
	// labels and scope, would stay on the heap for the stream's life).
	return st, &keystore.IngestKey{ID: k.ID, WorkspaceID: k.WorkspaceID, Limits: k.Limits}, nil
}

func (t *telemetryService) maxStreams(k *keystore.IngestKey) int {
	if k.Limits.MaxStreams > 0 {
		return int(k.Limits.MaxStreams)
	}
	return t.cfg.MaxStreamsPerKey
}

// inflight is a batch handed to the sink, or the receiver's final word
// (err set: io.EOF for a clean half-close).
type inflight struct {
	seq     uint64
	records int
	bytes   int64 // held in Server.inflight until the result is read
	arrived time.Time
	result  <-chan sink.Result
	err     error
}

// pipeline links a stream's receiver to its sender. slots bounds the
// batches awaiting their ack (the stream window: what one stream holds in
// memory, and how far a device may pipeline ahead of its acks). appendMu is
// held from the closed check through the hand-off to acks, so once the
// closer has taken it every batch given to the sink is in acks.
type pipeline struct {
	acks      ackQueue
	slots     chan struct{}
	throttles chan *ingestgatev1.Throttle
	appendMu  sync.Mutex
	received  chan struct{} // closed when the receiver has returned
}

func (t *telemetryService) serveStream(ss connectStream, st *registry.Stream, k *keystore.IngestKey) error {
	p := &pipeline{
		slots:     make(chan struct{}, t.cfg.StreamWindow),
		throttles: make(chan *ingestgatev1.Throttle, 1),
		received:  make(chan struct{}),
	}
	p.acks.init(t.ackBufs)
	go t.receive(ss, st, k, p)
	defer func() { go t.settleLeftovers(p) }()

	// A stream that sends nothing for StreamIdleTimeout is closed (the
	// device reconnects when it has data); keepalives alone do not count.
	// The timer is not reset per batch (timer updates cost at 100k
	// batches/s): when it fires, it is re-armed from the last ack.
	var idle <-chan time.Time
	var idleTimer *time.Timer
	idleSince := time.Now()
	if t.cfg.StreamIdleTimeout > 0 {
		idleTimer = time.NewTimer(t.cfg.StreamIdleTimeout)
		defer idleTimer.Stop()
		idle = idleTimer.C
	}
	for {
		select {
		case <-st.Done():
			return t.closeStream(ss, st, k, p)
		case <-ss.Context().Done():
			return status.FromContextError(ss.Context().Err()).Err() // the device went away
		case <-idle:
			if last := st.LastBatch(); last.After(idleSince) {
				idleSince = last
			}
			if left := t.cfg.StreamIdleTimeout - time.Since(idleSince); left > 0 {
				idleTimer.Reset(left)
				continue
			}
			st.Close(registry.Closure{Code: codes.Unavailable, Message: "stream idle for " + t.cfg.StreamIdleTimeout.String() + "; reconnect when there is data"})
			return t.closeStream(ss, st, k, p)
		case th := <-p.throttles:
			if err := ss.Send(&ingestgatev1.ConnectResponse{Message: &ingestgatev1.ConnectResponse_Throttle{Throttle: th}}); err != nil {
				return err
			}
		case <-p.acks.ready:
			for b := range p.acks.drain() {
				if b.err != nil {
					if st.Closure() != nil {
						return t.closeStream(ss, st, k, p) // the receiver stopped because of the close
					}
					if b.err == io.EOF {
						return nil // every earlier batch was acked: acks is in order
					}
					return b.err
				}
				if err := t.ack(ss, st, k, p, b); err != nil {
					if st.Closure() != nil {
						return t.closeStream(ss, st, k, p)
					}
					return err
				}
			}
		}
	}
}

// ack waits until b is durable (a commit takes milliseconds; a batch the
// sink had not begun to commit when the stream closed fails at once) and
// acknowledges it.
func (t *telemetryService) ack(ss connectStream, st *registry.Stream, k *keystore.IngestKey, p *pipeline, b inflight) error {
	r := <-b.result
	t.inflight.Release(b.bytes)
	<-p.slots
	if r.Err != nil {
		if st.Closure() != nil {
			return r.Err
		}
		return t.sinkError(ss.Context(), r.Err) // UNAVAILABLE: resend unacked batches after reconnecting
	}
	now := time.Now() // one clock read per ack: they add up at 100k acks/s
	stored := 0
	if !r.Duplicate {
		stored = b.records
		t.usage.add(k.WorkspaceID, k.ID, st.DeviceID, b.records, now)
		t.metrics.stream.ingested(b.records)
	}
	st.Acked(stored, now)
	ack := &ingestgatev1.Ack{Seq: b.seq, Duplicate: r.Duplicate}
	err := ss.Send(&ingestgatev1.ConnectResponse{Message: &ingestgatev1.ConnectResponse_Ack{Ack: ack}})
	// Not the stream's context: its span would make every batch offer an
	// exemplar (a clock read and a reservoir update) to the histogram.
	t.metrics.ackLatency.Record(context.Background(), now.Sub(b.arrived).Seconds())
	return err
}

// closeStream ends a stream closed by a decision elsewhere. It first settles
// every batch already given to the sink, acking those that were stored, so
// that after the Goodbye nothing more of this stream is stored and every
// stored batch it can still tell the device about is acked.
func (t *telemetryService) closeStream(ss connectStream, st *registry.Stream, k *keystore.IngestKey, p *pipeline) error {
	p.appendMu.Lock() // the receiver is not between its check and acks
	p.appendMu.Unlock()
	for b := range p.acks.drain() {
		if b.err == nil && t.ack(ss, st, k, p, b) != nil && ss.Context().Err() != nil {
			break // the device is gone; nothing more to tell it
		}
	}
	return t.goodbye(ss, st)
}

// settleLeftovers releases what batches still in acks hold once the
// handler has returned early (the device went away, a send failed): it waits
// for the receiver, which pushes nothing after that, then for each result.
func (t *telemetryService) settleLeftovers(p *pipeline) {
	<-p.received
	for b := range p.acks.drain() {
		if b.result != nil {
			<-b.result
			t.inflight.Release(b.bytes)
		}
	}
}

// goodbye tells the device why its stream ends, then ends it with the
// closure's status.
func (t *telemetryService) goodbye(ss connectStream, st *registry.Stream) error {
	c := st.Closure()
	if c.Reason != ingestgatev1.GoodbyeReason_GOODBYE_REASON_UNSPECIFIED {
		gb := &ingestgatev1.Goodbye{Reason: c.Reason, Message: c.Message}
		// Best effort: the status that follows carries the same message.
		_ = ss.Send(&ingestgatev1.ConnectResponse{Message: &ingestgatev1.ConnectResponse_Goodbye{Goodbye: gb}})
	}
	t.log.DebugContext(ss.Context(), "stream closed", slog.String("reason", c.Reason.String()), slog.String("device_id", st.DeviceID))
	return status.Error(c.Code, c.Message)
}

// receive reads batches until the stream ends and hands each to accept;
// its last act is the final word in acks.
func (t *telemetryService) receive(ss connectStream, st *registry.Stream, k *keystore.IngestKey, p *pipeline) {
	for {
		req, err := ss.Recv()
		if err == nil {
			err = t.accept(st, k, p, req)
		}
		if err != nil {
			// The final word: the acks queue has room for every batch
			// holding a slot plus this, and the sender must learn that the
			// receiver stopped, whatever the reason.
			p.acks.push(inflight{err: err})
			close(p.received)
			return
		}
	}
}

// accept validates a batch, applies the key's rate, and hands it to the
// sink under the stream's context, so a batch not yet committed when the
// stream closes is not stored. An error ends the stream's receiving.
func (t *telemetryService) accept(st *registry.Stream, k *keystore.IngestKey, p *pipeline, req *ingestgatev1.ConnectRequest) error {
	ctx := st.Context()
	// When ctx ended: the sender ignores this after a close, and otherwise
	// the device went away (a status, so the call is not logged as an
	// UNKNOWN error).
	stopped := func() error { return status.FromContextError(context.Cause(ctx)).Err() }
	arrived := time.Now()
	b := req.GetBatch()
	if b == nil {
		return status.Error(codes.InvalidArgument, "message has no batch")
	}
	if err := validateRecords(b.GetRecords(), t.cfg.MaxRecordsPerBatch); err != nil {
		return status.Errorf(codes.InvalidArgument, "batch seq %d: %v", b.GetSeq(), err)
	}
	// Over the key's rate: tell the device (Throttle) and hold the batch
	// until the bucket admits it, never drop it.
	for {
		wait, rps := t.limits.take(ctx, k, len(b.GetRecords()))
		if wait == 0 {
			break
		}
		th := &ingestgatev1.Throttle{RetryAfter: durationpb.New(wait), RecordsPerSecond: rps}
		select {
		case p.throttles <- th:
		default: // one already queued says the same
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return stopped()
		}
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return stopped()
	}
	// The node-wide bound on batch bytes awaiting their ack: past it,
	// streams stop reading and gRPC flow control holds devices back.
	size := int64(proto.Size(req))
	if err := t.inflight.Acquire(ctx, size); err != nil {
		<-p.slots
		return stopped()
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if ctx.Err() != nil {
		t.inflight.Release(size)
		<-p.slots
		return stopped()
	}
	res := t.sink.Append(ctx, sink.Batch{
		WorkspaceID: k.WorkspaceID, DeviceID: st.DeviceID, IngestKeyID: k.ID,
		DedupeKey: streamDedupeKey(b.GetSeq()), ReceiveTime: storeTime(arrived), Records: b.GetRecords(),
	})
	p.acks.push(inflight{seq: b.GetSeq(), records: len(b.GetRecords()), bytes: size, result: res, arrived: arrived}) // a slot is held: never overflows
	return nil
}

func streamDedupeKey(seq uint64) string {
	return "s:" + strconv.FormatUint(seq, 10)
}
