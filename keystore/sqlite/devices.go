package sqlite

import (
	"context"
	"fmt"

	"github.com/ingestgate/ingestgate/keystore"
)

var devices = table{
	name: "devices", keys: 2,
	cols:  []string{"workspace_id", "id", "display_name", "tags", "create_time", "update_time"},
	usage: []string{"last_seen_time"},
}

var (
	deviceSelect = devices.selectSQL()
	deviceInsert = devices.insertSQL()
	deviceUpdate = devices.updateSQL()
)

func deviceArgs(d *keystore.Device) ([]any, error) {
	tags, err := mapArg(d.Tags)
	if err != nil {
		return nil, err
	}
	return []any{d.WorkspaceID, d.ID, d.DisplayName, tags, timeArg(d.CreateTime), timeArg(d.UpdateTime)}, nil
}

func scanDevice(sc scanner) (keystore.Device, error) {
	var d keystore.Device
	err := sc.Scan(&d.WorkspaceID, &d.ID, &d.DisplayName, mapCol{&d.Tags},
		timeCol{&d.CreateTime}, timeCol{&d.UpdateTime}, timeCol{&d.LastSeenTime})
	return d, err
}

func (r reader) GetDevice(ctx context.Context, workspaceID, id string) (keystore.Device, error) {
	d, err := scanDevice(r.q.QueryRowContext(ctx, deviceSelect+" WHERE workspace_id = ? AND id = ?", workspaceID, id))
	if err != nil {
		return keystore.Device{}, rowError("device", id, err)
	}
	return d, nil
}

// ListDevices orders by id, then workspace id so that listing across
// workspaces is deterministic. Page.After holds an id only, so across
// workspaces a page boundary between two devices with the same id skips
// the second; list within one workspace to page exactly.
func (r reader) ListDevices(ctx context.Context, q keystore.DeviceQuery) ([]keystore.Device, error) {
	var f filter
	if q.WorkspaceID != "" {
		f.add("workspace_id = ?", q.WorkspaceID)
	}
	for _, t := range q.Tags {
		f.add("EXISTS (SELECT 1 FROM json_each(tags) WHERE key = ? AND value = ?)", t.Key, t.Value)
	}
	if q.IDPrefix != "" {
		// Not LIKE: '_' is common in device ids. The range lets the index
		// start at the prefix; substr does the exact check.
		f.add("id >= ? AND substr(id, 1, length(?)) = ?", q.IDPrefix, q.IDPrefix, q.IDPrefix)
	}
	if q.After != "" {
		f.add("id > ?", q.After)
	}
	query, args := f.build(deviceSelect, "id, workspace_id", q.Limit)
	return queryAll(ctx, r.q, "devices", scanDevice, query, args...)
}

func (t *tx) CreateDevice(ctx context.Context, d keystore.Device) error {
	args, err := deviceArgs(&d)
	if err != nil {
		return fmt.Errorf("sqlite: create device %q: %w", d.ID, err)
	}
	if _, err := t.q.ExecContext(ctx, deviceInsert, args...); err != nil {
		if isForeignKey(err) {
			return notFound("workspace", d.WorkspaceID)
		}
		return dbError(fmt.Sprintf("create device %q", d.ID), err)
	}
	return nil
}

func (t *tx) UpdateDevice(ctx context.Context, d keystore.Device) error {
	args, err := deviceArgs(&d)
	if err != nil {
		return fmt.Errorf("sqlite: update device %q: %w", d.ID, err)
	}
	res, err := t.q.ExecContext(ctx, deviceUpdate, devices.updateArgs(args)...)
	return affectedOne(res, err, "update", "device", d.ID)
}

func (t *tx) DeleteDevice(ctx context.Context, workspaceID, id string) error {
	res, err := t.q.ExecContext(ctx, "DELETE FROM devices WHERE workspace_id = ? AND id = ?", workspaceID, id)
	return affectedOne(res, err, "delete", "device", id)
}
