package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/keepalive"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// Client sends one device's telemetry over one stream at a time. It is safe
// for concurrent use.
type Client struct {
	cfg      config
	log      *slog.Logger
	deviceID string
	key      string // never logged
	conn     *grpc.ClientConn
	tel      ingestgatev1.TelemetryServiceClient

	cancel    context.CancelFunc
	stopped   chan struct{} // closed when run returns
	closeOnce sync.Once
	closeErr  error

	mu sync.Mutex
	// changed is closed and replaced on every change of the state below, so
	// any goroutine can wait for "something happened" with a select.
	changed chan struct{}
	done    chan struct{}
	err     error

	pending      fifo[item] // accepted, not yet cut into a batch
	pendingBytes int
	unacked      []*batch // cut, not yet acknowledged, in seq order
	sent         int      // unacked[:sent] were written to the current stream
	buffered     int      // records in pending and unacked
	nextSeq      uint64
	pauseUntil   time.Time // throttled: no new batches before this

	// Records are numbered in the order Send accepted them. nextIndex is the
	// next number; pendingStart the number of pending's first record;
	// flushTarget the number below which Flush wants records sent at once.
	nextIndex    uint64
	pendingStart uint64
	flushTarget  uint64

	stats Stats
}

// Stats are counters since Dial.
type Stats struct {
	// RecordsSent counts records written to a stream for the first time.
	RecordsSent uint64
	// RecordsResent counts records written again after a reconnect.
	RecordsResent uint64
	// RecordsAcked counts records the server acknowledged as durable,
	// duplicates included.
	RecordsAcked uint64
	// RecordsDropped counts records dropped unsent by OverflowDropOldest.
	RecordsDropped uint64
	// BatchesAcked counts acknowledged batches; BatchesDuplicate those of
	// them the server had already stored (a resend of a batch whose ack
	// was lost).
	BatchesAcked     uint64
	BatchesDuplicate uint64
	// Reconnects counts attempts to open a stream after the first.
	Reconnects uint64
	// Throttles counts Throttle messages from the server.
	Throttles uint64
	// Buffered is the number of records held now that are not yet
	// acknowledged, sent or not.
	Buffered int
}

// Dial creates a client for one device and starts connecting in the
// background. It does not wait for the network, so a device can start
// buffering while offline: learn of a refused key from Err, Done, Send or
// Flush. After a stream ends, the client reconnects at once (after the
// backoff) when it holds unacknowledged records, and otherwise on the next
// Send. ctx bounds nothing after Dial returns; its values (for example
// trace context) are kept for the client's streams. Call Close when done.
//
// target is a gRPC target such as "ingest.example.com:443". The stream
// authenticates with metadata x-device-id: deviceID and authorization:
// Bearer key. Transport security is TLS unless WithPlaintext or
// WithTransportCredentials say otherwise.
func Dial(ctx context.Context, target, deviceID, key string, opts ...Option) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkDeviceID(deviceID); err != nil {
		return nil, err
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	dialOpts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(cfg.creds),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  cfg.backoffInitial,
				Multiplier: 2,
				Jitter:     0.2,
				MaxDelay:   cfg.backoffMax,
			},
			MinConnectTimeout: 20 * time.Second,
		}),
		// Pings find a dead connection (a NAT that forgot it, a pulled
		// cable) while the stream is quiet. The server permits one every
		// 10s; proxies may permit fewer, see WithDialOptions.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
	}, cfg.dialOpts...)
	conn, err := grpc.NewClient(target, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("sdk: %w", err)
	}
	c := &Client{
		cfg:      cfg,
		log:      cfg.logger.With("device_id", deviceID, "target", target),
		deviceID: deviceID,
		key:      key,
		conn:     conn,
		tel:      ingestgatev1.NewTelemetryServiceClient(conn),
		stopped:  make(chan struct{}),
		changed:  make(chan struct{}),
		done:     make(chan struct{}),
		nextSeq:  firstSeq(time.Now()),
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	go c.run(runCtx)
	return c, nil
}

// Send validates records and hands them to the client, which sends them in
// batches: a batch goes out when it holds the batch size, or when its oldest
// record has waited the linger, or on Flush. A nil return means the records
// are buffered, not that they are durable; Flush waits for that.
//
// Send accepts all records of a call or none: if one is invalid (see
// ErrInvalidRecord) nothing is buffered. When the buffer is full, Send
// follows the Overflow policy; with OverflowBlock it waits for room for all
// records until ctx ends, and refuses a call with more records than the
// buffer limit. After the client stopped, Send returns Err().
//
// Send takes ownership of the records: do not modify them afterwards.
func (c *Client) Send(ctx context.Context, records ...*ingestgatev1.Record) error {
	items := make([]item, len(records))
	now := time.Now()
	for i, r := range records {
		size, err := checkRecord(i, r, c.cfg.maxBatchBytes)
		if err != nil {
			return err
		}
		items[i] = item{rec: r, size: size, at: now}
	}
	if c.cfg.overflow == OverflowBlock && len(items) > c.cfg.bufferLimit {
		return fmt.Errorf("sdk: %d records in one Send exceed the buffer limit of %d", len(items), c.cfg.bufferLimit)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.err != nil {
			return c.err
		}
		if len(items) == 0 {
			return nil
		}
		if c.buffered+len(items) <= c.cfg.bufferLimit {
			c.acceptLocked(items)
			return nil
		}
		if c.cfg.overflow == OverflowDropOldest {
			c.acceptLocked(c.dropOldestLocked(len(items), items))
			return nil
		}
		if err := c.waitLocked(ctx); err != nil {
			return err
		}
	}
}

// Flush sends everything Send accepted before the call without waiting for
// the linger, and returns nil once all of it is acknowledged as durable (or
// was dropped by OverflowDropOldest). It returns Err() once the client has
// stopped, and ctx's error if ctx ends first. While the server is
// unreachable, Flush keeps waiting through reconnects.
func (c *Client) Flush(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	target := c.nextIndex
	if target > c.flushTarget {
		c.flushTarget = target
		c.broadcastLocked()
	}
	for {
		if c.err != nil {
			return c.err
		}
		if c.settledLocked() >= target {
			return nil
		}
		if err := c.waitLocked(ctx); err != nil {
			return err
		}
	}
}

// closeGrace bounds how long Close waits for the server to end the stream
// after the client half-closed it.
const closeGrace = 2 * time.Second

// Close stops the client and releases the connection. Records not yet
// acknowledged are lost: call Flush first to wait for them. Sends and
// Flushes waiting in other goroutines return ErrClosed at once.
//
// Close ends the stream the polite way: it half-closes it and waits, at
// most two seconds, for the server to ack what it received and end the
// stream, so the server frees the device's stream slot at once. It is
// idempotent, and returns an error only if the connection did not close
// cleanly.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.stop(ErrClosed)
		grace := time.AfterFunc(closeGrace, c.cancel)
		<-c.stopped
		grace.Stop()
		c.cancel()
		c.closeErr = c.conn.Close()
	})
	return c.closeErr
}

// Done is closed when the client stops: after a terminal error or Close.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns nil while the client runs. Once Done is closed it returns why
// it stopped: a *TerminalError, or ErrClosed after Close.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Stats returns a snapshot of the client's counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Buffered = c.buffered
	return s
}

// firstSeq picks the seq of a client's first batch: the time in
// nanoseconds, so that seqs keep increasing across restarts of the device
// and never repeat one still in the server's dedupe window. A device whose
// clock is not set yet (no RTC, no NTP: it reads 1970) would repeat the
// seqs of its last boot, and the server would drop the new batches as
// duplicates; it gets a random start instead, above any time-based seq
// until the year 2116, where a repeat is vanishingly unlikely.
func firstSeq(now time.Time) uint64 {
	if now.After(clockSet) {
		return uint64(now.UnixNano())
	}
	return 1<<62 | rand.Uint64()>>2
}

// clockSet is a time every device with a set clock is past.
var clockSet = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// stop records why the client stopped, unless it already had.
func (c *Client) stop(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	close(c.done)
	c.broadcastLocked()
}

func (c *Client) broadcastLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// waitLocked releases c.mu until the client's state changes or ctx ends,
// and returns holding it again (with ctx's error if it ended).
func (c *Client) waitLocked(ctx context.Context) error {
	changed := c.changed
	c.mu.Unlock()
	defer c.mu.Lock()
	select {
	case <-changed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
