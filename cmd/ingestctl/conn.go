package main

import (
	"crypto/tls"
	"crypto/x509"
	"os"

	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
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
	creds, err := a.transportCredentials()
	if err != nil {
		return nil, err
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithChainUnaryInterceptor(callInterceptor(key, a.timeout)),
		// Streams (watch, tail) run until stopped: the key, no timeout.
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key), desc, cc, method, opts...)
		}),
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

// transportCredentials is TLS when any TLS setting is given (system roots,
// or --tls-ca; a client certificate for mTLS), else plaintext, which the
// server accepts on loopback or when started with --plaintext.
func (a *app) transportCredentials() (credentials.TransportCredentials, error) {
	if !a.tls && a.tlsCA == "" && a.tlsCert == "" {
		return insecure.NewCredentials(), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if a.tlsCA != "" {
		pem, err := os.ReadFile(a.tlsCA)
		if err != nil {
			return nil, runtimeErrorf("--tls-ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, runtimeErrorf("--tls-ca: no PEM certificate in %s", a.tlsCA)
		}
	}
	if (a.tlsCert == "") != (a.tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if a.tlsCert != "" {
		pair, err := tls.LoadX509KeyPair(a.tlsCert, a.tlsKey)
		if err != nil {
			return nil, runtimeErrorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(cfg), nil
}
