package keystore

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// Role is a user's role in one workspace; it reuses the wire enum.
type Role = ingestgatev1.Role

const (
	RoleOwner  = ingestgatev1.Role_ROLE_OWNER
	RoleAdmin  = ingestgatev1.Role_ROLE_ADMIN
	RoleViewer = ingestgatev1.Role_ROLE_VIEWER
)

// User is a person who signs in. Users are global; Membership gives them a
// role per workspace.
type User struct {
	ID string
	// Email is normalized (NormalizeEmail) and unique.
	Email       string
	DisplayName string
	// PasswordHash is a PHC string (argon2id); it never leaves the server.
	PasswordHash string
	Disabled     bool
	// Version increases with every change that must end the user's
	// sessions (disabling, a new password): access tokens carry the
	// version they were issued at, and an older one is refused.
	Version       int64
	CreateTime    time.Time
	UpdateTime    time.Time
	LastLoginTime time.Time
}

// Membership is a user's role in one workspace.
type Membership struct {
	UserID      string
	WorkspaceID string
	Role        Role
	CreateTime  time.Time
	UpdateTime  time.Time
}

// Member is a user with their role in the workspace a list was asked for.
type Member struct {
	User
	Role Role
}

// RefreshToken is one single-use refresh token; only its hash is stored.
// Every token exchanged from one login shares the login's FamilyID, so
// presenting a spent token can revoke the whole family.
type RefreshToken struct {
	ID         string
	UserID     string
	FamilyID   string
	Hash       Hash
	CreateTime time.Time
	ExpireTime time.Time
	// SpentTime is set when the token was exchanged for a new pair.
	SpentTime time.Time
	// RevokeTime is set when its family was revoked (logout, reuse,
	// password change, disabled user).
	RevokeTime time.Time
}

// SigningKey signs access tokens. Kept in the store so every node of a
// cluster verifies what any node signed.
type SigningKey struct {
	ID string
	// Algorithm is the JWT alg, "EdDSA".
	Algorithm  string
	PrivateKey []byte
	PublicKey  []byte
	CreateTime time.Time
}

// Permissions a role grants in its workspace.
var rolePermissions = map[Role][]Permission{
	RoleOwner:  {PermKeysRead, PermKeysWrite, PermDevicesRead, PermDevicesWrite, PermEventsRead, PermTelemetryRead, PermUsersRead, PermUsersWrite},
	RoleAdmin:  {PermKeysRead, PermKeysWrite, PermDevicesRead, PermDevicesWrite, PermEventsRead, PermTelemetryRead, PermUsersRead},
	RoleViewer: {PermKeysRead, PermDevicesRead, PermEventsRead, PermTelemetryRead},
}

// RolePermissions lists what role allows in its workspace (nil for an
// unknown role). The caller must not modify the result.
func RolePermissions(r Role) []Permission { return rolePermissions[r] }

// RoleAllows reports whether role r grants p. No role grants admin, which is
// global.
func RoleAllows(r Role, p Permission) bool { return slices.Contains(rolePermissions[r], p) }

// ValidateRole refuses ROLE_UNSPECIFIED and unknown values.
func ValidateRole(r Role) error {
	if _, ok := rolePermissions[r]; !ok {
		return invalid("role: want ROLE_OWNER, ROLE_ADMIN or ROLE_VIEWER")
	}
	return nil
}

// Bounds of user input.
const (
	MaxEmailLen       = 254 // RFC 5321's limit for a path
	MinPasswordLen    = 12
	MaxPasswordLen    = 256 // hashing cost grows with length; bound it
	MaxDisplayNameLen = MaxNameLen
)

// NormalizeEmail trims and lower-cases an address and checks its shape:
// one '@' with something on both sides, a dot in the domain, no spaces or
// control characters. Deliverability is not checked.
func NormalizeEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	at := strings.LastIndexByte(e, '@')
	bad := e == "" || len(e) > MaxEmailLen || !utf8.ValidString(e) || at <= 0 || at == len(e)-1 ||
		strings.Count(e, "@") != 1 || !strings.Contains(e[at+1:], ".") || strings.HasSuffix(e, ".")
	for _, c := range e {
		if c <= ' ' || c == 0x7f {
			bad = true
		}
	}
	if bad {
		return "", invalid("email %q: want an address such as name@example.com", clip(s))
	}
	return e, nil
}

// ValidatePassword enforces the length bounds of a new password. Length is
// what makes a password strong; no composition rules.
func ValidatePassword(p string) error {
	n := utf8.RuneCountInString(p)
	if n < MinPasswordLen || len(p) > MaxPasswordLen {
		return invalid("password: want %d to %d characters", MinPasswordLen, MaxPasswordLen)
	}
	return nil
}
