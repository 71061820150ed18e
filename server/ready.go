package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// ready answers /readyz: 200 when the store, and Redis when configured,
// answer within a second; 503 naming what does not. A load balancer
// should send no new streams to a node that is not ready; one shutting
// down is not ready either.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	checks := map[string]string{}
	ok := true
	check := func(name string, err error) {
		checks[name] = "ok"
		if err != nil {
			checks[name], ok = "unavailable", false
		}
	}
	check("store", s.store.Ping(ctx))
	if s.redis != nil {
		check("redis", s.redis.Ping(ctx).Err())
	}
	if s.stopping.Err() != nil {
		checks["server"], ok = "shutting down", false
	}
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(map[string]any{"ready": ok, "checks": checks})
}
