package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/ingestgate/ingestgate/bus"
	"github.com/ingestgate/ingestgate/bus/local"
	busredis "github.com/ingestgate/ingestgate/bus/redis"
	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/keystore/postgres"
	"github.com/ingestgate/ingestgate/keystore/sqlite"
	"github.com/ingestgate/ingestgate/server/conns"
	"github.com/ingestgate/ingestgate/server/obs"
	"github.com/ingestgate/ingestgate/server/ratelimit"
	rlredis "github.com/ingestgate/ingestgate/server/ratelimit/redis"
	"github.com/ingestgate/ingestgate/server/registry"
	"github.com/ingestgate/ingestgate/sink"
	sinkredis "github.com/ingestgate/ingestgate/sink/redis"
	sinksqlite "github.com/ingestgate/ingestgate/sink/sqlite"
)

// Server is one ingestgate node. New assembles it, Serve runs it until its
// context ends, then shuts down in order.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    keystore.Store
	verifier *keystore.Verifier
	hasher   keystore.Hasher
	ingestFmt,
	apiFmt keystore.TokenFormat

	sink    sink.Sink
	bus     bus.Bus
	busStop func()
	redis   goredis.UniversalClient // nil without --redis
	streams *registry.Registry
	limits  *keyLimits
	seats   *clusterSeats // nil on one node
	// nodeName is what connection listings say holds a stream; instance
	// is unique per process (stream ids, the cluster's member set).
	nodeName  string
	instance  string
	streamSeq atomic.Uint64
	conns     *conns.Cluster // nil on one node
	guard     *authGuard
	// authBuckets rate-limit sign-in and refresh (exact, shared by the
	// cluster through Redis).
	authBuckets *nodeLimiter
	sessions    *sessions
	obs         *obs.Providers
	tracer      trace.Tracer // spans around sink and bus calls
	metrics     *metrics
	// gatewayMarker proves a call came through this node's REST gateway
	// (see clientIP).
	gatewayMarker string
	usage         *usageTracker
	inflight      *semaphore.Weighted // bytes of stream batches awaiting their ack
	judging       judgeLocks
	// stopping ends when shutdown begins: long-lived reads (Subscribe)
	// watch it.
	stopping context.Context
	stop     context.CancelFunc
	// draining is set when shutdown begins, before DrainDelay.
	draining atomic.Bool

	grpc    *grpc.Server
	health  *health.Server
	http    *http.Server
	gwConn  *grpc.ClientConn
	gwLis   net.Listener // the unix socket the gateway dials
	httpTLS *tls.Config  // nil: plaintext HTTP
	gwDir   string
	grpcLis net.Listener
	httpLis net.Listener
	// pprofLis serves Go's profiles (nil without cfg.PprofAddr).
	pprofLis net.Listener

	closeOnce sync.Once
}

// now is the clock for records: UTC at the store's microsecond precision,
// so what a call returns equals what a later read returns.
func (s *Server) now() time.Time { return storeTime(time.Now()) }

// storeTime is t as the store keeps it.
func storeTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// New opens the store, bootstraps an empty one, and binds the listeners.
// On error everything opened so far is closed.
func New(ctx context.Context, cfg Config) (_ *Server, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: slog.New(obs.TraceHandler(cfg.Logger.Handler())), hasher: keystore.NewHasher([]byte(cfg.KeyPepper)), instance: newInstanceID()}
	s.stopping, s.stop = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.ingestFmt, err = keystore.NewTokenFormat(cfg.IngestKeyPrefix); err != nil {
		return nil, fmt.Errorf("key-prefix: %w", err)
	}
	if s.apiFmt, err = keystore.NewTokenFormat(cfg.APIKeyPrefix); err != nil {
		return nil, fmt.Errorf("api-key-prefix: %w", err)
	}
	if s.obs, err = obs.Setup(ctx, "ingestgate", Version); err != nil {
		return nil, fmt.Errorf("opentelemetry: %w", err)
	}
	s.tracer = s.obs.Tracer.Tracer("github.com/ingestgate/ingestgate/server")
	if s.store, err = openStore(ctx, &cfg, keystore.WithTracerProvider(s.obs.Tracer)); err != nil {
		return nil, err
	}
	s.verifier = keystore.NewVerifier(s.store, s.hasher, s.ingestFmt, s.apiFmt, keystore.VerifierConfig{})
	if cfg.Redis != "" {
		opts, err := goredis.ParseURL(cfg.Redis)
		if err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		goredis.SetLogger(redisLogger{s.log})
		s.redis = goredis.NewClient(opts)
	}
	s.streams = registry.New(cfg.MaxStreamsPerDevice)
	if s.metrics, err = newMetrics(s.obs.Meter, s.gauges()); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if s.sink, err = s.openSink(ctx); err != nil {
		return nil, err
	}
	var shared, sharedExact ratelimit.Limiter
	gate := &redisGate{}
	if s.redis != nil {
		sharedExact = rlredis.NewLimiter(s.redis, cfg.RedisPrefix+"limits:")
		// Busy keys take a slice of their rate per Redis call, not a call
		// per batch (see ratelimit.Prefetch).
		shared = ratelimit.NewPrefetch(sharedExact, 0)
		s.seats = &clusterSeats{seats: rlredis.NewSeats(s.redis, cfg.RedisPrefix+"limits:", 0, s.log), log: s.log, gate: gate}
	}
	s.limits = newKeyLimits(cfg.DefaultRecordsPerSecond, cfg.MaxRecordsPerBatch, newNodeLimiter(shared, gate, s.log, "cluster rate limit"))
	s.guard = newAuthGuard(newNodeLimiter(sharedExact, gate, s.log, "cluster auth failure limit"), cfg.AuthFailuresPerMinute)
	s.authBuckets = newNodeLimiter(sharedExact, gate, s.log, "cluster sign-in rate limit")
	if s.sessions, err = openSessions(ctx, s.store, cfg.AccessTokenTTL, s.now(), s.log); err != nil {
		return nil, err
	}
	s.usage = newUsageTracker(s.store, s.log)
	s.inflight = semaphore.NewWeighted(cfg.MaxInflightBytes)
	if err := s.openBus(ctx); err != nil {
		return nil, err
	}
	if err := s.bootstrap(ctx); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	if err := s.bootstrapOwner(ctx); err != nil {
		return nil, fmt.Errorf("bootstrap owner: %w", err)
	}

	tlsCfg, err := s.tlsConfig()
	if err != nil {
		return nil, err
	}
	creds := insecure.NewCredentials()
	if tlsCfg != nil {
		creds = tlsOrLocal{credentials.NewTLS(tlsCfg)}
	} else if !isLoopback(cfg.GRPCAddr) || !isLoopback(cfg.HTTPAddr) {
		s.log.Warn("PLAINTEXT beyond loopback: keys, tokens and telemetry cross the network unencrypted; use tls-cert and tls-key unless a TLS proxy or a private network protects them", slog.String("grpc", cfg.GRPCAddr), slog.String("http", cfg.HTTPAddr))
	}
	for _, p := range cfg.TrustedProxies {
		if p.Bits() == 0 {
			s.log.Warn("trusted-proxies includes " + p.String() + ": every client's X-Forwarded-For is believed, so any client can choose the address its rate limits and auth guard count against")
		}
	}
	s.grpc = grpc.NewServer(
		grpc.Creds(creds),
		grpc.ChainUnaryInterceptor(s.unaryInterceptors()...),
		grpc.ChainStreamInterceptor(s.streamInterceptors()...),
		grpc.MaxRecvMsgSize(cfg.MaxRequestBytes),
		// A fleet is mostly idle connections: each one's 32 KiB write
		// buffer goes back to a shared pool after every flush instead of
		// staying allocated (measured in BENCHMARKS.md, idle streams).
		grpc.SharedWriteBuffer(true),
		// A span and RPC metrics per call; health probes are left out.
		grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(s.obs.Tracer), otelgrpc.WithMeterProvider(s.obs.Meter),
			otelgrpc.WithPropagators(s.obs.Propagator), otelgrpc.WithFilter(filters.Not(filters.HealthCheck())),
		)),
		// Pings find dead device connections (a device that lost power
		// never says goodbye); the policy lets SDKs ping idle connections.
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: cfg.KeepaliveTime, Timeout: cfg.KeepaliveTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	ingestgatev1.RegisterWorkspaceServiceServer(s.grpc, &workspaceService{Server: s})
	ingestgatev1.RegisterIngestKeyServiceServer(s.grpc, newIngestKeyService(s))
	ingestgatev1.RegisterDeviceServiceServer(s.grpc, &deviceService{Server: s})
	ingestgatev1.RegisterApiKeyServiceServer(s.grpc, newAPIKeyService(s))
	ingestgatev1.RegisterEventServiceServer(s.grpc, &eventService{Server: s})
	ingestgatev1.RegisterTelemetryServiceServer(s.grpc, &telemetryService{Server: s, ackBufs: newAckBufs(cfg.StreamWindow)})
	ingestgatev1.RegisterAuthServiceServer(s.grpc, &authService{Server: s})
	ingestgatev1.RegisterUserServiceServer(s.grpc, &userService{Server: s})
	ingestgatev1.RegisterConnectionServiceServer(s.grpc, &connectionService{Server: s})
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	for name := range s.grpc.GetServiceInfo() {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}

	if s.grpcLis, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		return nil, fmt.Errorf("grpc listen: %w", err)
	}
	if s.httpLis, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("http listen: %w", err)
	}
	if err := s.listenPprof(); err != nil {
		return nil, fmt.Errorf("pprof listen: %w", err)
	}
	s.nodeName = cfg.nodeName(s.GRPCAddr())
	if s.redis != nil {
		s.conns = conns.NewCluster(ctx, s.redis, conns.Options{Prefix: cfg.RedisPrefix, Instance: s.instance, Local: s.localConns, Log: s.log})
	}
	s.httpTLS = tlsCfg
	// The gateway reaches gRPC through a unix socket in a private
	// directory: no TLS (or client certificate) needed in process.
	if s.gwDir, err = os.MkdirTemp("", "ingestgate-gw-"); err != nil {
		return nil, fmt.Errorf("gateway socket: %w", err)
	}
	if s.gwLis, err = net.Listen("unix", filepath.Join(s.gwDir, "grpc.sock")); err != nil {
		return nil, fmt.Errorf("gateway socket: %w", err)
	}
	if err := s.buildGateway(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// GRPCAddr and HTTPAddr are the bound addresses (useful with port 0).
func (s *Server) GRPCAddr() string { return s.grpcLis.Addr().String() }
func (s *Server) HTTPAddr() string { return s.httpLis.Addr().String() }

// Serve runs both listeners until ctx ends or one fails, then shuts down.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 3)
	usageCtx, stopUsage := context.WithCancel(context.Background())
	usageDone := make(chan struct{})
	go func() { s.usage.run(usageCtx, s.cfg.UsageFlushInterval); close(usageDone) }()
	if s.cfg.SweepInterval > 0 {
		sweepCtx, stopSweep := context.WithCancel(context.Background())
		defer stopSweep()
		go s.sweep(sweepCtx, s.cfg.SweepInterval)
	}
	tidyCtx, stopTidy := context.WithCancel(context.Background())
	defer stopTidy()
	go every(tidyCtx, time.Hour, s.sessions.deleteExpired)
	go func() { errc <- s.grpc.Serve(s.grpcLis) }()
	go func() { errc <- s.grpc.Serve(s.gwLis) }()
	go func() {
		if s.httpTLS != nil {
			// ServeTLS also sets up HTTP/2 (h2 by ALPN).
			s.http.TLSConfig = s.httpTLS
			errc <- s.http.ServeTLS(s.httpLis, "", "")
			return
		}
		errc <- s.http.Serve(s.httpLis)
	}()
	defer s.servePprof()()
	s.log.Info("serving", slog.String("grpc", s.GRPCAddr()), slog.String("http", s.HTTPAddr()))

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	// The last usage flush runs once the streams have ended and before
	// the store closes.
	s.shutdown(func() { stopUsage(); <-usageDone })
	return err
}

// shutdown stops taking work in a fixed order: /readyz and health report
// not ready so balancers move away, and the node waits DrainDelay for them; the HTTP gateway drains first because its requests
// are proxied to gRPC; then gRPC drains, with a forced stop at the deadline;
// then beforeClose runs and resources close in reverse order of opening.
func (s *Server) shutdown(beforeClose func()) {
	s.draining.Store(true)
	s.health.Shutdown()
	if d := s.cfg.DrainDelay; d > 0 {
		s.log.Info("draining: not ready, still serving", slog.Duration("drain_delay", d))
		time.Sleep(d)
	}
	s.stop() // subscribers end, so the gateway's proxied streams do too
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		s.log.Warn("http shutdown", slog.Any("error", err))
	}
	// Device streams never end by themselves: tell each to reconnect
	// elsewhere (not a credential close), so GracefulStop can finish.
	s.closeAll(s.streams.All(), closeFor(goodbyeShutdown))
	stopped := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		s.grpc.Stop()
	}
	beforeClose()
	s.Close()
}

// Close releases everything New opened. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.stop()
		if s.gwConn != nil {
			s.gwConn.Close()
		}
		for _, l := range []net.Listener{s.httpLis, s.grpcLis, s.gwLis, s.pprofLis} {
			if l != nil {
				l.Close()
			}
		}
		if s.gwDir != "" {
			os.RemoveAll(s.gwDir)
		}
		if s.busStop != nil {
			s.busStop()
		}
		if s.bus != nil {
			s.bus.Close()
		}
		s.seats.close()
		if s.conns != nil {
			s.conns.Close()
		}
		if s.obs != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.obs.Shutdown(ctx); err != nil {
				s.log.Warn("flush telemetry exporters", slog.Any("error", err))
			}
			cancel()
		}
		if s.redis != nil {
			s.redis.Close()
		}
		if s.sink != nil {
			if err := s.sink.Close(); err != nil {
				s.log.Warn("close sink", slog.Any("error", err))
			}
		}
		if s.store != nil {
			if err := s.store.Close(); err != nil {
				s.log.Warn("close store", slog.Any("error", err))
			}
		}
	})
}

func dialGateway(addr, marker string, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, markGatewayCalls(marker)...)
	return grpc.NewClient(addr, append(opts, extra...)...)
}

// openBus connects the key-event bus: Redis pub/sub when configured (a
// cluster), else in-process. Events from every node, this one included,
// reach applyEvent. Whenever the subscription is (re)established the node
// may have missed events, so resync judges everything again from the store.
func (s *Server) openBus(ctx context.Context) error {
	if s.redis == nil {
		s.bus = local.New()
	} else {
		var err error
		if s.bus, err = busredis.New(ctx, s.redis, busredis.Options{Prefix: s.cfg.RedisPrefix, Logger: s.log}); err != nil {
			return err
		}
	}
	if r, ok := s.bus.(bus.Resubscriber); ok {
		r.OnResubscribe(s.resync)
	}
	var err error
	received := func(e keystore.Event) {
		// A root span: the event's commit may be on another node, and
		// the documented payload carries no trace context.
		ctx, span := s.startSpan(context.Background(), "key_event receive", trace.SpanKindConsumer, eventAttrs(e)...)
		s.metrics.eventsReceived.Add(ctx, 1)
		s.applyEvent(e)
		span.End()
	}
	if s.busStop, err = s.bus.Subscribe(received); err != nil {
		return fmt.Errorf("subscribe to key events: %w", err)
	}
	return nil
}

// resync forgets every cached credential and rechecks every live stream
// against the store: what a node does when it may have missed events.
func (s *Server) resync() {
	s.verifier.ForgetAll()
	s.sessions.forgetUsers()
	if s.streams != nil {
		s.recheck(s.streams.All(), true)
	}
}

// openStore opens the keystore the config names: PostgreSQL for a cluster,
// SQLite (embedded) otherwise.
func openStore(ctx context.Context, cfg *Config, opts ...keystore.OpenOption) (keystore.Store, error) {
	if cfg.storeIsPostgres() {
		st, err := postgres.Open(ctx, cfg.Store, opts...)
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		return st, nil
	}
	path, err := cfg.storePath()
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, path, opts...)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

// redisLogger sends go-redis's own messages (dial failures while Redis is
// down) to the node's structured log instead of stderr.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", slog.String("message", fmt.Sprintf(format, v...)))
}

// openSink opens the telemetry sink the config names: Redis Streams (shared
// by a cluster's nodes and readable by consumer groups), or the embedded
// SQLite file.
func (s *Server) openSink(ctx context.Context) (sink.Sink, error) {
	if s.cfg.Sink == SinkDiscard {
		s.log.Warn("BENCHMARK MODE: --sink discard acknowledges telemetry without storing it")
		return discardSink{}, nil
	}
	if s.cfg.Sink == "redis" {
		if s.redis == nil {
			return nil, fmt.Errorf("sink redis needs --redis")
		}
		sk, err := sinkredis.New(ctx, s.redis, sinkredis.Options{Prefix: s.cfg.RedisPrefix, Logger: s.log, OnCommit: s.metrics.sinkCommitted})
		if err != nil {
			return nil, fmt.Errorf("open sink: %w", err)
		}
		return sk, nil
	}
	path, err := s.cfg.sinkPath()
	if err != nil {
		return nil, err
	}
	sk, err := sinksqlite.Open(ctx, path, sinksqlite.Config{Logger: s.log, OnCommit: s.metrics.sinkCommitted, CommitDelay: s.cfg.SinkCommitDelay})
	if err != nil {
		return nil, fmt.Errorf("open sink: %w", err)
	}
	return sk, nil
}
