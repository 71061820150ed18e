package local_test

import (
	"testing"

	"github.com/ingestgate/ingestgate/server/ratelimit"
	"github.com/ingestgate/ingestgate/server/ratelimit/local"
	"github.com/ingestgate/ingestgate/server/ratelimit/ratelimittest"
)

func TestConformance(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) (ratelimit.Limiter, ratelimit.Limiter) {
		l := local.New(0)
		return l, l // one process: both "nodes" share the instance
	})
}
