package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"net"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// gatewayMarkerHeader carries a random per-process secret on every call
// the in-process REST gateway makes, so the server trusts the
// x-forwarded-for the gateway adds (the HTTP client's address) and no one
// else's: a gRPC client could send any x-forwarded-for it likes.
const gatewayMarkerHeader = "x-ingestgate-gateway"

func newGatewayMarker() string { return rand.Text() }

// markGatewayCalls is the gateway connection's dial options: every call
// carries the marker.
func markGatewayCalls(marker string) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(metadata.AppendToOutgoingContext(ctx, gatewayMarkerHeader, marker), method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(metadata.AppendToOutgoingContext(ctx, gatewayMarkerHeader, marker), desc, cc, method, opts...)
		}),
	}
}

// clientIP is the address of whoever made the call: the HTTP client's for
// calls through this node's gateway (the last x-forwarded-for entry, which
// the gateway appends), else the gRPC peer's. "" if unknown.
func (s *Server) clientIP(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if m := md.Get(gatewayMarkerHeader); len(m) == 1 && subtle.ConstantTimeCompare([]byte(m[0]), []byte(s.gatewayMarker)) == 1 {
		if xff := md.Get("x-forwarded-for"); len(xff) > 0 {
			entries := strings.Split(xff[len(xff)-1], ",")
			if ip := net.ParseIP(strings.TrimSpace(entries[len(entries)-1])); ip != nil {
				return ip.String()
			}
		}
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		if tcp, ok := p.Addr.(*net.TCPAddr); ok {
			return tcp.IP.String()
		}
		if host, _, err := net.SplitHostPort(p.Addr.String()); err == nil {
			return host
		}
	}
	return ""
}

// addrKey is the part of a client address that rate limits count by: the
// address itself for IPv4, its /64 for IPv6, since one host commonly holds
// a whole /64 and could otherwise rotate through it.
func addrKey(ip string) string {
	a := net.ParseIP(ip)
	if a == nil || a.To4() != nil {
		return ip
	}
	return a.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
