package local_test

import (
	"testing"

	"github.com/ingestgate/ingestgate/bus"
	"github.com/ingestgate/ingestgate/bus/bustest"
	"github.com/ingestgate/ingestgate/bus/local"
)

func TestConformance(t *testing.T) {
	bustest.Run(t, func(t *testing.T) (bus.Bus, bus.Bus) {
		b := local.New()
		t.Cleanup(func() { b.Close() })
		return b, b
	})
}
