package server

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/ingestgate/ingestgate/keystore"
)

// Spans of the node's own calls to the bus and the sink. (The store's SQL
// statements are traced by the backends: otelsql, otelpgx.) Attributes
// name the workspace and the event type, never a secret.
//
// A stream's batches get no span each: a device stream lives for days, so
// its Connect span would hold millions of children. Their cost shows in
// the ack latency and sink commit metrics instead.

// startSpan starts a child span of ctx (or a root span when ctx has none).
func (s *Server) startSpan(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return s.tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// endSpan records err (if any) on span and ends it.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// eventAttrs describe a key event on a span.
func eventAttrs(e keystore.Event) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("ingestgate.workspace_id", e.WorkspaceID),
		attribute.String("ingestgate.event_type", strings.TrimPrefix(e.Type.String(), "KEY_EVENT_TYPE_")),
	}
}
