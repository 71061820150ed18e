package server_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// Profiles are served on their own loopback listener when asked for, and
// never beyond loopback.
func TestPprofOnLoopbackOnly(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.DataDir, cfg.PprofAddr = "127.0.0.1:0", "127.0.0.1:0", t.TempDir(), "0.0.0.0:6060"
	if _, err := server.New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("pprof beyond loopback: %v, want a refusal", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(t, "listen", err)
	addr := l.Addr().String()
	l.Close()
	n := servertest.Start(t, func(c *server.Config) { c.PprofAddr = addr })
	resp, err := servertest.HTTPClient.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	check(t, "GET a profile", err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("goroutine profile: %d %.200s", resp.StatusCode, body)
	}
	if resp, err := servertest.HTTPClient.Get(n.BaseURL() + "/debug/pprof/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("the API port serves profiles")
		}
	}
}
