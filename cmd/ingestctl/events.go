package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

func (a *app) eventsCmd() *cobra.Command {
	c := group("events", "Read the audit log")
	a.addWorkspaceFlag(c)
	c.AddCommand(a.eventsListCmd(), a.eventsWatchCmd())
	return c
}

func (a *app) eventsListCmd() *cobra.Command {
	var (
		page            pageFlags
		after           uint64
		newestFirst     bool
		keyID, deviceID string
		global          bool
	)
	c := &cobra.Command{
		Use:   "list",
		Short: "List audit events, oldest first",
		Long: "List a workspace's audit events, oldest first; a workspace's own creation,\n" +
			"changes and deletion are in its log, which outlives the workspace.\n" +
			"--global lists the global log of API key changes instead (needs admin).",
		Example: "  ingestctl events list --key ik_123 --newest-first --page-size 20",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws := a.workspace
			if global {
				if cmd.Flags().Changed("workspace") {
					return errors.New("--global conflicts with --workspace")
				}
				ws = "" // the API names the global log by an empty workspace id
			}
			c, err := a.conn()
			if err != nil {
				return err
			}
			ev := ingestgatev1.NewEventServiceClient(c)
			resp, err := listPages(cmd.Context(), page, func(ctx context.Context, size int32, token string) (*ingestgatev1.ListAuditEventsResponse, error) {
				return ev.ListAuditEvents(ctx, &ingestgatev1.ListAuditEventsRequest{
					WorkspaceId: ws, PageSize: size, PageToken: token,
					AfterSequence: after, NewestFirst: newestFirst, IngestKeyId: keyID, DeviceId: deviceID,
				})
			})
			if err != nil {
				return err
			}
			return a.emitList(resp, eventHeader, eventRows(resp.GetEvents()))
		},
	}
	fs := c.Flags()
	fs.Uint64Var(&after, "after", 0, "only events after this sequence number (before it with --newest-first)")
	fs.BoolVar(&newestFirst, "newest-first", false, "newest events first")
	fs.StringVar(&keyID, "key", "", "only events about this ingest key")
	fs.StringVar(&deviceID, "device", "", "only events about this device")
	fs.BoolVar(&global, "global", false, "list the global log instead of a workspace's")
	page.register(fs)
	return c
}

var eventHeader = []string{"SEQ", "TIME", "TYPE", "ACTOR", "SUBJECT", "DETAIL"}

func eventRows(evs []*ingestgatev1.KeyEvent) [][]string {
	rows := make([][]string, 0, len(evs))
	for _, e := range evs {
		var subject []string
		for _, s := range []struct{ kind, id string }{
			{"key", e.GetIngestKeyId()}, {"device", e.GetDeviceId()}, {"api_key", e.GetApiKeyId()}, {"user", e.GetUserId()},
		} {
			if s.id != "" {
				subject = append(subject, s.kind+":"+s.id)
			}
		}
		if p := e.GetDisplayPrefix(); p != "" {
			subject = append(subject, "("+p+")")
		}
		detail := e.GetReason()
		if cf := e.GetChangedFields(); len(cf) > 0 {
			detail = strings.TrimSpace(detail + " changed: " + strings.Join(cf, ","))
		}
		rows = append(rows, []string{
			fmt.Sprint(e.GetSequence()), fmtTime(e.GetTime()), fmtEventType(e.GetType()),
			e.GetActor(), strings.Join(subject, " "), detail,
		})
	}
	return rows
}

// fmtEventType shortens KEY_EVENT_TYPE_INGEST_KEY_ROTATED to ingest_key_rotated.
func fmtEventType(t ingestgatev1.KeyEventType) string {
	return strings.ToLower(strings.TrimPrefix(t.String(), "KEY_EVENT_TYPE_"))
}
