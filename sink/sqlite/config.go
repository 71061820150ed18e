package sqlite

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ingestgate/ingestgate/sink"
)

// Config tunes the sink. A zero field takes its default; a negative one is
// an error.
type Config struct {
	// QueueSize is how many batches may wait for the writer; Append
	// blocks while it is full. Default 1024. Together with the server's
	// batch size limit it bounds the memory held by queued batches.
	QueueSize int
	// MaxBatchesPerCommit and MaxRecordsPerCommit bound one group commit
	// (a single larger batch is still committed, alone), so one
	// transaction, and the wait of the batches behind it, stays short.
	// Defaults 1000 and 100000: commits of 10000 records (100 batches of
	// 100) spent more time syncing than writing.
	MaxBatchesPerCommit int
	MaxRecordsPerCommit int
	// CommitDelay is how long the writer waits, once a batch is ready,
	// for more to join its commit while fewer than MaxBatchesPerCommit
	// are queued. Below its maximum the sink otherwise commits a few
	// batches at a time, each commit a WAL write and a sync: at 4,000
	// one-record batches a second, 2.4 batches a commit, 200 µs of CPU
	// and 21 KB written to disk per batch (BENCHMARKS.md). A delay of a
	// millisecond or two trades that much ack latency for fewer syncs.
	// Default 0: commit at once.
	CommitDelay time.Duration
	// DedupeWindow is how long a stored batch's dedupe key makes a resent
	// copy a duplicate; a copy that arrives this long or longer after is
	// stored again. Default 24h.
	DedupeWindow time.Duration
	// PruneInterval is how often dedupe keys older than the window are
	// deleted. Default 1m.
	PruneInterval time.Duration
	// CheckpointInterval is how often a background connection copies the
	// WAL into the database file. The writer never checkpoints: done in
	// its commits, checkpoints took 40% of its time under load. Default
	// 1s.
	CheckpointInterval time.Duration
	// Logger receives what fails in the background (pruning,
	// checkpoints). Default
	// slog.Default().
	Logger *slog.Logger
	// OnCommit, if set, is called by the writer after each group commit.
	// It must return quickly: the next commit waits for it.
	OnCommit func(sink.Commit)
}

// Defaults for the zero Config.
const (
	DefaultQueueSize           = 1024
	DefaultMaxBatchesPerCommit = 1000
	DefaultMaxRecordsPerCommit = 100_000
	DefaultDedupeWindow        = 24 * time.Hour
	DefaultPruneInterval       = time.Minute
	DefaultCheckpointInterval  = time.Second
)

// withDefaults validates c and fills its zero fields.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	orDefault(&errs, "QueueSize", &c.QueueSize, DefaultQueueSize)
	orDefault(&errs, "MaxBatchesPerCommit", &c.MaxBatchesPerCommit, DefaultMaxBatchesPerCommit)
	orDefault(&errs, "MaxRecordsPerCommit", &c.MaxRecordsPerCommit, DefaultMaxRecordsPerCommit)
	orDefault(&errs, "CommitDelay", &c.CommitDelay, 0)
	orDefault(&errs, "DedupeWindow", &c.DedupeWindow, DefaultDedupeWindow)
	orDefault(&errs, "PruneInterval", &c.PruneInterval, DefaultPruneInterval)
	orDefault(&errs, "CheckpointInterval", &c.CheckpointInterval, DefaultCheckpointInterval)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("sink/sqlite: config: %w", err)
	}
	return c, nil
}

// orDefault sets a zero *v to def and records an error for a negative one.
func orDefault[T int | time.Duration](errs *[]error, name string, v *T, def T) {
	switch {
	case *v == 0:
		*v = def
	case *v < 0:
		*errs = append(*errs, fmt.Errorf("%s must not be negative, got %v", name, *v))
	}
}
