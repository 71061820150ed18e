package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"net"
	"net/netip"
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

// clientIP is the address of whoever made the call, for rate limits, the
// auth guard and logs. The direct peer is the HTTP client's for calls
// through this node's gateway (the last x-forwarded-for entry, which the
// gateway appends), else the gRPC peer's. While that address is one of
// Config.TrustedProxies, the x-forwarded-for entry before it (the one that
// proxy appended) is taken instead, and so on leftwards; a forwarded
// address from anyone else is ignored, since any client can send one.
// "" if unknown.
func (s *Server) clientIP(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	var xff []string
	for _, v := range md.Get("x-forwarded-for") {
		xff = append(xff, strings.Split(v, ",")...)
	}
	var direct netip.Addr
	if m := md.Get(gatewayMarkerHeader); len(m) == 1 && subtle.ConstantTimeCompare([]byte(m[0]), []byte(s.gatewayMarker)) == 1 && len(xff) > 0 {
		// The gateway's own entry is the HTTP peer's address, which may
		// carry an IPv6 zone (a link-local client); entries further left
		// are only what proxies said, and a zone there is not an address.
		if a, err := netip.ParseAddr(strings.TrimSpace(xff[len(xff)-1])); err == nil {
			direct = a.WithZone("").Unmap()
		}
		xff = xff[:len(xff)-1]
	} else {
		direct = peerIP(ctx)
	}
	if !direct.IsValid() {
		return ""
	}
	return throughProxies(direct, xff, s.cfg.TrustedProxies).String()
}

// throughProxies walks x-forwarded-for from the right while addr is a
// trusted proxy's, returning the first address no trusted proxy owns: the
// client's. An entry that does not parse stops the walk at the proxy that
// forwarded it.
func throughProxies(addr netip.Addr, xff []string, trusted []netip.Prefix) netip.Addr {
	for len(xff) > 0 && trustedProxy(addr, trusted) {
		prev, ok := parseForwarded(xff[len(xff)-1])
		if !ok {
			break
		}
		addr, xff = prev, xff[:len(xff)-1]
	}
	return addr
}

func trustedProxy(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseForwarded reads one x-forwarded-for entry: an IP address, IPv4
// mapped into IPv6 taken as IPv4.
func parseForwarded(entry string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(strings.TrimSpace(entry))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// peerIP is the gRPC peer's IP address; invalid for a unix socket.
func peerIP(ctx context.Context) netip.Addr {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return netip.Addr{}
	}
	// Without its zone, as net.IP.String gave it before: rate limits key
	// link-local peers by their /64, and prefixes never contain a zoned
	// address.
	if tcp, ok := p.Addr.(*net.TCPAddr); ok {
		return tcp.AddrPort().Addr().WithZone("").Unmap()
	}
	if ap, err := netip.ParseAddrPort(p.Addr.String()); err == nil {
		return ap.Addr().WithZone("").Unmap()
	}
	return netip.Addr{}
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

// ParsePrefixes reads a comma-separated list of IP addresses and CIDR
// prefixes (an address is its own /32 or /128), as --trusted-proxies
// takes them.
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or CIDR prefix", f)
			}
			if p.Addr().Is4In6() {
				// Addresses are compared unmapped: ::ffff:10.0.0.0/104 is 10.0.0.0/8.
				if p.Bits() < 96 {
					return nil, fmt.Errorf("%q mixes IPv4-mapped and other IPv6 addresses", f)
				}
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%q is not an address or CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
