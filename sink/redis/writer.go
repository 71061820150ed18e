package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ingestgate/ingestgate/sink"
)

// storeBatch stores one batch atomically: Redis runs a script without
// interleaving any other command, so the dedupe check, the claim of the
// key and the XADD of every record happen as one step. A Lua script, not
// MULTI with WATCH, because the decision (duplicate or not) must be taken
// inside the atomic step: WATCH would need a round trip to read the key
// first and a retry loop when another node claims it in between, and a
// failed EXEC would cost the whole group commit its pipeline.
//
// The stream's type is checked before anything is written, so the one
// error an XADD can hit (WRONGTYPE) cannot leave a claimed key without its
// records; once the script has written, Redis lets it finish even past
// maxmemory.
//
// KEYS[1] is the workspace stream, KEYS[2] the dedupe key (absent when the
// batch has none). ARGV: window in ms, MAXLEN (-1: no trimming),
// device_id, ingest_key_id, receive_time, then one encoded record per
// entry. The field names are the documented entry format (codec.go).
// Returns 1 when stored, 0 when a duplicate.
const storeBatchSrc = `
local t = redis.call('TYPE', KEYS[1])['ok']
if t ~= 'stream' and t ~= 'none' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' holds a ' .. t .. ', not a stream')
end
if KEYS[2] and not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  return 0
end
local trim = tonumber(ARGV[2]) >= 0
for i = 6, #ARGV do
  if trim then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*',
      'device_id', ARGV[3], 'ingest_key_id', ARGV[4], 'receive_time', ARGV[5], 'record', ARGV[i])
  else
    redis.call('XADD', KEYS[1], '*',
      'device_id', ARGV[3], 'ingest_key_id', ARGV[4], 'receive_time', ARGV[5], 'record', ARGV[i])
  end
end
return 1
`

var storeBatch = goredis.NewScript(storeBatchSrc)

// run is the writer goroutine: it sends every batch, in queue order.
func (s *Sink) run() {
	defer close(s.done)
	var next *sink.Request[batch] // taken from the queue but left for the next commit
	for {
		if s.isClosing() {
			s.queue.FailQueued(next)
			return
		}
		if next == nil {
			select {
			case next = <-s.queue.Requests():
			case <-s.queue.Closing():
				continue
			}
		}
		var group []*sink.Request[batch]
		group, next = s.queue.Gather(next)
		s.commit(group)
	}
}

// commit sends group in one pipeline, one script call per batch, and
// answers every request. A request whose ctx has ended is answered with
// its error and left out: that check is the last moment its caller can
// still withdraw it. The pipeline runs on a background context: once
// sent, a batch is stored even if its caller has gone, and Close waits
// for it; the client's timeouts bound it.
//
// The pipeline starts with SCRIPT LOAD, and each batch is an EVALSHA:
// the script's kilobyte is sent once per pipeline instead of once per
// batch (at batch 1 it was most of the bytes, and with appendfsync always
// Redis syncs its AOF once per chunk of the pipeline it reads). Loading
// first keeps the script in the cache for the whole pipeline, even just
// after a Redis restart; only a SCRIPT FLUSH landing in the middle could
// fail calls, and then it fails every call after it, so what is stored
// is still a prefix of the queue order and a device's batches stay in
// order.
func (s *Sink) commit(group []*sink.Request[batch]) {
	type call struct {
		r   *sink.Request[batch]
		cmd *goredis.Cmd // nil: nothing to send (an empty batch without a key)
	}
	calls := make([]call, 0, len(group))
	pipe := s.client.Pipeline()
	ctx := context.Background()
	pipe.ScriptLoad(ctx, storeBatchSrc) // its error shows as NOSCRIPT on each call
	for _, r := range s.queue.Live(group) {
		b := &r.Batch
		if b.dedupeKey == "" && len(b.records) == 0 {
			calls = append(calls, call{r: r})
			continue
		}
		keys := []string{s.streamKey(b.workspaceID)}
		if b.dedupeKey != "" {
			keys = append(keys, s.dedupeKey(b.workspaceID, b.deviceID, b.dedupeKey))
		}
		args := make([]any, 0, 5+len(b.records))
		args = append(args, s.opts.DedupeWindow.Milliseconds(), s.opts.MaxLen, b.deviceID, b.ingestKeyID, b.receiveTime)
		for _, rec := range b.records {
			args = append(args, rec)
		}
		calls = append(calls, call{r: r, cmd: storeBatch.EvalSha(ctx, pipe, keys, args...)})
	}
	if n := pipe.Len() - 1; n > 0 {
		s.stats.pipelines.Add(1)
		start := time.Now()
		// Each command's own error is checked below.
		_, err := pipe.Exec(ctx)
		if err != nil {
			s.log.Error("storing telemetry failed", "error", err, "batches", n)
		}
		if s.opts.OnCommit != nil {
			c := sink.Commit{Batches: len(calls), Duration: time.Since(start), Err: err}
			for _, cl := range calls {
				c.Records += len(cl.r.Batch.records)
			}
			s.opts.OnCommit(c)
		}
	}
	for _, c := range calls {
		if c.cmd == nil {
			c.r.Answer(sink.Result{})
			continue
		}
		stored, err := c.cmd.Int()
		if err != nil {
			c.r.Answer(sink.Result{Err: fmt.Errorf("sink/redis: store: %w", err)})
			continue
		}
		if stored == 0 {
			s.stats.duplicates.Add(1)
		} else {
			s.stats.batches.Add(1)
			s.stats.records.Add(int64(len(c.r.Batch.records)))
		}
		c.r.Answer(sink.Result{Duplicate: stored == 0})
	}
}
