package server

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/keystore"
)

const (
	// watchPage bounds one read of the log while catching up.
	watchPage = 500
	// watchPoll rereads the log even without a bus signal, so a watcher
	// whose signal was lost (a bus outage in a cluster) falls behind by at
	// most this long.
	watchPoll = 5 * time.Second
)

// WatchKeyEvents replays a log after a cursor, then streams new events as
// they are committed. The store's log is the only source of events sent: the
// bus merely wakes the watcher, which reads everything after the last
// sequence it sent. So there is no gap and no duplicate at the seam, or
// anywhere: sequences go out strictly increasing by one.
func (s *eventService) WatchKeyEvents(req *ingestgatev1.WatchKeyEventsRequest, ss grpc.ServerStreamingServer[ingestgatev1.WatchKeyEventsResponse]) error {
	ctx := ss.Context()
	ws := req.GetWorkspaceId()
	perm := keystore.PermEventsRead
	if ws == "" {
		perm = keystore.PermAdmin // the global log is about API keys
	} else if err := keystore.ValidateWorkspaceID(ws); err != nil {
		return checkInput(err)
	}
	if _, err := s.require(ctx, perm, ws); err != nil {
		return err
	}
	// Subscribe before the first read: an event committed after that read
	// then always wakes the loop.
	wake := make(chan struct{}, 1)
	stop, err := s.bus.Subscribe(func(e keystore.Event) {
		if e.WorkspaceID == ws {
			select {
			case wake <- struct{}{}:
			default: // a wake-up is pending; it will read this event too
			}
		}
	})
	if err != nil {
		return status.Error(codes.Unavailable, "server shutting down")
	}
	defer stop()
	poll := time.NewTicker(watchPoll)
	defer poll.Stop()

	last := req.GetAfterSequence()
	for {
		events, err := s.store.ListEvents(ctx, keystore.EventQuery{WorkspaceID: ws, AfterSequence: last, Limit: watchPage})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return s.storeError(ctx, err, "workspace", ws)
		}
		for _, e := range events {
			if err := ss.Send(&ingestgatev1.WatchKeyEventsResponse{Event: e.Proto()}); err != nil {
				return err
			}
			last = e.Sequence
		}
		if len(events) == watchPage {
			continue // more to catch up on
		}
		select {
		case <-wake:
		case <-poll.C:
		case <-ctx.Done():
			return nil
		case <-s.stopping.Done():
			return status.Errorf(codes.Unavailable, "server shutting down; watch again with after_sequence %d", last)
		}
		// The credential is judged again before anything more is sent.
		if err := s.reauthorize(ctx, perm, ws); err != nil {
			return err
		}
	}
}
