package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/sink"
)

// benchBatch is a device batch of n typical records: a timestamped
// number with one attribute.
func benchBatch(device string, seq, n int) sink.Batch {
	now := time.Now()
	b := sink.Batch{
		WorkspaceID: "ws-bench", DeviceID: device, IngestKeyID: "ik-bench",
		DedupeKey: fmt.Sprintf("s:%d", seq), ReceiveTime: now,
		Records: make([]*ingestgatev1.Record, n),
	}
	for i := range b.Records {
		b.Records[i] = &ingestgatev1.Record{
			Time:       timestamppb.New(now.Add(time.Duration(i-n) * time.Millisecond)),
			Name:       "engine.temp_c",
			Value:      &ingestgatev1.Record_NumberValue{NumberValue: 80 + float64(i%40)/4},
			Attributes: map[string]string{"sensor": "t1"},
		}
	}
	return b
}

// BenchmarkAppend measures durable appends: each op is one batch whose
// Result has arrived, so every figure includes the fsync of its group
// commit. Appenders each wait for their batch before sending the next, as
// a device stream does.
func BenchmarkAppend(b *testing.B) {
	for _, appenders := range []int{1, 16, 256} {
		for _, records := range []int{1, 100} {
			b.Run(fmt.Sprintf("appenders=%d/records=%d", appenders, records), func(b *testing.B) {
				s := openTest(b, filepath.Join(b.TempDir(), "telemetry.db"), Config{})
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				for g := range appenders {
					device := fmt.Sprintf("dev-%d", g)
					wg.Go(func() {
						for {
							i := int(next.Add(1))
							if i > b.N {
								return
							}
							if _, err := sink.Store(context.Background(), s, benchBatch(device, i, records)); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				st := s.Stats()
				b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(float64(st.Batches)/float64(max(st.Commits, 1)), "batches/commit")
			})
		}
	}
}

// BenchmarkRead measures a subscriber paging through a workspace of 100k
// records, with and without a device filter; each op is one Read.
func BenchmarkRead(b *testing.B) {
	const (
		total   = 100_000
		devices = 10
		per     = 100
	)
	s := openTest(b, filepath.Join(b.TempDir(), "telemetry.db"), Config{})
	var pending []<-chan sink.Result
	for i := range total / per {
		pending = append(pending, s.Append(context.Background(), benchBatch(fmt.Sprintf("dev-%d", i%devices), i, per)))
	}
	for _, ch := range pending {
		if r := <-ch; r.Err != nil {
			b.Fatal(r.Err)
		}
	}
	for _, tc := range []struct {
		limit  int
		device string
	}{
		{100, ""}, {1000, ""}, {100, "dev-3"},
	} {
		name := fmt.Sprintf("limit=%d", tc.limit)
		if tc.device != "" {
			name += "/device"
		}
		b.Run(name, func(b *testing.B) {
			q := sink.Query{WorkspaceID: "ws-bench", DeviceID: tc.device, Limit: tc.limit}
			read := 0
			for b.Loop() {
				es, err := s.Read(context.Background(), q)
				if err != nil {
					b.Fatal(err)
				}
				if len(es) < tc.limit {
					q.After = "" // wrap around at the end
				} else {
					q.After = es[len(es)-1].Cursor
				}
				read += len(es)
			}
			b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
