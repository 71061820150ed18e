package redis_test

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ingestgate/ingestgate/internal/testservices"
	"github.com/ingestgate/ingestgate/keystore"
)

// TestResubscribeAfterSilentConnection freezes the subscriber's TCP
// connection without closing it, as a network partition would: no error
// ever reaches the client, so only the bus's ping can notice, replace the
// connection and tell the node.
func TestResubscribeAfterSilentConnection(t *testing.T) {
	opt, err := goredis.ParseURL(testservices.RedisURL(t))
	if err != nil {
		t.Fatalf("INGESTGATE_TEST_REDIS_URL: %v", err)
	}
	proxy := newFreezingProxy(t, opt.Addr)
	opt.Addr = proxy.addr()
	nodeClient := goredis.NewClient(opt)
	t.Cleanup(func() { nodeClient.Close() })

	prefix := uniquePrefix(t)
	node := newBus(t, nodeClient, prefix)
	publisher := newBus(t, newClient(t, "publisher"), prefix)
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

	proxy.freezeAll()
	waitHook(t, hooks, "after the connection went silent")
	publishAndReceive(t, publisher, got, 2)
}

// freezingProxy forwards TCP to a target until freezeAll, after which the
// connections open at that moment swallow everything in both directions
// while staying open. Later connections forward normally.
type freezingProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []*proxiedConn
}

type proxiedConn struct {
	client, server net.Conn
	frozen         atomic.Bool
}

func newFreezingProxy(t *testing.T, target string) *freezingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p := &freezingProxy{ln: ln}
	go p.accept(target)
	t.Cleanup(p.close)
	return p
}

func (p *freezingProxy) addr() string { return p.ln.Addr().String() }

func (p *freezingProxy) accept(target string) {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", target)
		if err != nil {
			client.Close()
			continue
		}
		c := &proxiedConn{client: client, server: server}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		go c.pipe(server, client)
		go c.pipe(client, server)
	}
}

func (c *proxiedConn) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !c.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

func (p *freezingProxy) freezeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.frozen.Store(true)
	}
}

func (p *freezingProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.client.Close()
		c.server.Close()
	}
}
