package server

import (
	"context"

	"github.com/ingestgate/ingestgate/sink"
)

// SinkDiscard is the --sink value that acknowledges batches without
// storing them: the ceiling of the ingest path on a machine (gRPC, auth,
// validation, limits, acks) for benchmarks, against which the real sinks
// are measured. A node refuses it unless Config.AllowDiscardSink says the
// loss is intended.
const SinkDiscard = "discard"

// discardSink answers every Append at once and stores nothing. It is not a
// sink backend (it cannot pass sinktest: nothing reads back), only a
// benchmark mode of the server.
type discardSink struct{}

// stored answers every Append: a closed channel receives the zero Result
// (durable, not a duplicate) as often as asked, so Append allocates nothing.
var stored = func() chan sink.Result {
	c := make(chan sink.Result)
	close(c)
	return c
}()

func (discardSink) Append(ctx context.Context, _ sink.Batch) <-chan sink.Result {
	if err := ctx.Err(); err != nil {
		c := make(chan sink.Result, 1)
		c <- sink.Result{Err: err}
		return c
	}
	return stored
}

func (discardSink) Read(context.Context, sink.Query) ([]sink.Entry, error) { return nil, nil }
func (discardSink) EndCursor(context.Context, string) (string, error)      { return "", nil }
func (discardSink) Close() error                                           { return nil }
