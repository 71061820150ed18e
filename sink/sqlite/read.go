package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/ingestgate/ingestgate/sink"
)

// Read implements sink.Sink. Cursors are decimal numbers (see cursorShift); any
// other string, including a non-canonical spelling such as "007", is
// sink.ErrBadCursor. A Limit below 1 means sink.DefaultReadLimit.
func (s *Sink) Read(ctx context.Context, q sink.Query) ([]sink.Entry, error) {
	if s.isClosing() {
		return nil, sink.ErrClosed
	}
	after, err := parseCursor(q.After)
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = sink.DefaultReadLimit
	}
	limit = min(limit, sink.MaxReadLimit)
	var expired <-chan time.Time
	if q.Wait > 0 {
		timer := time.NewTimer(q.Wait)
		defer timer.Stop()
		expired = timer.C
	}
	for {
		// Watch before querying: a commit that lands after the query's
		// snapshot closes this channel, so no wake-up is lost.
		var changed <-chan struct{}
		if q.Wait > 0 {
			changed = s.watch.changed(q.WorkspaceID)
		}
		entries, err := s.query(ctx, q, after, limit)
		if err != nil || len(entries) > 0 || q.Wait <= 0 {
			return entries, err
		}
		select {
		case <-changed:
		case <-expired:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.queue.Closing():
			return nil, sink.ErrClosed
		}
	}
}

func (s *Sink) query(ctx context.Context, q sink.Query, after int64, limit int) ([]sink.Entry, error) {
	var (
		rows *sql.Rows
		err  error
	)
	first, skip := after>>cursorShift, after&(maxBatchCount-1)+1
	if after == 0 {
		skip = 0
	}
	if q.DeviceID == "" {
		rows, err = s.stmts.readAll.QueryContext(ctx, q.WorkspaceID, first, limit+1)
	} else {
		rows, err = s.stmts.readDevice.QueryContext(ctx, q.WorkspaceID, first, limit+1, q.DeviceID)
	}
	if err != nil {
		return nil, s.readError(ctx, err)
	}
	defer rows.Close()
	var entries []sink.Entry
	for len(entries) < limit && rows.Next() {
		var (
			id, recv, count int64
			records         []byte
			e               = sink.Entry{WorkspaceID: q.WorkspaceID}
		)
		if err := rows.Scan(&id, &e.DeviceID, &e.IngestKeyID, &recv, &count, &records); err != nil {
			return nil, fmt.Errorf("sink/sqlite: read: %w", err)
		}
		if id == first && skip >= count {
			continue // read to its end before: no need to decode it
		}
		rs, err := decodeRecords(records)
		if err != nil {
			return nil, fmt.Errorf("sink/sqlite: batch %d: %w", id, err)
		}
		e.ReceiveTime = time.Unix(0, recv).UTC()
		i := 0
		if id == first {
			i = int(skip) // the records up to the cursor were read before
		}
		for ; i < len(rs) && len(entries) < limit; i++ {
			e.Cursor = strconv.FormatInt(id<<cursorShift|int64(i), 10)
			e.Record = rs[i]
			entries = append(entries, e)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.readError(ctx, err)
	}
	return entries, nil
}

// EndCursor implements sink.Sink.
func (s *Sink) EndCursor(ctx context.Context, workspaceID string) (string, error) {
	if s.isClosing() {
		return "", sink.ErrClosed
	}
	var id, count int64
	switch err := s.stmts.end.QueryRowContext(ctx, workspaceID).Scan(&id, &count); {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", s.readError(ctx, err)
	}
	return strconv.FormatInt(id<<cursorShift|(count-1), 10), nil
}

// readError maps a failed read: one racing Close finds the pool closed
// and reports sink.ErrClosed; one interrupted by ctx reports ctx's error,
// which the driver does not always wrap.
func (s *Sink) readError(ctx context.Context, err error) error {
	if s.isClosing() {
		return sink.ErrClosed
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("sink/sqlite: read: %w", ctxErr)
	}
	return fmt.Errorf("sink/sqlite: read: %w", err)
}

// parseCursor accepts "" (the beginning) and the numbers Entry.Cursor
// holds (see cursorShift).
func parseCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(c, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != c {
		return 0, fmt.Errorf("sink/sqlite: cursor %q: %w", c, sink.ErrBadCursor)
	}
	return id, nil
}

// watchers lets waiting Reads sleep until a commit stores into their
// workspace. Each workspace with a waiter has a channel that the writer
// closes, and forgets, after such a commit; the next waiter makes a new
// one. A workspace's channel outlives its waiters until its next commit,
// so the map holds at most one channel per workspace ever waited on.
type watchers struct {
	mu          sync.Mutex
	byWorkspace map[string]chan struct{}
}

// changed returns a channel closed by the next commit into workspaceID.
func (w *watchers) changed(workspaceID string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch, ok := w.byWorkspace[workspaceID]
	if !ok {
		if w.byWorkspace == nil {
			w.byWorkspace = make(map[string]chan struct{})
		}
		ch = make(chan struct{})
		w.byWorkspace[workspaceID] = ch
	}
	return ch
}

// notify wakes the waiters of the workspaces a commit stored into.
func (w *watchers) notify(workspaces map[string]struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ws := range workspaces {
		if ch, ok := w.byWorkspace[ws]; ok {
			close(ch)
			delete(w.byWorkspace, ws)
		}
	}
}
