// Command ingestgate runs an ingestgate node. With no flags it serves on
// loopback with an embedded store under ./data.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/server"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) > 0 {
		switch args[0] {
		case "gen-api-key":
			return genKey(args[1:], stdout, stderr)
		case "healthcheck":
			return healthcheck(args[1:], stdout, stderr, getenv)
		case "version":
			fmt.Fprintln(stdout, "ingestgate", server.Version)
			return 0
		}
	}
	cfg, logger, err := parseConfig(args, stderr, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "ingestgate:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(ctx, cfg)
	if err != nil {
		logger.Error("start failed", slog.Any("error", err))
		return 1
	}
	if err := srv.Serve(ctx); err != nil {
		logger.Error("serve failed", slog.Any("error", err))
		return 1
	}
	logger.Info("stopped")
	return 0
}

// parseConfig fills server.Config from flags; every flag can also be set as
// INGESTGATE_<NAME> (upper case, '-' as '_'), and a flag given on the command
// line wins over the environment.
func parseConfig(args []string, stderr io.Writer, getenv func(string) string) (server.Config, *slog.Logger, error) {
	cfg := server.DefaultConfig()
	fs := flag.NewFlagSet("ingestgate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.GRPCAddr, "grpc-addr", cfg.GRPCAddr, "gRPC listen address")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "HTTP listen address (REST gateway, /healthz)")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory for the embedded store")
	fs.StringVar(&cfg.Store, "store", cfg.Store, "keystore: empty for SQLite in data-dir, sqlite:<path>, or postgres://… (a cluster)")
	fs.StringVar(&cfg.IngestKeyPrefix, "key-prefix", cfg.IngestKeyPrefix, "prefix of ingest keys")
	fs.StringVar(&cfg.APIKeyPrefix, "api-key-prefix", cfg.APIKeyPrefix, "prefix of management API keys")
	fs.StringVar(&cfg.KeyPepper, "key-pepper", "", "secret that keys the token hash (HMAC-SHA-256); same on every node, never change it")
	fs.StringVar(&cfg.BootstrapAPIKey, "bootstrap-api-key", "", "admin API key to create on an empty store (default: generate and print once)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "how long graceful shutdown may take")
	fs.DurationVar(&cfg.DrainDelay, "drain-delay", cfg.DrainDelay, "on SIGTERM, keep serving this long while /readyz and gRPC health say not ready, so load balancers move new connections away first (0: stop at once)")
	fs.IntVar(&cfg.MaxRequestBytes, "max-request-bytes", cfg.MaxRequestBytes, "largest request body or gRPC message accepted")
	fs.StringVar(&cfg.Redis, "redis", cfg.Redis, "redis://… URL: key events between nodes over Redis pub/sub (empty: single node, in-process)")
	fs.StringVar(&cfg.NodeName, "node-name", "", "this node's name in connection listings (default hostname:grpc-port)")
	fs.StringVar(&cfg.RedisPrefix, "redis-prefix", cfg.RedisPrefix, "prefix of every Redis key and channel ingestgate uses")
	fs.StringVar(&cfg.Sink, "sink", cfg.Sink, "telemetry sink: empty for SQLite in data-dir (telemetry.db), sqlite:<path>, or redis (Redis Streams on --redis)")
	fs.DurationVar(&cfg.SinkCommitDelay, "sink-commit-delay", 0, "embedded sink: wait this long for more batches to join a commit that would hold few, e.g. 1ms: fewer syncs and disk writes for that much ack latency (0: commit at once)")
	fs.StringVar(&cfg.PprofAddr, "pprof-addr", "", "serve Go profiles (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060 (empty: off)")
	fs.BoolVar(&cfg.AllowDiscardSink, "benchmark-discard-telemetry", false, "allow --sink discard, which acknowledges telemetry WITHOUT STORING IT (benchmarks of the ingest path only)")
	fs.IntVar(&cfg.MaxRecordsPerBatch, "max-records-per-batch", cfg.MaxRecordsPerBatch, "most records in one batch or publish")
	fs.IntVar(&cfg.MaxStreamsPerKey, "max-streams-per-key", cfg.MaxStreamsPerKey, "open streams per ingest key (across the cluster with --redis), for keys without their own limit (0: unlimited)")
	fs.IntVar(&cfg.MaxStreamsPerDevice, "max-streams-per-device", cfg.MaxStreamsPerDevice, "open streams per device (across the cluster with --redis) (0: unlimited)")
	fs.Func("records-per-second", "records/s per ingest key (across the cluster with --redis), for keys without their own rate (0: unlimited)", func(v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		cfg.DefaultRecordsPerSecond = uint32(n)
		return err
	})
	fs.IntVar(&cfg.StreamWindow, "stream-window", cfg.StreamWindow, "batches one stream may have awaiting their ack")
	fs.Int64Var(&cfg.MaxInflightBytes, "max-inflight-bytes", cfg.MaxInflightBytes, "bytes of batches awaiting their ack on this node, all streams together")
	fs.DurationVar(&cfg.StreamIdleTimeout, "stream-idle-timeout", cfg.StreamIdleTimeout, "close a stream that sent nothing for this long (0: never)")
	fs.DurationVar(&cfg.KeepaliveTime, "keepalive-time", cfg.KeepaliveTime, "ping a quiet connection after this long")
	fs.DurationVar(&cfg.KeepaliveTimeout, "keepalive-timeout", cfg.KeepaliveTimeout, "drop a connection whose ping is not answered within this")
	fs.DurationVar(&cfg.SweepInterval, "sweep-interval", cfg.SweepInterval, "recheck every live stream against the store this often, whatever events said (0: never)")
	fs.DurationVar(&cfg.UsageFlushInterval, "usage-flush-interval", cfg.UsageFlushInterval, "how often key usage and device last-seen times are written")
	fs.StringVar(&cfg.TLSCertFile, "tls-cert", "", "PEM certificate (chain) for gRPC and HTTP; reloaded when the file changes")
	fs.StringVar(&cfg.TLSKeyFile, "tls-key", "", "PEM private key of tls-cert")
	fs.StringVar(&cfg.TLSClientCAFile, "tls-client-ca", "", "PEM CA certificate(s): clients must present a certificate they signed (mTLS)")
	fs.BoolVar(&cfg.Plaintext, "plaintext", false, "allow listening beyond loopback without TLS (behind a TLS proxy or in a private network)")
	fs.BoolVar(&cfg.Console, "console", cfg.Console, "serve the web console at / on the HTTP address (--console=false: API only)")
	fs.StringVar(&cfg.BootstrapEmail, "bootstrap-email", "", "on a store whose default workspace has no members, make this email its first owner")
	fs.StringVar(&cfg.BootstrapPassword, "bootstrap-password", "", "the first owner's password (set INGESTGATE_BOOTSTRAP_PASSWORD rather than the flag; empty: generate and print once)")
	fs.DurationVar(&cfg.AccessTokenTTL, "access-token-ttl", cfg.AccessTokenTTL, "lifetime of a signed-in user's access token")
	fs.DurationVar(&cfg.RefreshTokenTTL, "refresh-token-ttl", cfg.RefreshTokenTTL, "lifetime of each refresh token")
	fs.IntVar(&cfg.AuthFailuresPerMinute, "auth-failures-per-minute", cfg.AuthFailuresPerMinute, "failed credential checks one client address may make per minute before it is refused (slowed past half; 0: no limit)")
	fs.Func("trusted-proxies", "comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-For to believe for the client address (rate limits, auth guard, logs); empty: none", func(v string) error {
		ps, err := server.ParsePrefixes(v)
		cfg.TrustedProxies = ps
		return err
	})
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ingestgate [flags]\n       ingestgate gen-api-key [--api-key-prefix P]\n       ingestgate healthcheck [--url URL]\n       ingestgate version\n\nEvery flag may also be set as INGESTGATE_<FLAG> (e.g. INGESTGATE_GRPC_ADDR).\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fromEnv(fs, getenv); err != nil {
		return cfg, nil, err
	}
	if err := fs.Parse(args); err != nil {
		return cfg, nil, err
	}
	if fs.NArg() > 0 {
		return cfg, nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return cfg, nil, fmt.Errorf("log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch *logFormat {
	case "text":
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, opts))
	case "json":
		cfg.Logger = slog.New(slog.NewJSONHandler(stderr, opts))
	default:
		return cfg, nil, fmt.Errorf("log-format: want text or json, got %q", *logFormat)
	}
	cfg.BootstrapOut = stderr
	return cfg, cfg.Logger, nil
}

// fromEnv sets each flag from INGESTGATE_<NAME> when that variable is set.
func fromEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := "INGESTGATE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" && err == nil {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s: %w", name, e)
			}
		}
	})
	return err
}

// genKey prints a fresh management API key, e.g. for
// INGESTGATE_BOOTSTRAP_API_KEY. It is not stored anywhere.
func genKey(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gen-api-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	prefix := fs.String("api-key-prefix", keystore.DefaultAPIKeyPrefix, "prefix of management API keys")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	f, err := keystore.NewTokenFormat(*prefix)
	if err != nil {
		fmt.Fprintln(stderr, "ingestgate:", err)
		return 2
	}
	tok, err := f.Generate()
	if err != nil {
		fmt.Fprintln(stderr, "ingestgate:", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}
