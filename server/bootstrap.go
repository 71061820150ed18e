package server

import (
	"context"
	"fmt"
	"log/slog"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
)

// DefaultWorkspace is created on an empty store.
const DefaultWorkspace = "default"

// bootstrap gives an empty store a `default` workspace and an admin API key,
// so a new install is usable without a default password. The key comes from
// Config.BootstrapAPIKey or is generated and printed once; only its hash is
// stored. A store that has any workspace or API key is left alone, so the
// bootstrap runs once even when several nodes start together.
func (s *Server) bootstrap(ctx context.Context) error {
	token, generated := s.cfg.BootstrapAPIKey, false
	if token == "" {
		var err error
		if token, err = s.apiFmt.Generate(); err != nil {
			return err
		}
		generated = true
	} else if s.apiFmt.Parse(token) != nil {
		return fmt.Errorf("INGESTGATE_BOOTSTRAP_API_KEY is not a management key of this server's format (prefix %q, checksum); make one with `ingestgate gen-api-key`", s.apiFmt.Prefix())
	}
	var created *keystore.APIKey
	err := s.commit(ctx, "system", func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		created = nil
		keys, err := tx.ListAPIKeys(ctx, keystore.APIKeyQuery{Page: keystore.Page{Limit: 1}})
		if err != nil {
			return nil, err
		}
		ws, err := tx.ListWorkspaces(ctx, keystore.WorkspaceQuery{Page: keystore.Page{Limit: 1}})
		if err != nil || len(keys) > 0 || len(ws) > 0 {
			return nil, err
		}
		now := s.now()
		if err := tx.CreateWorkspace(ctx, keystore.Workspace{ID: DefaultWorkspace, DisplayName: "Default", CreateTime: now, UpdateTime: now}); err != nil {
			return nil, err
		}
		k := keystore.APIKey{
			ID:          keystore.NewID(apiKeyIDPrefix),
			Name:        "bootstrap admin",
			Description: "Created on first start. Create your own admin key, then revoke this one.",
			Permissions: []keystore.Permission{keystore.PermAdmin},
			Credential: keystore.Credential{
				Hash:          s.hasher.Hash(token),
				DisplayPrefix: s.apiFmt.DisplayPrefix(token),
				Status:        keystore.StatusActive,
			},
			CreateTime: now,
			UpdateTime: now,
		}
		if err := tx.CreateAPIKey(ctx, k); err != nil {
			return nil, err
		}
		created = &k
		return []keystore.Event{
			workspaceEvent(DefaultWorkspace, ingestgatev1.KeyEventType_KEY_EVENT_TYPE_WORKSPACE_CREATED),
			{APIKeyID: k.ID, DisplayPrefix: k.DisplayPrefix, Type: ingestgatev1.KeyEventType_KEY_EVENT_TYPE_API_KEY_CREATED, Reason: "bootstrap"},
		}, nil
	})
	if err != nil || created == nil {
		return err
	}
	s.log.Info("bootstrapped empty store", slog.String("workspace", DefaultWorkspace), slog.String("api_key_id", created.ID), slog.String("key_prefix", created.DisplayPrefix))
	if generated {
		// Printed to the operator's terminal, never through the logger: logs
		// are shipped and kept, and must not hold a secret.
		fmt.Fprintf(s.cfg.BootstrapOut, "\n"+
			"  ingestgate created workspace %q and an admin API key.\n"+
			"  It is shown this once; store it now:\n\n"+
			"    INGESTGATE_API_KEY=%s\n\n", DefaultWorkspace, token)
	}
	return nil
}
