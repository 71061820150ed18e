package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Checkpoints copy the WAL into the database file. SQLite's default runs
// one inside the commit that crosses 1000 WAL pages, on the writer; under
// load that was 40% of the writer's time (a Go execution trace of a node
// at 100 devices, batch 100). Here the write connection never checkpoints
// on its own (wal_autocheckpoint=0):
//
//   - a background connection runs a PASSIVE checkpoint every
//     Config.CheckpointInterval, concurrently with the writer's commits;
//   - a PASSIVE checkpoint never finishes the WAL while commits keep
//     coming, so the WAL would grow without end. Once it holds
//     restartFrames frames, the writer, between two commits, runs a
//     RESTART checkpoint: it copies only what the last PASSIVE one did not
//     (a moment's worth) and makes the next commit write the WAL from its
//     start again.
//
// s.ckptMu keeps the two from running at once (SQLite would answer
// SQLITE_BUSY to the second).

// defaultRestartFrames is the WAL size, in frames (pages), at which the
// writer restarts it: 64 MiB with 4 KiB pages.
const defaultRestartFrames = 16384

// walSizeLimit is journal_size_limit: a WAL file that grew beyond it is
// truncated back to it when it restarts.
const walSizeLimit = 64 << 20

// checkpoints is the background checkpointer goroutine.
func (s *Sink) checkpoints() {
	defer close(s.ckptDone)
	tick := time.NewTicker(s.cfg.CheckpointInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.ckptStop:
			return
		case <-tick.C:
		}
		s.ckptMu.Lock()
		frames, err := checkpoint(s.ckpt, "PASSIVE")
		s.ckptMu.Unlock()
		if err != nil {
			s.cfg.Logger.Warn("sink/sqlite: checkpoint", "error", err)
			continue
		}
		s.stats.checkpoints.Add(1)
		s.walFrames.Store(frames)
	}
}

// restartWAL is called by the writer between commits: once the WAL holds
// restartFrames frames, it checkpoints the rest and restarts the WAL,
// unless the background checkpoint is running (it tries again after the
// next commit). A failure is logged: the WAL stays as it is, and the
// next attempt may succeed.
func (s *Sink) restartWAL() {
	if s.walFrames.Load() < s.restartFrames || !s.ckptMu.TryLock() {
		return
	}
	defer s.ckptMu.Unlock()
	frames, err := checkpoint(s.write, "RESTART")
	if err != nil {
		s.cfg.Logger.Warn("sink/sqlite: restart the WAL", "error", err)
		return
	}
	s.stats.walRestarts.Add(1)
	s.walFrames.Store(frames)
}

// checkpoint runs one checkpoint in mode on db and returns the WAL's
// frames left to copy: 0 after a RESTART, and what a PASSIVE one saw
// in the WAL.
func checkpoint(db *sql.DB, mode string) (int64, error) {
	var busy, log, done int64
	if err := db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &log, &done); err != nil {
		return 0, err
	}
	if busy != 0 {
		return log, fmt.Errorf("%s checkpoint: busy (%d of %d WAL frames copied)", mode, done, log)
	}
	if mode == "RESTART" {
		return 0, nil
	}
	return log, nil
}
