package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// conn returns the client connection, dialling on first use. The API key
// is checked first so a missing key fails fast with a clear message instead
// of an UNAUTHENTICATED error from the server.
func (a *app) conn() (grpc.ClientConnInterface, error) {
	if a.cc != nil {
		return a.cc, nil
	}
	key := strings.TrimSpace(a.apiKey) // tolerate a trailing newline from $(cat keyfile)
	if key == "" {
		return nil, errors.New("no API key: pass --api-key or set " + envAPIKey)
	}
	opts := []grpc.DialOption{
		// Plaintext for now: the server has no TLS yet. The bearer key is
		// therefore readable on the wire; use a local or tunnelled address.
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(callInterceptor(key, a.timeout)),
	}
	cc, err := grpc.NewClient(a.addr, opts...)
	if err != nil {
		return nil, runtimeErrorf("connect to %s: %w", a.addr, err)
	}
	a.cc = cc
	return cc, nil
}

// callInterceptor authenticates every call and bounds each one by timeout,
// so a paged --all listing gets the limit per page, not for the whole walk.
func callInterceptor(key string, timeout time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}
