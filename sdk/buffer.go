package sdk

import (
	"slices"
	"time"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// item is one record waiting to be cut into a batch.
type item struct {
	rec  *ingestgatev1.Record
	size int       // what it adds to an encoded batch
	at   time.Time // when Send accepted it, for linger
}

// batch is a cut batch: its seq and records never change, so a resend after
// a reconnect is byte-for-byte what the server may already have stored.
type batch struct {
	req   *ingestgatev1.ConnectRequest
	n     int    // records in it
	first uint64 // index (see Client.nextIndex) of its first record
	sends int    // streams it was written to
}

func (b *batch) seq() uint64 { return b.req.GetBatch().GetSeq() }

// fifo is a queue that pops from the front without copying the rest.
type fifo[T any] struct {
	items []T
	head  int
}

func (q *fifo[T]) len() int    { return len(q.items) - q.head }
func (q *fifo[T]) at(i int) *T { return &q.items[q.head+i] }
func (q *fifo[T]) push(v ...T) { q.items = append(q.items, v...) }

// pop removes the first n items.
func (q *fifo[T]) pop(n int) {
	clear(q.items[q.head : q.head+n])
	q.head += n
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > len(q.items)/2 && q.head >= 1024 {
		q.items = slices.Delete(q.items, 0, q.head)
		q.head = 0
	}
}

// The methods below hold c.mu.

// acceptLocked appends records Send validated; the caller made room.
func (c *Client) acceptLocked(items []item) {
	c.pending.push(items...)
	for _, it := range items {
		c.pendingBytes += it.size
	}
	c.nextIndex += uint64(len(items))
	c.buffered += len(items)
	c.broadcastLocked()
}

// dropOldestLocked makes room for n more records by dropping the oldest
// records not yet sent: first from the pending queue, then, if that is not
// enough, from the front of incoming. It returns what is left of incoming.
func (c *Client) dropOldestLocked(n int, incoming []item) []item {
	over := c.buffered + n - c.cfg.bufferLimit
	if over <= 0 {
		return incoming
	}
	d := min(over, c.pending.len())
	for i := range d {
		c.pendingBytes -= c.pending.at(i).size
	}
	c.pending.pop(d)
	c.pendingStart += uint64(d)
	c.buffered -= d
	over -= d
	// The pending queue is empty now; drop the oldest incoming records.
	c.nextIndex += uint64(over)
	c.pendingStart += uint64(over)
	c.stats.RecordsDropped += uint64(d + over)
	c.log.Debug("buffer full: dropped oldest unsent records", "dropped", d+over)
	return incoming[over:]
}

// nextLocked returns the next message to write to the current stream:
// first every unacknowledged batch not yet written to it, in order, then a
// new batch once one is ready and the in-flight bound and any throttle
// allow. With nothing to send it returns how long until something may
// become ready by itself (0: only a state change will).
func (c *Client) nextLocked(now time.Time) (*ingestgatev1.ConnectRequest, time.Duration) {
	if c.sent < len(c.unacked) {
		b := c.unacked[c.sent]
		c.sent++
		if b.sends > 0 {
			c.stats.RecordsResent += uint64(b.n)
		} else {
			c.stats.RecordsSent += uint64(b.n)
		}
		b.sends++
		return b.req, 0
	}
	if c.pending.len() == 0 || len(c.unacked) >= c.cfg.maxInFlight {
		return nil, 0
	}
	if now.Before(c.pauseUntil) {
		return nil, c.pauseUntil.Sub(now)
	}
	if wait := c.lingerLocked(now); wait > 0 {
		return nil, wait
	}
	b := c.cutLocked()
	c.unacked = append(c.unacked, b)
	c.sent++
	c.stats.RecordsSent += uint64(b.n)
	b.sends++
	return b.req, 0
}

// lingerLocked returns how long the pending records may still wait for a
// fuller batch: zero when a batch is full, a Flush asked for them, or the
// oldest has waited the linger.
func (c *Client) lingerLocked(now time.Time) time.Duration {
	if c.pending.len() >= c.cfg.batchSize ||
		c.pendingBytes+batchOverhead >= c.cfg.maxBatchBytes ||
		c.pendingStart < c.flushTarget {
		return 0
	}
	return max(0, c.pending.at(0).at.Add(c.cfg.linger).Sub(now))
}

// cutLocked takes the next batch off the pending queue: up to batchSize
// records that fit in one message, and always at least one (Send refused
// any record that does not fit alone).
func (c *Client) cutLocked() *batch {
	var (
		n     int
		bytes = batchOverhead
	)
	for n < c.pending.len() && n < c.cfg.batchSize {
		size := c.pending.at(n).size
		if n > 0 && bytes+size > c.cfg.maxBatchBytes {
			break
		}
		bytes += size
		n++
	}
	recs := make([]*ingestgatev1.Record, n)
	for i := range n {
		it := c.pending.at(i)
		recs[i] = it.rec
		c.pendingBytes -= it.size
	}
	c.pending.pop(n)
	b := &batch{
		req: &ingestgatev1.ConnectRequest{Message: &ingestgatev1.ConnectRequest_Batch{
			Batch: &ingestgatev1.TelemetryBatch{Seq: c.nextSeq, Records: recs},
		}},
		n:     n,
		first: c.pendingStart,
	}
	c.nextSeq++
	c.pendingStart += uint64(n)
	return b
}

// ackLocked settles the batch with seq among those written to the current
// stream. Acks come in order, so it is normally the first.
func (c *Client) ackLocked(seq uint64, duplicate bool) bool {
	i := slices.IndexFunc(c.unacked[:c.sent], func(b *batch) bool { return b.seq() == seq })
	if i < 0 {
		return false
	}
	b := c.unacked[i]
	c.unacked = slices.Delete(c.unacked, i, i+1)
	c.sent--
	c.buffered -= b.n
	c.stats.RecordsAcked += uint64(b.n)
	c.stats.BatchesAcked++
	if duplicate {
		c.stats.BatchesDuplicate++
	}
	c.broadcastLocked()
	return true
}

// settledLocked returns the index of the oldest record neither acknowledged
// nor dropped: every record before it is settled.
func (c *Client) settledLocked() uint64 {
	if len(c.unacked) > 0 {
		return c.unacked[0].first
	}
	return c.pendingStart
}
