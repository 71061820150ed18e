package sdk

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Defaults for the options below.
const (
	DefaultBatchSize      = 100
	DefaultMaxBatchBytes  = 1 << 20
	DefaultLinger         = 50 * time.Millisecond
	DefaultMaxInFlight    = 64
	DefaultBufferLimit    = 100_000
	DefaultBackoffInitial = 100 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
)

// Overflow says what Send does when the buffer already holds BufferLimit
// records that are not yet acknowledged.
type Overflow int

const (
	// OverflowBlock makes Send wait until acknowledgements free enough room
	// for all its records, or its context ends. Nothing is ever dropped.
	OverflowBlock Overflow = iota
	// OverflowDropOldest makes Send return at once, dropping the oldest
	// records that have not been sent yet to make room; records already on
	// the wire are kept. Dropped records are counted in Stats.RecordsDropped.
	OverflowDropOldest
)

func (o Overflow) String() string {
	switch o {
	case OverflowBlock:
		return "block"
	case OverflowDropOldest:
		return "drop-oldest"
	}
	return fmt.Sprintf("Overflow(%d)", int(o))
}

// Option configures a Client at Dial.
type Option func(*config)

type config struct {
	creds          credentials.TransportCredentials
	dialOpts       []grpc.DialOption
	batchSize      int
	maxBatchBytes  int
	linger         time.Duration
	maxInFlight    int
	bufferLimit    int
	overflow       Overflow
	backoffInitial time.Duration
	backoffMax     time.Duration
	logger         *slog.Logger
}

func defaultConfig() config {
	return config{
		creds:          credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12}),
		batchSize:      DefaultBatchSize,
		maxBatchBytes:  DefaultMaxBatchBytes,
		linger:         DefaultLinger,
		maxInFlight:    DefaultMaxInFlight,
		bufferLimit:    DefaultBufferLimit,
		overflow:       OverflowBlock,
		backoffInitial: DefaultBackoffInitial,
		backoffMax:     DefaultBackoffMax,
		logger:         slog.New(slog.DiscardHandler),
	}
}

func (c *config) validate() error {
	var errs []error
	if c.creds == nil {
		errs = append(errs, errors.New("transport credentials are nil"))
	}
	if c.batchSize < 1 {
		errs = append(errs, fmt.Errorf("batch size %d: want at least 1", c.batchSize))
	}
	if c.maxBatchBytes < minBatchBytes {
		errs = append(errs, fmt.Errorf("max batch bytes %d: want at least %d", c.maxBatchBytes, minBatchBytes))
	}
	if c.linger < 0 {
		errs = append(errs, fmt.Errorf("linger %s: want zero or more", c.linger))
	}
	if c.maxInFlight < 1 {
		errs = append(errs, fmt.Errorf("max in-flight %d: want at least 1", c.maxInFlight))
	}
	if c.bufferLimit < c.batchSize {
		errs = append(errs, fmt.Errorf("buffer limit %d: want at least the batch size (%d)", c.bufferLimit, c.batchSize))
	}
	if c.overflow != OverflowBlock && c.overflow != OverflowDropOldest {
		errs = append(errs, fmt.Errorf("unknown overflow policy %v", c.overflow))
	}
	if c.backoffInitial <= 0 || c.backoffMax < c.backoffInitial {
		errs = append(errs, fmt.Errorf("backoff %s..%s: want 0 < initial <= max", c.backoffInitial, c.backoffMax))
	}
	if c.logger == nil {
		errs = append(errs, errors.New("logger is nil"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sdk: invalid option: %w", err)
	}
	return nil
}

// WithTransportCredentials sets the transport security, for example
// credentials.NewTLS with a private CA or a client certificate for mTLS.
// The default is TLS 1.2+ verified against the system roots.
func WithTransportCredentials(c credentials.TransportCredentials) Option {
	return func(cfg *config) { cfg.creds = c }
}

// WithPlaintext turns transport security off. The ingest key then travels in
// clear text, so use it only on loopback or inside a trusted network.
func WithPlaintext() Option {
	return WithTransportCredentials(insecure.NewCredentials())
}

// WithDialOptions adds gRPC dial options (interceptors, a custom dialer,
// keepalive). They are applied after the SDK's own, so they win on
// conflict. The SDK pings a quiet connection every 30s, which the ingestgate
// server permits; behind a proxy that allows fewer pings (gRPC's default
// policy allows one per 5 minutes), pass grpc.WithKeepaliveParams with a
// longer Time.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(cfg *config) { cfg.dialOpts = append(cfg.dialOpts, opts...) }
}

// WithBatchSize sets the most records one batch carries (default 100). It
// must not exceed the server's limit, 1000 unless the operator changed it:
// the server refuses a larger batch with INVALID_ARGUMENT, which stops the
// client.
func WithBatchSize(n int) Option {
	return func(cfg *config) { cfg.batchSize = n }
}

// WithMaxBatchBytes sets the most bytes one encoded stream message may take
// (default 1 MiB, the server's default message limit). Batches are cut
// smaller when their records would exceed it, and Send refuses a record that
// alone would. Set it above the server's limit and the first oversized batch
// stops the client with a *TerminalError (code ResourceExhausted).
func WithMaxBatchBytes(n int) Option {
	return func(cfg *config) { cfg.maxBatchBytes = n }
}

// WithLinger sets how long a record may wait for its batch to fill before
// the partial batch is sent (default 50ms). Zero sends at once.
func WithLinger(d time.Duration) Option {
	return func(cfg *config) { cfg.linger = d }
}

// WithMaxInFlight bounds the batches sent but not yet acknowledged
// (default 64); when reached, new batches wait for acknowledgements.
func WithMaxInFlight(n int) Option {
	return func(cfg *config) { cfg.maxInFlight = n }
}

// WithBufferLimit bounds the records held in memory that are not yet
// acknowledged, sent or not (default 100,000). It is what bounds memory while
// the device is offline; see Overflow for what happens when it is reached.
func WithBufferLimit(records int) Option {
	return func(cfg *config) { cfg.bufferLimit = records }
}

// WithOverflow chooses what Send does when the buffer is full (default
// OverflowBlock).
func WithOverflow(o Overflow) Option {
	return func(cfg *config) { cfg.overflow = o }
}

// WithBackoff sets the reconnect delays: the n-th consecutive failed attempt
// waits a random duration between zero and min(max, initial·2ⁿ) ("full
// jitter"), so a fleet reconnecting after a server restart spreads out.
// Defaults: 100ms and 30s. The same bounds are given to gRPC's own
// connection backoff.
func WithBackoff(initial, max time.Duration) Option {
	return func(cfg *config) { cfg.backoffInitial, cfg.backoffMax = initial, max }
}

// WithLogger sets where the client logs connects, reconnects and the final
// error (default: nowhere). Log lines carry the device id and the target,
// never the ingest key.
func WithLogger(l *slog.Logger) Option {
	return func(cfg *config) { cfg.logger = l }
}
