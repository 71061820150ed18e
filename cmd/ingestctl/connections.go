package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

func (a *app) connectionsCmd() *cobra.Command {
	c := group("connections", "Show live device streams")
	a.addWorkspaceFlag(c)
	c.AddCommand(a.connectionsListCmd())
	return c
}

func (a *app) connectionsListCmd() *cobra.Command {
	var (
		keyID, deviceID string
		limit           int32
		asJSON          bool
	)
	c := &cobra.Command{
		Use:   "list",
		Short: "List live device streams on every node, newest first",
		Long: "List a workspace's live device streams, newest first, on every node of a\n" +
			"cluster. When some node could not be asked, the list may be incomplete: a\n" +
			"warning says so on stderr (\"partial\": true in JSON). Needs keys:read or devices:read.",
		Example: "  ingestctl connections list --key ik_123\n  ingestctl connections list --device sensor-42 --json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				a.output = "json"
			}
			cc, err := a.conn()
			if err != nil {
				return err
			}
			resp, err := ingestgatev1.NewConnectionServiceClient(cc).ListConnections(cmd.Context(), &ingestgatev1.ListConnectionsRequest{
				WorkspaceId: a.workspace, IngestKeyId: keyID, DeviceId: deviceID, PageSize: limit,
			})
			if err != nil {
				return err
			}
			if err := a.emit(resp, func(w io.Writer) error {
				return writeTable(w, connectionHeader, connectionRows(resp.GetConnections()))
			}); err != nil {
				return err
			}
			if resp.GetPartial() && a.output != "json" {
				fmt.Fprintln(a.stderr, "Warning: some nodes could not be asked; the list may be incomplete.")
			}
			return nil
		},
	}
	fs := c.Flags()
	fs.StringVar(&keyID, "key", "", "only streams of this ingest key (id)")
	fs.StringVar(&deviceID, "device", "", "only streams of this device")
	fs.Int32Var(&limit, "page-size", 0, "at most this many, the newest (0: the server's default of 100; at most 1000)")
	fs.BoolVar(&asJSON, "json", false, "print JSON (same as -o json)")
	return c
}

var connectionHeader = []string{"DEVICE", "KEY", "NODE", "PEER", "OPENED", "RECORDS", "LAST BATCH", "ID"}

func connectionRows(cs []*ingestgatev1.Connection) [][]string {
	rows := make([][]string, 0, len(cs))
	for _, c := range cs {
		rows = append(rows, []string{
			c.GetDeviceId(), c.GetIngestKeyDisplayPrefix() + " (" + c.GetIngestKeyId() + ")", c.GetNode(), c.GetPeerAddress(),
			fmtTime(c.GetOpenTime()), fmt.Sprint(c.GetRecords()), fmtTime(c.GetLastBatchTime()), c.GetId(),
		})
	}
	return rows
}
