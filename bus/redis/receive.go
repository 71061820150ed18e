package redis

import (
	"context"
	"errors"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// maxBackoff caps the wait between reconnect attempts while Redis is down.
const maxBackoff = 5 * time.Second

// receiveLoop reads the subscriber connection until Close. go-redis
// reconnects and re-subscribes by itself after a read error; the loop only
// notices the confirmation ("subscribe" reply) and tells the hooks.
func (b *Bus) receiveLoop(ps *goredis.PubSub) {
	defer close(b.loopDone)
	ctx := context.Background() // Close interrupts reads by closing ps
	var (
		pinged   bool // a ping is out and nothing has arrived since
		failures int  // consecutive receive errors
	)
	for {
		msg, err := ps.ReceiveTimeout(ctx, b.ping)
		if b.isClosed() {
			return
		}
		switch {
		case err == nil:
			pinged, failures = false, 0
			b.handle(msg)
		case isTimeout(err) && !pinged:
			// A quiet channel looks like a dead connection; make Redis
			// answer. A failed write makes go-redis reconnect by itself.
			pinged = ps.Ping(ctx) == nil
		case isTimeout(err):
			// Not even a pong for a whole interval: the TCP connection is
			// half open (e.g. a silent network partition) and go-redis would
			// wait on it for ever, so start over on a new connection.
			b.log.Warn("subscriber connection silent; replacing it", "channel", b.channel)
			b.setSubscribed(false)
			if ps = b.replace(ps); ps == nil {
				return
			}
			pinged = false
		default:
			if failures == 0 {
				b.log.Warn("subscription lost; reconnecting", "channel", b.channel, "error", err)
			}
			b.setSubscribed(false)
			failures++
			if !b.sleep(backoff(failures)) {
				return
			}
		}
	}
}

func (b *Bus) handle(msg any) {
	switch m := msg.(type) {
	case *goredis.Subscription:
		// New consumed the first confirmation, so any here is a re-subscription.
		if m.Kind == "subscribe" && m.Channel == b.channel {
			b.log.Info("re-subscribed", "channel", b.channel)
			b.resubscribed()
		}
	case *goredis.Message:
		b.dispatch(m.Payload)
	}
}

// dispatch decodes one payload and queues it for every subscription. A
// payload that does not decode is skipped: the channel is open to any Redis
// client, and one bad publisher must not stop the others' events.
func (b *Bus) dispatch(payload string) {
	e, err := decode([]byte(payload))
	if err != nil {
		b.log.Warn("skipping malformed event", "channel", b.channel, "error", err, "payload", truncate(payload, 256))
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		s.Push(e)
	}
}

func (b *Bus) resubscribed() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subscribed = true
	for _, k := range b.hooks {
		k.trigger()
	}
}

func (b *Bus) setSubscribed(v bool) {
	b.mu.Lock()
	b.subscribed = v
	b.mu.Unlock()
}

// replace closes ps and returns a new PubSub on the channel, or nil if the
// bus was closed meanwhile. The new one dials in the background of its
// first read, so its confirmation arrives through the loop like any other.
func (b *Bus) replace(ps *goredis.PubSub) *goredis.PubSub {
	_ = ps.Close()
	next := b.client.Subscribe(context.Background(), b.channel)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		_ = next.Close()
		return nil
	}
	b.pubsub = next
	return next
}

// sleep waits d, or returns false at once if the bus is closing.
func (b *Bus) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-b.closing:
		return false
	}
}

// backoff is 0 on the first failure (go-redis has usually reconnected
// already), then doubles from 100ms up to maxBackoff.
func backoff(failures int) time.Duration {
	if failures <= 1 {
		return 0
	}
	d := 100 * time.Millisecond << min(failures-2, 6)
	return min(d, maxBackoff)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
