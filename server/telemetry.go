package server

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/sink"
)

// telemetryService serves devices (Connect, Publish: ingest keys) and
// consumers (Subscribe, ReadTelemetry: management credentials).
type telemetryService struct {
	ingestgatev1.UnimplementedTelemetryServiceServer
	*Server
	ackBufs *sync.Pool // rings of the streams' ackQueues
}

const maxIdempotencyKeyLen = 128

// Publish stores one batch for a device that cannot hold a stream. The
// reply comes once the batch is durable; a retry with the same idempotency
// key (in the body, or the Idempotency-Key header) is acknowledged without
// storing twice.
func (t *telemetryService) Publish(ctx context.Context, req *ingestgatev1.PublishRequest) (*ingestgatev1.PublishResponse, error) {
	k, _, deviceID, err := t.authenticateDevice(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := t.admitDevice(ctx, k, deviceID); err != nil {
		return nil, err
	}
	if err := validateRecords(req.GetRecords(), t.cfg.MaxRecordsPerBatch); err != nil {
		return nil, invalidArg("%v", err)
	}
	idem := req.GetIdempotencyKey()
	if md, _ := metadata.FromIncomingContext(ctx); idem == "" && len(md.Get("idempotency-key")) > 0 {
		idem = md.Get("idempotency-key")[0]
	}
	if len(idem) > maxIdempotencyKeyLen {
		return nil, invalidArg("idempotency_key: at most %d characters", maxIdempotencyKeyLen)
	}
	n := len(req.GetRecords())
	if wait, rps := t.limits.take(ctx, k, n); wait > 0 {
		return nil, throttled(wait, rps)
	}
	b := sink.Batch{
		WorkspaceID: k.WorkspaceID, DeviceID: deviceID, IngestKeyID: k.ID,
		ReceiveTime: t.now(), Records: req.GetRecords(),
	}
	if idem != "" {
		b.DedupeKey = "i:" + idem
	}
	sctx, span := t.startSpan(ctx, "sink append", trace.SpanKindInternal,
		attribute.String("ingestgate.workspace_id", b.WorkspaceID), attribute.Int("ingestgate.records", n))
	r, err := sink.Store(sctx, t.sink, b)
	span.SetAttributes(attribute.Bool("ingestgate.duplicate", r.Duplicate))
	endSpan(span, err)
	if err != nil {
		return nil, t.sinkError(ctx, err)
	}
	if !r.Duplicate {
		t.usage.add(k.WorkspaceID, k.ID, deviceID, n, b.ReceiveTime)
		t.metrics.publish.ingested(n)
	}
	return &ingestgatev1.PublishResponse{AcceptedRecords: uint32(n), Duplicate: r.Duplicate}, nil
}

// throttled is RESOURCE_EXHAUSTED with RetryInfo, which the gateway turns
// into 429 with Retry-After: when the records could be stored, so a client
// that waits as told is admitted (unless others used the rate meanwhile).
func throttled(wait time.Duration, rps uint32) error {
	return retryAfter(wait, "ingest key over its rate of %d records per second; retry after %s", rps, wait.Round(time.Millisecond))
}

func (t *telemetryService) sinkError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded before the batch was stored")
	case errors.Is(err, sink.ErrInvalidRecord):
		return invalidArg("%v", err)
	case errors.Is(err, sink.ErrBadCursor):
		return invalidArg("cursor is malformed; pass a cursor from a previous entry")
	}
	t.log.ErrorContext(ctx, "sink", slog.Any("error", err))
	return status.Error(codes.Unavailable, "telemetry storage unavailable; retry")
}

func (t *telemetryService) readRef(ctx context.Context, ws, device string) error {
	_, err := t.requireIn(ctx, keystore.PermTelemetryRead, ws, func() error {
		if device == "" {
			return nil
		}
		return keystore.ValidateDeviceID(device)
	})
	return err
}

// ReadTelemetry returns one page of stored entries.
func (t *telemetryService) ReadTelemetry(ctx context.Context, req *ingestgatev1.ReadTelemetryRequest) (*ingestgatev1.ReadTelemetryResponse, error) {
	if err := t.readRef(ctx, req.GetWorkspaceId(), req.GetDeviceId()); err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	if size < 0 {
		return nil, invalidArg("page_size must not be negative")
	}
	sctx, span := t.startSpan(ctx, "sink read", trace.SpanKindInternal, attribute.String("ingestgate.workspace_id", req.GetWorkspaceId()))
	entries, err := t.sink.Read(sctx, sink.Query{
		WorkspaceID: req.GetWorkspaceId(), After: req.GetAfterCursor(), DeviceID: req.GetDeviceId(),
		Limit: min(size, sink.MaxReadLimit),
	})
	span.SetAttributes(attribute.Int("ingestgate.entries", len(entries)))
	endSpan(span, err)
	if err != nil {
		return nil, t.sinkError(ctx, err)
	}
	resp := &ingestgatev1.ReadTelemetryResponse{Entries: entriesToPB(entries), NextCursor: req.GetAfterCursor()}
	if len(entries) > 0 {
		resp.NextCursor = entries[len(entries)-1].Cursor
	}
	return resp, nil
}

// subscribeWait is how long one Read waits for new entries before the loop
// checks the stream is still wanted.
const subscribeWait = 15 * time.Second

// Subscribe sends what is stored after the cursor, then new entries as they
// become durable, until the client goes away.
func (t *telemetryService) Subscribe(req *ingestgatev1.SubscribeRequest, ss grpc.ServerStreamingServer[ingestgatev1.SubscribeResponse]) error {
	ctx := ss.Context()
	if err := t.readRef(ctx, req.GetWorkspaceId(), req.GetDeviceId()); err != nil {
		return err
	}
	after := req.GetAfterCursor()
	switch {
	case req.GetFromStart() && after != "":
		return invalidArg("from_start and after_cursor are exclusive")
	case !req.GetFromStart() && after == "":
		end, err := t.sink.EndCursor(ctx, req.GetWorkspaceId())
		if err != nil {
			return t.sinkError(ctx, err)
		}
		after = end
	}
	// A subscriber never ends by itself: shutdown ends it (first, so the
	// gateway's streams end and the HTTP server can drain).
	readCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(t.stopping, cancel)()
	for {
		entries, err := t.sink.Read(readCtx, sink.Query{
			WorkspaceID: req.GetWorkspaceId(), After: after, DeviceID: req.GetDeviceId(),
			Limit: sink.MaxReadLimit, Wait: subscribeWait,
		})
		if ctx.Err() != nil {
			return nil
		}
		if readCtx.Err() != nil {
			return status.Error(codes.Unavailable, "server shutting down; subscribe again after the last cursor received")
		}
		if err != nil {
			return t.sinkError(ctx, err)
		}
		// The credential is judged again before anything more is sent, so
		// a management key revoked, deactivated or stripped of
		// telemetry:read stops receiving within one wait.
		if err := t.reauthorize(ctx, keystore.PermTelemetryRead, req.GetWorkspaceId()); err != nil {
			return err
		}
		if len(entries) == 0 {
			continue
		}
		if err := ss.Send(&ingestgatev1.SubscribeResponse{Entries: entriesToPB(entries)}); err != nil {
			return err
		}
		after = entries[len(entries)-1].Cursor
	}
}

func entriesToPB(entries []sink.Entry) []*ingestgatev1.TelemetryEntry {
	out := make([]*ingestgatev1.TelemetryEntry, len(entries))
	for i, e := range entries {
		out[i] = &ingestgatev1.TelemetryEntry{
			Cursor: e.Cursor, WorkspaceId: e.WorkspaceID, DeviceId: e.DeviceID, IngestKeyId: e.IngestKeyID,
			ReceiveTime: timestamppb.New(e.ReceiveTime), Record: e.Record,
		}
	}
	return out
}

// retryAfterSeconds renders a RetryInfo delay as a Retry-After header value,
// rounded up so a client never retries early.
func retryAfterSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(s, 1), 10)
}
