// Package registry is a node's index of live device streams, by ingest key,
// by device and by workspace, so a change to one key or device finds exactly
// the streams it affects without scanning the rest. It also enforces the
// per-key and per-device stream limits at registration.
//
// It knows nothing of gRPC transports or stores: the server decides why a
// stream must close and the registry delivers that decision to it.
package registry

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
)

// ErrTooManyKeyStreams and ErrTooManyDeviceStreams are returned by Add when
// a limit is reached.
var (
	ErrTooManyKeyStreams    = errors.New("registry: too many streams for this key")
	ErrTooManyDeviceStreams = errors.New("registry: too many streams for this device")
)

// Closure says why a stream was closed and how it ends: Goodbye{Reason,
// Message} on the wire, then the status Code.
type Closure struct {
	Reason  ingestgatev1.GoodbyeReason
	Code    codes.Code
	Message string
}

// Stream is one live device stream.
type Stream struct {
	// ID is unique across the cluster (the node's instance and a counter).
	ID          string
	WorkspaceID string
	KeyID       string
	DeviceID    string
	// KeyPrefix is the display prefix of the secret used (safe to show);
	// Peer the client's address as this node saw it.
	KeyPrefix string
	Peer      string
	// Hash is the secret the device authenticated with: the key's current or
	// previous one, which decides when a rotation's grace period ends it.
	Hash   keystore.Hash
	Opened time.Time
	// Seat is the cluster seat lease the stream holds, set and released by
	// its owner ("": none).
	Seat string
	// Degraded is set while the stream rides on a cached key admitted when
	// the store was unreachable: its device may not be registered yet, so
	// a recheck that finds the device missing registers it, not closes it.
	Degraded atomic.Bool

	// Written once per acked batch: atomics, so listing connections never
	// contends with the ack path.
	records   atomic.Int64
	lastBatch atomic.Int64 // unix nanoseconds; 0: no batch yet

	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}

	mu      sync.Mutex
	closure *Closure
	tags    map[string]string // the device's tags as last read
	timer   *time.Timer       // fires at the credential's next deadline
}

// Acked counts a batch acked at t with n stored records (0 for a
// duplicate).
func (s *Stream) Acked(n int, t time.Time) {
	if n > 0 {
		s.records.Add(int64(n))
	}
	s.lastBatch.Store(t.UnixNano())
}

// Records is how many records the stream stored so far.
func (s *Stream) Records() int64 { return s.records.Load() }

// LastBatch is when the last batch was acked (zero: none yet).
func (s *Stream) LastBatch() time.Time {
	if ns := s.lastBatch.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Context ends when the stream is closed. Work done on the stream's behalf
// (sink appends) uses it, so nothing is stored after the close.
func (s *Stream) Context() context.Context { return s.ctx }

// Done is closed when the stream is closed.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Closure returns why the stream was closed, or nil while it is open.
func (s *Stream) Closure() *Closure {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closure
}

// Close closes the stream for c's reason. Only the first close counts; it
// reports whether this call closed it.
func (s *Stream) Close(c Closure) bool {
	s.mu.Lock()
	if s.closure != nil {
		s.mu.Unlock()
		return false
	}
	s.closure = &c
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	// Cancel before signalling Done: whoever acts on Done (the stream's
	// closer) must find the context already ended, so no sink append can
	// start after it has taken stock of the appends under way.
	s.cancel(errStreamClosed)
	close(s.done)
	return true
}

var errStreamClosed = errors.New("stream closed")

// Tags returns the device tags the stream was last checked against.
func (s *Stream) Tags() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tags
}

// SetTags records the device's current tags (the map must not change after).
func (s *Stream) SetTags(tags map[string]string) {
	s.mu.Lock()
	s.tags = tags
	s.mu.Unlock()
}

// SetDeadline arranges for fire to run at t (zero: never), replacing any
// earlier deadline. The server uses it for expiry and the end of a
// rotation's grace period, so neither needs polling.
func (s *Stream) SetDeadline(t time.Time, fire func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if t.IsZero() || s.closure != nil {
		return
	}
	s.timer = time.AfterFunc(time.Until(t), fire)
}

type deviceRef struct{ ws, id string }

// Registry indexes live streams. It is safe for concurrent use.
type Registry struct {
	mu        sync.Mutex
	byKey     map[string]map[*Stream]struct{}
	byDevice  map[deviceRef]map[*Stream]struct{}
	byWS      map[string]map[*Stream]struct{}
	all       map[*Stream]struct{}
	maxDevice int
}

// New returns an empty registry admitting at most maxPerDevice streams per
// device (0: unlimited).
func New(maxPerDevice int) *Registry {
	return &Registry{
		byKey:     make(map[string]map[*Stream]struct{}),
		byDevice:  make(map[deviceRef]map[*Stream]struct{}),
		byWS:      make(map[string]map[*Stream]struct{}),
		all:       make(map[*Stream]struct{}),
		maxDevice: maxPerDevice,
	}
}

// Add registers a new stream, refusing it when the key already has
// maxPerKey streams (0: unlimited) or the device its limit. The stream's
// context derives from parent. Call Remove when the stream ends.
func (r *Registry) Add(parent context.Context, s *Stream, maxPerKey int) error {
	s.done = make(chan struct{})
	s.ctx, s.cancel = context.WithCancelCause(parent)
	if s.Opened.IsZero() {
		s.Opened = time.Now()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ks := r.byKey[s.KeyID]
	if maxPerKey > 0 && len(ks) >= maxPerKey {
		s.cancel(nil)
		return ErrTooManyKeyStreams
	}
	dev := deviceRef{s.WorkspaceID, s.DeviceID}
	if r.maxDevice > 0 && len(r.byDevice[dev]) >= r.maxDevice {
		s.cancel(nil)
		return ErrTooManyDeviceStreams
	}
	if ks == nil {
		ks = make(map[*Stream]struct{})
		r.byKey[s.KeyID] = ks
	}
	ks[s] = struct{}{}
	if r.byDevice[dev] == nil {
		r.byDevice[dev] = make(map[*Stream]struct{})
	}
	r.byDevice[dev][s] = struct{}{}
	if r.byWS[s.WorkspaceID] == nil {
		r.byWS[s.WorkspaceID] = make(map[*Stream]struct{})
	}
	r.byWS[s.WorkspaceID][s] = struct{}{}
	r.all[s] = struct{}{}
	return nil
}

// Remove unregisters s and releases its resources.
func (r *Registry) Remove(s *Stream) {
	s.mu.Lock()
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	s.cancel(errStreamClosed)
	r.mu.Lock()
	defer r.mu.Unlock()
	if ks := r.byKey[s.KeyID]; ks != nil {
		delete(ks, s)
		if len(ks) == 0 {
			delete(r.byKey, s.KeyID)
		}
	}
	dev := deviceRef{s.WorkspaceID, s.DeviceID}
	if m := r.byDevice[dev]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(r.byDevice, dev)
		}
	}
	if m := r.byWS[s.WorkspaceID]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(r.byWS, s.WorkspaceID)
		}
	}
	delete(r.all, s)
}

// ByKey returns the streams of one ingest key.
func (r *Registry) ByKey(keyID string) []*Stream {
	r.mu.Lock()
	defer r.mu.Unlock()
	return collect(r.byKey[keyID])
}

// ByDevice returns the streams of one device.
func (r *Registry) ByDevice(ws, deviceID string) []*Stream {
	r.mu.Lock()
	defer r.mu.Unlock()
	return collect(r.byDevice[deviceRef{ws, deviceID}])
}

// ByWorkspace returns the streams of one workspace. It is indexed because
// listing connections asks every node for one workspace's streams, and a
// scan of every stream would hold the lock that opens and closes them.
func (r *Registry) ByWorkspace(ws string) []*Stream {
	r.mu.Lock()
	defer r.mu.Unlock()
	return collect(r.byWS[ws])
}

// All returns every live stream.
func (r *Registry) All() []*Stream {
	r.mu.Lock()
	defer r.mu.Unlock()
	return collect(r.all)
}

// CountKey and CountDevice return how many streams are live.
func (r *Registry) CountKey(keyID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byKey[keyID])
}

func (r *Registry) CountDevice(ws, deviceID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byDevice[deviceRef{ws, deviceID}])
}

// Len is the number of live streams.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.all)
}

func collect(m map[*Stream]struct{}) []*Stream {
	out := make([]*Stream, 0, len(m))
	for s := range m {
		out = append(out, s)
	}
	return out
}
