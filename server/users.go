package server

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
)

const userIDPrefix = "usr_"

type userService struct {
	ingestgatev1.UnimplementedUserServiceServer
	*Server
}

func userEvent(ws, userID string, typ keystore.EventType) keystore.Event {
	return keystore.Event{WorkspaceID: ws, UserID: userID, Type: typ}
}

// userRef checks the workspace, the permission in it and the user id.
func (s *userService) userRef(ctx context.Context, perm keystore.Permission, ws, id string, needID bool) (*Principal, error) {
	return s.requireIn(ctx, perm, ws, func() error {
		if !needID {
			return nil
		}
		return keystore.ValidateRecordID("user", userIDPrefix, id)
	})
}

// requireEverywhere checks that p holds users:write in every workspace the
// user belongs to: the account is shared by them all.
func requireEverywhere(ctx context.Context, tx keystore.Reader, p *Principal, userID string) error {
	ms, err := tx.ListMemberships(ctx, userID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if !p.Allows(keystore.PermUsersWrite, m.WorkspaceID) {
			return status.Errorf(codes.PermissionDenied, "Insufficient permissions: the user is also a member of another workspace; users:write in every workspace of the user is required")
		}
	}
	return nil
}

// keepAnOwner refuses a change that would leave ws without an owner.
func keepAnOwner(ctx context.Context, tx keystore.Reader, ws, leaving string) error {
	members, err := tx.ListMembers(ctx, keystore.MemberQuery{WorkspaceID: ws})
	if err != nil {
		return err
	}
	for _, m := range members {
		if m.Role == keystore.RoleOwner && m.ID != leaving {
			return nil
		}
	}
	return status.Error(codes.FailedPrecondition, "the workspace would have no owner left; make another member owner first")
}

// generatePassword is a random initial password: 26 base32 characters,
// 130 bits.
func generatePassword() string { return rand.Text() }

func (s *userService) CreateUser(ctx context.Context, req *ingestgatev1.CreateUserRequest) (*ingestgatev1.CreateUserResponse, error) {
	ws := req.GetWorkspaceId()
	p, err := s.userRef(ctx, keystore.PermUsersWrite, ws, "", false)
	if err != nil {
		return nil, err
	}
	in := req.GetUser()
	email, err := keystore.NormalizeEmail(in.GetEmail())
	if err != nil {
		return nil, checkInput(err)
	}
	if err := keystore.ValidateText("display_name", in.GetDisplayName(), keystore.MaxDisplayNameLen, false); err != nil {
		return nil, checkInput(err)
	}
	if err := keystore.ValidateRole(in.GetRole()); err != nil {
		return nil, checkInput(err)
	}
	password, generated := req.GetPassword(), false
	if password == "" {
		password, generated = generatePassword(), true
	} else if err := keystore.ValidatePassword(password); err != nil {
		return nil, checkInput(err)
	}
	// Hashing takes tens of milliseconds: not inside the transaction,
	// which may run more than once.
	hash, err := keystore.HashPassword(ctx, password)
	if err != nil {
		return nil, passwordError(err)
	}
	now := s.now()
	var out keystore.User
	created := false
	err = s.commit(ctx, p.Actor, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		if _, err := tx.GetWorkspace(ctx, ws); err != nil {
			return nil, err
		}
		u, err := tx.FindUserByEmail(ctx, email)
		switch {
		case errors.Is(err, keystore.ErrNotFound):
			created = true
			u = keystore.User{
				ID: keystore.NewID(userIDPrefix), Email: email, DisplayName: strings.TrimSpace(in.GetDisplayName()),
				PasswordHash: hash, Version: 1, CreateTime: now, UpdateTime: now,
			}
			if err := tx.CreateUser(ctx, u); err != nil {
				return nil, err
			}
		case err != nil:
			return nil, err
		default:
			created = false
			// An existing account joins only by someone who manages
			// users wherever it already belongs: otherwise an owner
			// elsewhere could pin it (and block its own owners).
			if err := requireEverywhere(ctx, tx, p, u.ID); err != nil {
				return nil, status.Error(codes.PermissionDenied, "Insufficient permissions: that email has an account in a workspace where you cannot manage users; ask an owner there or an admin to add it")
			}
			if _, err := tx.GetMembership(ctx, u.ID, ws); err == nil {
				return nil, status.Errorf(codes.AlreadyExists, "%s is already a member of workspace %q", email, ws)
			} else if !errors.Is(err, keystore.ErrNotFound) {
				return nil, err
			}
		}
		if err := tx.PutMembership(ctx, keystore.Membership{UserID: u.ID, WorkspaceID: ws, Role: in.GetRole(), CreateTime: now, UpdateTime: now}); err != nil {
			return nil, err
		}
		out = u
		events := []keystore.Event{userEvent(ws, u.ID, ingestgatev1.KeyEventType_KEY_EVENT_TYPE_USER_ROLE_CHANGED)}
		events[0].Reason = roleName(in.GetRole())
		if created {
			events = append([]keystore.Event{userEvent(ws, u.ID, ingestgatev1.KeyEventType_KEY_EVENT_TYPE_USER_CREATED)}, events...)
		}
		return events, nil
	})
	if err != nil {
		return nil, s.storeError(ctx, err, "workspace", ws)
	}
	resp := &ingestgatev1.CreateUserResponse{User: userToPB(out, in.GetRole())}
	if created && generated {
		resp.InitialPassword = password
	}
	return resp, nil
}

func (s *userService) GetUser(ctx context.Context, req *ingestgatev1.GetUserRequest) (*ingestgatev1.GetUserResponse, error) {
	ws, id := req.GetWorkspaceId(), req.GetUserId()
	if _, err := s.userRef(ctx, keystore.PermUsersRead, ws, id, true); err != nil {
		return nil, err
	}
	// Only members of ws are visible through ws.
	m, err := s.store.GetMembership(ctx, id, ws)
	if err != nil {
		return nil, s.storeError(ctx, err, "user", id)
	}
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return nil, s.storeError(ctx, err, "user", id)
	}
	return &ingestgatev1.GetUserResponse{User: userToPB(u, m.Role)}, nil
}

func (s *userService) ListUsers(ctx context.Context, req *ingestgatev1.ListUsersRequest) (*ingestgatev1.ListUsersResponse, error) {
	ws := req.GetWorkspaceId()
	if _, err := s.userRef(ctx, keystore.PermUsersRead, ws, "", false); err != nil {
		return nil, err
	}
	page, n, err := pageFrom(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	members, err := s.store.ListMembers(ctx, keystore.MemberQuery{WorkspaceID: ws, Page: page})
	if err != nil {
		return nil, s.storeError(ctx, err, "workspace", ws)
	}
	members, next := nextPage(members, n, func(m keystore.Member) string { return m.ID })
	resp := &ingestgatev1.ListUsersResponse{NextPageToken: next}
	for _, m := range members {
		resp.Users = append(resp.Users, userToPB(m.User, m.Role))
	}
	return resp, nil
}

func (s *userService) UpdateUser(ctx context.Context, req *ingestgatev1.UpdateUserRequest) (*ingestgatev1.UpdateUserResponse, error) {
	ws, in := req.GetWorkspaceId(), req.GetUser()
	p, err := s.userRef(ctx, keystore.PermUsersWrite, ws, in.GetId(), true)
	if err != nil {
		return nil, err
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, invalidArg("update_mask: name the fields to change: role, display_name, disabled")
	}
	for _, path := range paths {
		switch path {
		case "role":
			if err := keystore.ValidateRole(in.GetRole()); err != nil {
				return nil, checkInput(err)
			}
		case "display_name":
			if err := keystore.ValidateText("display_name", in.GetDisplayName(), keystore.MaxDisplayNameLen, false); err != nil {
				return nil, checkInput(err)
			}
		case "disabled":
		default:
			return nil, invalidArg("update_mask: %q cannot be updated; updatable fields: role, display_name, disabled", path)
		}
	}
	now := s.now()
	var out keystore.User
	var role keystore.Role
	err = s.commit(ctx, p.Actor, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		m, err := tx.GetMembership(ctx, in.GetId(), ws)
		if err != nil {
			return nil, err
		}
		u, err := tx.GetUser(ctx, in.GetId())
		if err != nil {
			return nil, err
		}
		var events []keystore.Event
		var changed []string
		for _, path := range paths {
			switch path {
			case "role":
				if in.GetRole() == m.Role {
					continue
				}
				if m.Role == keystore.RoleOwner {
					if err := keepAnOwner(ctx, tx, ws, u.ID); err != nil {
						return nil, err
					}
				}
				m.Role, m.UpdateTime = in.GetRole(), now
				if err := tx.PutMembership(ctx, m); err != nil {
					return nil, err
				}
				e := userEvent(ws, u.ID, ingestgatev1.KeyEventType_KEY_EVENT_TYPE_USER_ROLE_CHANGED)
				e.Reason = roleName(m.Role)
				events = append(events, e)
			case "display_name", "disabled":
				if err := requireEverywhere(ctx, tx, p, u.ID); err != nil {
					return nil, err
				}
				if path == "display_name" {
					if name := strings.TrimSpace(in.GetDisplayName()); name != u.DisplayName {
						u.DisplayName = name
						changed = append(changed, path)
					}
					continue
				}
				if in.GetDisabled() == u.Disabled {
					continue
				}
				u.Disabled = in.GetDisabled()
				typ := ingestgatev1.KeyEventType_KEY_EVENT_TYPE_USER_ENABLED
				if u.Disabled {
					// Ends every session at once: tokens carry the old
					// version, refresh tokens are revoked.
					u.Version++
					if _, err := tx.RevokeRefreshTokens(ctx, u.ID, "", now); err != nil {
						return nil, err
					}
					typ = ingestgatev1.KeyEventType_KEY_EVENT_TYPE_USER_DISABLED
				}
				events = append(events, userEvent(ws, u.ID, typ))
				changed = append(changed, path)
			}
		}
		if len(changed) > 0 {
			u.UpdateTime = now
			if err := tx.UpdateUser(ctx, u); err != nil {
				return nil, err
			}
			e := userEvent(ws, u.ID, ingestgatev1.KeyEventType_KEY_EVENT_TYPE_USER_UPDATED)
			e.ChangedFields = changed
			events = append(events, e)
		}
		out, role = u, m.Role
		return events, nil
	})
	if err != nil {
		return nil, s.storeError(ctx, err, "user", in.GetId())
	}
	return &ingestgatev1.UpdateUserResponse{User: userToPB(out, role)}, nil
}

func (s *userService) RemoveUser(ctx context.Context, req *ingestgatev1.RemoveUserRequest) (*ingestgatev1.RemoveUserResponse, error) {
	ws, id := req.GetWorkspaceId(), req.GetUserId()
	p, err := s.userRef(ctx, keystore.PermUsersWrite, ws, id, true)
	if err != nil {
		return nil, err
	}
	err = s.commit(ctx, p.Actor, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		m, err := tx.GetMembership(ctx, id, ws)
		if err != nil {
			return nil, err
		}
		if m.Role == keystore.RoleOwner {
			if err := keepAnOwner(ctx, tx, ws, id); err != nil {
				return nil, err
			}
		}
		if err := tx.DeleteMembership(ctx, id, ws); err != nil {
			return nil, err
		}
		return []keystore.Event{userEvent(ws, id, ingestgatev1.KeyEventType_KEY_EVENT_TYPE_USER_REMOVED)}, nil
	})
	if err != nil {
		return nil, s.storeError(ctx, err, "user", id)
	}
	return &ingestgatev1.RemoveUserResponse{}, nil
}

func (s *userService) DeleteUser(ctx context.Context, req *ingestgatev1.DeleteUserRequest) (*ingestgatev1.DeleteUserResponse, error) {
	ws, id := req.GetWorkspaceId(), req.GetUserId()
	p, err := s.userRef(ctx, keystore.PermUsersWrite, ws, id, true)
	if err != nil {
		return nil, err
	}
	err = s.commit(ctx, p.Actor, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		// Only a member of ws is reachable through ws.
		if _, err := tx.GetMembership(ctx, id, ws); err != nil {
			return nil, err
		}
		if err := requireEverywhere(ctx, tx, p, id); err != nil {
			return nil, err
		}
		ms, err := tx.ListMemberships(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, other := range ms {
			if other.Role == keystore.RoleOwner {
				if err := keepAnOwner(ctx, tx, other.WorkspaceID, id); err != nil {
					return nil, err
				}
			}
		}
		if err := tx.DeleteUser(ctx, id); err != nil {
			return nil, err
		}
		// One event in each workspace the user left.
		var events []keystore.Event
		for _, other := range ms {
			events = append(events, userEvent(other.WorkspaceID, id, ingestgatev1.KeyEventType_KEY_EVENT_TYPE_USER_DELETED))
		}
		return events, nil
	})
	if err != nil {
		return nil, s.storeError(ctx, err, "user", id)
	}
	return &ingestgatev1.DeleteUserResponse{}, nil
}

// roleName is a role as the audit log shows it, e.g. "owner".
func roleName(r keystore.Role) string {
	return strings.ToLower(strings.TrimPrefix(r.String(), "ROLE_"))
}
