package server

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// servePprof serves Go's profiles (/debug/pprof/) on the listener New
// bound for cfg.PprofAddr (loopback only: profiles show the node's
// internals and cost CPU on demand), apart from the API port. It returns
// what stops it.
func (s *Server) servePprof() (stop func()) {
	if s.pprofLis == nil {
		return func() {}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(s.pprofLis)
	s.log.Info("serving Go profiles", slog.String("pprof", s.pprofLis.Addr().String()))
	return func() { srv.Close() }
}

// listenPprof binds cfg.PprofAddr, if set.
func (s *Server) listenPprof() (err error) {
	if s.cfg.PprofAddr != "" {
		s.pprofLis, err = net.Listen("tcp", s.cfg.PprofAddr)
	}
	return err
}
