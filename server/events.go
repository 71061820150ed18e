package server

import (
	"context"
	"strconv"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
)

type eventService struct {
	ingestgatev1.UnimplementedEventServiceServer
	*Server
}

func (s *eventService) ListAuditEvents(ctx context.Context, req *ingestgatev1.ListAuditEventsRequest) (*ingestgatev1.ListAuditEventsResponse, error) {
	ws := req.GetWorkspaceId()
	perm := keystore.PermEventsRead
	if ws == "" {
		perm = keystore.PermAdmin // the global log is about API keys
	} else if err := keystore.ValidateWorkspaceID(ws); err != nil {
		return nil, checkInput(err)
	}
	if _, err := s.require(ctx, perm, ws); err != nil {
		return nil, err
	}
	if id := req.GetIngestKeyId(); id != "" {
		if err := keystore.ValidateRecordID("ingest key", ingestKeyIDPrefix, id); err != nil {
			return nil, checkInput(err)
		}
	}
	if id := req.GetDeviceId(); id != "" {
		if err := keystore.ValidateDeviceID(id); err != nil {
			return nil, checkInput(err)
		}
	}
	page, n, err := pageFrom(req.GetPageSize(), "")
	if err != nil {
		return nil, err
	}
	after, err := decodeSequenceToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	if req.GetPageToken() == "" {
		after = req.GetAfterSequence()
	}
	events, err := s.store.ListEvents(ctx, keystore.EventQuery{
		WorkspaceID:   ws,
		AfterSequence: after,
		NewestFirst:   req.GetNewestFirst(),
		IngestKeyID:   req.GetIngestKeyId(),
		DeviceID:      req.GetDeviceId(),
		Limit:         page.Limit,
	})
	if err != nil {
		return nil, s.storeError(ctx, err, "workspace", ws)
	}
	events, next := nextPage(events, n, func(e keystore.Event) string { return strconv.FormatUint(e.Sequence, 10) })
	resp := &ingestgatev1.ListAuditEventsResponse{NextPageToken: next}
	for _, e := range events {
		resp.Events = append(resp.Events, e.Proto())
	}
	return resp, nil
}
