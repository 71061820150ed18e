package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ingestgate/ingestgate/bus"
	"github.com/ingestgate/ingestgate/keystore"
)

var (
	_ bus.Bus          = (*Bus)(nil)
	_ bus.Resubscriber = (*Bus)(nil)
)

const (
	// DefaultPrefix is the Options.Prefix used when none is given.
	DefaultPrefix = "ingestgate:"
	// channelSuffix follows the prefix to name the pub/sub channel.
	channelSuffix = "key-events"
	// DefaultPingInterval is the Options.PingInterval used when none is given.
	DefaultPingInterval = 5 * time.Second
	// subscribeTimeout bounds New's first subscription when ctx has no deadline.
	subscribeTimeout = 10 * time.Second
)

// Options configures a Bus. The zero value is valid.
type Options struct {
	// Prefix names the channel, Prefix+"key-events"; DefaultPrefix if
	// empty. Every node of a cluster must use the same prefix; tests use a
	// unique one to share a Redis server.
	Prefix string
	// PingInterval is how long the subscriber connection may stay silent
	// before the bus pings Redis; a connection that stays silent for another
	// interval is presumed dead and replaced, so a half-open TCP connection
	// is noticed within two intervals. DefaultPingInterval if zero.
	PingInterval time.Duration
	// Logger receives reconnects and malformed payloads; slog.Default() if nil.
	Logger *slog.Logger
}

// Bus is a bus.Bus over Redis pub/sub. It holds one dedicated subscriber
// connection, shared by all its subscriptions, and publishes through the
// client's pool. The zero value is not usable; call New.
type Bus struct {
	client  goredis.UniversalClient
	channel string
	ping    time.Duration
	log     *slog.Logger

	mu         sync.Mutex
	closed     bool
	subscribed bool // the subscriber connection is confirmed live
	pubsub     *goredis.PubSub
	subs       map[*bus.Delivery]struct{}
	hooks      []*hook

	closing  chan struct{} // closed by Close, to cut the loop's backoff short
	loopDone chan struct{}
}

// New subscribes to the channel and returns once Redis has confirmed the
// subscription, so a Subscribe on the returned bus sees every later event.
// It fails if Redis cannot be reached within ctx (or 10s if ctx has no
// deadline). The caller owns client: Close does not close it, and the same
// client may serve other uses.
func New(ctx context.Context, client goredis.UniversalClient, opts Options) (*Bus, error) {
	if client == nil {
		return nil, errors.New("bus/redis: nil client")
	}
	if opts.PingInterval < 0 {
		return nil, fmt.Errorf("bus/redis: negative PingInterval %v", opts.PingInterval)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = DefaultPingInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	b := &Bus{
		client:   client,
		channel:  opts.Prefix + channelSuffix,
		ping:     opts.PingInterval,
		log:      opts.Logger.With("component", "bus/redis"),
		subs:     make(map[*bus.Delivery]struct{}),
		closing:  make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	ps, err := b.subscribe(ctx)
	if err != nil {
		return nil, err
	}
	b.pubsub = ps
	b.subscribed = true
	go b.receiveLoop(ps)
	return b, nil
}

// subscribe opens a subscriber connection and waits for Redis to confirm it.
func (b *Bus) subscribe(ctx context.Context) (*goredis.PubSub, error) {
	ps := b.client.Subscribe(ctx, b.channel)
	for {
		msg, err := ps.ReceiveTimeout(ctx, subscribeTimeout)
		if err != nil {
			_ = ps.Close()
			return nil, fmt.Errorf("bus/redis: subscribe to %q: %w", b.channel, err)
		}
		if s, ok := msg.(*goredis.Subscription); ok && s.Kind == "subscribe" && s.Channel == b.channel {
			return ps, nil
		}
	}
}

// Channel returns the Redis pub/sub channel the bus uses.
func (b *Bus) Channel() string { return b.channel }

// Publish sends e to the channel. It returns once Redis has accepted it;
// subscribers that are disconnected at that moment never see it.
func (b *Bus) Publish(ctx context.Context, e keystore.Event) error {
	if b.isClosed() {
		return bus.ErrClosed
	}
	payload, err := encode(e)
	if err != nil {
		return fmt.Errorf("bus/redis: encode event: %w", err)
	}
	if err := b.client.Publish(ctx, b.channel, payload).Err(); err != nil {
		return fmt.Errorf("bus/redis: publish: %w", err)
	}
	return nil
}

// Subscribe starts delivering events to h on a goroutine of its own. The
// returned stop must not be called from inside h (it waits for h to return).
func (b *Bus) Subscribe(h bus.Handler) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, bus.ErrClosed
	}
	s := bus.NewDelivery(h)
	b.subs[s] = struct{}{}
	return func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
		s.End()
	}, nil
}

// OnResubscribe implements bus.Resubscriber: fn runs after every
// subscription Redis confirms, including New's if it is still live.
func (b *Bus) OnResubscribe(fn func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	k := newHook(fn)
	b.hooks = append(b.hooks, k)
	if b.subscribed {
		k.trigger()
	}
}

// Close ends every subscription and hook and closes the subscriber
// connection; it does not close the client. It waits for handler and hook
// calls under way, so it must not be called from one.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs, hooks, ps := b.subs, b.hooks, b.pubsub
	b.subs, b.hooks = nil, nil
	b.mu.Unlock()

	// Closing the PubSub interrupts the receive loop's blocking read.
	close(b.closing)
	_ = ps.Close()
	<-b.loopDone
	for s := range subs {
		s.End()
	}
	for _, k := range hooks {
		k.end()
	}
	return nil
}

func (b *Bus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}
