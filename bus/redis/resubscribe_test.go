package redis_test

import (
	"context"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	busredis "github.com/ingestgate/ingestgate/bus/redis"
	"github.com/ingestgate/ingestgate/keystore"
)

// TestResubscribeAfterConnectionKilled kills one node's subscriber
// connection the way a Redis restart or failover would, and checks the node
// is told (so it can revalidate) and receives what is published afterwards.
func TestResubscribeAfterConnectionKilled(t *testing.T) {
	prefix := uniquePrefix(t)
	nodeClient := newClient(t, "node")
	node := newBus(t, nodeClient, prefix)
	publisher := newBus(t, newClient(t, "publisher"), prefix)
	if want := prefix + "key-events"; node.Channel() != want {
		t.Errorf("Channel() = %q, want %q", node.Channel(), want)
	}

	hooks := make(chan struct{}, 16)
	node.OnResubscribe(func() { hooks <- struct{}{} })
	waitHook(t, hooks, "on start")

	got := make(chan keystore.Event, 16)
	stop, err := node.Subscribe(func(e keystore.Event) { got <- e })
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	defer stop()
	publishAndReceive(t, publisher, got, 1)

	// Several idle ping intervals must not look like a re-subscription.
	time.Sleep(5 * testPingInterval)
	publishAndReceive(t, publisher, got, 2)
	select {
	case <-hooks:
		t.Fatal("hook ran again without a reconnect")
	default:
	}

	killPubSub(t, nodeClient.Options().ClientName)
	waitHook(t, hooks, "after the connection was killed")
	publishAndReceive(t, publisher, got, 3)
}

func waitHook(t *testing.T, hooks <-chan struct{}, when string) {
	t.Helper()
	select {
	case <-hooks:
	case <-time.After(10 * time.Second):
		t.Fatalf("OnResubscribe hook did not run %s", when)
	}
}

func publishAndReceive(t *testing.T, p interface {
	Publish(context.Context, keystore.Event) error
}, got <-chan keystore.Event, seq uint64) {
	t.Helper()
	e := keystore.Event{WorkspaceID: "ws", Sequence: seq, Type: keystore.EventType(15), IngestKeyID: "ik_1"}
	if err := p.Publish(context.Background(), e); err != nil {
		t.Fatalf("Publish %d: %v", seq, err)
	}
	select {
	case e := <-got:
		if e.Sequence != seq {
			t.Fatalf("received sequence %d, want %d", e.Sequence, seq)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("event %d not delivered", seq)
	}
}

// killPubSub kills the pub/sub connections named name and no others, so
// tests of other packages sharing the server are not disturbed.
func killPubSub(t *testing.T, name string) {
	t.Helper()
	admin := newClient(t, "admin")
	ctx := context.Background()
	list, err := admin.Do(ctx, "CLIENT", "LIST", "TYPE", "pubsub").Text()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		fields := map[string]string{}
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if fields["name"] != name {
			continue
		}
		if err := admin.Do(ctx, "CLIENT", "KILL", "ID", fields["id"]).Err(); err != nil {
			t.Fatalf("CLIENT KILL ID %s: %v", fields["id"], err)
		}
		killed++
	}
	if killed != 1 {
		t.Fatalf("killed %d pub/sub connections named %q, want 1", killed, name)
	}
}

// TestNewFailsWithoutRedis checks a node refuses to start with a clear
// error rather than running deaf.
func TestNewFailsWithoutRedis(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := busredis.New(ctx, c, busredis.Options{}); err == nil || !strings.Contains(err.Error(), "subscribe") {
		t.Fatalf("New against a closed port = %v, want a subscribe error", err)
	}
}
