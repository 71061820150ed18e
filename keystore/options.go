package keystore

import "go.opentelemetry.io/otel/trace"

// OpenOption configures a backend's Open.
type OpenOption func(*OpenConfig)

// OpenConfig is what OpenOptions set; backends read it with NewOpenConfig.
type OpenConfig struct {
	// TracerProvider receives a span per SQL statement run inside a traced
	// call; nil traces nothing. Statements are recorded with placeholders,
	// never with their arguments (hashes, tokens).
	TracerProvider trace.TracerProvider
}

// WithTracerProvider traces the store's SQL statements with tp.
func WithTracerProvider(tp trace.TracerProvider) OpenOption {
	return func(c *OpenConfig) { c.TracerProvider = tp }
}

// NewOpenConfig applies opts.
func NewOpenConfig(opts []OpenOption) OpenConfig {
	var c OpenConfig
	for _, o := range opts {
		o(&c)
	}
	return c
}
