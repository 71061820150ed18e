package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/server/registry"
)

// Enforcement: every committed change that may invalidate a key for a
// device reaches applyEvent (from this node's commit, and from the bus for
// changes made on other nodes). It finds the streams the change touches
// through the registry and rechecks each against the store, so the decision
// is the same whether the trigger was an event, a timer or the periodic
// sweep, which bounds staleness if an event is lost or a recheck fails.

type (
	reason = ingestgatev1.GoodbyeReason
)

const (
	goodbyeRevoked      = ingestgatev1.GoodbyeReason_GOODBYE_REASON_KEY_REVOKED
	goodbyeDeactivated  = ingestgatev1.GoodbyeReason_GOODBYE_REASON_KEY_DEACTIVATED
	goodbyeDeleted      = ingestgatev1.GoodbyeReason_GOODBYE_REASON_KEY_DELETED
	goodbyeExpired      = ingestgatev1.GoodbyeReason_GOODBYE_REASON_KEY_EXPIRED
	goodbyeRotated      = ingestgatev1.GoodbyeReason_GOODBYE_REASON_KEY_ROTATED
	goodbyeOutOfScope   = ingestgatev1.GoodbyeReason_GOODBYE_REASON_OUT_OF_SCOPE
	goodbyeDeviceGone   = ingestgatev1.GoodbyeReason_GOODBYE_REASON_DEVICE_DELETED
	goodbyeDisconnected = ingestgatev1.GoodbyeReason_GOODBYE_REASON_DEVICE_DISCONNECTED
	goodbyeShutdown     = ingestgatev1.GoodbyeReason_GOODBYE_REASON_SERVER_SHUTDOWN
	goodbyeWorkspace    = ingestgatev1.GoodbyeReason_GOODBYE_REASON_WORKSPACE_DELETED
)

// Credential closes end with UNAUTHENTICATED (the key no longer works) or
// PERMISSION_DENIED (the key works, but not for this device): both final for
// clients. Closes that are not about the credential end with UNAVAILABLE,
// which clients retry.
func credentialClosure(r reason, msg string) registry.Closure {
	code := codes.Unauthenticated
	switch r {
	case goodbyeOutOfScope, goodbyeDeviceGone:
		code = codes.PermissionDenied
	case goodbyeDisconnected, goodbyeShutdown:
		code = codes.Unavailable
	}
	return registry.Closure{Reason: r, Code: code, Message: msg}
}

var reasonClosures = map[keystore.CredentialReason]reason{
	keystore.ReasonRevoked:       goodbyeRevoked,
	keystore.ReasonInactive:      goodbyeDeactivated,
	keystore.ReasonExpired:       goodbyeExpired,
	keystore.ReasonSecretRetired: goodbyeRotated,
}

var closureMessages = map[reason]string{
	goodbyeRevoked:      "ingest key revoked",
	goodbyeDeactivated:  "ingest key deactivated",
	goodbyeDeleted:      "ingest key deleted",
	goodbyeExpired:      "ingest key expired",
	goodbyeRotated:      "ingest key rotated and this secret's grace period is over; use the new secret",
	goodbyeOutOfScope:   "ingest key no longer admits this device",
	goodbyeDeviceGone:   "device deleted",
	goodbyeDisconnected: "disconnected by an operator; you may reconnect",
	goodbyeShutdown:     "server shutting down; reconnect, ideally to another node",
	goodbyeWorkspace:    "workspace deleted",
}

func closeFor(r reason) registry.Closure { return credentialClosure(r, closureMessages[r]) }

// applyEvent makes a committed change take effect on this node: it drops
// cached credentials and closes or rechecks the live streams the change
// touches. It is idempotent, so an event applied both locally and again from
// the bus is harmless.
func (s *Server) applyEvent(e keystore.Event) {
	// Only a change of the key itself invalidates its cache entry; other
	// events may name a key (a device registered by it) without changing it.
	if e.IngestKeyID != "" && e.Type >= ingestgatev1.KeyEventType_KEY_EVENT_TYPE_INGEST_KEY_CREATED && e.Type <= ingestgatev1.KeyEventType_KEY_EVENT_TYPE_INGEST_KEY_DELETED {
		s.verifier.ForgetIngestKey(e.IngestKeyID)
	}
	if e.APIKeyID != "" {
		s.verifier.ForgetAPIKey(e.APIKeyID)
	}
	if e.UserID != "" && s.sessions != nil {
		s.sessions.forgetUser(e.UserID)
	}
	if e.Type == ingestgatev1.KeyEventType_KEY_EVENT_TYPE_WORKSPACE_DELETED && s.sessions != nil {
		// Its memberships went with it, without an event per user.
		s.sessions.forgetUsers()
	}
	if e.Type == ingestgatev1.KeyEventType_KEY_EVENT_TYPE_WORKSPACE_DELETED {
		// A forced delete removes keys without one event per key.
		s.verifier.ForgetWorkspace(e.WorkspaceID)
	}
	if s.streams == nil {
		return
	}
	switch e.Type {
	case ingestgatev1.KeyEventType_KEY_EVENT_TYPE_INGEST_KEY_REVOKED:
		// Final whatever the store says later: no read on the revocation path.
		if s.closeAll(s.streams.ByKey(e.IngestKeyID), closeFor(goodbyeRevoked)) > 0 {
			s.metrics.revoked(e.Time)
		}
	case ingestgatev1.KeyEventType_KEY_EVENT_TYPE_INGEST_KEY_DELETED:
		s.closeAll(s.streams.ByKey(e.IngestKeyID), closeFor(goodbyeDeleted))
	case ingestgatev1.KeyEventType_KEY_EVENT_TYPE_INGEST_KEY_DEACTIVATED,
		ingestgatev1.KeyEventType_KEY_EVENT_TYPE_INGEST_KEY_ROTATED,
		ingestgatev1.KeyEventType_KEY_EVENT_TYPE_INGEST_KEY_UPDATED:
		s.recheck(s.streams.ByKey(e.IngestKeyID), false)
	case ingestgatev1.KeyEventType_KEY_EVENT_TYPE_DEVICE_DELETED:
		s.closeAll(s.streams.ByDevice(e.WorkspaceID, e.DeviceID), closeFor(goodbyeDeviceGone))
	case ingestgatev1.KeyEventType_KEY_EVENT_TYPE_DEVICE_UPDATED:
		s.recheck(s.streams.ByDevice(e.WorkspaceID, e.DeviceID), true)
	case ingestgatev1.KeyEventType_KEY_EVENT_TYPE_DEVICE_DISCONNECTED:
		s.closeAll(s.streams.ByDevice(e.WorkspaceID, e.DeviceID), closeFor(goodbyeDisconnected))
	case ingestgatev1.KeyEventType_KEY_EVENT_TYPE_WORKSPACE_DELETED:
		s.closeAll(s.streams.ByWorkspace(e.WorkspaceID), closeFor(goodbyeWorkspace))
	}
}

func (s *Server) closeAll(streams []*registry.Stream, c registry.Closure) int {
	n := 0
	for _, st := range streams {
		if st.Close(c) {
			n++
		}
	}
	return n
}

// recheck judges streams against the store's current key (and device, when
// readDevice), closing those no longer admitted and re-arming the deadline
// timers of the rest. Streams of one key share one key read, made under the
// key's judging lock (see openStream): rechecks of one key run one at a
// time, each reading after the last, so the newest read is the one that
// stays.
func (s *Server) recheck(streams []*registry.Stream, readDevice bool) {
	if len(streams) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	byKey := map[string][]*registry.Stream{}
	for _, st := range streams {
		byKey[st.KeyID] = append(byKey[st.KeyID], st)
	}
	for _, streams := range byKey {
		s.recheckKey(ctx, streams, readDevice)
	}
}

// recheckKey is recheck for streams of one key.
func (s *Server) recheckKey(ctx context.Context, streams []*registry.Stream, readDevice bool) {
	first := streams[0]
	mu := s.judging.of(first.KeyID)
	mu.Lock()
	defer mu.Unlock()
	var k *keystore.IngestKey
	got, err := s.store.GetIngestKey(ctx, first.WorkspaceID, first.KeyID)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
	case err != nil:
		// Keep the streams: the next event, timer or sweep rechecks them.
		s.log.Error("recheck: read ingest key", slog.String("key_id", first.KeyID), slog.Any("error", err))
		return
	default:
		k = &got
	}
	for _, st := range streams {
		s.judgeStream(ctx, st, k, readDevice)
	}
}

// judgeStream closes st if k (nil: deleted) no longer admits it, and
// otherwise arms its next deadline. The caller holds the key's judging lock.
func (s *Server) judgeStream(ctx context.Context, st *registry.Stream, k *keystore.IngestKey, readDevice bool) {
	if k == nil {
		st.Close(closeFor(goodbyeDeleted))
		return
	}
	if r := k.Check(st.Hash, time.Now()); r != 0 {
		st.Close(closeFor(reasonClosures[r]))
		return
	}
	tags := st.Tags()
	if tags == nil {
		// Still opening (its device may not even be registered yet):
		// openStream reads the key and device and judges the scope itself,
		// under the judging lock, after this.
		return
	}
	if readDevice {
		d, err := s.store.GetDevice(ctx, st.WorkspaceID, st.DeviceID)
		if errors.Is(err, keystore.ErrNotFound) && st.Degraded.Load() && k.Scope.Admits(st.DeviceID, nil) {
			// Admitted during a store outage before its device could be
			// registered: register it now, as its connect would have.
			d, err = s.registerDevice(ctx, k, st.DeviceID)
			if err != nil {
				return // logged; the next sweep tries again
			}
		}
		switch {
		case errors.Is(err, keystore.ErrNotFound):
			st.Close(closeFor(goodbyeDeviceGone))
			return
		case err != nil:
			s.log.Error("recheck: read device", slog.String("device_id", st.DeviceID), slog.Any("error", err))
		default:
			st.Degraded.Store(false)
			tags = d.Tags
			if tags == nil {
				tags = map[string]string{}
			}
			st.SetTags(tags)
		}
	}
	if !k.Scope.Admits(st.DeviceID, tags) {
		st.Close(closeFor(goodbyeOutOfScope))
		return
	}
	s.limits.update(k)
	st.SetDeadline(k.Deadline(st.Hash), func() { s.recheck([]*registry.Stream{st}, false) })
}

// sweep rechecks every live stream, reading keys and devices, every
// interval until ctx ends. Events make changes bite at once; the sweep
// bounds how long a stream can outlive a change whose event was lost (a
// failed store read during a recheck, a bus outage in a cluster).
func (s *Server) sweep(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() { s.recheck(s.streams.All(), true) })
}

// judgeLocks serialize, per ingest key (striped), the checks that read a key
// and its devices from the store and set what its streams were judged by:
// rechecks take a stripe exclusively; openStream's final check shares it,
// as streams being opened do not touch each other's state.
type judgeLocks [64]sync.RWMutex

func (j *judgeLocks) of(keyID string) *sync.RWMutex {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(keyID); i++ {
		h ^= uint32(keyID[i])
		h *= 16777619
	}
	return &j[h%uint32(len(j))]
}
