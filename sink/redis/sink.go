package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ingestgate/ingestgate/sink"
)

var _ sink.Sink = (*Sink)(nil)

// Defaults for the zero Options.
const (
	DefaultPrefix              = "ingestgate:"
	DefaultMaxLen              = 10_000_000
	DefaultDedupeWindow        = 24 * time.Hour
	DefaultQueueSize           = 1024
	DefaultMaxBatchesPerCommit = 1000
	DefaultMaxRecordsPerCommit = 10_000
)

// newTimeout bounds New's checks when ctx has no deadline.
const newTimeout = 10 * time.Second

// Options configures a Sink. A zero field takes its default; a negative one
// is an error.
type Options struct {
	// Prefix starts every key the sink writes; DefaultPrefix if empty.
	// Every node must use the same prefix. In Redis Cluster it must be a
	// hash tag (see the package doc).
	Prefix string
	// MaxLen is the approximate number of entries each workspace stream
	// keeps (XADD MAXLEN ~); older entries are trimmed. DefaultMaxLen if
	// 0; Unlimited (-1) keeps everything.
	MaxLen int64
	// DedupeWindow is how long a stored batch's dedupe key makes a resent
	// copy a duplicate. Default 24h; at least a millisecond.
	DedupeWindow time.Duration
	// QueueSize is how many batches may wait for the writer; Append blocks
	// while it is full. Default 1024.
	QueueSize int
	// MaxBatchesPerCommit and MaxRecordsPerCommit bound one pipeline (a
	// single larger batch is still sent, alone), so the batches behind it
	// do not wait for a huge one. Defaults 1000 and 10000.
	MaxBatchesPerCommit int
	MaxRecordsPerCommit int
	// Logger receives configuration warnings and failed commits;
	// slog.Default() if nil.
	Logger *slog.Logger
	// OnCommit, if set, is called by the writer after each pipeline.
	// It must return quickly: the next pipeline waits for it.
	OnCommit func(sink.Commit)
}

// Unlimited as Options.MaxLen turns trimming off.
const Unlimited = -1

// withDefaults validates o and fills its zero fields.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	switch {
	case o.MaxLen == 0:
		o.MaxLen = DefaultMaxLen
	case o.MaxLen < Unlimited:
		errs = append(errs, fmt.Errorf("MaxLen %d is negative (use Unlimited, -1, to keep everything)", o.MaxLen))
	}
	switch {
	case o.DedupeWindow == 0:
		o.DedupeWindow = DefaultDedupeWindow
	case o.DedupeWindow < time.Millisecond:
		errs = append(errs, fmt.Errorf("DedupeWindow %v is below 1ms", o.DedupeWindow))
	}
	orDefault(&errs, "QueueSize", &o.QueueSize, DefaultQueueSize)
	orDefault(&errs, "MaxBatchesPerCommit", &o.MaxBatchesPerCommit, DefaultMaxBatchesPerCommit)
	orDefault(&errs, "MaxRecordsPerCommit", &o.MaxRecordsPerCommit, DefaultMaxRecordsPerCommit)
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := errors.Join(errs...); err != nil {
		return Options{}, fmt.Errorf("sink/redis: options: %w", err)
	}
	return o, nil
}

func orDefault(errs *[]error, name string, v *int, def int) {
	switch {
	case *v == 0:
		*v = def
	case *v < 0:
		*errs = append(*errs, fmt.Errorf("%s %d is negative", name, *v))
	}
}

// Sink is a sink.Sink over Redis Streams. It is safe for concurrent use.
type Sink struct {
	client goredis.UniversalClient
	opts   Options
	log    *slog.Logger
	now    func() time.Time

	queue     *sink.Queue[batch]
	done      chan struct{} // closed when the writer has exited
	closeOnce sync.Once

	stats counters
}

// New checks that Redis is reachable and recent enough, warns (through
// Options.Logger) if it can see that Redis does not fsync every write, and
// starts the writer. It fails if Redis cannot be reached within ctx (or
// 10s if ctx has no deadline). The caller owns client: Close does not
// close it, and the same client may serve other uses.
func New(ctx context.Context, client goredis.UniversalClient, opts Options) (*Sink, error) {
	if client == nil {
		return nil, errors.New("sink/redis: nil client")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, newTimeout)
		defer cancel()
	}
	s := &Sink{
		client: client, opts: opts, now: time.Now,
		log:   opts.Logger.With("component", "sink/redis"),
		queue: sink.NewQueue(opts.QueueSize, opts.MaxBatchesPerCommit, opts.MaxRecordsPerCommit, func(b batch) int { return len(b.records) }),
		done:  make(chan struct{}),
	}
	if err := s.checkServer(ctx); err != nil {
		return nil, err
	}
	go s.run()
	return s, nil
}

// checkServer fails unless Redis answers and is 6.2 or later, and logs a
// warning if its persistence cannot keep an acknowledged batch.
func (s *Sink) checkServer(ctx context.Context) error {
	info, err := s.client.Info(ctx, "server").Result()
	if err != nil {
		return fmt.Errorf("sink/redis: %w", err)
	}
	if v, ok := infoField(info, "redis_version"); ok && !atLeast(v, 6, 2) {
		return fmt.Errorf("sink/redis: Redis %s is too old: 6.2 or later is needed", v)
	}
	// Managed Redis often refuses CONFIG; then there is nothing to check.
	cfg, err := s.client.ConfigGet(ctx, "append*").Result()
	if err != nil {
		s.log.Info("cannot read the Redis persistence settings; make sure Redis runs with appendonly yes and appendfsync always", "error", err)
		return nil
	}
	if cfg["appendonly"] != "yes" || cfg["appendfsync"] != "always" {
		s.log.Warn("Redis does not fsync every write: acknowledged telemetry can be lost in a crash; run it with appendonly yes and appendfsync always",
			"appendonly", cfg["appendonly"], "appendfsync", cfg["appendfsync"])
	}
	return nil
}

// infoField returns the value of name in an INFO reply.
func infoField(info, name string) (string, bool) {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v, true
		}
	}
	return "", false
}

// atLeast reports whether version ("7.0.15") is major.minor or later. An
// unparsable version passes: the check is a courtesy, not a gate.
func atLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return true
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return true
	}
	return ma > major || ma == major && mi >= minor
}

// Close stops accepting batches, lets the pipeline under way finish, fails
// the batches still queued with sink.ErrClosed and wakes waiting Reads
// (which return sink.ErrClosed). It does not close the client; a Read it
// woke may leave its XREAD running on the client for up to a second.
// Calling it again returns nil.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		s.queue.Seal()
		<-s.done
	})
	return nil
}

// isClosing reports whether Close has begun.
func (s *Sink) isClosing() bool { return s.queue.IsClosing() }

func (s *Sink) streamKey(workspaceID string) string {
	return s.opts.Prefix + "telemetry:" + workspaceID
}

// dedupeKey names the key that records a batch's dedupe key. The
// workspace and device IDs are escaped so that a colon in one cannot make
// two devices' keys collide (workspace "a:b" device "c" against workspace
// "a" device "b:c"); IDs without ':' or '%' appear as they are.
func (s *Sink) dedupeKey(workspaceID, deviceID, key string) string {
	return s.opts.Prefix + "dedupe:" + keyPart.Replace(workspaceID) + ":" + keyPart.Replace(deviceID) + ":" + key
}

var keyPart = strings.NewReplacer("%", "%25", ":", "%3A")
