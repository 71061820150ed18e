package server

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
)

const ingestKeyIDPrefix = "ik_"

type ingestKeyService struct {
	ingestgatev1.UnimplementedIngestKeyServiceServer
	*Server
	kind *keyKind[keystore.IngestKey]
}

func newIngestKeyService(s *Server) *ingestKeyService {
	return &ingestKeyService{Server: s, kind: &keyKind[keystore.IngestKey]{
		what:   "ingest key",
		format: s.ingestFmt,
		get: func(ctx context.Context, tx keystore.Tx, ws, id string) (keystore.IngestKey, error) {
			return tx.GetIngestKey(ctx, ws, id)
		},
		update: func(ctx context.Context, tx keystore.Tx, k keystore.IngestKey) error {
			return tx.UpdateIngestKey(ctx, k)
		},
		fields: func(k *keystore.IngestKey) (*keystore.Credential, *time.Time) { return &k.Credential, &k.UpdateTime },
		event:  ingestKeyEvent,

		updated:     ingestgatev1.KeyEventType_KEY_EVENT_TYPE_INGEST_KEY_UPDATED,
		deactivated: ingestgatev1.KeyEventType_KEY_EVENT_TYPE_INGEST_KEY_DEACTIVATED,
		activated:   ingestgatev1.KeyEventType_KEY_EVENT_TYPE_INGEST_KEY_ACTIVATED,
		rotated:     ingestgatev1.KeyEventType_KEY_EVENT_TYPE_INGEST_KEY_ROTATED,
		revoked:     ingestgatev1.KeyEventType_KEY_EVENT_TYPE_INGEST_KEY_REVOKED,
	}}
}

func ingestKeyEvent(k keystore.IngestKey) keystore.Event {
	return keystore.Event{WorkspaceID: k.WorkspaceID, IngestKeyID: k.ID, DisplayPrefix: k.DisplayPrefix}
}

// keyRef validates the workspace and key id of a request and checks perm.
func (s *ingestKeyService) keyRef(ctx context.Context, perm keystore.Permission, ws, id string) (*Principal, error) {
	return s.requireIn(ctx, perm, ws, func() error {
		if id == "" {
			return nil
		}
		return keystore.ValidateRecordID("ingest key", ingestKeyIDPrefix, id)
	})
}

func (s *ingestKeyService) CreateIngestKey(ctx context.Context, req *ingestgatev1.CreateIngestKeyRequest) (*ingestgatev1.CreateIngestKeyResponse, error) {
	ws := req.GetWorkspaceId()
	p, err := s.keyRef(ctx, keystore.PermKeysWrite, ws, "")
	if err != nil {
		return nil, err
	}
	in := req.GetIngestKey()
	if in == nil {
		return nil, invalidArg("ingest_key is required")
	}
	now := s.now()
	k := keystore.IngestKey{ID: keystore.NewID(ingestKeyIDPrefix), WorkspaceID: ws, CreateTime: now, UpdateTime: now}
	if err := applyIngestKeyFields(&k, in, []string{"name", "description", "labels", "scope", "expire_time", "limits"}, now); err != nil {
		return nil, err
	}
	token, err := s.ingestFmt.Generate()
	if err != nil {
		return nil, s.storeError(ctx, err, "ingest key", "")
	}
	k.Credential = keystore.Credential{
		Hash:          s.hasher.Hash(token),
		DisplayPrefix: s.ingestFmt.DisplayPrefix(token),
		Status:        keystore.StatusActive,
		ExpireTime:    k.ExpireTime,
	}
	err = s.commit(ctx, p.Actor, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		if err := tx.CreateIngestKey(ctx, k); err != nil {
			return nil, err
		}
		e := ingestKeyEvent(k)
		e.Type = ingestgatev1.KeyEventType_KEY_EVENT_TYPE_INGEST_KEY_CREATED
		return []keystore.Event{e}, nil
	})
	if err != nil {
		// The only record that can be missing is the workspace.
		return nil, s.storeError(ctx, err, "workspace", ws)
	}
	return &ingestgatev1.CreateIngestKeyResponse{IngestKey: s.ingestKeyPB(k, now), Secret: token}, nil
}

// applyIngestKeyFields copies the fields named by paths from in to k after
// validating them. Paths are top-level field names.
func applyIngestKeyFields(k *keystore.IngestKey, in *ingestgatev1.IngestKey, paths []string, now time.Time) error {
	for _, path := range paths {
		var err error
		switch path {
		case "name":
			err = keystore.ValidateText("name", in.GetName(), keystore.MaxNameLen, true)
			k.Name = strings.TrimSpace(in.GetName())
		case "description":
			err = keystore.ValidateText("description", in.GetDescription(), keystore.MaxDescriptionLen, false)
			k.Description = in.GetDescription()
		case "labels":
			err = keystore.ValidateLabels("label", in.GetLabels())
			k.Labels = maps.Clone(in.GetLabels())
		case "scope":
			k.Scope, err = scopeFromPB(in.GetScope())
		case "expire_time":
			if in.GetExpireTime() != nil {
				if err := in.GetExpireTime().CheckValid(); err != nil {
					return invalidArg("expire_time: %v", err)
				}
			}
			k.ExpireTime = fromTS(in.GetExpireTime()).UTC().Truncate(time.Microsecond)
			err = keystore.ValidateExpiry(k.ExpireTime, now)
		case "limits":
			k.Limits = keystore.Limits{RecordsPerSecond: in.GetLimits().GetRecordsPerSecond(), MaxStreams: in.GetLimits().GetMaxStreams()}
			err = keystore.ValidateLimits(k.Limits)
		default:
			return invalidArg("update_mask: %q cannot be updated; updatable fields: name, description, labels, scope, expire_time, limits", path)
		}
		if err != nil {
			return checkInput(err)
		}
	}
	return nil
}

// topLevelPaths reduces mask paths to top-level fields: the gateway turns a
// PATCH body {"scope": {"tags": [...]}} into the path "scope.tags", and a
// nested field replaces its whole parent, so scope stays consistent.
func topLevelPaths(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, invalidArg("update_mask must name at least one field to update")
	}
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		top, _, _ := strings.Cut(p, ".")
		out = append(out, top)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func (s *ingestKeyService) GetIngestKey(ctx context.Context, req *ingestgatev1.GetIngestKeyRequest) (*ingestgatev1.GetIngestKeyResponse, error) {
	if _, err := s.keyRef(ctx, keystore.PermKeysRead, req.GetWorkspaceId(), req.GetKeyId()); err != nil {
		return nil, err
	}
	k, err := s.store.GetIngestKey(ctx, req.GetWorkspaceId(), req.GetKeyId())
	if err != nil {
		return nil, s.storeError(ctx, err, "ingest key", req.GetKeyId())
	}
	return &ingestgatev1.GetIngestKeyResponse{IngestKey: s.ingestKeyPB(k, s.now())}, nil
}

func (s *ingestKeyService) ListIngestKeys(ctx context.Context, req *ingestgatev1.ListIngestKeysRequest) (*ingestgatev1.ListIngestKeysResponse, error) {
	if _, err := s.keyRef(ctx, keystore.PermKeysRead, req.GetWorkspaceId(), ""); err != nil {
		return nil, err
	}
	page, n, err := pageFrom(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	q := keystore.IngestKeyQuery{Page: page, WorkspaceID: req.GetWorkspaceId(), Status: req.GetStatus(), NameContains: req.GetNameContains()}
	if err := keystore.ValidateText("name_contains", q.NameContains, keystore.MaxNameLen, false); err != nil {
		return nil, checkInput(err)
	}
	if req.GetLabel() != "" {
		t, err := keystore.ParseTag(req.GetLabel())
		if err != nil {
			return nil, checkInput(err)
		}
		q.Label = &t
	}
	keys, err := s.store.ListIngestKeys(ctx, q)
	if err != nil {
		return nil, s.storeError(ctx, err, "workspace", req.GetWorkspaceId())
	}
	keys, next := nextPage(keys, n, func(k keystore.IngestKey) string { return k.ID })
	resp := &ingestgatev1.ListIngestKeysResponse{NextPageToken: next}
	now := s.now()
	for _, k := range keys {
		resp.IngestKeys = append(resp.IngestKeys, s.ingestKeyPB(k, now))
	}
	return resp, nil
}

func (s *ingestKeyService) UpdateIngestKey(ctx context.Context, req *ingestgatev1.UpdateIngestKeyRequest) (*ingestgatev1.UpdateIngestKeyResponse, error) {
	in := req.GetIngestKey()
	p, err := s.keyRef(ctx, keystore.PermKeysWrite, in.GetWorkspaceId(), in.GetId())
	if err != nil {
		return nil, err
	}
	paths, err := topLevelPaths(req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	k, err := s.kind.updateFields(ctx, s.Server, p.Actor, in.GetWorkspaceId(), in.GetId(), paths,
		func(_ context.Context, _ keystore.Tx, k *keystore.IngestKey, now time.Time) error {
			return applyIngestKeyFields(k, in, paths, now)
		})
	if err != nil {
		return nil, err
	}
	return &ingestgatev1.UpdateIngestKeyResponse{IngestKey: s.ingestKeyPB(k, s.now())}, nil
}

func (s *ingestKeyService) DeactivateIngestKey(ctx context.Context, req *ingestgatev1.DeactivateIngestKeyRequest) (*ingestgatev1.DeactivateIngestKeyResponse, error) {
	p, err := s.keyRef(ctx, keystore.PermKeysWrite, req.GetWorkspaceId(), req.GetKeyId())
	if err != nil {
		return nil, err
	}
	k, err := s.kind.deactivate(ctx, s.Server, p.Actor, req.GetWorkspaceId(), req.GetKeyId())
	if err != nil {
		return nil, err
	}
	return &ingestgatev1.DeactivateIngestKeyResponse{IngestKey: s.ingestKeyPB(k, s.now())}, nil
}

func (s *ingestKeyService) ActivateIngestKey(ctx context.Context, req *ingestgatev1.ActivateIngestKeyRequest) (*ingestgatev1.ActivateIngestKeyResponse, error) {
	p, err := s.keyRef(ctx, keystore.PermKeysWrite, req.GetWorkspaceId(), req.GetKeyId())
	if err != nil {
		return nil, err
	}
	k, err := s.kind.activate(ctx, s.Server, p.Actor, req.GetWorkspaceId(), req.GetKeyId())
	if err != nil {
		return nil, err
	}
	return &ingestgatev1.ActivateIngestKeyResponse{IngestKey: s.ingestKeyPB(k, s.now())}, nil
}

func (s *ingestKeyService) RotateIngestKey(ctx context.Context, req *ingestgatev1.RotateIngestKeyRequest) (*ingestgatev1.RotateIngestKeyResponse, error) {
	p, err := s.keyRef(ctx, keystore.PermKeysWrite, req.GetWorkspaceId(), req.GetKeyId())
	if err != nil {
		return nil, err
	}
	k, token, err := s.kind.rotate(ctx, s.Server, p.Actor, req.GetWorkspaceId(), req.GetKeyId(), req.GetGracePeriod())
	if err != nil {
		return nil, err
	}
	return &ingestgatev1.RotateIngestKeyResponse{IngestKey: s.ingestKeyPB(k, s.now()), Secret: token}, nil
}

func (s *ingestKeyService) RevokeIngestKey(ctx context.Context, req *ingestgatev1.RevokeIngestKeyRequest) (*ingestgatev1.RevokeIngestKeyResponse, error) {
	p, err := s.keyRef(ctx, keystore.PermKeysWrite, req.GetWorkspaceId(), req.GetKeyId())
	if err != nil {
		return nil, err
	}
	k, err := s.kind.revoke(ctx, s.Server, p.Actor, req.GetWorkspaceId(), req.GetKeyId(), req.GetReason())
	if err != nil {
		return nil, err
	}
	return &ingestgatev1.RevokeIngestKeyResponse{IngestKey: s.ingestKeyPB(k, s.now())}, nil
}

func (s *ingestKeyService) DeleteIngestKey(ctx context.Context, req *ingestgatev1.DeleteIngestKeyRequest) (*ingestgatev1.DeleteIngestKeyResponse, error) {
	p, err := s.keyRef(ctx, keystore.PermKeysWrite, req.GetWorkspaceId(), req.GetKeyId())
	if err != nil {
		return nil, err
	}
	err = s.commit(ctx, p.Actor, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		k, err := tx.GetIngestKey(ctx, req.GetWorkspaceId(), req.GetKeyId())
		if err != nil {
			return nil, err
		}
		if err := tx.DeleteIngestKey(ctx, k.WorkspaceID, k.ID); err != nil {
			return nil, err
		}
		e := ingestKeyEvent(k)
		e.Type = ingestgatev1.KeyEventType_KEY_EVENT_TYPE_INGEST_KEY_DELETED
		return []keystore.Event{e}, nil
	})
	if err != nil {
		return nil, s.storeError(ctx, err, "ingest key", req.GetKeyId())
	}
	return &ingestgatev1.DeleteIngestKeyResponse{}, nil
}
