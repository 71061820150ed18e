package server

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
)

const apiKeyIDPrefix = "ak_"

type apiKeyService struct {
	ingestgatev1.UnimplementedApiKeyServiceServer
	*Server
	kind *keyKind[keystore.APIKey]
}

func newAPIKeyService(s *Server) *apiKeyService {
	return &apiKeyService{Server: s, kind: &keyKind[keystore.APIKey]{
		what:   "api key",
		format: s.apiFmt,
		get: func(ctx context.Context, tx keystore.Tx, _, id string) (keystore.APIKey, error) {
			return tx.GetAPIKey(ctx, id)
		},
		update: func(ctx context.Context, tx keystore.Tx, k keystore.APIKey) error { return tx.UpdateAPIKey(ctx, k) },
		fields: func(k *keystore.APIKey) (*keystore.Credential, *time.Time) { return &k.Credential, &k.UpdateTime },
		event:  apiKeyEvent,

		updated:     ingestgatev1.KeyEventType_KEY_EVENT_TYPE_API_KEY_UPDATED,
		deactivated: ingestgatev1.KeyEventType_KEY_EVENT_TYPE_API_KEY_DEACTIVATED,
		activated:   ingestgatev1.KeyEventType_KEY_EVENT_TYPE_API_KEY_ACTIVATED,
		rotated:     ingestgatev1.KeyEventType_KEY_EVENT_TYPE_API_KEY_ROTATED,
		revoked:     ingestgatev1.KeyEventType_KEY_EVENT_TYPE_API_KEY_REVOKED,
	}}
}

// API key events go to the global log (empty workspace).
func apiKeyEvent(k keystore.APIKey) keystore.Event {
	return keystore.Event{APIKeyID: k.ID, DisplayPrefix: k.DisplayPrefix}
}

// admin checks the admin permission and the shape of id.
func (s *apiKeyService) admin(ctx context.Context, id string) (*Principal, error) {
	p, err := s.require(ctx, keystore.PermAdmin, "")
	if err != nil {
		return nil, err
	}
	if id != "" {
		if err := keystore.ValidateRecordID("api key", apiKeyIDPrefix, id); err != nil {
			return nil, checkInput(err)
		}
	}
	return p, nil
}

// applyAPIKeyFields copies and validates the named fields; workspace ids
// must name existing workspaces.
func applyAPIKeyFields(ctx context.Context, tx keystore.Reader, k *keystore.APIKey, in *ingestgatev1.ApiKey, paths []string, now time.Time) error {
	for _, path := range paths {
		var err error
		switch path {
		case "name":
			err = keystore.ValidateText("name", in.GetName(), keystore.MaxNameLen, true)
			k.Name = strings.TrimSpace(in.GetName())
		case "description":
			err = keystore.ValidateText("description", in.GetDescription(), keystore.MaxDescriptionLen, false)
			k.Description = in.GetDescription()
		case "permissions", "workspace_ids":
			// Validated together below: admin cannot be bound to workspaces.
			if path == "permissions" {
				k.Permissions = nil
				for _, p := range in.GetPermissions() {
					k.Permissions = append(k.Permissions, keystore.Permission(p))
				}
			} else {
				k.WorkspaceIDs = slices.Compact(slices.Sorted(slices.Values(in.GetWorkspaceIds())))
			}
		case "expire_time":
			if in.GetExpireTime() != nil {
				if err := in.GetExpireTime().CheckValid(); err != nil {
					return invalidArg("expire_time: %v", err)
				}
			}
			k.ExpireTime = fromTS(in.GetExpireTime()).UTC().Truncate(time.Microsecond)
			err = keystore.ValidateExpiry(k.ExpireTime, now)
		default:
			return invalidArg("update_mask: %q cannot be updated; updatable fields: name, description, permissions, workspace_ids, expire_time", path)
		}
		if err != nil {
			return checkInput(err)
		}
	}
	names := make([]string, len(k.Permissions))
	for i, p := range k.Permissions {
		names[i] = string(p)
	}
	perms, err := keystore.ValidatePermissions(names, k.WorkspaceIDs)
	if err != nil {
		return checkInput(err)
	}
	k.Permissions = perms
	for _, ws := range k.WorkspaceIDs {
		if _, err := tx.GetWorkspace(ctx, ws); errors.Is(err, keystore.ErrNotFound) {
			return invalidArg("workspace_ids: workspace %q does not exist", ws)
		} else if err != nil {
			return err
		}
	}
	return nil
}

func (s *apiKeyService) CreateApiKey(ctx context.Context, req *ingestgatev1.CreateApiKeyRequest) (*ingestgatev1.CreateApiKeyResponse, error) {
	p, err := s.admin(ctx, "")
	if err != nil {
		return nil, err
	}
	in := req.GetApiKey()
	if in == nil {
		return nil, invalidArg("api_key is required")
	}
	token, err := s.apiFmt.Generate()
	if err != nil {
		return nil, s.storeError(ctx, err, "api key", "")
	}
	now := s.now()
	k := keystore.APIKey{ID: keystore.NewID(apiKeyIDPrefix), CreateTime: now, UpdateTime: now}
	err = s.commit(ctx, p.Actor, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		if err := applyAPIKeyFields(ctx, tx, &k, in, []string{"name", "description", "permissions", "workspace_ids", "expire_time"}, now); err != nil {
			return nil, err
		}
		k.Credential = keystore.Credential{
			Hash:          s.hasher.Hash(token),
			DisplayPrefix: s.apiFmt.DisplayPrefix(token),
			Status:        keystore.StatusActive,
			ExpireTime:    k.ExpireTime,
		}
		if err := tx.CreateAPIKey(ctx, k); err != nil {
			return nil, err
		}
		e := apiKeyEvent(k)
		e.Type = ingestgatev1.KeyEventType_KEY_EVENT_TYPE_API_KEY_CREATED
		return []keystore.Event{e}, nil
	})
	if err != nil {
		return nil, s.storeError(ctx, err, "api key", k.ID)
	}
	return &ingestgatev1.CreateApiKeyResponse{ApiKey: apiKeyToPB(k, now), Secret: token}, nil
}

func (s *apiKeyService) GetApiKey(ctx context.Context, req *ingestgatev1.GetApiKeyRequest) (*ingestgatev1.GetApiKeyResponse, error) {
	if _, err := s.admin(ctx, req.GetApiKeyId()); err != nil {
		return nil, err
	}
	k, err := s.store.GetAPIKey(ctx, req.GetApiKeyId())
	if err != nil {
		return nil, s.storeError(ctx, err, "api key", req.GetApiKeyId())
	}
	return &ingestgatev1.GetApiKeyResponse{ApiKey: apiKeyToPB(k, s.now())}, nil
}

func (s *apiKeyService) ListApiKeys(ctx context.Context, req *ingestgatev1.ListApiKeysRequest) (*ingestgatev1.ListApiKeysResponse, error) {
	if _, err := s.admin(ctx, ""); err != nil {
		return nil, err
	}
	page, n, err := pageFrom(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	keys, err := s.store.ListAPIKeys(ctx, keystore.APIKeyQuery{Page: page, Status: req.GetStatus()})
	if err != nil {
		return nil, s.storeError(ctx, err, "api key", "")
	}
	keys, next := nextPage(keys, n, func(k keystore.APIKey) string { return k.ID })
	resp := &ingestgatev1.ListApiKeysResponse{NextPageToken: next}
	now := s.now()
	for _, k := range keys {
		resp.ApiKeys = append(resp.ApiKeys, apiKeyToPB(k, now))
	}
	return resp, nil
}

func (s *apiKeyService) UpdateApiKey(ctx context.Context, req *ingestgatev1.UpdateApiKeyRequest) (*ingestgatev1.UpdateApiKeyResponse, error) {
	in := req.GetApiKey()
	p, err := s.admin(ctx, in.GetId())
	if err != nil {
		return nil, err
	}
	paths, err := topLevelPaths(req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	k, err := s.kind.updateFields(ctx, s.Server, p.Actor, "", in.GetId(), paths,
		func(ctx context.Context, tx keystore.Tx, k *keystore.APIKey, now time.Time) error {
			return applyAPIKeyFields(ctx, tx, k, in, paths, now)
		})
	if err != nil {
		return nil, err
	}
	return &ingestgatev1.UpdateApiKeyResponse{ApiKey: apiKeyToPB(k, s.now())}, nil
}

func (s *apiKeyService) DeactivateApiKey(ctx context.Context, req *ingestgatev1.DeactivateApiKeyRequest) (*ingestgatev1.DeactivateApiKeyResponse, error) {
	p, err := s.admin(ctx, req.GetApiKeyId())
	if err != nil {
		return nil, err
	}
	k, err := s.kind.deactivate(ctx, s.Server, p.Actor, "", req.GetApiKeyId())
	if err != nil {
		return nil, err
	}
	return &ingestgatev1.DeactivateApiKeyResponse{ApiKey: apiKeyToPB(k, s.now())}, nil
}

func (s *apiKeyService) ActivateApiKey(ctx context.Context, req *ingestgatev1.ActivateApiKeyRequest) (*ingestgatev1.ActivateApiKeyResponse, error) {
	p, err := s.admin(ctx, req.GetApiKeyId())
	if err != nil {
		return nil, err
	}
	k, err := s.kind.activate(ctx, s.Server, p.Actor, "", req.GetApiKeyId())
	if err != nil {
		return nil, err
	}
	return &ingestgatev1.ActivateApiKeyResponse{ApiKey: apiKeyToPB(k, s.now())}, nil
}

func (s *apiKeyService) RotateApiKey(ctx context.Context, req *ingestgatev1.RotateApiKeyRequest) (*ingestgatev1.RotateApiKeyResponse, error) {
	p, err := s.admin(ctx, req.GetApiKeyId())
	if err != nil {
		return nil, err
	}
	k, token, err := s.kind.rotate(ctx, s.Server, p.Actor, "", req.GetApiKeyId(), req.GetGracePeriod())
	if err != nil {
		return nil, err
	}
	return &ingestgatev1.RotateApiKeyResponse{ApiKey: apiKeyToPB(k, s.now()), Secret: token}, nil
}

func (s *apiKeyService) RevokeApiKey(ctx context.Context, req *ingestgatev1.RevokeApiKeyRequest) (*ingestgatev1.RevokeApiKeyResponse, error) {
	p, err := s.admin(ctx, req.GetApiKeyId())
	if err != nil {
		return nil, err
	}
	k, err := s.kind.revoke(ctx, s.Server, p.Actor, "", req.GetApiKeyId(), req.GetReason())
	if err != nil {
		return nil, err
	}
	return &ingestgatev1.RevokeApiKeyResponse{ApiKey: apiKeyToPB(k, s.now())}, nil
}

func (s *apiKeyService) DeleteApiKey(ctx context.Context, req *ingestgatev1.DeleteApiKeyRequest) (*ingestgatev1.DeleteApiKeyResponse, error) {
	p, err := s.admin(ctx, req.GetApiKeyId())
	if err != nil {
		return nil, err
	}
	err = s.commit(ctx, p.Actor, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		k, err := tx.GetAPIKey(ctx, req.GetApiKeyId())
		if err != nil {
			return nil, err
		}
		if err := tx.DeleteAPIKey(ctx, k.ID); err != nil {
			return nil, err
		}
		e := apiKeyEvent(k)
		e.Type = ingestgatev1.KeyEventType_KEY_EVENT_TYPE_API_KEY_DELETED
		return []keystore.Event{e}, nil
	})
	if err != nil {
		return nil, s.storeError(ctx, err, "api key", req.GetApiKeyId())
	}
	return &ingestgatev1.DeleteApiKeyResponse{}, nil
}
