package server

import (
	"context"
	"encoding/base64"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ingestgate/ingestgate/keystore"
)

// commit runs fn in one write transaction and appends the audit events it
// returns, stamped with the actor and the commit time, in the same
// transaction. Only after the commit does it act on the events (drop keys
// from the verification cache, close affected streams, broadcast them to
// other nodes), so nothing acts on a change that was rolled back.
func (s *Server) commit(ctx context.Context, actor string, fn func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error)) error {
	var stored []keystore.Event
	err := s.store.ReadWrite(ctx, func(ctx context.Context, tx keystore.Tx) error {
		stored = stored[:0] // ReadWrite may retry fn
		events, err := fn(ctx, tx)
		if err != nil {
			return err
		}
		now := s.now()
		for _, e := range events {
			e.Actor, e.Time = actor, now
			e, err := tx.AppendEvent(ctx, e)
			if err != nil {
				return err
			}
			stored = append(stored, e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// This node acts at once, without waiting for the bus; the bus then
	// tells every node (this one again, harmlessly).
	// The publish is bounded: while Redis is down a change still commits
	// and answers promptly, and the other nodes catch up when they
	// resubscribe (or at their next sweep).
	for _, e := range stored {
		s.applyEvent(e)
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
		pctx, span := s.startSpan(pctx, "key_event publish", trace.SpanKindProducer, eventAttrs(e)...)
		err := s.bus.Publish(pctx, e)
		endSpan(span, err)
		if err != nil {
			s.log.ErrorContext(ctx, "publish key event; other nodes catch up when they resubscribe or at their next sweep", slog.Any("error", err))
		} else {
			s.metrics.eventsPublished.Add(ctx, 1)
		}
		cancel()
	}
	return nil
}

const publishTimeout = 500 * time.Millisecond

const (
	defaultPageSize = 50
	maxPageSize     = 500
)

// pageFrom turns page_size and page_token into a store query that asks for
// one record more than the page, so nextPage can tell whether another page
// exists without a count query.
func pageFrom(size int32, token string) (keystore.Page, int, error) {
	n := int(size)
	switch {
	case n < 0:
		return keystore.Page{}, 0, invalidArg("page_size must not be negative")
	case n == 0:
		n = defaultPageSize
	case n > maxPageSize:
		n = maxPageSize
	}
	after, err := decodePageToken(token)
	if err != nil {
		return keystore.Page{}, 0, err
	}
	return keystore.Page{After: after, Limit: n + 1}, n, nil
}

// nextPage trims items to n and returns the token for the following page.
func nextPage[T any](items []T, n int, cursor func(T) string) ([]T, string) {
	if len(items) <= n {
		return items, ""
	}
	items = items[:n]
	return items, encodePageToken(cursor(items[n-1]))
}

// Page tokens are opaque to clients; versioned so the format can change.
const pageTokenPrefix = "v1:"

func encodePageToken(after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(pageTokenPrefix + after))
}

func decodePageToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) > 512 || !strings.HasPrefix(string(b), pageTokenPrefix) {
		return "", status.Error(codes.InvalidArgument, "page_token is malformed; pass next_page_token from the previous response")
	}
	return strings.TrimPrefix(string(b), pageTokenPrefix), nil
}

func decodeSequenceToken(tok string) (uint64, error) {
	after, err := decodePageToken(tok)
	if err != nil || after == "" {
		return 0, err
	}
	n, err := strconv.ParseUint(after, 10, 64)
	if err != nil {
		return 0, status.Error(codes.InvalidArgument, "page_token is malformed; pass next_page_token from the previous response")
	}
	return n, nil
}
