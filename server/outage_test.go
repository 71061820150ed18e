package server_test

import (
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// tcpProxy stands between a node and PostgreSQL so a test can cut the
// database off (every connection dropped, new ones refused) and bring it
// back on the same address.
type tcpProxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	l      net.Listener
	conns  map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(t, "proxy listen", err)
	p.addr = l.Addr().String()
	p.serve(l)
	t.Cleanup(p.down)
	return p
}

func (p *tcpProxy) serve(l net.Listener) {
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
}

func (p *tcpProxy) up() {
	l, err := net.Listen("tcp", p.addr)
	check(p.t, "proxy listen again", err)
	p.serve(l)
}

// PostgreSQL briefly down: streams keep flowing and a cached, active key
// still admits new streams of devices its scope names; a key the node has
// not cached gets UNAVAILABLE (retry), not a verdict; once the database is
// back, a device first seen during the outage is registered, everything
// works and nothing acknowledged was lost.
func TestPostgresOutage(t *testing.T) {
	db, err := url.Parse(servertest.PostgresDB(t))
	check(t, "parse db url", err)
	proxy := startProxy(t, db.Host)
	db.Host = proxy.addr
	n := servertest.Start(t, func(c *server.Config) {
		c.Store, c.Redis, c.RedisPrefix = db.String(), servertest.RedisURL(t), servertest.RedisPrefix(t)
		c.SweepInterval = 200 * time.Millisecond // sweeps fail during the outage and must not close anything
	})
	_, cachedSecret := newIngestKey(t, n, &ingestgatev1.IngestKey{Name: "cached"})
	_, coldSecret := newIngestKey(t, n, &ingestgatev1.IngestKey{Name: "never used"})
	// A key's creation is applied at once and again when the bus brings
	// it back, and each application forgets the key: wait for both echoes,
	// or one could drop the entry the next stream caches.
	waitEventsReceived(t, n, 2)
	live := openStream(t, n, "live", cachedSecret) // verifies, so the key is cached

	proxy.down()
	for seq := uint64(2); seq <= 6; seq++ {
		live.send(seq, record("during outage", float64(seq)))
	}
	live.waitAcks(6)
	time.Sleep(500 * time.Millisecond) // a couple of failed sweeps
	if live.ended() {
		t.Fatalf("a stream ended during the outage: %v", live.end)
	}
	fresh := openStream(t, n, "new-device", cachedSecret) // not even registered yet
	cold := dial(t, n, "cold", coldSecret)
	if _, st := cold.waitEnd(); st.Code() != codes.Unavailable {
		t.Fatalf("uncached key during the outage: %v, want UNAVAILABLE", st)
	}

	proxy.up()
	deadline := time.Now().Add(waitFor)
	for {
		d := dial(t, n, "cold", coldSecret)
		d.send(1, record("after", 1))
		d.until("ack or end", func() bool { return len(d.acks) > 0 || d.end != nil })
		if d.ackCount() == 1 {
			break
		}
		if time.Now().After(deadline) {
			_, st := d.waitEnd()
			t.Fatalf("the uncached key still fails after the database returned: %v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The sweep registers the device admitted during the outage; it does
	// not close its stream as if the device had been deleted.
	for deadline := time.Now().Add(waitFor); ; time.Sleep(20 * time.Millisecond) {
		_, err := ingestgatev1.NewDeviceServiceClient(n.Conn).GetDevice(adminCtx(n), &ingestgatev1.GetDeviceRequest{WorkspaceId: ws, DeviceId: "new-device"})
		if err == nil {
			break
		}
		if fresh.ended() || time.Now().After(deadline) {
			t.Fatalf("device admitted during the outage: registered: %v; stream ended: %v", err, fresh.end)
		}
	}
	time.Sleep(500 * time.Millisecond) // more sweeps, which must leave it be
	live.send(7, record("after", 7))
	live.waitAcks(7)
	fresh.send(2, record("after", 2))
	fresh.waitAcks(2)
	if got := len(readAll(t, n, "live")); got != 7 {
		t.Fatalf("live device: %d records stored, want the 7 acked", got)
	}
	// The store took writes again, and its audit log is whole.
	newIngestKey(t, n, &ingestgatev1.IngestKey{Name: "after the outage"})
	events, err := ingestgatev1.NewEventServiceClient(n.Conn).ListAuditEvents(adminCtx(n), &ingestgatev1.ListAuditEventsRequest{WorkspaceId: ws, PageSize: 500})
	check(t, "list events", err)
	for i, e := range events.GetEvents() {
		if e.GetSequence() != uint64(i+1) {
			t.Fatalf("audit log has sequence %d at position %d", e.GetSequence(), i)
		}
	}
}

// waitEventsReceived waits until the node has received at least want key
// events from the bus.
func waitEventsReceived(t *testing.T, n *servertest.Node, want float64) {
	t.Helper()
	for deadline := time.Now().Add(waitFor); ; time.Sleep(10 * time.Millisecond) {
		m, raw := scrape(t, n)
		var got float64
		for s, v := range m {
			if strings.HasPrefix(s, "ingestgate_key_events_received_total") {
				got += v
			}
		}
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node received %v key events from the bus, want %v:\n%s", got, want, raw)
		}
	}
}
