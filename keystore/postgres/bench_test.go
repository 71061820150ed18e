package postgres

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/internal/testservices"
	"github.com/ingestgate/ingestgate/keystore"
)

// BenchmarkFindIngestKeyByHash measures the uncached lookup the Verifier
// falls back to, over 10k keys (a tenth with a previous secret), so the
// cache's gain can be measured against it. Unlike SQLite's, each lookup is
// a network round trip to the server: compare the two with that in mind.
func BenchmarkFindIngestKeyByHash(b *testing.B) {
	const keys = 10_000
	ctx := context.Background()
	s := openStore(b, testservices.PostgresDB(b))

	hashes := make([]keystore.Hash, keys)
	previous := make([]keystore.Hash, 0, keys/10)
	now := time.Now()
	err := s.ReadWrite(ctx, func(ctx context.Context, tx keystore.Tx) error {
		// ReadWrite may retry: start the slices afresh.
		previous = previous[:0]
		if err := tx.CreateWorkspace(ctx, keystore.Workspace{ID: "ws-bench", CreateTime: now, UpdateTime: now}); err != nil {
			return err
		}
		for i := range keys {
			hashes[i] = sha256.Sum256(fmt.Appendf(nil, "current-%d", i))
			k := keystore.IngestKey{
				ID: keystore.NewID("ik_"), WorkspaceID: "ws-bench", Name: fmt.Sprintf("key %d", i),
				Labels: map[string]string{"env": "prod"}, Scope: keystore.Scope{AllDevices: true},
				Credential: keystore.Credential{Hash: hashes[i], DisplayPrefix: "ig_ikv1_abcdef", Status: keystore.StatusActive},
				CreateTime: now, UpdateTime: now,
			}
			if i%10 == 0 {
				k.PreviousHash = sha256.Sum256(fmt.Appendf(nil, "previous-%d", i))
				k.PreviousExpireTime = now.Add(time.Hour)
				previous = append(previous, k.PreviousHash)
			}
			if err := tx.CreateIngestKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	// Fresh statistics, so the planner uses the hash indexes at once.
	if _, err := s.pool.Exec(ctx, "ANALYZE ingest_keys"); err != nil {
		b.Fatal(err)
	}

	for _, bc := range []struct {
		name   string
		hashes []keystore.Hash
		found  bool
	}{
		{"Current", hashes, true},
		{"Previous", previous, true},
		{"Unknown", []keystore.Hash{sha256.Sum256([]byte("unknown"))}, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_, err := s.FindIngestKeyByHash(ctx, bc.hashes[i%len(bc.hashes)])
				if (err == nil) != bc.found {
					b.Fatalf("FindIngestKeyByHash: %v", err)
				}
				i += 7919 // a prime stride: spread lookups over the table
			}
		})
	}
	b.Run("CurrentParallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := s.FindIngestKeyByHash(ctx, hashes[i%len(hashes)]); err != nil {
					b.Error(err)
					return
				}
				i += 7919
			}
		})
	})
}
