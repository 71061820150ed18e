package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// servePprof serves Go's profiles (/debug/pprof/) on cfg.PprofAddr, a
// listener of its own so the API port never exposes them. Loopback only:
// profiles show the node's internals and cost CPU on demand.
func (s *Server) servePprof() (stop func(), err error) {
	if s.cfg.PprofAddr == "" {
		return func() {}, nil
	}
	l, err := net.Listen("tcp", s.cfg.PprofAddr)
	if err != nil {
		return nil, fmt.Errorf("pprof listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	s.log.Info("serving Go profiles", slog.String("pprof", l.Addr().String()))
	return func() { srv.Close() }, nil
}
