package conns

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ingestgate/ingestgate/keystore"
)

// Defaults of Options.
const (
	DefaultLeaseTTL    = 30 * time.Second
	DefaultListTimeout = 2 * time.Second
)

const (
	maxRequestBytes = 4 << 10
	maxReplyBytes   = 4 << 20 // MaxLimit conns of bounded fields, with room
	maxAnswering    = 4       // requests one node answers at once; more wait for the asker's timeout

	memberLookupTimeout = 500 * time.Millisecond
)

// Options configure a Cluster.
type Options struct {
	Prefix string // Redis key and channel prefix
	// Instance names this process among the members (random if empty).
	Instance string
	// Local lists this node's matching streams (Local over its registry).
	Local func(Query) []Conn
	Log   *slog.Logger
	// LeaseTTL is how long a node stays a member after its last heartbeat
	// (renewed every third of it); ListTimeout bounds a listing's wait.
	LeaseTTL    time.Duration
	ListTimeout time.Duration
}

// Cluster lists streams across the nodes sharing one Redis.
type Cluster struct {
	c        goredis.UniversalClient
	opts     Options
	instance string
	reqCh    string
	replyCh  string
	members  string
	ps       *goredis.PubSub

	mu      sync.Mutex
	waiters map[string]chan reply
	// downUntil skips Redis for a second after it failed, so a console
	// polling during an outage gets its partial answer at once.
	downUntil atomic.Int64
	answering chan struct{}

	stop chan struct{}
	// ctx ends at Close, cutting short heartbeats and answers under way.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type request struct {
	ID    string `json:"id"`
	Reply string `json:"reply"`
	Query
}

type reply struct {
	ID       string `json:"id"`
	Instance string `json:"instance"`
	Conns    []Conn `json:"conns"`
}

// NewCluster subscribes and joins the member set. Redis being down is not
// an error: go-redis resubscribes once it is back, and listings are partial
// meanwhile.
func NewCluster(ctx context.Context, c goredis.UniversalClient, opts Options) *Cluster {
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	if opts.ListTimeout <= 0 {
		opts.ListTimeout = DefaultListTimeout
	}
	cl := &Cluster{
		c: c, opts: opts, instance: cmp.Or(opts.Instance, rand.Text()[:12]),
		reqCh: opts.Prefix + "connections:requests", members: opts.Prefix + "connections:nodes",
		waiters: map[string]chan reply{}, answering: make(chan struct{}, maxAnswering), stop: make(chan struct{}),
	}
	cl.replyCh = cl.replyPrefix() + cl.instance
	cl.ctx, cl.cancel = context.WithCancel(context.Background())
	cl.ps = c.Subscribe(ctx, cl.reqCh, cl.replyCh)
	// Members must be subscribed before they join, or a listing would wait
	// for a node that cannot hear it.
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	for range 2 {
		if _, err := cl.ps.Receive(sctx); err != nil {
			opts.Log.Warn("connection listing: subscribe failed; retrying in the background", slog.Any("error", err))
			break
		}
	}
	cancel()
	cl.heartbeat()
	cl.wg.Add(2)
	go cl.receiveLoop()
	go cl.heartbeatLoop()
	return cl
}

// Instance is this node's id in the cluster, unique per process.
func (cl *Cluster) Instance() string { return cl.instance }

func (cl *Cluster) replyPrefix() string { return cl.opts.Prefix + "connections:replies:" }

var heartbeatScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 0
`)

var membersScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
`)

func (cl *Cluster) heartbeat() {
	ctx, cancel := context.WithTimeout(cl.ctx, cl.opts.LeaseTTL/3)
	defer cancel()
	if err := heartbeatScript.Run(ctx, cl.c, []string{cl.members}, cl.instance, cl.opts.LeaseTTL.Milliseconds()).Err(); err != nil {
		cl.opts.Log.Warn("connection listing: heartbeat failed; other nodes list this node's streams once Redis answers", slog.Any("error", err))
	}
}

func (cl *Cluster) heartbeatLoop() {
	defer cl.wg.Done()
	tick := time.NewTicker(cl.opts.LeaseTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-cl.stop:
			return
		case <-tick.C:
			cl.heartbeat()
		}
	}
}

// receiveLoop serves requests and routes replies. go-redis's channel
// reconnects and resubscribes by itself, and pings to find a dead
// connection.
func (cl *Cluster) receiveLoop() {
	defer cl.wg.Done()
	for m := range cl.ps.Channel() {
		switch m.Channel {
		case cl.reqCh:
			cl.answer(m.Payload)
		case cl.replyCh:
			cl.route(m.Payload)
		}
	}
}

// answer replies to another node's request, off the receive loop and with
// bounded concurrency; a request beyond it is dropped and its asker says
// partial.
func (cl *Cluster) answer(payload string) {
	if len(payload) > maxRequestBytes {
		return
	}
	var req request
	if json.Unmarshal([]byte(payload), &req) != nil || req.ID == "" || len(req.ID) > 64 ||
		!strings.HasPrefix(req.Reply, cl.replyPrefix()) || len(req.Reply) > len(cl.replyPrefix())+64 ||
		req.Reply == cl.replyCh || keystore.ValidateWorkspaceID(req.WorkspaceID) != nil || req.Limit < 1 || req.Limit > MaxLimit {
		return // our own request (answered locally), or not one at all
	}
	select {
	case cl.answering <- struct{}{}:
	default:
		cl.opts.Log.Debug("connection listing: too many requests at once; dropping one")
		return
	}
	go func() {
		defer func() { <-cl.answering }()
		b, err := json.Marshal(reply{ID: req.ID, Instance: cl.instance, Conns: cl.opts.Local(req.Query)})
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(cl.ctx, cl.opts.ListTimeout)
		defer cancel()
		if err := cl.c.Publish(ctx, req.Reply, b).Err(); err != nil {
			cl.opts.Log.Debug("connection listing: reply failed", slog.Any("error", err))
		}
	}()
}

func (cl *Cluster) route(payload string) {
	if len(payload) > maxReplyBytes {
		return
	}
	var r reply
	if json.Unmarshal([]byte(payload), &r) != nil {
		return
	}
	cl.mu.Lock()
	ch := cl.waiters[r.ID]
	cl.mu.Unlock()
	if ch != nil {
		select {
		case ch <- r:
		default: // more replies than members asked: ignore the surplus
		}
	}
}

// List returns the matching streams of every node, newest first, at most
// q.Limit, and whether some node's streams may be missing.
func (cl *Cluster) List(ctx context.Context, q Query) ([]Conn, bool) {
	out := cl.opts.Local(q)
	if time.Now().UnixNano() < cl.downUntil.Load() {
		return out, true
	}
	caller := ctx
	ctx, cancel := context.WithTimeout(ctx, cl.opts.ListTimeout)
	defer cancel()
	fail := func(err error) ([]Conn, bool) {
		if caller.Err() == nil { // the caller giving up says nothing about Redis
			cl.downUntil.Store(time.Now().Add(time.Second).UnixNano())
		}
		cl.opts.Log.Warn("connection listing: Redis unavailable; listing this node's streams only", slog.Any("error", err))
		return out, true
	}
	// A healthy Redis answers in a millisecond; an unreachable one must not
	// hold the listing (go-redis would retry with backoff for longer).
	mctx, mcancel := context.WithTimeout(ctx, memberLookupTimeout)
	members, err := membersScript.Run(mctx, cl.c, []string{cl.members}).StringSlice()
	mcancel()
	if err != nil {
		return fail(err)
	}
	waiting := map[string]bool{}
	for _, m := range members {
		if m != cl.instance {
			waiting[m] = true
		}
	}
	if len(waiting) == 0 {
		return out, false
	}
	id := rand.Text()[:16]
	ch := make(chan reply, 2*len(waiting)+8)
	cl.mu.Lock()
	cl.waiters[id] = ch
	cl.mu.Unlock()
	defer func() {
		cl.mu.Lock()
		delete(cl.waiters, id)
		cl.mu.Unlock()
	}()
	b, _ := json.Marshal(request{ID: id, Reply: cl.replyCh, Query: q})
	if err := cl.c.Publish(ctx, cl.reqCh, b).Err(); err != nil {
		return fail(err)
	}
	seen := map[string]bool{cl.instance: true}
	for len(waiting) > 0 {
		select {
		case r := <-ch:
			if seen[r.Instance] {
				continue
			}
			seen[r.Instance] = true
			delete(waiting, r.Instance)
			for _, c := range r.Conns {
				// Each node filtered already; checking again keeps one
				// misbehaving node from leaking another workspace.
				if q.matches(&c) {
					out = append(out, c)
				}
			}
		case <-ctx.Done():
			return newest(out, q.Limit), true
		}
	}
	return newest(out, q.Limit), false
}

// Close leaves the member set (so listings stop waiting for this node at
// once) and unsubscribes.
func (cl *Cluster) Close() {
	select {
	case <-cl.stop:
		return
	default:
		close(cl.stop)
	}
	cl.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), memberLookupTimeout)
	_ = cl.c.ZRem(ctx, cl.members, cl.instance).Err() // best effort; else the lease expires
	cancel()
	_ = cl.ps.Close()
	cl.wg.Wait()
}
