package server

import (
	"context"
	"errors"
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

// bootstrapOwner makes Config.BootstrapEmail the first owner of the default
// workspace while that workspace has no members and the email no account,
// so an operator can sign in to a fresh install. The password is
// Config.BootstrapPassword, or generated and printed once (never logged).
// Running it again, on any node, changes nothing.
func (s *Server) bootstrapOwner(ctx context.Context) error {
	if s.cfg.BootstrapEmail == "" {
		return nil
	}
	email, err := keystore.NormalizeEmail(s.cfg.BootstrapEmail)
	if err != nil {
		return fmt.Errorf("INGESTGATE_BOOTSTRAP_EMAIL: %w", err)
	}
	password, generated := s.cfg.BootstrapPassword, false
	if password == "" {
		password, generated = generatePassword(), true
	} else if err := keystore.ValidatePassword(password); err != nil {
		return fmt.Errorf("INGESTGATE_BOOTSTRAP_PASSWORD: %w", err)
	}
	// Skip the hashing when there is nothing to do (every restart).
	if _, err := s.store.FindUserByEmail(ctx, email); err == nil {
		return nil
	}
	hash, err := keystore.HashPassword(ctx, password)
	if err != nil {
		return err
	}
	var created *keystore.User
	err = s.commit(ctx, "system", func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		created = nil
		if _, err := tx.GetWorkspace(ctx, DefaultWorkspace); errors.Is(err, keystore.ErrNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		members, err := tx.ListMembers(ctx, keystore.MemberQuery{WorkspaceID: DefaultWorkspace, Page: keystore.Page{Limit: 1}})
		if err != nil || len(members) > 0 {
			return nil, err
		}
		if _, err := tx.FindUserByEmail(ctx, email); err == nil || !errors.Is(err, keystore.ErrNotFound) {
			return nil, err
		}
		now := s.now()
		u := keystore.User{ID: keystore.NewID(userIDPrefix), Email: email, DisplayName: "Owner", PasswordHash: hash, Version: 1, CreateTime: now, UpdateTime: now}
		if err := tx.CreateUser(ctx, u); err != nil {
			return nil, err
		}
		if err := tx.PutMembership(ctx, keystore.Membership{UserID: u.ID, WorkspaceID: DefaultWorkspace, Role: keystore.RoleOwner, CreateTime: now, UpdateTime: now}); err != nil {
			return nil, err
		}
		created = &u
		role := userEvent(DefaultWorkspace, u.ID, ingestgatev1.KeyEventType_KEY_EVENT_TYPE_USER_ROLE_CHANGED)
		role.Reason = "owner"
		return []keystore.Event{userEvent(DefaultWorkspace, u.ID, ingestgatev1.KeyEventType_KEY_EVENT_TYPE_USER_CREATED), role}, nil
	})
	if err != nil || created == nil {
		return err
	}
	s.log.Info("bootstrapped the first owner", slog.String("workspace", DefaultWorkspace), slog.String("user_id", created.ID))
	if generated {
		fmt.Fprintf(s.cfg.BootstrapOut, "\n"+
			"  ingestgate created %s as owner of workspace %q.\n"+
			"  The password is shown this once; sign in and change it:\n\n"+
			"    %s\n\n", email, DefaultWorkspace, password)
	}
	return nil
}
