package keystore

import "slices"

// Permission is what a management credential may do.
type Permission string

const (
	PermKeysRead      Permission = "keys:read"
	PermKeysWrite     Permission = "keys:write"
	PermDevicesRead   Permission = "devices:read"
	PermDevicesWrite  Permission = "devices:write"
	PermEventsRead    Permission = "events:read"
	PermTelemetryRead Permission = "telemetry:read"
	PermUsersRead     Permission = "users:read"
	PermUsersWrite    Permission = "users:write"
	// PermAdmin implies every other permission, in every workspace.
	PermAdmin Permission = "admin"
)

// AllPermissions lists every permission, in the order they are documented.
var AllPermissions = []Permission{
	PermKeysRead, PermKeysWrite, PermDevicesRead, PermDevicesWrite,
	PermEventsRead, PermTelemetryRead, PermUsersRead, PermUsersWrite, PermAdmin,
}

// ParsePermission validates a permission name.
func ParsePermission(s string) (Permission, error) {
	p := Permission(s)
	if !slices.Contains(AllPermissions, p) {
		return "", invalid("unknown permission %q; known: keys:read, keys:write, devices:read, devices:write, events:read, telemetry:read, users:read, users:write, admin", s)
	}
	return p, nil
}

// Allows reports whether an API key holding perms may use p in workspace ws.
// ws empty means a call not tied to one workspace.
func (k *APIKey) Allows(p Permission, ws string) bool {
	if slices.Contains(k.Permissions, PermAdmin) {
		return true
	}
	if p == PermAdmin || !slices.Contains(k.Permissions, p) {
		return false
	}
	return ws == "" || k.CanSeeWorkspace(ws)
}

// CanSeeWorkspace reports whether the key is bound to no workspaces or to ws.
func (k *APIKey) CanSeeWorkspace(ws string) bool {
	return len(k.WorkspaceIDs) == 0 || slices.Contains(k.WorkspaceIDs, ws)
}
