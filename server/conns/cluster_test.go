package conns

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ingestgate/ingestgate/internal/testservices"
)

// A node answers only well-formed requests whose reply channel is under
// the prefix: a Redis client cannot make nodes publish on another channel
// (such as key-events) or ask for another workspace's streams in bulk.
func TestAnswerOnlyToReplyChannelsUnderThePrefix(t *testing.T) {
	c := testservices.RedisClient(t)
	prefix := testservices.RedisPrefix(t)
	local := func(q Query) []Conn {
		return []Conn{{ID: "s1", WorkspaceID: q.WorkspaceID, KeyID: "ik_1", DeviceID: "d1", Node: "n", Opened: time.Now()}}
	}
	cl := NewCluster(context.Background(), c, Options{Prefix: prefix, Local: local, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer cl.Close()

	good, evil := prefix+"connections:replies:tester", prefix+"key-events"
	sub := c.Subscribe(context.Background(), good, evil)
	defer sub.Close()
	if _, err := sub.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, req := range []request{
		{ID: "1", Reply: evil, Query: Query{WorkspaceID: "default", Limit: 10}},
		{ID: "2", Reply: good, Query: Query{WorkspaceID: "Not Valid", Limit: 10}},
		{ID: "3", Reply: good, Query: Query{WorkspaceID: "default", Limit: MaxLimit + 1}},
		{ID: "4", Reply: good, Query: Query{WorkspaceID: "default", Limit: 10}},
	} {
		b, _ := json.Marshal(req)
		if err := c.Publish(context.Background(), prefix+"connections:requests", b).Err(); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := sub.ReceiveMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var r reply
	if m.Channel != good || json.Unmarshal([]byte(m.Payload), &r) != nil || r.ID != "4" || len(r.Conns) != 1 || r.Instance != cl.Instance() {
		t.Fatalf("first reply on %s: %s; want only the answer to request 4", m.Channel, m.Payload)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if m, err := sub.ReceiveMessage(ctx2); err == nil {
		t.Fatalf("unexpected message on %s: %s", m.Channel, m.Payload)
	}
}

// The asking node filters what members send: a member that answers with
// another workspace's (or another key's) streams cannot leak them, and
// the answer is complete once every member replied.
func TestListFiltersWhatMembersSend(t *testing.T) {
	c := testservices.RedisClient(t)
	prefix := testservices.RedisPrefix(t)
	cl := NewCluster(context.Background(), c, Options{Prefix: prefix, Local: func(Query) []Conn { return nil }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer cl.Close()
	// A member of the set that answers every request with a mixed bag.
	sub := c.Subscribe(context.Background(), prefix+"connections:requests")
	defer sub.Close()
	if _, err := sub.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	now, err := c.Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ZAdd(context.Background(), prefix+"connections:nodes", goredis.Z{Score: float64(now.Add(time.Minute).UnixMilli()), Member: "rogue"}).Err(); err != nil {
		t.Fatal(err)
	}
	go func() {
		for m := range sub.Channel() {
			var req request
			if json.Unmarshal([]byte(m.Payload), &req) != nil {
				continue
			}
			b, _ := json.Marshal(reply{ID: req.ID, Instance: "rogue", Conns: []Conn{
				{ID: "mine", WorkspaceID: "acme", KeyID: "ik_a", DeviceID: "d"},
				{ID: "other-ws", WorkspaceID: "globex", KeyID: "ik_a", DeviceID: "d"},
				{ID: "other-key", WorkspaceID: "acme", KeyID: "ik_b", DeviceID: "d"},
			}})
			c.Publish(context.Background(), req.Reply, b)
		}
	}()
	got, partial := cl.List(context.Background(), Query{WorkspaceID: "acme", KeyID: "ik_a", Limit: 10})
	if partial || len(got) != 1 || got[0].ID != "mine" {
		t.Fatalf("List = %v partial=%v, want only the acme stream of ik_a", got, partial)
	}
}
