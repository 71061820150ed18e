package server

import (
	"context"
	"strings"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
)

type workspaceService struct {
	ingestgatev1.UnimplementedWorkspaceServiceServer
	*Server
}

func workspaceEvent(id string, typ keystore.EventType) keystore.Event {
	return keystore.Event{WorkspaceID: id, Type: typ}
}

func validateDisplayName(in *ingestgatev1.Workspace) (string, error) {
	if err := keystore.ValidateText("display_name", in.GetDisplayName(), keystore.MaxNameLen, false); err != nil {
		return "", checkInput(err)
	}
	return strings.TrimSpace(in.GetDisplayName()), nil
}

func (s *workspaceService) CreateWorkspace(ctx context.Context, req *ingestgatev1.CreateWorkspaceRequest) (*ingestgatev1.CreateWorkspaceResponse, error) {
	p, err := s.require(ctx, keystore.PermAdmin, "")
	if err != nil {
		return nil, err
	}
	in := req.GetWorkspace()
	if err := keystore.ValidateWorkspaceID(in.GetId()); err != nil {
		return nil, checkInput(err)
	}
	name, err := validateDisplayName(in)
	if err != nil {
		return nil, err
	}
	now := s.now()
	w := keystore.Workspace{ID: in.GetId(), DisplayName: name, CreateTime: now, UpdateTime: now}
	err = s.commit(ctx, p.Actor, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		if err := tx.CreateWorkspace(ctx, w); err != nil {
			return nil, err
		}
		return []keystore.Event{workspaceEvent(w.ID, ingestgatev1.KeyEventType_KEY_EVENT_TYPE_WORKSPACE_CREATED)}, nil
	})
	if err != nil {
		return nil, s.storeError(ctx, err, "workspace", w.ID)
	}
	return &ingestgatev1.CreateWorkspaceResponse{Workspace: workspaceToPB(w)}, nil
}

func (s *workspaceService) GetWorkspace(ctx context.Context, req *ingestgatev1.GetWorkspaceRequest) (*ingestgatev1.GetWorkspaceResponse, error) {
	id := req.GetWorkspaceId()
	if err := keystore.ValidateWorkspaceID(id); err != nil {
		return nil, checkInput(err)
	}
	// Any permission in the workspace lets the caller see the workspace.
	if p := principalFrom(ctx); p == nil || !p.CanSeeWorkspace(id) {
		_, err := s.require(ctx, keystore.PermAdmin, id)
		return nil, err
	}
	w, err := s.store.GetWorkspace(ctx, id)
	if err != nil {
		return nil, s.storeError(ctx, err, "workspace", id)
	}
	return &ingestgatev1.GetWorkspaceResponse{Workspace: workspaceToPB(w)}, nil
}

func (s *workspaceService) ListWorkspaces(ctx context.Context, req *ingestgatev1.ListWorkspacesRequest) (*ingestgatev1.ListWorkspacesResponse, error) {
	p := principalFrom(ctx)
	page, n, err := pageFrom(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	// A key bound to workspaces, or a user, lists only those it may see.
	ids, all := p.visibleWorkspaces()
	var ws []keystore.Workspace
	if all || len(ids) > 0 {
		ws, err = s.store.ListWorkspaces(ctx, keystore.WorkspaceQuery{Page: page, IDs: ids})
		if err != nil {
			return nil, s.storeError(ctx, err, "workspace", "")
		}
	}
	ws, next := nextPage(ws, n, func(w keystore.Workspace) string { return w.ID })
	resp := &ingestgatev1.ListWorkspacesResponse{NextPageToken: next}
	for _, w := range ws {
		resp.Workspaces = append(resp.Workspaces, workspaceToPB(w))
	}
	return resp, nil
}

func (s *workspaceService) UpdateWorkspace(ctx context.Context, req *ingestgatev1.UpdateWorkspaceRequest) (*ingestgatev1.UpdateWorkspaceResponse, error) {
	in := req.GetWorkspace()
	if err := keystore.ValidateWorkspaceID(in.GetId()); err != nil {
		return nil, checkInput(err)
	}
	p, err := s.require(ctx, keystore.PermAdmin, in.GetId())
	if err != nil {
		return nil, err
	}
	paths, err := topLevelPaths(req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	for _, path := range paths {
		if path != "display_name" {
			return nil, invalidArg("update_mask: %q cannot be updated; updatable fields: display_name", path)
		}
	}
	name, err := validateDisplayName(in)
	if err != nil {
		return nil, err
	}
	var out keystore.Workspace
	err = s.commit(ctx, p.Actor, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		w, err := tx.GetWorkspace(ctx, in.GetId())
		if err != nil {
			return nil, err
		}
		w.DisplayName, w.UpdateTime = name, s.now()
		if err := tx.UpdateWorkspace(ctx, w); err != nil {
			return nil, err
		}
		out = w
		e := workspaceEvent(w.ID, ingestgatev1.KeyEventType_KEY_EVENT_TYPE_WORKSPACE_UPDATED)
		e.ChangedFields = paths
		return []keystore.Event{e}, nil
	})
	if err != nil {
		return nil, s.storeError(ctx, err, "workspace", in.GetId())
	}
	return &ingestgatev1.UpdateWorkspaceResponse{Workspace: workspaceToPB(out)}, nil
}

func (s *workspaceService) DeleteWorkspace(ctx context.Context, req *ingestgatev1.DeleteWorkspaceRequest) (*ingestgatev1.DeleteWorkspaceResponse, error) {
	id := req.GetWorkspaceId()
	if err := keystore.ValidateWorkspaceID(id); err != nil {
		return nil, checkInput(err)
	}
	p, err := s.require(ctx, keystore.PermAdmin, id)
	if err != nil {
		return nil, err
	}
	// Its event makes every node forget the workspace's cached keys and
	// close its streams (applyEvent).
	err = s.commit(ctx, p.Actor, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		if err := tx.DeleteWorkspace(ctx, id, req.GetForce()); err != nil {
			return nil, err
		}
		e := workspaceEvent(id, ingestgatev1.KeyEventType_KEY_EVENT_TYPE_WORKSPACE_DELETED)
		if req.GetForce() {
			e.Reason = "deleted with its keys and devices"
		}
		return []keystore.Event{e}, nil
	})
	if err != nil {
		return nil, s.storeError(ctx, err, "workspace", id)
	}
	return &ingestgatev1.DeleteWorkspaceResponse{}, nil
}
