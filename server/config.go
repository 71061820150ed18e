package server

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	// Store selects the keystore: empty means SQLite in DataDir, or
	// "sqlite:<path>".
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
	// ShutdownTimeout bounds graceful shutdown before connections are cut.
	ShutdownTimeout time.Duration
	// MaxRequestBytes bounds management request bodies and messages.
	MaxRequestBytes int
	Logger          *slog.Logger
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
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("shutdown-timeout must be positive")
	}
	if c.MaxRequestBytes < 1024 {
		return fmt.Errorf("max-request-bytes must be at least 1024")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if c.BootstrapOut == nil {
		c.BootstrapOut = os.Stderr
	}
	return nil
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
	return "", fmt.Errorf("unsupported store %q: use sqlite:<path> or leave empty for the embedded default", c.Store)
}
