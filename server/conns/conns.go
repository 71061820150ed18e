// Package conns lists the live device streams of a workspace, on this node
// (the registry) and, in a cluster, on every node.
//
// # Why ask the nodes instead of keeping a directory
//
// A stream's interesting state (records acked, last batch) changes with
// every batch. A Redis directory written at open and close would either
// show stale counters or cost a Redis write per batch, and it would put
// Redis on the open path. So nodes keep nothing in Redis about streams;
// a listing asks them (request/reply over Redis pub/sub), and each node
// answers from its registry, with live counters:
//
//   - Every node subscribes to <prefix>connections:requests and to its own
//     reply channel <prefix>connections:replies:<instance>.
//   - Every node heartbeats its instance id into the sorted set
//     <prefix>connections:nodes (scored by expiry in Redis time, renewed
//     every 10 s, expiring after 30 s; removed at shutdown), the same lease
//     pattern as the stream seats of ratelimit/redis.
//   - A listing reads the live members, publishes one request, answers for
//     itself from its own registry, and waits (at most ListTimeout) for a
//     reply from each member. Missing replies make the answer partial.
//
// Failure behaviour: stream opens and batches never touch Redis for this.
// With Redis unreachable, or a node that does not answer in time (dead
// without a clean shutdown: for up to 30 s until its lease expires), the
// listing returns what it has with partial set. A node that stops cleanly
// leaves the set at once, and its streams are gone with it.
//
// Messages are small JSON documents without secrets (a key's id and display
// prefix only). A reply channel must lie under the prefix, so a request
// cannot make nodes publish elsewhere.
package conns

import (
	"cmp"
	"slices"
	"time"

	"github.com/ingestgate/ingestgate/server/registry"
)

// MaxLimit bounds one listing, on each node and in total.
const MaxLimit = 1000

// Query selects streams of one workspace; KeyID and DeviceID narrow it.
type Query struct {
	WorkspaceID string `json:"ws"`
	KeyID       string `json:"key,omitempty"`
	DeviceID    string `json:"device,omitempty"`
	Limit       int    `json:"limit"`
}

// Conn is one live stream as listed (and sent between nodes).
type Conn struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"ws"`
	KeyID       string    `json:"key"`
	KeyPrefix   string    `json:"key_prefix"`
	DeviceID    string    `json:"device"`
	Node        string    `json:"node"`
	Peer        string    `json:"peer,omitempty"`
	Opened      time.Time `json:"opened"`
	Records     int64     `json:"records"`
	LastBatch   time.Time `json:"last_batch,omitzero"`
}

func (q Query) matches(c *Conn) bool {
	return c.WorkspaceID == q.WorkspaceID && (q.KeyID == "" || c.KeyID == q.KeyID) && (q.DeviceID == "" || c.DeviceID == q.DeviceID)
}

// Local lists the matching streams of reg, held by the node named node,
// newest first, at most q.Limit.
func Local(reg *registry.Registry, node string, q Query) []Conn {
	var streams []*registry.Stream
	switch {
	case q.DeviceID != "":
		streams = reg.ByDevice(q.WorkspaceID, q.DeviceID)
	case q.KeyID != "":
		streams = reg.ByKey(q.KeyID)
	default:
		streams = reg.ByWorkspace(q.WorkspaceID)
	}
	out := make([]Conn, 0, min(len(streams), q.Limit))
	for _, s := range streams {
		c := Conn{
			ID: s.ID, WorkspaceID: s.WorkspaceID, KeyID: s.KeyID, KeyPrefix: s.KeyPrefix, DeviceID: s.DeviceID,
			Node: node, Peer: s.Peer, Opened: s.Opened, Records: s.Records(), LastBatch: s.LastBatch(),
		}
		// A closed stream is on its way out of the registry: not live.
		if q.matches(&c) && s.Closure() == nil {
			out = append(out, c)
		}
	}
	return newest(out, q.Limit)
}

// newest sorts conns newest first (then by id, so pages are stable) and
// keeps at most limit.
func newest(conns []Conn, limit int) []Conn {
	slices.SortFunc(conns, func(a, b Conn) int {
		if c := b.Opened.Compare(a.Opened); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if len(conns) > limit {
		conns = conns[:limit]
	}
	return conns
}
