// Package bus carries key lifecycle events between ingestgate nodes, so a
// change committed on one node (a revocation, a device re-tagged out of a
// key's scope) takes effect on every node. Backends live in subpackages
// (bus/local for one node; a Redis pub/sub backend for a cluster) and pass
// bus/bustest.
//
// Events are written to the store's audit log before they are published;
// the bus only tells nodes to act on them. It imports keystore for the event
// type and never imports server.
package bus

import (
	"context"
	"errors"

	"github.com/ingestgate/ingestgate/keystore"
)

// ErrClosed is returned by Publish and Subscribe after Close.
var ErrClosed = errors.New("bus: closed")

// Handler receives events. A subscription calls it from one goroutine, one
// event at a time, so it must not block for long.
type Handler func(keystore.Event)

// Bus publishes committed key events to every subscribed node, this one
// included.
type Bus interface {
	// Publish delivers e to every current subscription. It returns once the
	// backend has accepted the event; delivery is at most once, so
	// subscribers also revalidate what they hold (see the server's sweep).
	Publish(ctx context.Context, e keystore.Event) error
	// Subscribe calls h with every event published after Subscribe returns,
	// in the order a publisher published them. stop ends the subscription;
	// once it returns, h is not called again.
	Subscribe(h Handler) (stop func(), err error)
	// Close ends every subscription and releases resources.
	Close() error
}
