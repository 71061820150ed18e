package server

import (
	"context"
	"crypto/rand"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
	"github.com/ingestgate/ingestgate/server/conns"
)

// connectionService lists live device streams: this node's from the
// registry, and with Redis every node's (see package conns).
type connectionService struct {
	ingestgatev1.UnimplementedConnectionServiceServer
	*Server
}

const defaultConnectionsPageSize = 100

func (s *connectionService) ListConnections(ctx context.Context, req *ingestgatev1.ListConnectionsRequest) (*ingestgatev1.ListConnectionsResponse, error) {
	ws := req.GetWorkspaceId()
	if err := keystore.ValidateWorkspaceID(ws); err != nil {
		return nil, checkInput(err)
	}
	// Either permission shows who is connected: the console shows
	// connections on the keys page and on the devices page.
	if _, err := s.require(ctx, keystore.PermKeysRead, ws); err != nil {
		if _, err2 := s.require(ctx, keystore.PermDevicesRead, ws); err2 != nil {
			if status.Code(err) != codes.PermissionDenied {
				return nil, err
			}
			return nil, status.Errorf(codes.PermissionDenied, "Insufficient permissions: %s or %s on workspace %q is required", keystore.PermKeysRead, keystore.PermDevicesRead, ws)
		}
	}
	q := conns.Query{WorkspaceID: ws, KeyID: req.GetIngestKeyId(), DeviceID: req.GetDeviceId(), Limit: int(req.GetPageSize())}
	if q.KeyID != "" {
		if err := keystore.ValidateRecordID("ingest key", ingestKeyIDPrefix, q.KeyID); err != nil {
			return nil, checkInput(err)
		}
	}
	if q.DeviceID != "" {
		if err := keystore.ValidateDeviceID(q.DeviceID); err != nil {
			return nil, checkInput(err)
		}
	}
	switch {
	case q.Limit < 0 || q.Limit > conns.MaxLimit:
		return nil, invalidArg("page_size must be 0-%d (0: %d)", conns.MaxLimit, defaultConnectionsPageSize)
	case q.Limit == 0:
		q.Limit = defaultConnectionsPageSize
	}
	var list []conns.Conn
	partial := false
	if s.conns != nil {
		list, partial = s.conns.List(ctx, q)
	} else {
		list = s.localConns(q)
	}
	resp := &ingestgatev1.ListConnectionsResponse{Partial: partial, Connections: make([]*ingestgatev1.Connection, len(list))}
	for i, c := range list {
		resp.Connections[i] = &ingestgatev1.Connection{
			Id: c.ID, WorkspaceId: c.WorkspaceID, IngestKeyId: c.KeyID, IngestKeyDisplayPrefix: c.KeyPrefix,
			DeviceId: c.DeviceID, Node: c.Node, OpenTime: ts(c.Opened), PeerAddress: c.Peer,
			Records: c.Records, LastBatchTime: ts(c.LastBatch),
		}
	}
	return resp, nil
}

func (s *Server) localConns(q conns.Query) []conns.Conn {
	return conns.Local(s.streams, s.nodeName, q)
}

// newStreamID names a stream uniquely across the cluster: this process's
// instance id and a counter.
func (s *Server) newStreamID() string {
	return s.instance + "-" + strconv.FormatUint(s.streamSeq.Add(1), 36)
}

// newInstanceID is random per process, so a restarted node (same name)
// never reuses a stream id.
func newInstanceID() string { return "n" + rand.Text()[:11] }

// usedPrefix is the display prefix of the secret hash matched: the
// previous one during a rotation's grace period.
func usedPrefix(k *keystore.IngestKey, hash keystore.Hash) string {
	if !k.PreviousHash.IsZero() && hash == k.PreviousHash {
		return k.PreviousDisplayPrefix
	}
	return k.DisplayPrefix
}

// peerAddr is the client's IP:port as this node saw it.
func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}
