package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash test re-executes this test binary as a child that appends
// until it is SIGKILLed. These variables switch it into that role.
const (
	crashDBEnv     = "INGESTGATE_SINK_CRASH_DB"
	crashPrefixEnv = "INGESTGATE_SINK_CRASH_PREFIX"
	crashRecords   = 5 // records per batch
)

func TestMain(m *testing.M) {
	if path := os.Getenv(crashDBEnv); path != "" {
		os.Exit(crashChild(path, os.Getenv(crashPrefixEnv)))
	}
	os.Exit(m.Run())
}

// crashChild appends batches from several goroutines and prints each
// batch's dedupe key on stdout once its Result says it is durable. It
// runs until killed; the time limit only keeps an orphan from running
// forever.
func crashChild(path, prefix string) int {
	s, err := Open(context.Background(), path, Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var mu sync.Mutex
	for g := range 8 {
		go func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("%s.g%d.%d", prefix, g, i)
				b := batchOf(key)
				for j := range crashRecords {
					b.Records = append(b.Records, record(fmt.Sprintf("%s/%d", key, j)))
				}
				if r := <-s.Append(context.Background(), b); r.Err != nil || r.Duplicate {
					fmt.Fprintf(os.Stderr, "append %s: %+v\n", key, r)
					os.Exit(3)
				}
				// One write per line, after the ack: a printed key is a
				// promise the parent will check.
				mu.Lock()
				_, err := fmt.Fprintln(os.Stdout, key)
				mu.Unlock()
				if err != nil {
					os.Exit(4)
				}
			}
		}()
	}
	time.Sleep(time.Minute)
	return 5
}

// Every batch acknowledged before a SIGKILL is in the file after it,
// whole and exactly once, and still deduplicated. Three rounds of kill
// and reopen on the same file, killed at a different point each time.
func TestCrashDurability(t *testing.T) {
	path := filepath.Join(t.TempDir(), "telemetry.db")
	acked := map[string]bool{}
	for round := range 3 {
		prefix := fmt.Sprintf("r%d", round)
		killAfter := 200 + 150*round
		n := runAndKill(t, path, prefix, killAfter, acked)
		t.Logf("round %d: killed after %d acks, %d acked in all", round, killAfter, n)

		s := openTest(t, path, Config{})
		stored := storedBatches(t, s)
		for key := range acked {
			if stored[key] != crashRecords {
				t.Fatalf("acknowledged batch %s has %d of %d records after the crash", key, stored[key], crashRecords)
			}
		}
		unacked := 0
		for key, count := range stored {
			if count != crashRecords {
				t.Fatalf("batch %s stored with %d of %d records: a partial commit", key, count, crashRecords)
			}
			if !acked[key] {
				unacked++ // committed, but killed before its ack was printed
			}
		}
		t.Logf("round %d: %d batches stored, %d of them committed but not acknowledged", round, len(stored), unacked)
		var integrity string
		if err := s.read.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
			t.Fatalf("integrity_check: %q, %v", integrity, err)
		}
		if r := mustStore(t, s, batchOf(prefix+".g0.0", "resent")); !r.Duplicate {
			t.Fatal("a batch acknowledged before the crash was stored again")
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// runAndKill runs the child on path, SIGKILLs it right after its
// killAfter-th ack, and adds every key it acknowledged to acked.
func runAndKill(t *testing.T, path, prefix string, killAfter int, acked map[string]bool) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashDBEnv+"="+path, crashPrefixEnv+"="+prefix)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines, killed := 0, false
	// Lines written before the kill are still read: the pipe keeps them
	// until EOF.
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		acked[sc.Text()] = true
		if lines++; lines == killAfter {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !killed || !errors.As(err, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("child ended by itself after %d acks (%v): %s", lines, err, strings.TrimSpace(stderr.String()))
	}
	return len(acked)
}

// storedBatches counts the stored records of each batch, checking that a
// batch's records are contiguous and in order.
func storedBatches(t *testing.T, s *Sink) map[string]int {
	t.Helper()
	counts := map[string]int{}
	prev := ""
	for _, name := range readNames(t, s, "ws-1") {
		key, j, ok := strings.Cut(name, "/")
		if !ok {
			continue // not a crash-test record
		}
		if want := fmt.Sprint(counts[key]); j != want || (j != "0" && prev != key) {
			t.Fatalf("record %s follows %s: batches interleaved or out of order", name, prev)
		}
		counts[key]++
		prev = key
	}
	return counts
}
