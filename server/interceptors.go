package server

import (
	"context"
	"log/slog"
	"runtime/debug"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// These methods need no management credential: health and reflection are
// for probes and tools, devices authenticate with ingest keys inside
// Connect and Publish themselves, and sign-in methods take a password or a
// refresh token (and are rate limited).
var publicServices = []string{
	"/grpc.health.v1.Health/",
	"/grpc.reflection.v1.ServerReflection/",
	"/grpc.reflection.v1alpha.ServerReflection/",
	"/ingestgate.v1.TelemetryService/Connect",
	"/ingestgate.v1.TelemetryService/Publish",
	"/ingestgate.v1.AuthService/Login",
	"/ingestgate.v1.AuthService/Refresh",
	"/ingestgate.v1.AuthService/Logout",
}

func isPublic(fullMethod string) bool {
	for _, p := range publicServices {
		if strings.HasPrefix(fullMethod, p) {
			return true
		}
	}
	return false
}

// The chain runs in this order: recovery first so that a panic anywhere
// below becomes INTERNAL instead of killing the process; then logging, so it
// sees the final status of every call including auth failures; then
// authentication, so handlers only run for a known principal.
func (s *Server) unaryInterceptors() []grpc.UnaryServerInterceptor {
	return []grpc.UnaryServerInterceptor{
		func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
			defer s.recover(ctx, info.FullMethod, &err)
			return h(ctx, req)
		},
		func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			resp, err := h(ctx, req)
			s.logCall(ctx, info.FullMethod, err)
			return resp, err
		},
		func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if isPublic(info.FullMethod) {
				return h(ctx, req)
			}
			ctx, err := s.authenticate(ctx)
			if err != nil {
				return nil, err
			}
			return h(ctx, req)
		},
	}
}

func (s *Server) streamInterceptors() []grpc.StreamServerInterceptor {
	return []grpc.StreamServerInterceptor{
		func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
			defer s.recover(ss.Context(), info.FullMethod, &err)
			return h(srv, ss)
		},
		func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			err := h(srv, ss)
			s.logCall(ss.Context(), info.FullMethod, err)
			return err
		},
		func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if isPublic(info.FullMethod) {
				return h(srv, ss)
			}
			ctx, err := s.authenticate(ss.Context())
			if err != nil {
				return err
			}
			return h(srv, &contextStream{ServerStream: ss, ctx: ctx})
		},
	}
}

type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (c *contextStream) Context() context.Context { return c.ctx }

func (s *Server) recover(ctx context.Context, method string, err *error) {
	if r := recover(); r != nil {
		s.log.ErrorContext(ctx, "panic in handler", slog.String("method", method), slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
		*err = status.Error(codes.Internal, "internal error")
	}
}

func (s *Server) logCall(ctx context.Context, method string, err error) {
	code := status.Code(err)
	level := slog.LevelDebug
	if code == codes.Internal || code == codes.Unknown || code == codes.DataLoss {
		level = slog.LevelError
	}
	s.log.LogAttrs(ctx, level, "rpc", slog.String("method", method), slog.String("code", code.String()))
}
