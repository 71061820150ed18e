package server

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

func TestThroughProxies(t *testing.T) {
	trusted, err := ParsePrefixes("10.0.0.0/8, 192.168.1.5, ::1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		direct, xff, want string
	}{
		{"203.0.113.7", "", "203.0.113.7"},                                 // no proxy
		{"203.0.113.7", "198.51.100.1", "203.0.113.7"},                     // forwarded by an untrusted peer: ignored
		{"10.1.2.3", "198.51.100.1", "198.51.100.1"},                       // one trusted proxy
		{"10.1.2.3", "6.6.6.6, 198.51.100.1, 192.168.1.5", "198.51.100.1"}, // two trusted hops; the client's own claim stays ignored
		{"10.1.2.3", "10.9.9.9, 10.8.8.8", "10.9.9.9"},                     // proxies all the way: the leftmost
		{"10.1.2.3", "198.51.100.1, not-an-ip", "10.1.2.3"},                // garbage stops at the proxy that passed it
		{"::1", "::ffff:198.51.100.1", "198.51.100.1"},                     // mapped IPv4 read as IPv4
		{"192.168.1.6", "198.51.100.1", "192.168.1.6"},                     // a neighbour of a trusted address is not trusted
		{"10.1.2.3", "fe80::1%eth0", "10.1.2.3"},                           // zoned addresses are not client addresses
	} {
		var xff []string
		if tc.xff != "" {
			xff = strings.Split(tc.xff, ",")
		}
		if got := throughProxies(netip.MustParseAddr(tc.direct), xff, trusted).String(); got != tc.want {
			t.Errorf("from %s with x-forwarded-for %q: %s, want %s", tc.direct, tc.xff, got, tc.want)
		}
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes(" 10.0.0.1/8 ,,192.168.1.5,::ffff:10.1.1.1, 2001:db8::/32, ::ffff:172.16.0.0/108 ")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.5/32", "10.1.1.1/32", "2001:db8::/32", "172.16.0.0/12"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0", "fe80::1%eth0", "::ffff:0.0.0.0/90"} {
		if _, err := ParsePrefixes(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParsePrefixes(%q): %v, want an error naming it", bad, err)
		}
	}
	if ps, err := ParsePrefixes(""); err != nil || len(ps) != 0 {
		t.Errorf(`ParsePrefixes(""): %v %v, want none`, ps, err)
	}
}

// clientIP as the handlers see it: zones dropped and IPv4-mapped
// addresses unmapped, as net.IP.String gave them before trusted proxies,
// and the gateway's own last entry believed only with its marker.
func TestClientIP(t *testing.T) {
	s := &Server{gatewayMarker: "marker"}
	call := func(peerAddr net.Addr, md ...string) context.Context {
		ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: peerAddr})
		return metadata.NewIncomingContext(ctx, metadata.Pairs(md...))
	}
	tcp := func(ip, zone string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 5000, Zone: zone} }
	gw := &net.UnixAddr{Name: "/tmp/gw.sock", Net: "unix"}
	for name, tc := range map[string]struct {
		ctx  context.Context
		want string
	}{
		"link-local peer":             {call(tcp("fe80::1", "eth0")), "fe80::1"},
		"mapped peer":                 {call(tcp("::ffff:192.0.2.1", "")), "192.0.2.1"},
		"peer forwarding, untrusted":  {call(tcp("192.0.2.1", ""), "x-forwarded-for", "198.51.100.1"), "192.0.2.1"},
		"gateway":                     {call(gw, gatewayMarkerHeader, "marker", "x-forwarded-for", "198.51.100.1, 192.0.2.9"), "192.0.2.9"},
		"gateway, link-local client":  {call(gw, gatewayMarkerHeader, "marker", "x-forwarded-for", "fe80::2%eth0"), "fe80::2"},
		"gateway marker forged":       {call(tcp("192.0.2.1", ""), gatewayMarkerHeader, "guess", "x-forwarded-for", "198.51.100.1"), "192.0.2.1"},
		"unix peer without a gateway": {call(gw), ""},
	} {
		if got := s.clientIP(tc.ctx); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
}
