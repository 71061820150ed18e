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
	for name, err := range s.pingDependencies(ctx) {
		checks[name] = "ok"
		if err != nil {
			checks[name], ok = "unavailable", false
		}
	}
	if s.draining.Load() || s.stopping.Err() != nil {
		checks["server"], ok = "shutting down", false
	}
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(map[string]any{"ready": ok, "checks": checks})
}

// pingDependencies asks what the node needs to serve whether it answers:
// the store and, in a cluster, Redis (the bus, shared limits and, with
// --sink redis, the telemetry sink).
func (s *Server) pingDependencies(ctx context.Context) map[string]error {
	errs := map[string]error{"store": s.store.Ping(ctx)}
	if s.redis != nil {
		errs["redis"] = s.redis.Ping(ctx).Err()
	}
	return errs
}
