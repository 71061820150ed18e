// Package obs sets up OpenTelemetry for a node: a meter provider read by a
// Prometheus exporter (served at /metrics) and, when the standard
// OTEL_METRICS_EXPORTER / OTEL_TRACES_EXPORTER variables ask for it, by the
// exporters they name (OTLP, console, ...) through the contrib autoexport
// package; and a tracer provider whose spans go wherever
// OTEL_TRACES_EXPORTER says (nowhere when unset, while trace ids still
// reach the logs). OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and
// OTEL_EXPORTER_OTLP_* work as the OpenTelemetry specification says.
package obs

import (
	"context"
	"errors"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	promexporter "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
)

// Providers are one node's telemetry pipelines. Each node has its own, so
// several nodes in one process (tests) do not mix their metrics.
type Providers struct {
	Meter      *sdkmetric.MeterProvider
	Tracer     *sdktrace.TracerProvider
	Propagator propagation.TextMapPropagator
	// Metrics serves the Prometheus text format of every metric.
	Metrics http.Handler
}

// Setup builds the providers for a service (default name; OTEL_SERVICE_NAME
// wins) at version.
func Setup(ctx context.Context, service, version string) (*Providers, error) {
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(service), semconv.ServiceVersion(version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	// The process's memory, CPU, file descriptors and Go runtime, as every
	// Prometheus-instrumented Go server reports them.
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	prom, err := promexporter.New(promexporter.WithRegisterer(reg), promexporter.WithoutScopeInfo())
	if err != nil {
		return nil, err
	}
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(prom)}
	if os.Getenv("OTEL_METRICS_EXPORTER") != "" {
		r, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return nil, err
		}
		if !autoexport.IsNoneMetricReader(r) {
			mopts = append(mopts, sdkmetric.WithReader(r))
		}
	}
	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	exporting := false
	if os.Getenv("OTEL_TRACES_EXPORTER") != "" {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, err
		}
		if !autoexport.IsNoneSpanExporter(exp) {
			topts = append(topts, sdktrace.WithBatcher(exp))
			exporting = true
		}
	}
	if !exporting {
		// Nothing would read a recorded span: record none. Spans still
		// get their ids (log records carry them), but a device stream no
		// longer holds a span's attributes for its whole life (about 1 KiB
		// of heap per idle stream) and no call pays for recording.
		topts = append(topts, sdktrace.WithSampler(sdktrace.NeverSample()))
	}
	return &Providers{
		Meter:      sdkmetric.NewMeterProvider(mopts...),
		Tracer:     sdktrace.NewTracerProvider(topts...),
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		Metrics:    promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}, nil
}

// Shutdown flushes and stops the exporters.
func (p *Providers) Shutdown(ctx context.Context) error {
	return errors.Join(p.Tracer.Shutdown(ctx), p.Meter.Shutdown(ctx))
}
