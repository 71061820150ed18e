package sqlstore

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

func deviceArgs(d Dialect, dev *keystore.Device) ([]any, error) {
	tags, err := mapArg(dev.Tags)
	if err != nil {
		return nil, err
	}
	return []any{dev.WorkspaceID, dev.ID, dev.DisplayName, tags, d.TimeArg(dev.CreateTime), d.TimeArg(dev.UpdateTime)}, nil
}

func scanDevice(d Dialect, sc Row) (keystore.Device, error) {
	var dev keystore.Device
	err := sc.Scan(&dev.WorkspaceID, &dev.ID, &dev.DisplayName, mapCol{&dev.Tags},
		d.TimeDest(&dev.CreateTime), d.TimeDest(&dev.UpdateTime), d.TimeDest(&dev.LastSeenTime))
	return dev, err
}

func (r Reader) GetDevice(ctx context.Context, workspaceID, id string) (keystore.Device, error) {
	dev, err := scanDevice(r.sql.d, r.db.QueryRow(ctx, r.sql.devices.get, workspaceID, id))
	if err != nil {
		return keystore.Device{}, r.sql.rowError("device", id, err)
	}
	return dev, nil
}

// ListDevices orders by id, then workspace id so that listing across
// workspaces is deterministic. Page.After holds an id only, so across
// workspaces a page boundary between two devices with the same id skips
// the second; list within one workspace to page exactly.
func (r Reader) ListDevices(ctx context.Context, q keystore.DeviceQuery) ([]keystore.Device, error) {
	f := r.filter()
	if q.WorkspaceID != "" {
		f.where("workspace_id = " + f.arg(q.WorkspaceID))
	}
	for _, t := range q.Tags {
		// One condition per tag: every tag must match, and two tags with
		// one key (which no device can both carry) match nothing.
		f.where(r.sql.d.HasPair("tags", f.arg(t.Key), f.arg(t.Value)))
	}
	if q.IDPrefix != "" {
		// Not LIKE: '_' is common in device ids. The range lets the index
		// start at the prefix; HasPrefix does the exact check.
		p := f.arg(q.IDPrefix)
		f.where("id >= " + p + " AND " + r.sql.d.HasPrefix("id", p))
	}
	if q.After != "" {
		f.where("id > " + f.arg(q.After))
	}
	query, args := f.build(r.sql.devices.sel, "id, workspace_id", q.Limit)
	return queryAll(ctx, r, "devices", scanDevice, query, args...)
}

func (t *Tx) CreateDevice(ctx context.Context, dev keystore.Device) error {
	args, err := deviceArgs(t.sql.d, &dev)
	if err != nil {
		return fmt.Errorf("%s: create device %q: %w", t.sql.name, dev.ID, err)
	}
	if _, err := t.db.Exec(ctx, t.sql.devices.insert, args...); err != nil {
		return t.sql.insertError("device", dev.ID, dev.WorkspaceID, err)
	}
	return nil
}

func (t *Tx) UpdateDevice(ctx context.Context, dev keystore.Device) error {
	args, err := deviceArgs(t.sql.d, &dev)
	if err != nil {
		return fmt.Errorf("%s: update device %q: %w", t.sql.name, dev.ID, err)
	}
	n, err := t.db.Exec(ctx, t.sql.devices.update, args...)
	return t.sql.affectedOne(n, err, "update", "device", dev.ID)
}

func (t *Tx) DeleteDevice(ctx context.Context, workspaceID, id string) error {
	n, err := t.db.Exec(ctx, t.sql.devices.delete, workspaceID, id)
	return t.sql.affectedOne(n, err, "delete", "device", id)
}
