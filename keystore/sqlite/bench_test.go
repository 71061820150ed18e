package sqlite

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/keystore"
)

// BenchmarkFindIngestKeyByHash measures the uncached lookup the Verifier
// falls back to, over 10k keys (a tenth with a previous secret), so the
// cache's gain can be measured against it.
func BenchmarkFindIngestKeyByHash(b *testing.B) {
	const keys = 10_000
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "keys.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })

	hashes := make([]keystore.Hash, keys)
	previous := make([]keystore.Hash, 0, keys/10)
	now := time.Now()
	err = s.ReadWrite(ctx, func(ctx context.Context, tx keystore.Tx) error {
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

// BenchmarkRecordUsage measures one background flush: 1000 keys and 1000
// devices in one call, over tables of 10k keys and 10k devices. It holds
// the single write connection that long, so management writes queue
// behind it.
func BenchmarkRecordUsage(b *testing.B) {
	const rows, flushed = 10_000, 1000
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "keys.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })

	now := time.Now()
	keys := make([]keystore.KeyUsage, 0, rows)
	devs := make([]keystore.DeviceSeen, 0, rows)
	err = s.ReadWrite(ctx, func(ctx context.Context, tx keystore.Tx) error {
		if err := tx.CreateWorkspace(ctx, keystore.Workspace{ID: "ws-bench", CreateTime: now, UpdateTime: now}); err != nil {
			return err
		}
		for i := range rows {
			k := keystore.IngestKey{
				ID: keystore.NewID("ik_"), WorkspaceID: "ws-bench", Name: fmt.Sprintf("key %d", i),
				Scope:      keystore.Scope{AllDevices: true},
				Credential: keystore.Credential{Hash: sha256.Sum256(fmt.Appendf(nil, "current-%d", i)), Status: keystore.StatusActive},
				CreateTime: now, UpdateTime: now,
			}
			if err := tx.CreateIngestKey(ctx, k); err != nil {
				return err
			}
			d := keystore.Device{WorkspaceID: "ws-bench", ID: fmt.Sprintf("dev-%05d", i), CreateTime: now, UpdateTime: now}
			if err := tx.CreateDevice(ctx, d); err != nil {
				return err
			}
			keys = append(keys, keystore.KeyUsage{WorkspaceID: k.WorkspaceID, KeyID: k.ID, Records: 500, Batches: 5})
			devs = append(devs, keystore.DeviceSeen{WorkspaceID: d.WorkspaceID, DeviceID: d.ID})
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}

	b.ReportAllocs()
	n := 0
	for b.Loop() {
		// A different tenth of the table each time, with a later time.
		off := (n * flushed) % rows
		k, d := keys[off:off+flushed], devs[off:off+flushed]
		last := now.Add(time.Duration(n) * time.Second)
		for i := range k {
			k[i].LastUsed, d[i].LastSeen = last, last
		}
		if err := s.RecordUsage(ctx, k, d); err != nil {
			b.Fatal(err)
		}
		n++
	}
}
