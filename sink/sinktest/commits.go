package sinktest

import (
	"sync"

	"github.com/ingestgate/ingestgate/sink"
)

// Commits adds up what a backend's OnCommit hook is told, for tests that
// check the hook against the backend's own counters.
type Commits struct {
	mu  sync.Mutex
	sum CommitSum
}

// CommitSum is what Commits has seen: commits that succeeded with a
// positive duration, their batches and records, and the others.
type CommitSum struct {
	Commits, Batches, Records int
	Failed                    int
}

// Add is an OnCommit hook.
func (c *Commits) Add(cm sink.Commit) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cm.Err != nil || cm.Duration <= 0 {
		c.sum.Failed++
		return
	}
	c.sum.Commits++
	c.sum.Batches += cm.Batches
	c.sum.Records += cm.Records
}

// Sum returns the totals so far.
func (c *Commits) Sum() CommitSum {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sum
}
