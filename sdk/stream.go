package sdk

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// errStreamEnded is a stream the server ended with status OK, which it
// should not do; it is retried like any other non-terminal end.
var errStreamEnded = errors.New("server ended the stream")

// run keeps one stream open at a time until the client stops: a stream
// ends terminally, or Close closes done (and, after a grace period, cancels
// ctx). After a stream ends with nothing left to send, the next one is
// opened only once Send hands over records: the server closes idle streams,
// and an idle device should not hold one open forever.
func (c *Client) run(ctx context.Context) {
	defer close(c.stopped)
	attempt := 0
	for first := true; ; first = false {
		if !first {
			if !c.waitForRecords(ctx) {
				return
			}
			c.mu.Lock()
			c.stats.Reconnects++
			c.mu.Unlock()
		}
		opened := time.Now()
		answered, err := c.session(ctx)
		if c.stopping(ctx) {
			return
		}
		if te, ok := errors.AsType[*TerminalError](err); ok {
			c.log.Error("stream closed for good; not reconnecting", "code", te.Code.String(), "reason", te.Reason.String(), "message", te.Message)
			c.stop(te)
			return
		}
		// A stream the server answered, or that stayed open longer than the
		// longest backoff, was not a fast failure: start backing off anew.
		if answered || time.Since(opened) >= c.cfg.backoffMax {
			attempt = 0
		}
		wait := c.backoff(attempt)
		attempt++
		c.log.Warn("stream ended; reconnecting", "err", err, "backoff", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-c.done:
		case <-t.C:
		}
		t.Stop()
	}
}

// stopping reports whether run must return: Close was called or ctx ended.
func (c *Client) stopping(ctx context.Context) bool {
	select {
	case <-c.done:
		return true
	default:
		return ctx.Err() != nil
	}
}

// waitForRecords returns true once the client holds unacknowledged records,
// false if the client stops first.
func (c *Client) waitForRecords(ctx context.Context) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.buffered == 0 {
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-c.done:
		case <-ctx.Done():
		}
		c.mu.Lock()
		if c.stopping(ctx) {
			return false
		}
	}
	return !c.stopping(ctx)
}

// backoff returns the wait before the attempt-th consecutive retry: uniform
// in [0, min(max, initial·2^attempt)].
func (c *Client) backoff(attempt int) time.Duration {
	ceil := c.cfg.backoffInitial
	for range attempt {
		if ceil > c.cfg.backoffMax/2 {
			ceil = c.cfg.backoffMax // doubling would pass it (or overflow)
			break
		}
		ceil *= 2
	}
	return rand.N(min(ceil, c.cfg.backoffMax) + 1)
}

// session runs one stream: it writes unacknowledged batches again, then new
// ones, while a goroutine reads acks. It returns whether the server sent
// any message, and the stream's end: a *TerminalError when it must not be
// retried.
func (c *Client) session(ctx context.Context) (answered bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "x-device-id", c.deviceID, "authorization", "Bearer "+c.key)
	stream, err := c.tel.Connect(ctx)
	if err != nil {
		return false, streamEnd(err, nil)
	}
	c.mu.Lock()
	c.sent = 0
	resend := len(c.unacked)
	c.mu.Unlock()
	c.log.Info("stream open", "resending_batches", resend)

	var recvErr error
	recvDone := make(chan struct{})
	gotMessage := make(chan struct{}, 1)
	go func() {
		defer close(recvDone)
		recvErr = c.receive(stream, gotMessage)
	}()
	if err := c.sendLoop(ctx, stream, recvDone); err != nil && ctx.Err() == nil {
		// A failed write means the stream is over; its status comes from
		// the read side.
		c.log.Debug("stream write failed", "err", err)
	}
	// Wait for the server to end the stream: after a failed write, or after
	// Close half-closed it, in which case the server acks what it holds and
	// ends with OK (Close cancels ctx if that takes too long).
	select {
	case <-recvDone:
	case <-ctx.Done():
	}
	cancel()
	<-recvDone
	select {
	case <-gotMessage:
		answered = true
	default:
	}
	return answered, recvErr
}

// sendLoop writes what nextLocked hands out until the read side ends, a
// write fails, or ctx ends. When Close closes done, it half-closes the
// stream, so the server acks what it received and ends the stream cleanly.
func (c *Client) sendLoop(ctx context.Context, stream ingestgatev1.TelemetryService_ConnectClient, recvDone <-chan struct{}) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-c.done:
			return stream.CloseSend()
		default:
		}
		c.mu.Lock()
		req, wait := c.nextLocked(time.Now())
		changed := c.changed
		c.mu.Unlock()
		if req != nil {
			if err := stream.Send(req); err != nil {
				return err
			}
			continue
		}
		var fire <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			fire = timer.C
		}
		select {
		case <-changed:
		case <-fire:
		case <-recvDone:
			return nil
		case <-c.done:
			return stream.CloseSend()
		case <-ctx.Done():
			return ctx.Err()
		}
		timer.Stop()
	}
}

// receive reads the server's messages until the stream ends, and returns
// that end classified by streamEnd. It signals answered on the first message.
func (c *Client) receive(stream ingestgatev1.TelemetryService_ConnectClient, answered chan<- struct{}) error {
	var bye *ingestgatev1.Goodbye
	for {
		resp, err := stream.Recv()
		if err != nil {
			return streamEnd(err, bye)
		}
		select {
		case answered <- struct{}{}:
		default:
		}
		switch m := resp.GetMessage().(type) {
		case *ingestgatev1.ConnectResponse_Ack:
			c.mu.Lock()
			ok := c.ackLocked(m.Ack.GetSeq(), m.Ack.GetDuplicate())
			c.mu.Unlock()
			if !ok {
				c.log.Warn("ack for a batch not in flight on this stream", "seq", m.Ack.GetSeq())
			}
		case *ingestgatev1.ConnectResponse_Throttle:
			d := m.Throttle.GetRetryAfter().AsDuration()
			c.mu.Lock()
			c.stats.Throttles++
			if until := time.Now().Add(d); d > 0 && until.After(c.pauseUntil) {
				c.pauseUntil = until
			}
			c.mu.Unlock()
			c.log.Debug("throttled", "retry_after", d, "records_per_second", m.Throttle.GetRecordsPerSecond())
		case *ingestgatev1.ConnectResponse_Goodbye:
			bye = m.Goodbye
			c.log.Info("server said goodbye", "reason", bye.GetReason().String(), "message", bye.GetMessage())
		}
	}
}

// streamEnd turns the error that ended a stream into a *TerminalError when
// its status says retrying cannot help; bye is the Goodbye the server sent
// before, if any.
func streamEnd(err error, bye *ingestgatev1.Goodbye) error {
	if errors.Is(err, io.EOF) {
		return errStreamEnded
	}
	st, ok := status.FromError(err)
	if !ok || !isTerminal(st) {
		return err
	}
	msg := bye.GetMessage()
	if msg == "" {
		msg = st.Message()
	}
	return &TerminalError{Reason: bye.GetReason(), Code: st.Code(), Message: msg}
}
