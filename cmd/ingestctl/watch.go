package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

// emitLine prints one streamed item: a JSON document per line with -o json
// (newline-delimited JSON for scripts), else a table row without header.
func (a *app) emitLine(m proto.Message, row []string) error {
	var err error
	if a.output == "json" {
		var b []byte
		if b, err = jsonOptions.Marshal(m); err == nil {
			_, err = fmt.Fprintf(a.stdout, "%s\n", compactJSON(b))
		}
	} else {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = cell(c)
		}
		_, err = fmt.Fprintln(a.stdout, strings.Join(cells, "  "))
	}
	if err != nil {
		return runtimeErrorf("write output: %w", err)
	}
	return nil
}

// compactJSON removes the spacing protojson varies between runs, so each
// item is exactly one stable line.
func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

// streamEnd turns the end of a watch into the command's result: stopping
// it (Ctrl-C, --count reached) is success.
func streamEnd(cmd *cobra.Command, err error) error {
	if errors.Is(err, io.EOF) || cmd.Context().Err() != nil || status.Code(err) == codes.Canceled {
		return nil
	}
	return err
}

func (a *app) eventsWatchCmd() *cobra.Command {
	var (
		after uint64
		count int
	)
	c := &cobra.Command{
		Use:   "watch",
		Short: "Follow a workspace's audit log live (replaying after --after first)",
		Long: "Print the workspace's key events as they commit, one per line, until stopped\n" +
			"(Ctrl-C) or --count events were printed. --after replays the log after that\n" +
			"sequence first, with no gap and no duplicate at the seam: pass the last\n" +
			"sequence you saw to resume.",
		Example: "  ingestctl events watch --after 42 -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cc, err := a.conn()
			if err != nil {
				return err
			}
			stream, err := ingestgatev1.NewEventServiceClient(cc).WatchKeyEvents(cmd.Context(), &ingestgatev1.WatchKeyEventsRequest{WorkspaceId: a.workspace, AfterSequence: after})
			if err != nil {
				return err
			}
			for n := 0; count == 0 || n < count; n++ {
				m, err := stream.Recv()
				if err != nil {
					return streamEnd(cmd, err)
				}
				if err := a.emitLine(m.GetEvent(), eventRows([]*ingestgatev1.KeyEvent{m.GetEvent()})[0]); err != nil {
					return err
				}
			}
			return nil
		},
	}
	c.Flags().Uint64Var(&after, "after", 0, "replay events after this sequence first (0: the whole log)")
	c.Flags().IntVar(&count, "count", 0, "stop after this many events (0: run until stopped)")
	return c
}

func (a *app) telemetryCmd() *cobra.Command {
	c := group("telemetry", "Read what devices sent")
	a.addWorkspaceFlag(c)
	c.AddCommand(a.telemetryTailCmd())
	return c
}

func (a *app) telemetryTailCmd() *cobra.Command {
	var (
		after, device string
		fromStart     bool
		count         int
	)
	c := &cobra.Command{
		Use:   "tail",
		Short: "Follow a workspace's telemetry live",
		Long: "Print records as they are stored, one per line, until stopped (Ctrl-C) or\n" +
			"--count records were printed. By default only new records; --from-start\n" +
			"begins with the oldest stored, --after CURSOR after an entry seen before\n" +
			"(-o json prints each entry's cursor).",
		Example: "  ingestctl telemetry tail --device sensor-7",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cc, err := a.conn()
			if err != nil {
				return err
			}
			stream, err := ingestgatev1.NewTelemetryServiceClient(cc).Subscribe(cmd.Context(), &ingestgatev1.SubscribeRequest{
				WorkspaceId: a.workspace, AfterCursor: after, DeviceId: device, FromStart: fromStart,
			})
			if err != nil {
				return err
			}
			for n := 0; count == 0 || n < count; {
				m, err := stream.Recv()
				if err != nil {
					return streamEnd(cmd, err)
				}
				for _, e := range m.GetEntries() {
					if err := a.emitLine(e, telemetryRow(e)); err != nil {
						return err
					}
					if n++; count != 0 && n >= count {
						return nil
					}
				}
			}
			return nil
		},
	}
	c.Flags().StringVar(&after, "after", "", "start after this cursor")
	c.Flags().BoolVar(&fromStart, "from-start", false, "start with the oldest stored record")
	c.Flags().StringVar(&device, "device", "", "only this device")
	c.Flags().IntVar(&count, "count", 0, "stop after this many records (0: run until stopped)")
	return c
}

// telemetryRow is one record: when, device, name, value, attributes.
func telemetryRow(e *ingestgatev1.TelemetryEntry) []string {
	r := e.GetRecord()
	var v string
	switch x := r.GetValue().(type) {
	case *ingestgatev1.Record_NumberValue:
		v = fmt.Sprint(x.NumberValue)
	case *ingestgatev1.Record_TextValue:
		v = x.TextValue
	case *ingestgatev1.Record_BoolValue:
		v = fmt.Sprint(x.BoolValue)
	case *ingestgatev1.Record_BytesValue:
		v = fmt.Sprintf("%d bytes", len(x.BytesValue))
	case *ingestgatev1.Record_JsonValue:
		b, _ := protojson.Marshal(x.JsonValue)
		v = string(b)
	}
	return []string{fmtTime(r.GetTime()), e.GetDeviceId(), r.GetName(), v, fmtMap(r.GetAttributes())}
}
