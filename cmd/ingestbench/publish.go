package main

import (
	"context"

	"google.golang.org/grpc/metadata"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// publishLink is a device without a stream: one unary Publish per batch
// (the gRPC form of POST /v1/telemetry), up to the window in flight; the
// reply is the ack.
type publishLink struct {
	ctx     context.Context
	client  ingestgatev1.TelemetryServiceClient
	records []*ingestgatev1.Record
	pending chan call
	closed  chan struct{}
}

type call struct {
	seq  uint64
	done chan reply
}

type reply struct {
	duplicate bool
	err       error
}

func openPublish(client ingestgatev1.TelemetryServiceClient, key string, batch, window int) func(ctx context.Context, id string) (link, error) {
	return func(ctx context.Context, id string) (link, error) {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-device-id", id, "authorization", "Bearer "+key)
		return &publishLink{ctx: ctx, client: client, records: records(batch), pending: make(chan call, window+1), closed: make(chan struct{})}, nil
	}
}

func (p *publishLink) send(seq uint64) error {
	c := call{seq: seq, done: make(chan reply, 1)}
	p.pending <- c
	go func() {
		// No idempotency key: every call is a new batch.
		r, err := p.client.Publish(p.ctx, &ingestgatev1.PublishRequest{Records: p.records})
		c.done <- reply{r.GetDuplicate(), err}
	}()
	return nil
}

func (p *publishLink) next() (uint64, bool, error) {
	var c call
	select {
	case c = <-p.pending:
	case <-p.closed:
		return 0, false, errClosed
	}
	r := <-c.done // the call ends: its context is the session's
	if r.err != nil {
		return 0, false, r.err
	}
	return c.seq, r.duplicate, nil
}

func (p *publishLink) close() { close(p.closed) }
