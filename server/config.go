package server

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ingestgate/ingestgate/keystore"
)

// Config is the one source of truth for how a node runs. cmd/ingestgate
// fills it from flags and INGESTGATE_* variables; tests fill it directly.
type Config struct {
	// GRPCAddr and HTTPAddr are listen addresses; port 0 picks a free port.
	GRPCAddr string
	HTTPAddr string
	// DataDir holds the embedded store (and later the embedded sink).
	DataDir string
	// Store selects the keystore: empty means SQLite in DataDir,
	// "sqlite:<path>", or a postgres:// URL (shared by every node of a
	// cluster). The URL may hold a password: it is never logged.
	Store string
	// IngestKeyPrefix and APIKeyPrefix brand the tokens.
	IngestKeyPrefix string
	APIKeyPrefix    string
	// KeyPepper, when set, keys the token hash (HMAC-SHA-256). Every node
	// needs the same value, and changing it invalidates all keys.
	KeyPepper string
	// BootstrapAPIKey is the admin key created on an empty store; empty means
	// generate one and print it once to BootstrapOut.
	BootstrapAPIKey string
	BootstrapOut    io.Writer
	// BootstrapEmail, when set, also makes a first user, owner of the
	// default workspace, on an empty store: with BootstrapPassword, or a
	// generated password printed once to BootstrapOut.
	BootstrapEmail    string
	BootstrapPassword string
	// TLSCertFile and TLSKeyFile serve gRPC and HTTP over TLS (reloaded
	// when the files change); TLSClientCAFile also requires clients to
	// present a certificate it signed (mTLS). Without them the node speaks
	// plaintext, which it does beyond loopback only when Plaintext says
	// so.
	TLSCertFile     string
	TLSKeyFile      string
	TLSClientCAFile string
	Plaintext       bool
	// AccessTokenTTL is the lifetime of a signed-in user's access token;
	// RefreshTokenTTL that of each refresh token (every refresh makes a
	// new one).
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// Console serves the web console at / of the HTTP listener.
	Console bool
	// ShutdownTimeout bounds graceful shutdown before connections are cut.
	ShutdownTimeout time.Duration
	// DrainDelay is how long a stopping node keeps serving while it
	// reports not ready (/readyz 503, gRPC health NOT_SERVING), so load
	// balancers stop sending it new connections before its streams are
	// told to reconnect elsewhere. It is not part of ShutdownTimeout.
	DrainDelay time.Duration
	// MaxRequestBytes bounds every request body and gRPC message,
	// management and telemetry alike (413 / RESOURCE_EXHAUSTED beyond).
	MaxRequestBytes int
	Logger          *slog.Logger

	// NodeName names this node in connection listings; empty means
	// hostname:grpc-port. At most 128 characters, no control characters.
	NodeName string

	// Redis, a redis:// URL, makes this node one of a cluster: key events
	// travel over Redis pub/sub on RedisPrefix+"key-events". Empty: the
	// in-process bus of a single node.
	Redis       string
	RedisPrefix string

	// Sink selects where telemetry goes: empty means SQLite in DataDir
	// (telemetry.db), "sqlite:<path>", or "redis" (Redis Streams on the
	// Redis of the Redis field, shared by a cluster). SinkDiscard, for
	// benchmarks only, stores nothing and needs AllowDiscardSink.
	Sink string
	// SinkCommitDelay is the embedded sink's CommitDelay: how long its
	// writer waits for more batches to join a commit that would hold
	// few. 0 commits at once.
	SinkCommitDelay time.Duration
	// PprofAddr, when set (loopback only), serves Go's profiles at
	// /debug/pprof/ on a listener of its own.
	PprofAddr string
	// AllowDiscardSink must be set for Sink SinkDiscard: acknowledging
	// telemetry that is thrown away is never a default or an accident.
	AllowDiscardSink bool
	// MaxRecordsPerBatch bounds one TelemetryBatch or Publish.
	MaxRecordsPerBatch int
	// MaxStreamsPerKey applies to keys without their own limit;
	// MaxStreamsPerDevice to every device. Both hold across the cluster
	// with Redis, per node without; 0: unlimited.
	MaxStreamsPerKey    int
	MaxStreamsPerDevice int
	// DefaultRecordsPerSecond applies to keys without their own rate
	// (across the cluster with Redis); 0: unlimited.
	DefaultRecordsPerSecond uint32
	// StreamWindow is how many batches of one stream may await their ack;
	// MaxInflightBytes bounds the bytes of all batches awaiting their ack
	// on this node, so client-driven memory stays bounded.
	StreamWindow     int
	MaxInflightBytes int64
	// StreamIdleTimeout closes a stream that sent no batch for this long
	// (0: never). KeepaliveTime and KeepaliveTimeout ping quiet connections
	// and drop dead ones.
	StreamIdleTimeout time.Duration
	KeepaliveTime     time.Duration
	KeepaliveTimeout  time.Duration
	// SweepInterval is how often every live stream is rechecked against the
	// store (key and device), whatever events said; 0 disables it.
	SweepInterval time.Duration
	// UsageFlushInterval is how often last_used_time, usage counters and
	// devices' last_seen_time are written.
	UsageFlushInterval time.Duration
	// AuthFailuresPerMinute is how many failed credential checks (ingest
	// keys, API keys, access tokens) one client address may make per
	// minute, across the cluster with Redis; past half of it answers are
	// slowed, past all of it the address is refused until it refills. 0
	// turns the guard off.
	AuthFailuresPerMinute int
	// TrustedProxies are the reverse proxies (and load balancers) in
	// front of the node whose X-Forwarded-For it believes: a call from one
	// counts against the address that proxy says it forwarded for, in rate
	// limits, the auth guard and logs. Empty: every call counts against
	// its direct peer, so behind a proxy all clients share its address.
	TrustedProxies []netip.Prefix
}

// DefaultConfig returns the embedded single-node defaults, bound to loopback.
func DefaultConfig() Config {
	return Config{
		GRPCAddr:        "127.0.0.1:50051",
		HTTPAddr:        "127.0.0.1:8080",
		DataDir:         "data",
		IngestKeyPrefix: keystore.DefaultIngestKeyPrefix,
		APIKeyPrefix:    keystore.DefaultAPIKeyPrefix,
		ShutdownTimeout: 10 * time.Second,
		MaxRequestBytes: 1 << 20,
		Console:         true,

		MaxRecordsPerBatch:  1000,
		MaxStreamsPerKey:    10_000,
		MaxStreamsPerDevice: 4,
		StreamWindow:        64,
		MaxInflightBytes:    256 << 20,
		StreamIdleTimeout:   30 * time.Minute,
		KeepaliveTime:       30 * time.Second,
		KeepaliveTimeout:    10 * time.Second,
		UsageFlushInterval:  5 * time.Second,
		RedisPrefix:         "ingestgate:",
		SweepInterval:       time.Minute,

		AuthFailuresPerMinute: 30,
		AccessTokenTTL:        4 * time.Hour,
		RefreshTokenTTL:       30 * 24 * time.Hour,
	}
}

// validate checks the config once, at start, with messages that name the
// setting to fix.
func (c *Config) validate() error {
	if c.GRPCAddr == "" || c.HTTPAddr == "" {
		return fmt.Errorf("grpc-addr and http-addr are required")
	}
	if c.IngestKeyPrefix == c.APIKeyPrefix {
		return fmt.Errorf("key-prefix and api-key-prefix must differ (both %q)", c.IngestKeyPrefix)
	}
	if c.PprofAddr != "" && !isLoopback(c.PprofAddr) {
		return fmt.Errorf("pprof-addr %q: profiles are served on loopback only", c.PprofAddr)
	}
	if c.Sink == SinkDiscard && !c.AllowDiscardSink {
		return fmt.Errorf("sink %q acknowledges telemetry without storing it; it is for benchmarks only and needs --benchmark-discard-telemetry", SinkDiscard)
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("shutdown-timeout must be positive")
	}
	if c.DrainDelay < 0 || c.DrainDelay > 10*time.Minute {
		return fmt.Errorf("drain-delay must be 0-10m")
	}
	if c.MaxRequestBytes < 1024 {
		return fmt.Errorf("max-request-bytes must be at least 1024")
	}
	if c.MaxRecordsPerBatch < 1 || c.MaxRecordsPerBatch > 100_000 {
		return fmt.Errorf("max-records-per-batch must be 1-100000")
	}
	if c.MaxStreamsPerKey < 0 || c.MaxStreamsPerDevice < 0 {
		return fmt.Errorf("max-streams-per-key and max-streams-per-device must not be negative")
	}
	if c.AccessTokenTTL < time.Second || c.AccessTokenTTL > 24*time.Hour {
		return fmt.Errorf("access-token-ttl must be between 1s and 24h")
	}
	if c.RefreshTokenTTL < c.AccessTokenTTL || c.RefreshTokenTTL > 365*24*time.Hour {
		return fmt.Errorf("refresh-token-ttl must be between access-token-ttl and 8760h")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return fmt.Errorf("tls-cert and tls-key go together")
	}
	if c.TLSClientCAFile != "" && c.TLSCertFile == "" {
		return fmt.Errorf("tls-client-ca needs tls-cert and tls-key")
	}
	if c.TLSCertFile == "" && !c.Plaintext && (!isLoopback(c.GRPCAddr) || !isLoopback(c.HTTPAddr)) {
		return fmt.Errorf("listening beyond loopback (%s, %s) without TLS: set tls-cert and tls-key, or plaintext to accept unencrypted traffic (behind a TLS proxy, in a private network)", c.GRPCAddr, c.HTTPAddr)
	}
	if len(c.NodeName) > 128 || strings.ContainsFunc(c.NodeName, unicode.IsControl) || !utf8.ValidString(c.NodeName) {
		return fmt.Errorf("node-name must be at most 128 characters of text, without control characters")
	}
	if c.AuthFailuresPerMinute < 0 {
		return fmt.Errorf("auth-failures-per-minute must not be negative")
	}
	if c.StreamWindow < 1 || c.StreamWindow > 10_000 {
		return fmt.Errorf("stream-window must be 1-10000")
	}
	if c.MaxInflightBytes < int64(c.MaxRequestBytes) {
		return fmt.Errorf("max-inflight-bytes must be at least max-request-bytes (%d)", c.MaxRequestBytes)
	}
	if c.StreamIdleTimeout < 0 || c.KeepaliveTime < 0 || c.KeepaliveTimeout < 0 {
		return fmt.Errorf("timeouts must not be negative")
	}
	if c.SweepInterval < 0 {
		return fmt.Errorf("sweep-interval must not be negative")
	}
	if c.SinkCommitDelay < 0 || c.SinkCommitDelay > time.Second {
		return fmt.Errorf("sink-commit-delay must be 0 to 1s")
	}
	if c.UsageFlushInterval <= 0 {
		return fmt.Errorf("usage-flush-interval must be positive")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if c.BootstrapOut == nil {
		c.BootstrapOut = os.Stderr
	}
	return nil
}

// nodeName is NodeName, or hostname:port of the bound gRPC address, which
// tells nodes apart on one host too.
func (c *Config) nodeName(grpcAddr string) string {
	if c.NodeName != "" {
		return c.NodeName
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	_, port, err := net.SplitHostPort(grpcAddr)
	if err != nil {
		return host
	}
	return net.JoinHostPort(host, port)
}

// storePath returns the SQLite file to open.
func (c *Config) storePath() (string, error) {
	switch {
	case c.Store == "":
		if c.DataDir == "" {
			return "", fmt.Errorf("data-dir is required for the embedded store")
		}
		return filepath.Join(c.DataDir, "ingestgate.db"), nil
	case strings.HasPrefix(c.Store, "sqlite:"):
		return strings.TrimPrefix(c.Store, "sqlite:"), nil
	}
	return "", fmt.Errorf("unsupported store: use postgres://…, sqlite:<path>, or leave it empty for the embedded default")
}

// storeIsPostgres reports whether Store names a PostgreSQL database.
func (c *Config) storeIsPostgres() bool {
	return strings.HasPrefix(c.Store, "postgres://") || strings.HasPrefix(c.Store, "postgresql://")
}

// sinkPath returns the telemetry SQLite file to open.
func (c *Config) sinkPath() (string, error) {
	switch {
	case c.Sink == "":
		if c.DataDir == "" {
			return "", fmt.Errorf("data-dir is required for the embedded sink")
		}
		return filepath.Join(c.DataDir, "telemetry.db"), nil
	case strings.HasPrefix(c.Sink, "sqlite:"):
		return strings.TrimPrefix(c.Sink, "sqlite:"), nil
	}
	return "", fmt.Errorf("unsupported sink %q: use redis, sqlite:<path>, or leave it empty for the embedded default", c.Sink)
}
