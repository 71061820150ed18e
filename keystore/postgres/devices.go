package postgres

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
	d, err := scanDevice(r.q.QueryRow(ctx, deviceSelect+" WHERE workspace_id = $1 AND id = $2", workspaceID, id))
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
		f.where("workspace_id = " + f.arg(q.WorkspaceID))
	}
	for _, t := range q.Tags {
		// One containment per tag: every tag must match, and two tags
		// with one key (which no device can both carry) match nothing.
		f.where("tags @> jsonb_build_object(" + f.arg(t.Key) + "::text, " + f.arg(t.Value) + "::text)")
	}
	if q.IDPrefix != "" {
		// Not LIKE: '_' is common in device ids. The range lets the index
		// start at the prefix; starts_with does the exact check.
		p := f.arg(q.IDPrefix)
		f.where("id >= " + p + " AND starts_with(id, " + p + ")")
	}
	if q.After != "" {
		f.where("id > " + f.arg(q.After))
	}
	query, args := f.build(deviceSelect, "id, workspace_id", q.Limit)
	return queryAll(ctx, r.q, "devices", scanDevice, query, args...)
}

func (t *tx) CreateDevice(ctx context.Context, d keystore.Device) error {
	args, err := deviceArgs(&d)
	if err != nil {
		return fmt.Errorf("postgres: create device %q: %w", d.ID, err)
	}
	if _, err := t.q.Exec(ctx, deviceInsert, args...); err != nil {
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
		return fmt.Errorf("postgres: update device %q: %w", d.ID, err)
	}
	tag, err := t.q.Exec(ctx, deviceUpdate, args...)
	return affectedOne(tag, err, "update", "device", d.ID)
}

func (t *tx) DeleteDevice(ctx context.Context, workspaceID, id string) error {
	tag, err := t.q.Exec(ctx, "DELETE FROM devices WHERE workspace_id = $1 AND id = $2", workspaceID, id)
	return affectedOne(tag, err, "delete", "device", id)
}
