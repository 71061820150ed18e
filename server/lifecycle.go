package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ingestgate/ingestgate/keystore"
)

// keyKind describes one kind of credential record (ingest keys, API keys) so
// the lifecycle operations they share are written once.
type keyKind[T any] struct {
	what   string // for messages: "ingest key", "api key"
	format keystore.TokenFormat
	get    func(ctx context.Context, tx keystore.Tx, ws, id string) (T, error)
	update func(ctx context.Context, tx keystore.Tx, k T) error
	// fields exposes the shared parts of a record.
	fields func(k *T) (cred *keystore.Credential, updateTime *time.Time)
	// event returns an event about k (workspace, key id, display prefix set).
	event func(k T) keystore.Event

	updated, deactivated, activated, rotated, revoked keystore.EventType
}

// transitionFn applies one lifecycle change to a credential. It reports the
// event to record, or changed=false for a no-op.
type transitionFn func(c *keystore.Credential, now time.Time) (typ keystore.EventType, reason string, changed bool, err error)

// transition reads the record, applies fn and, if anything changed, writes
// it back with an audit event, all in one transaction.
func (kk *keyKind[T]) transition(ctx context.Context, s *Server, actor, ws, id string, fn transitionFn) (T, error) {
	var out T
	err := s.commit(ctx, actor, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		k, err := kk.get(ctx, tx, ws, id)
		if err != nil {
			return nil, err
		}
		now := s.now()
		cred, updated := kk.fields(&k)
		typ, reason, changed, err := fn(cred, now)
		if err != nil {
			return nil, err
		}
		out = k
		if !changed {
			return nil, nil
		}
		*updated = now
		if err := kk.update(ctx, tx, k); err != nil {
			return nil, err
		}
		out = k
		e := kk.event(k)
		e.Type, e.Reason = typ, reason
		return []keystore.Event{e}, nil
	})
	return out, s.storeError(ctx, err, kk.what, id)
}

func (kk *keyKind[T]) deactivate(ctx context.Context, s *Server, actor, ws, id string) (T, error) {
	return kk.transition(ctx, s, actor, ws, id, func(c *keystore.Credential, _ time.Time) (keystore.EventType, string, bool, error) {
		changed, err := c.Deactivate()
		return kk.deactivated, "", changed, err
	})
}

func (kk *keyKind[T]) activate(ctx context.Context, s *Server, actor, ws, id string) (T, error) {
	return kk.transition(ctx, s, actor, ws, id, func(c *keystore.Credential, _ time.Time) (keystore.EventType, string, bool, error) {
		changed, err := c.Activate()
		return kk.activated, "", changed, err
	})
}

func (kk *keyKind[T]) revoke(ctx context.Context, s *Server, actor, ws, id, reason string) (T, error) {
	var zero T
	if err := keystore.ValidateText("reason", reason, keystore.MaxReasonLen, false); err != nil {
		return zero, checkInput(err)
	}
	return kk.transition(ctx, s, actor, ws, id, func(c *keystore.Credential, now time.Time) (keystore.EventType, string, bool, error) {
		return kk.revoked, reason, true, c.Revoke(reason, now)
	})
}

// rotate returns the record and its new secret.
func (kk *keyKind[T]) rotate(ctx context.Context, s *Server, actor, ws, id string, grace *durationpb.Duration) (T, string, error) {
	var zero T
	var d time.Duration
	if grace != nil {
		if err := grace.CheckValid(); err != nil {
			return zero, "", invalidArg("grace_period: %v", err)
		}
		d = grace.AsDuration()
	}
	if err := keystore.ValidateGrace(d); err != nil {
		return zero, "", checkInput(err)
	}
	token, err := kk.format.Generate()
	if err != nil {
		return zero, "", s.storeError(ctx, err, kk.what, id)
	}
	k, err := kk.transition(ctx, s, actor, ws, id, func(c *keystore.Credential, now time.Time) (keystore.EventType, string, bool, error) {
		return kk.rotated, "grace period " + d.String(), true, c.Rotate(s.hasher.Hash(token), kk.format.DisplayPrefix(token), d, now)
	})
	if err != nil {
		return zero, "", err
	}
	return k, token, nil
}

// updateFields applies validated field changes (apply) to a record that is
// not revoked and records which fields changed.
func (kk *keyKind[T]) updateFields(ctx context.Context, s *Server, actor, ws, id string, paths []string, apply func(ctx context.Context, tx keystore.Tx, k *T, now time.Time) error) (T, error) {
	var out T
	err := s.commit(ctx, actor, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		k, err := kk.get(ctx, tx, ws, id)
		if err != nil {
			return nil, err
		}
		cred, updated := kk.fields(&k)
		if err := cred.CheckUpdatable(); err != nil {
			return nil, err
		}
		now := s.now()
		if err := apply(ctx, tx, &k, now); err != nil {
			return nil, err
		}
		*updated = now
		if err := kk.update(ctx, tx, k); err != nil {
			return nil, err
		}
		out = k
		e := kk.event(k)
		e.Type, e.ChangedFields = kk.updated, paths
		return []keystore.Event{e}, nil
	})
	return out, s.storeError(ctx, err, kk.what, id)
}
