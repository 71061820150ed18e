package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

func (a *app) deviceClient() (ingestgatev1.DeviceServiceClient, error) {
	cc, err := a.conn()
	if err != nil {
		return nil, err
	}
	return ingestgatev1.NewDeviceServiceClient(cc), nil
}

func (a *app) devicesCmd() *cobra.Command {
	c := group("devices", "Manage the device registry of a workspace")
	a.addWorkspaceFlag(c)
	c.AddCommand(a.devicesCreateCmd(), a.devicesListCmd(), a.devicesGetCmd(), a.devicesUpdateCmd(),
		a.devicesDeleteCmd(), a.devicesDisconnectCmd())
	return c
}

func (a *app) devicesCreateCmd() *cobra.Command {
	var (
		name string
		tags []string
	)
	c := &cobra.Command{
		Use:     "create ID",
		Short:   "Register a device",
		Example: "  ingestctl devices create sensor-42 --name 'Roof sensor' --tag site=berlin --tag kind=temp",
		Args:    oneArg("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			tagMap, err := parseKVMap("tag", tags, true)
			if err != nil {
				return err
			}
			c, err := a.deviceClient()
			if err != nil {
				return err
			}
			resp, err := c.CreateDevice(cmd.Context(), &ingestgatev1.CreateDeviceRequest{
				WorkspaceId: a.workspace,
				Device:      &ingestgatev1.Device{Id: args[0], DisplayName: name, Tags: tagMap},
			})
			if err != nil {
				return err
			}
			return a.emit(resp, showFields(deviceFields(resp.GetDevice())))
		},
	}
	c.Flags().StringVar(&name, "name", "", "display name")
	c.Flags().StringArrayVar(&tags, "tag", nil, "tag key=value (repeatable)")
	return c
}

// deviceUpdateFlags holds the flags of devices update.
type deviceUpdateFlags struct {
	name      string
	tags      []string
	clearTags bool
}

func (f *deviceUpdateFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.name, "name", "", "display name")
	fs.StringArrayVar(&f.tags, "tag", nil, "set the tags to exactly these, key=value (repeatable; replaces every tag)")
	fs.BoolVar(&f.clearTags, "clear-tags", false, "remove every tag")
}

// buildDeviceUpdate turns devices update flags into the device fields to
// send and the matching update_mask. Tags are replaced whole, as the API
// does, so --tag lists every tag the device should keep.
func buildDeviceUpdate(ws, id string, f *deviceUpdateFlags, fs *pflag.FlagSet) (*ingestgatev1.Device, *fieldmaskpb.FieldMask, error) {
	d := &ingestgatev1.Device{WorkspaceId: ws, Id: id}
	var m maskBuilder
	if m.add("display_name", fs.Changed("name")) {
		d.DisplayName = f.name
	}
	if m.add("tags", fs.Changed("tag") || f.clearTags) {
		if f.clearTags && len(f.tags) > 0 {
			return nil, nil, errors.New("--clear-tags conflicts with --tag (--tag already replaces every tag)")
		}
		var err error
		if d.Tags, err = parseKVMap("tag", f.tags, true); err != nil {
			return nil, nil, err
		}
	}
	mask, err := m.mask("name", "tag", "clear-tags")
	return d, mask, err
}

func (a *app) devicesUpdateCmd() *cobra.Command {
	var f deviceUpdateFlags
	c := &cobra.Command{
		Use:     "update ID",
		Short:   "Change a device's name or tags",
		Long:    "Change a device's display name or tags. --tag replaces every tag. Changing tags\ncloses the device's streams when its key no longer admits it.",
		Example: "  ingestctl devices update sensor-42 --tag site=paris --tag kind=temp",
		Args:    oneArg("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, mask, err := buildDeviceUpdate(a.workspace, args[0], &f, cmd.Flags())
			if err != nil {
				return err
			}
			c, err := a.deviceClient()
			if err != nil {
				return err
			}
			resp, err := c.UpdateDevice(cmd.Context(), &ingestgatev1.UpdateDeviceRequest{Device: d, UpdateMask: mask})
			if err != nil {
				return err
			}
			return a.emit(resp, showFields(deviceFields(resp.GetDevice())))
		},
	}
	f.register(c.Flags())
	return c
}

func (a *app) devicesListCmd() *cobra.Command {
	var (
		page     pageFlags
		tags     []string
		idPrefix string
	)
	c := &cobra.Command{
		Use:     "list",
		Short:   "List devices, ordered by id",
		Example: "  ingestctl devices list --tag site=berlin --id-prefix sensor-",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tags, err := parseKVList("tag", tags)
			if err != nil {
				return err
			}
			c, err := a.deviceClient()
			if err != nil {
				return err
			}
			resp, err := listPages(cmd.Context(), page, func(ctx context.Context, size int32, token string) (*ingestgatev1.ListDevicesResponse, error) {
				return c.ListDevices(ctx, &ingestgatev1.ListDevicesRequest{
					WorkspaceId: a.workspace, PageSize: size, PageToken: token, Tags: tags, IdPrefix: idPrefix,
				})
			})
			if err != nil {
				return err
			}
			return a.emitList(resp, deviceHeader, deviceRows(resp.GetDevices()))
		},
	}
	c.Flags().StringArrayVar(&tags, "tag", nil, "only devices carrying this tag, key=value (repeatable; all must match)")
	c.Flags().StringVar(&idPrefix, "id-prefix", "", "only devices whose id starts with this text")
	page.register(c.Flags())
	return c
}

func (a *app) devicesGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show one device",
		Args:  oneArg("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.deviceClient()
			if err != nil {
				return err
			}
			resp, err := c.GetDevice(cmd.Context(), &ingestgatev1.GetDeviceRequest{WorkspaceId: a.workspace, DeviceId: args[0]})
			if err != nil {
				return err
			}
			return a.emit(resp, showFields(deviceFields(resp.GetDevice())))
		},
	}
}

func (a *app) devicesDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a device and close its streams",
		Args:  oneArg("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.deviceClient()
			if err != nil {
				return err
			}
			resp, err := c.DeleteDevice(cmd.Context(), &ingestgatev1.DeleteDeviceRequest{WorkspaceId: a.workspace, DeviceId: args[0]})
			if err != nil {
				return err
			}
			return a.emit(resp, deletedMsg("device", args[0]))
		},
	}
}

func (a *app) devicesDisconnectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "disconnect ID",
		Short: "Close a device's live streams; it may reconnect",
		Args:  oneArg("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.deviceClient()
			if err != nil {
				return err
			}
			resp, err := c.DisconnectDevice(cmd.Context(), &ingestgatev1.DisconnectDeviceRequest{WorkspaceId: a.workspace, DeviceId: args[0]})
			if err != nil {
				return err
			}
			return a.emit(resp, func(w io.Writer) error {
				// Only streams on the node that served the call are counted.
				_, err := fmt.Fprintf(w, "Closed %d stream(s) of device %s.\n", resp.GetClosedStreams(), cell(args[0]))
				return err
			})
		},
	}
}

var deviceHeader = []string{"ID", "NAME", "TAGS", "STREAMS", "LAST SEEN", "CREATED"}

func deviceRows(ds []*ingestgatev1.Device) [][]string {
	rows := make([][]string, 0, len(ds))
	for _, d := range ds {
		rows = append(rows, []string{
			d.GetId(), d.GetDisplayName(), fmtMap(d.GetTags()), fmt.Sprint(d.GetLiveStreams()),
			fmtTime(d.GetLastSeenTime()), fmtTime(d.GetCreateTime()),
		})
	}
	return rows
}

func deviceFields(d *ingestgatev1.Device) []field {
	return []field{
		{"ID", d.GetId()},
		{"Workspace", d.GetWorkspaceId()},
		{"Name", d.GetDisplayName()},
		{"Tags", fmtMap(d.GetTags())},
		{"Live streams", fmt.Sprint(d.GetLiveStreams())},
		{"Last seen", fmtTime(d.GetLastSeenTime())},
		{"Created", fmtTime(d.GetCreateTime())},
		{"Updated", fmtTime(d.GetUpdateTime())},
	}
}
