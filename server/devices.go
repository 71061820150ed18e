package server

import (
	"context"
	"errors"
	"maps"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
)

type deviceService struct {
	ingestgatev1.UnimplementedDeviceServiceServer
	*Server
}

func deviceEvent(d keystore.Device, typ keystore.EventType) keystore.Event {
	return keystore.Event{WorkspaceID: d.WorkspaceID, DeviceID: d.ID, Type: typ}
}

func (s *deviceService) deviceRef(ctx context.Context, perm keystore.Permission, ws, id string, needID bool) (*Principal, error) {
	return s.requireIn(ctx, perm, ws, func() error {
		if !needID {
			return nil
		}
		return keystore.ValidateDeviceID(id)
	})
}

func applyDeviceFields(d *keystore.Device, in *ingestgatev1.Device, paths []string) error {
	for _, path := range paths {
		var err error
		switch path {
		case "display_name":
			err = keystore.ValidateText("display_name", in.GetDisplayName(), keystore.MaxNameLen, false)
			d.DisplayName = strings.TrimSpace(in.GetDisplayName())
		case "tags":
			err = keystore.ValidateLabels("tag", in.GetTags())
			d.Tags = maps.Clone(in.GetTags())
		default:
			return invalidArg("update_mask: %q cannot be updated; updatable fields: display_name, tags", path)
		}
		if err != nil {
			return checkInput(err)
		}
	}
	return nil
}

func (s *deviceService) CreateDevice(ctx context.Context, req *ingestgatev1.CreateDeviceRequest) (*ingestgatev1.CreateDeviceResponse, error) {
	in := req.GetDevice()
	p, err := s.deviceRef(ctx, keystore.PermDevicesWrite, req.GetWorkspaceId(), in.GetId(), true)
	if err != nil {
		return nil, err
	}
	now := s.now()
	d := keystore.Device{WorkspaceID: req.GetWorkspaceId(), ID: in.GetId(), CreateTime: now, UpdateTime: now}
	if err := applyDeviceFields(&d, in, []string{"display_name", "tags"}); err != nil {
		return nil, err
	}
	err = s.commit(ctx, p.Actor, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		if _, err := tx.GetWorkspace(ctx, d.WorkspaceID); errors.Is(err, keystore.ErrNotFound) {
			return nil, status.Errorf(codes.NotFound, "workspace %q not found", d.WorkspaceID)
		} else if err != nil {
			return nil, err
		}
		if err := tx.CreateDevice(ctx, d); err != nil {
			return nil, err
		}
		return []keystore.Event{deviceEvent(d, ingestgatev1.KeyEventType_KEY_EVENT_TYPE_DEVICE_CREATED)}, nil
	})
	if err != nil {
		return nil, s.storeError(ctx, err, "device", d.ID)
	}
	return &ingestgatev1.CreateDeviceResponse{Device: s.devicePB(d)}, nil
}

func (s *deviceService) GetDevice(ctx context.Context, req *ingestgatev1.GetDeviceRequest) (*ingestgatev1.GetDeviceResponse, error) {
	if _, err := s.deviceRef(ctx, keystore.PermDevicesRead, req.GetWorkspaceId(), req.GetDeviceId(), true); err != nil {
		return nil, err
	}
	d, err := s.store.GetDevice(ctx, req.GetWorkspaceId(), req.GetDeviceId())
	if err != nil {
		return nil, s.storeError(ctx, err, "device", req.GetDeviceId())
	}
	return &ingestgatev1.GetDeviceResponse{Device: s.devicePB(d)}, nil
}

func (s *deviceService) ListDevices(ctx context.Context, req *ingestgatev1.ListDevicesRequest) (*ingestgatev1.ListDevicesResponse, error) {
	if _, err := s.deviceRef(ctx, keystore.PermDevicesRead, req.GetWorkspaceId(), "", false); err != nil {
		return nil, err
	}
	page, n, err := pageFrom(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	tags, err := keystore.ParseTags(req.GetTags())
	if err != nil {
		return nil, checkInput(err)
	}
	if len(tags) > keystore.MaxLabels {
		return nil, invalidArg("tags: at most %d filters", keystore.MaxLabels)
	}
	if len(req.GetIdPrefix()) > keystore.MaxDeviceIDLen {
		return nil, invalidArg("id_prefix: at most %d characters", keystore.MaxDeviceIDLen)
	}
	devices, err := s.store.ListDevices(ctx, keystore.DeviceQuery{Page: page, WorkspaceID: req.GetWorkspaceId(), Tags: tags, IDPrefix: req.GetIdPrefix()})
	if err != nil {
		return nil, s.storeError(ctx, err, "workspace", req.GetWorkspaceId())
	}
	devices, next := nextPage(devices, n, func(d keystore.Device) string { return d.ID })
	resp := &ingestgatev1.ListDevicesResponse{NextPageToken: next}
	for _, d := range devices {
		resp.Devices = append(resp.Devices, s.devicePB(d))
	}
	return resp, nil
}

func (s *deviceService) UpdateDevice(ctx context.Context, req *ingestgatev1.UpdateDeviceRequest) (*ingestgatev1.UpdateDeviceResponse, error) {
	in := req.GetDevice()
	p, err := s.deviceRef(ctx, keystore.PermDevicesWrite, in.GetWorkspaceId(), in.GetId(), true)
	if err != nil {
		return nil, err
	}
	paths, err := topLevelPaths(req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	var out keystore.Device
	err = s.commit(ctx, p.Actor, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		d, err := tx.GetDevice(ctx, in.GetWorkspaceId(), in.GetId())
		if err != nil {
			return nil, err
		}
		if err := applyDeviceFields(&d, in, paths); err != nil {
			return nil, err
		}
		d.UpdateTime = s.now()
		if err := tx.UpdateDevice(ctx, d); err != nil {
			return nil, err
		}
		out = d
		e := deviceEvent(d, ingestgatev1.KeyEventType_KEY_EVENT_TYPE_DEVICE_UPDATED)
		e.ChangedFields = paths
		return []keystore.Event{e}, nil
	})
	if err != nil {
		return nil, s.storeError(ctx, err, "device", in.GetId())
	}
	return &ingestgatev1.UpdateDeviceResponse{Device: s.devicePB(out)}, nil
}

func (s *deviceService) DeleteDevice(ctx context.Context, req *ingestgatev1.DeleteDeviceRequest) (*ingestgatev1.DeleteDeviceResponse, error) {
	p, err := s.deviceRef(ctx, keystore.PermDevicesWrite, req.GetWorkspaceId(), req.GetDeviceId(), true)
	if err != nil {
		return nil, err
	}
	err = s.commit(ctx, p.Actor, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		d, err := tx.GetDevice(ctx, req.GetWorkspaceId(), req.GetDeviceId())
		if err != nil {
			return nil, err
		}
		if err := tx.DeleteDevice(ctx, d.WorkspaceID, d.ID); err != nil {
			return nil, err
		}
		return []keystore.Event{deviceEvent(d, ingestgatev1.KeyEventType_KEY_EVENT_TYPE_DEVICE_DELETED)}, nil
	})
	if err != nil {
		return nil, s.storeError(ctx, err, "device", req.GetDeviceId())
	}
	return &ingestgatev1.DeleteDeviceResponse{}, nil
}

// DisconnectDevice closes the device's live streams without touching its
// key (the device may reconnect). It is audited, and the event reaches every
// node, which closes the device's streams there too.
func (s *deviceService) DisconnectDevice(ctx context.Context, req *ingestgatev1.DisconnectDeviceRequest) (*ingestgatev1.DisconnectDeviceResponse, error) {
	p, err := s.deviceRef(ctx, keystore.PermDevicesWrite, req.GetWorkspaceId(), req.GetDeviceId(), true)
	if err != nil {
		return nil, err
	}
	// Counted before the commit: applying the event closes them.
	live := s.streams.ByDevice(req.GetWorkspaceId(), req.GetDeviceId())
	err = s.commit(ctx, p.Actor, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		d, err := tx.GetDevice(ctx, req.GetWorkspaceId(), req.GetDeviceId())
		if err != nil {
			return nil, err
		}
		return []keystore.Event{deviceEvent(d, ingestgatev1.KeyEventType_KEY_EVENT_TYPE_DEVICE_DISCONNECTED)}, nil
	})
	if err != nil {
		return nil, s.storeError(ctx, err, "device", req.GetDeviceId())
	}
	closed := 0
	for _, st := range live {
		if c := st.Closure(); c != nil && c.Reason == goodbyeDisconnected {
			closed++
		}
	}
	return &ingestgatev1.DisconnectDeviceResponse{ClosedStreams: int32(closed)}, nil
}
