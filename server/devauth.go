package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
)

// deviceAuth is a device admitted by its ingest key.
type deviceAuth struct {
	key    keystore.IngestKey
	hash   keystore.Hash // the secret the device presented
	device keystore.Device
}

// deviceToken reads the ingest key from metadata: `authorization: Bearer
// <key>`, a bare `authorization: <key>` (HTTP devices that cannot add the
// scheme), or `x-api-key: <key>`.
func deviceToken(md metadata.MD) string {
	if t := credentialFromMetadata(md); t != "" {
		return t
	}
	if v := md.Get("authorization"); len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

// authenticateDevice verifies the ingest key in ctx's metadata, without
// checking the device scope: UNAUTHENTICATED for a missing or invalid key.
// It returns the device id from metadata, validated, and the key as the
// verifier holds it: shared, never to be modified.
func (s *Server) authenticateDevice(ctx context.Context) (*keystore.IngestKey, keystore.Hash, string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	var deviceID string
	if v := md.Get("x-device-id"); len(v) > 0 {
		deviceID = v[0]
	}
	token := deviceToken(md)
	if token == "" {
		s.log.InfoContext(ctx, "device auth failed", slog.String("reason", "missing"))
		return nil, keystore.Hash{}, "", status.Error(codes.Unauthenticated, "Invalid credentials: missing; send the ingest key as 'authorization: Bearer <key>'")
	}
	if deviceID == "" {
		return nil, keystore.Hash{}, "", status.Error(codes.InvalidArgument, "x-device-id is required")
	}
	if err := keystore.ValidateDeviceID(deviceID); err != nil {
		return nil, keystore.Hash{}, "", status.Error(codes.InvalidArgument, "x-device-id: "+err.Error())
	}
	ip := s.clientIP(ctx)
	if err := s.guard.check(ip); err != nil {
		return nil, keystore.Hash{}, "", err
	}
	k, h, err := s.verifier.VerifyIngestKeyHash(ctx, token)
	if err != nil {
		var ce *keystore.CredentialError
		if !errors.As(err, &ce) {
			// The store is unreachable: a known key is served from the cache,
			// an unknown one cannot be judged now.
			s.log.ErrorContext(ctx, "verify ingest key", slog.Any("error", err))
			return nil, keystore.Hash{}, "", status.Error(codes.Unavailable, "cannot verify credentials right now; retry")
		}
		s.log.InfoContext(ctx, "device auth failed", slog.String("reason", ce.Reason.String()), slog.String("key_prefix", ce.DisplayPrefix), slog.String("device_id", deviceID), slog.String("client_ip", ip))
		s.metrics.authFailed(ctx, "ingest_key", ce.Reason.String())
		if err := s.guard.failed(ctx, ip); err != nil {
			return nil, keystore.Hash{}, "", err
		}
		return nil, keystore.Hash{}, "", refuse(reasonClosures[ce.Reason], codes.Unauthenticated, credentialMessage(ce.Reason))
	}
	// Who the call is for, on its span: never the secret.
	trace.SpanFromContext(ctx).SetAttributes(
		attribute.String("ingestgate.workspace_id", k.WorkspaceID),
		attribute.String("ingestgate.key_prefix", k.DisplayPrefix),
		attribute.String("ingestgate.device_id", deviceID))
	return k, h, deviceID, nil
}

// refusal is a device credential refused at connect. It is a gRPC status
// (Publish returns it as is) that also names the Goodbye reason, so a
// stream refused for a known reason gets the same Goodbye as one closed
// later: a device restarting with a revoked key learns KEY_REVOKED.
type refusal struct {
	reason reason
	st     *status.Status
}

func refuse(r reason, code codes.Code, msg string) error {
	return &refusal{reason: r, st: status.New(code, msg)}
}

func outOfScope(k *keystore.IngestKey, deviceID string) error {
	return refuse(goodbyeOutOfScope, codes.PermissionDenied, fmt.Sprintf("ingest key %s does not admit device %q", k.DisplayPrefix, deviceID))
}

func (r *refusal) Error() string              { return r.st.Err().Error() }
func (r *refusal) GRPCStatus() *status.Status { return r.st }

func credentialMessage(r keystore.CredentialReason) string {
	switch r {
	case keystore.ReasonExpired:
		return "Invalid credentials: ingest key expired"
	case keystore.ReasonRevoked:
		return "Invalid credentials: ingest key revoked"
	case keystore.ReasonInactive:
		return "Invalid credentials: ingest key inactive"
	case keystore.ReasonSecretRetired:
		return "Invalid credentials: ingest key was rotated; use its new secret"
	}
	return "Invalid credentials"
}

// admitDevice loads the device, registering it when the key's scope names
// it or admits any device, and checks the scope: PERMISSION_DENIED when the
// key does not admit it.
func (s *Server) admitDevice(ctx context.Context, k *keystore.IngestKey, deviceID string) (keystore.Device, error) {
	d, err := s.store.GetDevice(ctx, k.WorkspaceID, deviceID)
	if errors.Is(err, keystore.ErrNotFound) {
		if !k.Scope.Admits(deviceID, nil) {
			return d, refuse(goodbyeOutOfScope, codes.PermissionDenied, fmt.Sprintf("device %q is not registered and ingest key %s admits only its listed devices or tags", deviceID, k.DisplayPrefix))
		}
		return s.registerDevice(ctx, k, deviceID)
	}
	if err != nil {
		if ctx.Err() != nil {
			return d, status.FromContextError(ctx.Err()).Err() // the caller gave up: not the store's fault
		}
		s.log.ErrorContext(ctx, "read device", slog.Any("error", err))
		return d, status.Error(codes.Unavailable, "cannot read the device registry right now; retry")
	}
	if !k.Scope.Admits(d.ID, d.Tags) {
		return d, outOfScope(k, deviceID)
	}
	return d, nil
}

// registerDevice adds a device on its first connection, audited as done by
// the key that admitted it.
func (s *Server) registerDevice(ctx context.Context, k *keystore.IngestKey, deviceID string) (keystore.Device, error) {
	now := s.now()
	d := keystore.Device{WorkspaceID: k.WorkspaceID, ID: deviceID, CreateTime: now, UpdateTime: now}
	err := s.commit(ctx, "ingest_key:"+k.ID, func(ctx context.Context, tx keystore.Tx) ([]keystore.Event, error) {
		if err := tx.CreateDevice(ctx, d); err != nil {
			return nil, err
		}
		e := deviceEvent(d, ingestgatev1.KeyEventType_KEY_EVENT_TYPE_DEVICE_CREATED)
		e.IngestKeyID, e.Reason = k.ID, "registered on first connection"
		return []keystore.Event{e}, nil
	})
	if errors.Is(err, keystore.ErrAlreadyExists) {
		// Another stream of the same device registered it first.
		if d, err = s.store.GetDevice(ctx, k.WorkspaceID, deviceID); err == nil {
			return d, nil
		}
	}
	if err != nil {
		s.log.ErrorContext(ctx, "register device", slog.Any("error", err))
		return d, status.Error(codes.Unavailable, "cannot register the device right now; retry")
	}
	return d, nil
}
