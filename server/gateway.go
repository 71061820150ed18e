package server

import (
	"context"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/web"
)

// buildGateway wires the REST gateway: an HTTP handler that dials this
// node's own gRPC listener, so REST and gRPC share every interceptor.
func (s *Server) buildGateway(ctx context.Context) error {
	s.gatewayMarker = newGatewayMarker()
	conn, err := dialGateway("unix://"+s.gwLis.Addr().String(), s.gatewayMarker,
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(s.obs.Tracer), otelgrpc.WithMeterProvider(s.obs.Meter), otelgrpc.WithPropagators(s.obs.Propagator))))
	if err != nil {
		return fmt.Errorf("gateway dial: %w", err)
	}
	s.gwConn = conn
	gw := runtime.NewServeMux(
		// JSON uses the proto field names (snake_case), as documented.
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}),
		runtime.WithIncomingHeaderMatcher(gatewayHeader),
		runtime.WithErrorHandler(s.gatewayError),
	)
	for _, register := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		ingestgatev1.RegisterWorkspaceServiceHandler,
		ingestgatev1.RegisterIngestKeyServiceHandler,
		ingestgatev1.RegisterDeviceServiceHandler,
		ingestgatev1.RegisterApiKeyServiceHandler,
		ingestgatev1.RegisterEventServiceHandler,
		ingestgatev1.RegisterTelemetryServiceHandler,
		ingestgatev1.RegisterAuthServiceHandler,
		ingestgatev1.RegisterUserServiceHandler,
		ingestgatev1.RegisterConnectionServiceHandler,
	} {
		if err := register(ctx, gw, conn); err != nil {
			return fmt.Errorf("gateway register: %w", err)
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.ready)
	mux.Handle("GET /metrics", s.obs.Metrics)
	// A span per REST request, the parent of the gRPC call it makes.
	mux.Handle("/v1/", otelhttp.NewHandler(http.MaxBytesHandler(gw, int64(s.cfg.MaxRequestBytes)), "gateway",
		otelhttp.WithTracerProvider(s.obs.Tracer), otelhttp.WithMeterProvider(s.obs.Meter), otelhttp.WithPropagators(s.obs.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.Pattern })))
	if s.cfg.Console {
		// The console is files only; it reaches the API like any client.
		mux.Handle("/", web.Handler())
	}
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          nil,
	}
	return nil
}

// gatewayHeader forwards the credential and device headers to gRPC
// metadata under their own names (the default would prefix them).
func gatewayHeader(key string) (string, bool) {
	switch textproto.CanonicalMIMEHeaderKey(key) {
	case "Authorization":
		return "authorization", true
	case "X-Api-Key":
		return "x-api-key", true
	case "X-Device-Id":
		return "x-device-id", true
	case "Idempotency-Key":
		return "idempotency-key", true
	}
	return runtime.DefaultHeaderMatcher(key)
}

// gatewayError is the default JSON error body ({"code", "message",
// "details"}) plus the headers HTTP clients expect with some statuses.
func (s *Server) gatewayError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if status.Code(err) == codes.Unauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ingestgate"`)
	}
	if strings.Contains(err.Error(), "http: request body too large") {
		err = &runtime.HTTPStatusError{
			HTTPStatus: http.StatusRequestEntityTooLarge,
			Err:        status.Errorf(codes.ResourceExhausted, "request body too large; at most %d bytes", s.cfg.MaxRequestBytes),
		}
	}
	if st, ok := status.FromError(err); ok && st.Code() == codes.ResourceExhausted {
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok {
				w.Header().Set("Retry-After", retryAfterSeconds(ri.GetRetryDelay().AsDuration()))
			}
		}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}
