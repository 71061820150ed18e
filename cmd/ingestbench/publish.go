package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// unaryLink is a device without a stream: one request per batch, up to
// the window in flight; the reply is the ack. publish is one request:
// a gRPC Publish, or a POST /v1/telemetry (the HTTP devices' path).
type unaryLink struct {
	publish func() reply
	inflight[call]
}

type call struct {
	seq  uint64
	done chan reply
}

type reply struct {
	duplicate bool
	err       error
}

func newUnaryLink(window int, publish func() reply) *unaryLink {
	return &unaryLink{publish: publish, inflight: newInflight[call](window)}
}

func (u *unaryLink) send(seq uint64) error {
	c := call{seq: seq, done: make(chan reply, 1)}
	u.push(c)
	go func() { c.done <- u.publish() }()
	return nil
}

func (u *unaryLink) next() (uint64, bool, error) {
	c, err := u.oldest()
	if err != nil {
		return 0, false, err
	}
	r := <-c.done // the request ends: its context is the session's
	if r.err != nil {
		return 0, false, r.err
	}
	return c.seq, r.duplicate, nil
}

// openPublish sends each batch as a gRPC Publish. No idempotency key:
// every call is a new batch.
func openPublish(client ingestgatev1.TelemetryServiceClient, key string, batch, window int) func(ctx context.Context, id string) (link, error) {
	return func(ctx context.Context, id string) (link, error) {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-device-id", id, "authorization", "Bearer "+key)
		req := &ingestgatev1.PublishRequest{Records: records(batch)}
		return newUnaryLink(window, func() reply {
			r, err := client.Publish(ctx, req)
			return reply{r.GetDuplicate(), err}
		}), nil
	}
}

// openREST sends each batch as POST base/v1/telemetry, JSON as an HTTP
// device would, on keep-alive connections.
func openREST(client *http.Client, base, key string, batch, window int) func(ctx context.Context, id string) (link, error) {
	return func(ctx context.Context, id string) (link, error) {
		body, err := protojson.Marshal(&ingestgatev1.PublishRequest{Records: records(batch)})
		if err != nil {
			return nil, err
		}
		return newUnaryLink(window, func() reply {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/telemetry", bytes.NewReader(body))
			if err != nil {
				return reply{err: err}
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Device-Id", id)
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := client.Do(req)
			if err != nil {
				return reply{err: err}
			}
			defer resp.Body.Close()
			var out struct {
				Duplicate bool `json:"duplicate"`
			}
			err = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&out)
			_, _ = io.Copy(io.Discard, resp.Body) // so the connection is reused
			if resp.StatusCode != http.StatusOK {
				return reply{err: fmt.Errorf("HTTP %d", resp.StatusCode)}
			}
			return reply{out.Duplicate, err}
		}), nil
	}
}
