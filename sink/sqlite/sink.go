package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/ingestgate/ingestgate/internal/sqlitefile"
	"github.com/ingestgate/ingestgate/sink"
)

var _ sink.Sink = (*Sink)(nil)

// readConns bounds the read pool; WAL readers do not block each other, but
// each connection holds its own page cache.
const readConns = 4

// Sink is the embedded sink.Sink. It is safe for concurrent use.
type Sink struct {
	cfg   Config
	now   func() time.Time // the wall clock; tests substitute their own
	write *sql.DB          // one connection, used only by the writer goroutine
	read  *sql.DB          // query_only pool
	ckpt  *sql.DB          // one connection, for background checkpoints
	stmts statements

	// Checkpoints (checkpoint.go).
	ckptMu        sync.Mutex
	walFrames     atomic.Int64 // WAL frames the last checkpoint saw
	restartFrames int64
	ckptStop      chan struct{}
	ckptDone      chan struct{}

	queue     *sink.Queue[batch]
	done      chan struct{} // closed when the writer has exited
	closeOnce sync.Once

	watch   watchers
	stats   counters
	applied int // migrations Open ran (for tests)
}

// Open opens or creates the sink's database at path (its own file, not the
// keystore's), creating the directory if needed, brings the schema up to
// date and starts the writer.
func Open(ctx context.Context, path string, cfg Config) (*Sink, error) {
	return open(ctx, path, cfg, time.Now)
}

func open(ctx context.Context, path string, cfg Config, now func() time.Time) (*Sink, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	abs, err := sqlitefile.Create(path)
	if err != nil {
		return nil, fmt.Errorf("sink/sqlite: %w", err)
	}
	// synchronous=FULL syncs the WAL on every commit: an acknowledged
	// batch survives power loss, not only a crash of this process. Group
	// commit is what keeps that affordable. busy_timeout matters only for
	// other processes (an operator's sqlite3) and checkpoints, which
	// are left to the background (checkpoint.go).
	write, err := sql.Open("sqlite", sqlitefile.DSN(abs, []string{"busy_timeout(5000)", "journal_mode(WAL)", "synchronous(FULL)",
		"wal_autocheckpoint(0)", fmt.Sprintf("journal_size_limit(%d)", walSizeLimit)}, "_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("sink/sqlite: open: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	// query_only makes a stray write through the read pool fail loudly.
	read, err := sql.Open("sqlite", sqlitefile.DSN(abs, []string{"busy_timeout(5000)", "query_only(1)"}))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sink/sqlite: open: %w", err)
	}
	read.SetMaxOpenConns(readConns)
	read.SetMaxIdleConns(readConns)
	ckpt, err := sql.Open("sqlite", sqlitefile.DSN(abs, []string{"busy_timeout(5000)"}))
	if err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("sink/sqlite: open: %w", err)
	}
	ckpt.SetMaxOpenConns(1)

	s := &Sink{
		cfg: cfg, now: now, write: write, read: read, ckpt: ckpt,
		restartFrames: defaultRestartFrames, ckptStop: make(chan struct{}), ckptDone: make(chan struct{}),
		queue: sink.NewQueue(cfg.QueueSize, cfg.MaxBatchesPerCommit, cfg.MaxRecordsPerCommit, func(b batch) int { return b.count }),
		done:  make(chan struct{}),
	}
	// Migrate before preparing: statements need the tables.
	if s.applied, err = migrate(ctx, write); err == nil {
		err = s.stmts.prepare(ctx, write, read)
	}
	if err != nil {
		s.closeDBs()
		return nil, err
	}
	go s.run()
	go s.checkpoints()
	return s, nil
}

// Close stops accepting batches, lets the commit under way finish, fails
// the batches still queued with sink.ErrClosed, wakes waiting Reads (which
// return sink.ErrClosed) and closes the database. Calling it again
// returns nil.
func (s *Sink) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.queue.Seal()
		<-s.done
		close(s.ckptStop)
		<-s.ckptDone
		err = s.closeDBs()
	})
	return err
}

// closeDBs closes the statements and the pools. The last connection to
// close checkpoints the WAL into the database file.
func (s *Sink) closeDBs() error {
	errs := []error{s.stmts.close(), s.read.Close(), s.ckpt.Close(), s.write.Close()}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sink/sqlite: close: %w", err)
	}
	return nil
}

// isClosing reports whether Close has begun.
func (s *Sink) isClosing() bool { return s.queue.IsClosing() }
