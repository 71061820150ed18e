package server

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/server/session"
)

// Principal is who is calling the management API: a management API key or
// a signed-in user (access token). Both resolve to permissions per
// workspace, so every RPC checks them the same way (require).
type Principal struct {
	// Actor names the caller in audit events: "api_key:ak_…" or
	// "user:usr_…".
	Actor  string
	apiKey *keystore.APIKey
	user   *keystore.User
	// roles are the user's, by workspace.
	roles map[string]keystore.Role
}

// Allows reports whether the principal may use perm in workspace ws (ws
// empty: a call not tied to one workspace, which only API keys with the
// global admin permission may make).
func (p *Principal) Allows(perm keystore.Permission, ws string) bool {
	if p.apiKey != nil {
		return p.apiKey.Allows(perm, ws)
	}
	r, ok := p.roles[ws]
	return ws != "" && ok && keystore.RoleAllows(r, perm)
}

// CanSeeWorkspace reports whether the principal may see ws at all: an API
// key bound to it or to none, a user with a role in it.
func (p *Principal) CanSeeWorkspace(ws string) bool {
	if p.apiKey != nil {
		return p.apiKey.CanSeeWorkspace(ws)
	}
	_, ok := p.roles[ws]
	return ok
}

// visibleWorkspaces lists the workspaces the principal may see, or says
// it may see all.
func (p *Principal) visibleWorkspaces() (ids []string, all bool) {
	if p.apiKey != nil {
		return p.apiKey.WorkspaceIDs, len(p.apiKey.WorkspaceIDs) == 0
	}
	return slices.Sorted(maps.Keys(p.roles)), false
}

type principalKey struct{}

func principalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// credentialFromMetadata reads `authorization: Bearer <token>` or
// `x-api-key: <token>`. The gateway forwards the HTTP headers of the same
// names.
func credentialFromMetadata(md metadata.MD) string {
	for _, v := range md.Get("authorization") {
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			return strings.TrimSpace(v[7:])
		}
	}
	if v := md.Get("x-api-key"); len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

// authenticate resolves the caller's credential (a management API key, or
// a user's access token) to a Principal, or fails with UNAUTHENTICATED. The
// token itself is never logged or echoed.
func (s *Server) authenticate(ctx context.Context) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	token := credentialFromMetadata(md)
	if token == "" {
		return nil, status.Error(codes.Unauthenticated, "Invalid credentials: missing; send an access token or a management API key as 'Authorization: Bearer <token>'")
	}
	ip := s.clientIP(ctx)
	if err := s.guard.check(ip); err != nil {
		return nil, err
	}
	var p *Principal
	var err error
	if session.LooksLikeJWT(token) {
		p, err = s.authenticateUser(ctx, token, ip)
	} else {
		p, err = s.authenticateAPIKey(ctx, token, ip)
	}
	if err != nil {
		return nil, err
	}
	return context.WithValue(ctx, principalKey{}, p), nil
}

func (s *Server) authenticateAPIKey(ctx context.Context, token, ip string) (*Principal, error) {
	k, err := s.verifier.VerifyAPIKey(ctx, token)
	if err != nil {
		var ce *keystore.CredentialError
		if !errors.As(err, &ce) {
			s.log.ErrorContext(ctx, "verify api key", slog.Any("error", err))
			return nil, status.Error(codes.Unavailable, "cannot verify credentials right now")
		}
		s.log.InfoContext(ctx, "management auth failed", slog.String("reason", ce.Reason.String()), slog.String("key_prefix", ce.DisplayPrefix), slog.String("client_ip", ip))
		s.metrics.authFailed(ctx, "api_key", ce.Reason.String())
		if err := s.guard.failed(ctx, ip); err != nil {
			return nil, err
		}
		msg := "Invalid credentials"
		switch ce.Reason {
		case keystore.ReasonExpired:
			msg = "Invalid credentials: api key expired"
		case keystore.ReasonRevoked:
			msg = "Invalid credentials: api key revoked"
		case keystore.ReasonInactive:
			msg = "Invalid credentials: api key inactive"
		}
		return nil, status.Error(codes.Unauthenticated, msg)
	}
	return &Principal{Actor: "api_key:" + k.ID, apiKey: &k}, nil
}

// reauthorize judges the caller's credential again, as the interceptor did
// when the call began, and checks perm: long-lived streams call it before
// sending more, so a revoked or narrowed credential stops receiving.
func (s *Server) reauthorize(ctx context.Context, perm keystore.Permission, ws string) error {
	actx, err := s.authenticate(ctx)
	if err != nil {
		return err
	}
	_, err = s.require(actx, perm, ws)
	return err
}

// requireIn is require for a request about workspace ws, checked first for
// shape, and optionally a record id in it (checkID; nil for none): the
// order every workspace-scoped RPC follows, so a caller without the
// permission learns nothing about the ids it sent.
func (s *Server) requireIn(ctx context.Context, perm keystore.Permission, ws string, checkID func() error) (*Principal, error) {
	if err := keystore.ValidateWorkspaceID(ws); err != nil {
		return nil, checkInput(err)
	}
	p, err := s.require(ctx, perm, ws)
	if err != nil {
		return nil, err
	}
	if checkID != nil {
		if err := checkID(); err != nil {
			return nil, checkInput(err)
		}
	}
	return p, nil
}

// require checks that the caller holds perm for workspace ws. It is the one
// place management RPCs check permissions.
func (s *Server) require(ctx context.Context, perm keystore.Permission, ws string) (*Principal, error) {
	p := principalFrom(ctx)
	if p == nil {
		return nil, status.Error(codes.Unauthenticated, "Invalid credentials")
	}
	if !p.Allows(perm, ws) {
		if ws == "" {
			return nil, status.Errorf(codes.PermissionDenied, "Insufficient permissions: %s is required", perm)
		}
		return nil, status.Errorf(codes.PermissionDenied, "Insufficient permissions: %s on workspace %q is required", perm, ws)
	}
	return p, nil
}
