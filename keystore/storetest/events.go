package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ingestgate/ingestgate/keystore"
)

// appendEvents appends es in one transaction and returns what AppendEvent
// returned.
func appendEvents(t *testing.T, s keystore.Store, es ...keystore.Event) []keystore.Event {
	t.Helper()
	var out []keystore.Event
	write(t, s, func(ctx context.Context, tx keystore.Tx) error {
		out = out[:0] // a backend may retry fn
		for _, e := range es {
			got, err := tx.AppendEvent(ctx, e)
			if err != nil {
				return fmt.Errorf("AppendEvent to %q: %w", e.WorkspaceID, err)
			}
			out = append(out, got)
		}
		return nil
	})
	return out
}

func listEvents(t *testing.T, s keystore.Store, q keystore.EventQuery) []keystore.Event {
	t.Helper()
	evs, err := s.ListEvents(t.Context(), q)
	noErr(t, fmt.Sprintf("ListEvents %+v", q), err)
	return evs
}

func sequences(evs []keystore.Event) []uint64 {
	out := make([]uint64, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.Sequence)
	}
	return out
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	if from <= to {
		for i := from; i <= to; i++ {
			out = append(out, i)
		}
	} else {
		for i := from; i >= to; i-- {
			out = append(out, i)
		}
	}
	return out
}

func equalSeqs(t *testing.T, what string, got, want []uint64) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	equal(t, what, got, want)
}

// simpleEvent is an event in log ws, told apart by n.
func simpleEvent(ws string, n int) keystore.Event {
	return keystore.Event{WorkspaceID: ws, Type: keystore.EventType(11), Time: at(n), Actor: fmt.Sprintf("actor-%d", n)}
}

func testEvents(t *testing.T, newStore Factory) {
	t.Run("SequencePerLog", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a", "ws-b")
		// Interleaved, within and across transactions.
		got := appendEvents(t, s, simpleEvent("ws-a", 1), simpleEvent("", 2), simpleEvent("ws-a", 3))
		got = append(got, appendEvents(t, s, simpleEvent("ws-b", 4))...)
		got = append(got, appendEvents(t, s, simpleEvent("ws-a", 5), simpleEvent("ws-b", 6), simpleEvent("", 7))...)
		equalSeqs(t, "sequences returned by AppendEvent", sequences(got), []uint64{1, 1, 2, 1, 3, 2, 2})
		for _, tc := range []struct {
			ws   string
			want []keystore.Event
		}{
			{"ws-a", []keystore.Event{wantEvent(simpleEvent("ws-a", 1), 1), wantEvent(simpleEvent("ws-a", 3), 2), wantEvent(simpleEvent("ws-a", 5), 3)}},
			{"ws-b", []keystore.Event{wantEvent(simpleEvent("ws-b", 4), 1), wantEvent(simpleEvent("ws-b", 6), 2)}},
			{"", []keystore.Event{wantEvent(simpleEvent("", 2), 1), wantEvent(simpleEvent("", 7), 2)}},
		} {
			equal(t, fmt.Sprintf("events of log %q", tc.ws), listEvents(t, s, keystore.EventQuery{WorkspaceID: tc.ws}), tc.want)
		}
	})

	t.Run("RoundTrip", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		full := fullEvent("ws-a")
		// A caller-set sequence is ignored, empty slices read back as nil.
		preset := simpleEvent("ws-a", 40)
		preset.Sequence, preset.ChangedFields = 99, []string{}
		zero := keystore.Event{WorkspaceID: "ws-a"}
		global := fullEvent("")
		got := appendEvents(t, s, full, preset, zero, global)
		want := []keystore.Event{wantEvent(full, 1), wantEvent(preset, 2), wantEvent(zero, 3), wantEvent(global, 1)}
		equal(t, "events returned by AppendEvent", got, want)
		equal(t, "ListEvents ws-a", listEvents(t, s, keystore.EventQuery{WorkspaceID: "ws-a"}), want[:3])
		equal(t, "ListEvents global", listEvents(t, s, keystore.EventQuery{}), want[3:])
	})

	// The audit log outlives its workspace, and a workspace created again
	// with the same id continues the sequence.
	t.Run("KeptAfterDeleteAndRecreate", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a", "ws-b")
		before := appendEvents(t, s, simpleEvent("ws-a", 1), simpleEvent("ws-a", 2), simpleEvent("ws-a", 3), simpleEvent("ws-b", 4))
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.DeleteWorkspace(ctx, "ws-a", true) })
		equal(t, "events after delete", listEvents(t, s, keystore.EventQuery{WorkspaceID: "ws-a"}), before[:3])
		write(t, s, func(ctx context.Context, tx keystore.Tx) error { return tx.CreateWorkspace(ctx, newWorkspace("ws-a")) })
		got := appendEvents(t, s, simpleEvent("ws-a", 5), simpleEvent("ws-b", 6))
		equalSeqs(t, "sequences after re-create", sequences(got), []uint64{4, 2})
		equal(t, "events of re-created workspace", listEvents(t, s, keystore.EventQuery{WorkspaceID: "ws-a"}),
			append(before[:3:3], wantEvent(simpleEvent("ws-a", 5), 4)))
	})

	// Sequences are gapless: an append that rolls back does not use one up.
	t.Run("RolledBackAppendLeavesNoGap", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		appendEvents(t, s, simpleEvent("ws-a", 1))
		err := tryWrite(t, s, func(ctx context.Context, tx keystore.Tx) error {
			if _, err := tx.AppendEvent(ctx, simpleEvent("ws-a", 2)); err != nil {
				return err
			}
			return errBoom
		})
		wantErr(t, "rolled back append", err, errBoom)
		got := appendEvents(t, s, simpleEvent("ws-a", 3))
		equalSeqs(t, "sequence after rollback", sequences(got), []uint64{2})
		equal(t, "events", listEvents(t, s, keystore.EventQuery{WorkspaceID: "ws-a"}),
			[]keystore.Event{wantEvent(simpleEvent("ws-a", 1), 1), wantEvent(simpleEvent("ws-a", 3), 2)})
	})

	t.Run("Query", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a", "ws-b")
		// ws-a gets 10 events: odd sequences are about ik-1, even ik-2;
		// sequences 3, 6 and 9 also name device d-1.
		var es []keystore.Event
		for i := 1; i <= 10; i++ {
			e := simpleEvent("ws-a", i)
			e.IngestKeyID = "ik-1"
			if i%2 == 0 {
				e.IngestKeyID = "ik-2"
			}
			if i%3 == 0 {
				e.DeviceID = "d-1"
			}
			es = append(es, e)
		}
		es = append(es, simpleEvent("ws-b", 11), simpleEvent("", 12))
		appendEvents(t, s, es...)
		for _, tc := range []struct {
			name string
			q    keystore.EventQuery
			want []uint64
		}{
			{"All", keystore.EventQuery{WorkspaceID: "ws-a"}, seqRange(1, 10)},
			{"After", keystore.EventQuery{WorkspaceID: "ws-a", AfterSequence: 3}, seqRange(4, 10)},
			{"AfterLast", keystore.EventQuery{WorkspaceID: "ws-a", AfterSequence: 10}, nil},
			{"Limit", keystore.EventQuery{WorkspaceID: "ws-a", Limit: 3}, seqRange(1, 3)},
			{"AfterLimit", keystore.EventQuery{WorkspaceID: "ws-a", AfterSequence: 3, Limit: 2}, seqRange(4, 5)},
			{"NewestFirst", keystore.EventQuery{WorkspaceID: "ws-a", NewestFirst: true}, seqRange(10, 1)},
			{"NewestFirstBefore", keystore.EventQuery{WorkspaceID: "ws-a", NewestFirst: true, AfterSequence: 4}, seqRange(3, 1)},
			{"NewestFirstBeforeFirst", keystore.EventQuery{WorkspaceID: "ws-a", NewestFirst: true, AfterSequence: 1}, nil},
			{"NewestFirstLimit", keystore.EventQuery{WorkspaceID: "ws-a", NewestFirst: true, Limit: 2}, seqRange(10, 9)},
			{"NewestFirstBeforeLimit", keystore.EventQuery{WorkspaceID: "ws-a", NewestFirst: true, AfterSequence: 9, Limit: 3}, seqRange(8, 6)},
			{"IngestKey", keystore.EventQuery{WorkspaceID: "ws-a", IngestKeyID: "ik-1"}, []uint64{1, 3, 5, 7, 9}},
			{"IngestKeyNewestFirstLimit", keystore.EventQuery{WorkspaceID: "ws-a", IngestKeyID: "ik-2", NewestFirst: true, Limit: 2}, []uint64{10, 8}},
			{"IngestKeyAfter", keystore.EventQuery{WorkspaceID: "ws-a", IngestKeyID: "ik-2", AfterSequence: 5}, []uint64{6, 8, 10}},
			{"Device", keystore.EventQuery{WorkspaceID: "ws-a", DeviceID: "d-1"}, []uint64{3, 6, 9}},
			{"IngestKeyAndDevice", keystore.EventQuery{WorkspaceID: "ws-a", IngestKeyID: "ik-1", DeviceID: "d-1"}, []uint64{3, 9}},
			{"UnknownIngestKey", keystore.EventQuery{WorkspaceID: "ws-a", IngestKeyID: "ik-9"}, nil},
			{"OtherWorkspace", keystore.EventQuery{WorkspaceID: "ws-b"}, []uint64{1}},
			{"Global", keystore.EventQuery{}, []uint64{1}},
			{"UnknownWorkspace", keystore.EventQuery{WorkspaceID: "ws-x"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				equalSeqs(t, "sequences", sequences(listEvents(t, s, tc.q)), tc.want)
			})
		}
		t.Run("Paging", func(t *testing.T) {
			for _, newest := range []bool{false, true} {
				for limit := 1; limit <= 11; limit++ {
					var got []uint64
					var after uint64
					for range 12 {
						page := listEvents(t, s, keystore.EventQuery{WorkspaceID: "ws-a", AfterSequence: after, NewestFirst: newest, Limit: limit})
						if len(page) > limit {
							t.Fatalf("page of %d events, limit %d", len(page), limit)
						}
						got = append(got, sequences(page)...)
						if len(page) < limit {
							break
						}
						after = page[len(page)-1].Sequence
					}
					want := seqRange(1, 10)
					if newest {
						want = seqRange(10, 1)
					}
					equalSeqs(t, fmt.Sprintf("paging newest=%t limit %d", newest, limit), got, want)
				}
			}
		})
	})

	t.Run("TimePrecision", func(t *testing.T) {
		s := withWorkspaces(t, newStore, "ws-a")
		in := time.Date(2025, 1, 2, 3, 4, 5, 123_456_789, zone)
		e := simpleEvent("ws-a", 0)
		e.Time = in
		appendEvents(t, s, e)
		got := listEvents(t, s, keystore.EventQuery{WorkspaceID: "ws-a"})[0].Time
		// Truncating or rounding to the microsecond are both fine.
		if got.Location() != time.UTC || got.Nanosecond()%1000 != 0 || got.Sub(in).Abs() >= time.Microsecond {
			t.Fatalf("time %s read back as %s (%v), want it in UTC at microsecond precision", in, got, got.Location())
		}
	})
}
