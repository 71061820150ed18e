package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ingestgate/ingestgate/sink"
)

// maxBlock bounds one XREAD BLOCK of a waiting Read. go-redis cannot
// interrupt a blocked read when its ctx is cancelled, so the Read returns
// at once and leaves the XREAD to finish in the background, holding its
// pool connection for at most this long.
const maxBlock = time.Second

// Read implements sink.Sink with XRANGE from after q.After. A DeviceID
// filter is applied here, while paging through the workspace stream: its
// cost is the number of entries scanned, not returned, but memory stays at
// one page. A cursor that is not a stream entry ID fails with
// sink.ErrBadCursor. With q.Wait and nothing to return it blocks in XREAD
// BLOCK, which Redis ends as soon as any node appends to the stream.
func (s *Sink) Read(ctx context.Context, q sink.Query) ([]sink.Entry, error) {
	if s.isClosing() {
		return nil, sink.ErrClosed
	}
	last := "0-0" // XREAD's "after": where the scan ended
	if q.After != "" {
		if err := checkCursor(q.After); err != nil {
			return nil, err
		}
		last = q.After
	}
	limit := q.Limit
	if limit <= 0 {
		limit = sink.DefaultReadLimit
	}
	limit = min(limit, sink.MaxReadLimit)
	key := s.streamKey(q.WorkspaceID)
	es, last, err := s.scan(ctx, key, q, limit, last)
	if err != nil || len(es) > 0 || q.Wait <= 0 {
		return es, err
	}
	return s.wait(ctx, key, q, limit, last)
}

// scan pages through the stream after after until it has limit entries of
// q's device or reaches the end. It returns the ID of the last entry it
// looked at (after if none).
func (s *Sink) scan(ctx context.Context, key string, q sink.Query, limit int, after string) ([]sink.Entry, string, error) {
	page := int64(limit)
	if q.DeviceID != "" {
		page = sink.MaxReadLimit
	}
	var out []sink.Entry
	for {
		ms, err := s.client.XRangeN(ctx, key, "("+after, "+", page).Result()
		if err != nil {
			return nil, after, s.readErr(ctx, err)
		}
		for _, m := range ms {
			after = m.ID
			if e, ok := s.entry(q, m); ok {
				out = append(out, e)
				if len(out) == limit {
					return out, after, nil
				}
			}
		}
		if int64(len(ms)) < page {
			return out, after, nil
		}
	}
}

// wait blocks until an entry of q's device arrives after after, q.Wait
// passes, ctx ends or the sink closes.
func (s *Sink) wait(ctx context.Context, key string, q sink.Query, limit int, after string) ([]sink.Entry, error) {
	deadline := time.Now().Add(q.Wait)
	count := int64(limit)
	if q.DeviceID != "" {
		count = sink.MaxReadLimit
	}
	type reply struct {
		streams []goredis.XStream
		err     error
	}
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		// BLOCK takes whole milliseconds, and BLOCK 0 waits forever:
		// round up.
		block := (min(left, maxBlock) + time.Millisecond - 1).Truncate(time.Millisecond)
		ch := make(chan reply, 1)
		go func() {
			xs, err := s.client.XRead(ctx, &goredis.XReadArgs{Streams: []string{key, after}, Count: count, Block: block}).Result()
			ch <- reply{xs, err}
		}()
		var r reply
		select {
		case r = <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.queue.Closing():
			return nil, sink.ErrClosed
		}
		if errors.Is(r.err, goredis.Nil) {
			continue
		}
		if r.err != nil {
			return nil, s.readErr(ctx, r.err)
		}
		var out []sink.Entry
		for _, x := range r.streams {
			for _, m := range x.Messages {
				after = m.ID
				if e, ok := s.entry(q, m); ok && len(out) < limit {
					out = append(out, e)
				}
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
}

// entry decodes m if it belongs to q's device. An entry that does not
// decode (written by something else) is logged and skipped: returning an
// error would stop every subscriber at it forever.
func (s *Sink) entry(q sink.Query, m goredis.XMessage) (sink.Entry, bool) {
	if q.DeviceID != "" {
		if d, _ := m.Values[fieldDeviceID].(string); d != q.DeviceID {
			return sink.Entry{}, false
		}
	}
	e, err := decodeEntry(q.WorkspaceID, m)
	if err != nil {
		s.log.Warn("skipping a stream entry that does not decode", "stream", s.streamKey(q.WorkspaceID), "error", err)
		return sink.Entry{}, false
	}
	return e, true
}

// readErr prefers the reasons a Read was given up over the error they
// caused.
func (s *Sink) readErr(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if s.isClosing() {
		return sink.ErrClosed
	}
	return fmt.Errorf("sink/redis: read: %w", err)
}

// EndCursor implements sink.Sink: the ID of the stream's newest entry.
func (s *Sink) EndCursor(ctx context.Context, workspaceID string) (string, error) {
	if s.isClosing() {
		return "", sink.ErrClosed
	}
	ms, err := s.client.XRevRangeN(ctx, s.streamKey(workspaceID), "+", "-", 1).Result()
	if err != nil {
		return "", s.readErr(ctx, err)
	}
	if len(ms) == 0 {
		return "", nil
	}
	return ms[0].ID, nil
}
