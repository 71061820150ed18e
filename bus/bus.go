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

// Resubscriber is an optional capability of a Bus whose transport can lose
// events, such as Redis pub/sub, which drops what is published while a node
// is disconnected. Callers test for it with a type assertion.
type Resubscriber interface {
	// OnResubscribe registers fn to run after every successful
	// (re)subscription, including the first: events may have been lost
	// before it, so fn revalidates the node's live streams and cached keys
	// against the store. Because fn runs only once the subscription is live,
	// any change committed before it is in the store and any change after it
	// is delivered. If the bus is already subscribed when fn is registered,
	// fn runs once promptly, standing in for the first subscription.
	//
	// fn runs on a goroutine the bus owns, never concurrently with itself;
	// re-subscriptions that happen while fn runs are coalesced into one more
	// call. fn is kept until Close, which waits for a call under way, so fn
	// must not call Close. After Close, OnResubscribe does nothing.
	OnResubscribe(fn func())
}
