package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"

	"github.com/XSAM/otelsql"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ingestgate/ingestgate/keystore"
)

// sqlOpener opens database/sql pools on the sqlite driver, traced by
// otelsql when cfg has a TracerProvider.
func sqlOpener(cfg keystore.OpenConfig) func(dsn string) (*sql.DB, error) {
	if cfg.TracerProvider == nil {
		return func(dsn string) (*sql.DB, error) { return sql.Open("sqlite", dsn) }
	}
	opts := []otelsql.Option{
		otelsql.WithTracerProvider(cfg.TracerProvider),
		otelsql.WithAttributes(semconv.DBSystemNameSQLite),
		otelsql.WithSpanOptions(otelsql.SpanOptions{
			OmitConnResetSession: true, OmitConnPrepare: true, OmitRows: true, OmitConnectorConnect: true,
			// Statements of a traced call only: background work (usage
			// flushes, migrations) would make a root span per statement.
			SpanFilter: func(ctx context.Context, _ otelsql.Method, _ string, _ []driver.NamedValue) bool {
				return trace.SpanContextFromContext(ctx).IsValid()
			},
		}),
	}
	return func(dsn string) (*sql.DB, error) { return otelsql.Open("sqlite", dsn, opts...) }
}
