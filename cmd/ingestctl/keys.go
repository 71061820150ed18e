package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

func (a *app) ingestKeyClient() (ingestgatev1.IngestKeyServiceClient, error) {
	cc, err := a.conn()
	if err != nil {
		return nil, err
	}
	return ingestgatev1.NewIngestKeyServiceClient(cc), nil
}

func (a *app) keysCmd() *cobra.Command {
	c := group("keys", "Manage ingest keys, the credentials devices send telemetry with")
	a.addWorkspaceFlag(c)
	c.AddCommand(a.keysCreateCmd(), a.keysListCmd(), a.keysUpdateCmd())
	c.AddCommand(lifecycleCmds(a, credentialKind[*ingestgatev1.IngestKey]{
		noun: "ingest key",
		ops: func() (credentialOps[*ingestgatev1.IngestKey], error) {
			c, err := a.ingestKeyClient()
			if err != nil {
				return nil, err
			}
			return ingestKeyOps{c, a.workspace}, nil
		},
		fields: ingestKeyFields,
	})...)
	return c
}

// keyFlags holds the flags of keys create and keys update.
type keyFlags struct {
	name, description string
	labels            []string
	clearLabels       bool
	devices, tags     []string
	allDevices        bool
	expires           string
	noExpiry          bool
	rate, maxStreams  uint32
}

func (f *keyFlags) register(fs *pflag.FlagSet, update bool) {
	fs.StringVar(&f.name, "name", "", "name (at most 200 characters)")
	fs.StringVar(&f.description, "description", "", "description (at most 2,000 characters)")
	// StringArray, not StringSlice: label values and tags may contain commas.
	fs.StringArrayVar(&f.tags, "tag", nil, "admit devices carrying this tag, key=value (repeatable; any one matches)")
	fs.StringArrayVar(&f.devices, "device", nil, "admit the device with this id (repeatable, or comma-separated)")
	fs.StringVar(&f.expires, "expires", "", "expiry: RFC 3339 time, date (midnight UTC), or duration from now such as 720h or 30d")
	fs.Uint32Var(&f.rate, "rate", 0, "records per second limit (0: server default)")
	fs.Uint32Var(&f.maxStreams, "max-streams", 0, "concurrent stream limit (0: server default)")
	if !update {
		fs.StringArrayVar(&f.labels, "label", nil, "label key=value (repeatable)")
		return
	}
	fs.StringArrayVar(&f.labels, "label", nil, "set the labels to exactly these, key=value (repeatable; replaces every existing label)")
	fs.BoolVar(&f.clearLabels, "clear-labels", false, "remove every label")
	fs.BoolVar(&f.allDevices, "all-devices", false, "admit every device of the workspace")
	fs.BoolVar(&f.noExpiry, "no-expiry", false, "remove the expiry")
	fs.Lookup("device").Usage = "set the scope to these device ids (repeatable; with --tag, replaces the whole scope)"
	fs.Lookup("tag").Usage = "set the scope to devices carrying this tag, key=value (repeatable; replaces the whole scope)"
}

// keyScope builds a scope from --device, --tag and --all-devices; with none
// of them the key admits every device, as the server does by default.
func keyScope(devices, tags []string, all bool) (*ingestgatev1.KeyScope, error) {
	if all && (len(devices) > 0 || len(tags) > 0) {
		return nil, errors.New("--all-devices conflicts with --device and --tag")
	}
	devices, err := parseList("device", devices)
	if err != nil {
		return nil, err
	}
	tags, err = parseKVList("tag", tags)
	if err != nil {
		return nil, err
	}
	if len(devices) == 0 && len(tags) == 0 {
		return &ingestgatev1.KeyScope{AllDevices: true}, nil
	}
	return &ingestgatev1.KeyScope{DeviceIds: devices, Tags: tags}, nil
}

// buildKeyCreate turns keys create flags into the key to create.
func buildKeyCreate(f *keyFlags, fs *pflag.FlagSet, now time.Time) (*ingestgatev1.IngestKey, error) {
	key := &ingestgatev1.IngestKey{Name: f.name, Description: f.description}
	var err error
	if len(f.labels) > 0 {
		if key.Labels, err = parseKVMap("label", f.labels, false); err != nil {
			return nil, err
		}
	}
	if key.Scope, err = keyScope(f.devices, f.tags, false); err != nil {
		return nil, err
	}
	if fs.Changed("expires") {
		t, err := parseExpiry(f.expires, now)
		if err != nil {
			return nil, err
		}
		key.ExpireTime = timestamppb.New(t)
	}
	if fs.Changed("rate") || fs.Changed("max-streams") {
		key.Limits = &ingestgatev1.KeyLimits{RecordsPerSecond: f.rate, MaxStreams: f.maxStreams}
	}
	return key, nil
}

// buildKeyUpdate turns keys update flags into the key fields to send and
// an update_mask naming exactly the fields those flags change.
func buildKeyUpdate(ws, id string, f *keyFlags, fs *pflag.FlagSet, now time.Time) (*ingestgatev1.IngestKey, *fieldmaskpb.FieldMask, error) {
	key := &ingestgatev1.IngestKey{WorkspaceId: ws, Id: id}
	var m maskBuilder
	var err error
	if m.add("name", fs.Changed("name")) {
		key.Name = f.name
	}
	if m.add("description", fs.Changed("description")) {
		key.Description = f.description
	}
	if m.add("labels", fs.Changed("label") || f.clearLabels) {
		if f.clearLabels && len(f.labels) > 0 {
			return nil, nil, errors.New("--clear-labels conflicts with --label (--label already replaces every label)")
		}
		if key.Labels, err = parseKVMap("label", f.labels, false); err != nil {
			return nil, nil, err
		}
	}
	if m.add("scope", fs.Changed("device") || fs.Changed("tag") || f.allDevices) {
		if key.Scope, err = keyScope(f.devices, f.tags, f.allDevices); err != nil {
			return nil, nil, err
		}
	}
	if key.ExpireTime, err = expiryUpdate(&m, f.expires, fs.Changed("expires"), f.noExpiry, now); err != nil {
		return nil, nil, err
	}
	if m.add("limits", fs.Changed("rate") || fs.Changed("max-streams")) {
		key.Limits = &ingestgatev1.KeyLimits{RecordsPerSecond: f.rate, MaxStreams: f.maxStreams}
	}
	mask, err := m.mask("name", "description", "label", "clear-labels", "device", "tag", "all-devices", "expires", "no-expiry", "rate", "max-streams")
	return key, mask, err
}

// expiryUpdate handles --expires / --no-expiry for ingest and API keys: a
// nil time under the expire_time path removes the expiry.
func expiryUpdate(m *maskBuilder, expires string, given, none bool, now time.Time) (*timestamppb.Timestamp, error) {
	if !m.add("expire_time", given || none) {
		return nil, nil
	}
	if given && none {
		return nil, errors.New("--expires conflicts with --no-expiry")
	}
	if none {
		return nil, nil
	}
	t, err := parseExpiry(expires, now)
	if err != nil {
		return nil, err
	}
	return timestamppb.New(t), nil
}

func (a *app) keysCreateCmd() *cobra.Command {
	var f keyFlags
	c := &cobra.Command{
		Use:   "create --name NAME",
		Short: "Create an ingest key and print its secret once",
		Long: "Create an ingest key and print its secret, which the server cannot show again.\n" +
			"Without --device or --tag the key admits every device of the workspace.",
		Example: "  ingestctl keys create --name edge-fleet --tag site=berlin --expires 90d --rate 500",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := buildKeyCreate(&f, cmd.Flags(), a.now())
			if err != nil {
				return err
			}
			c, err := a.ingestKeyClient()
			if err != nil {
				return err
			}
			resp, err := c.CreateIngestKey(cmd.Context(), &ingestgatev1.CreateIngestKeyRequest{WorkspaceId: a.workspace, IngestKey: key})
			if err != nil {
				return err
			}
			return a.emitSecret(resp, resp.GetSecret(), showFields(ingestKeyFields(resp.GetIngestKey())))
		},
	}
	f.register(c.Flags(), false)
	_ = c.MarkFlagRequired("name")
	return c
}

func (a *app) keysUpdateCmd() *cobra.Command {
	var f keyFlags
	c := &cobra.Command{
		Use:   "update ID",
		Short: "Change an ingest key's name, description, labels, scope, expiry or limits",
		Long: "Change an ingest key. Only the fields named by flags are sent, as the update mask.\n" +
			"--label replaces all labels and --device/--tag replace the whole scope.\n" +
			"--rate and --max-streams may be given alone; the other limit is kept.",
		Example: "  ingestctl keys update ik_123 --tag site=berlin --tag site=paris --no-expiry",
		Args:    oneArg("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			key, mask, err := buildKeyUpdate(a.workspace, args[0], &f, fs, a.now())
			if err != nil {
				return err
			}
			c, err := a.ingestKeyClient()
			if err != nil {
				return err
			}
			// The mask path is the whole limits message, so fetch the limit the
			// user did not name rather than silently resetting it to default.
			if fs.Changed("rate") != fs.Changed("max-streams") {
				cur, err := c.GetIngestKey(cmd.Context(), &ingestgatev1.GetIngestKeyRequest{WorkspaceId: a.workspace, KeyId: args[0]})
				if err != nil {
					return err
				}
				if !fs.Changed("rate") {
					key.Limits.RecordsPerSecond = cur.GetIngestKey().GetLimits().GetRecordsPerSecond()
				} else {
					key.Limits.MaxStreams = cur.GetIngestKey().GetLimits().GetMaxStreams()
				}
			}
			resp, err := c.UpdateIngestKey(cmd.Context(), &ingestgatev1.UpdateIngestKeyRequest{IngestKey: key, UpdateMask: mask})
			if err != nil {
				return err
			}
			return a.emit(resp, showFields(ingestKeyFields(resp.GetIngestKey())))
		},
	}
	f.register(c.Flags(), true)
	return c
}

func (a *app) keysListCmd() *cobra.Command {
	var (
		page                        pageFlags
		status, nameContains, label string
	)
	c := &cobra.Command{
		Use:     "list",
		Short:   "List ingest keys, newest first",
		Example: "  ingestctl keys list --status active --label team=ops --all",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := parseStatus(status)
			if err != nil {
				return err
			}
			if label != "" {
				if _, _, err := splitKV("label", label, false); err != nil {
					return err
				}
			}
			c, err := a.ingestKeyClient()
			if err != nil {
				return err
			}
			resp, err := listPages(cmd.Context(), page, func(ctx context.Context, size int32, token string) (*ingestgatev1.ListIngestKeysResponse, error) {
				return c.ListIngestKeys(ctx, &ingestgatev1.ListIngestKeysRequest{
					WorkspaceId: a.workspace, PageSize: size, PageToken: token,
					Status: st, NameContains: nameContains, Label: label,
				})
			})
			if err != nil {
				return err
			}
			return a.emitList(resp, ingestKeyHeader, ingestKeyRows(resp.GetIngestKeys()))
		},
	}
	fs := c.Flags()
	fs.StringVar(&status, "status", "", "only keys with this status: active, inactive or revoked")
	fs.StringVar(&nameContains, "name-contains", "", "only keys whose name contains this text, ignoring case")
	fs.StringVar(&label, "label", "", "only keys carrying this label, key=value")
	page.register(fs)
	return c
}

var ingestKeyHeader = []string{"ID", "NAME", "PREFIX", "STATUS", "SCOPE", "EXPIRES", "STREAMS", "LAST USED"}

func ingestKeyRows(keys []*ingestgatev1.IngestKey) [][]string {
	rows := make([][]string, 0, len(keys))
	for _, k := range keys {
		rows = append(rows, []string{
			k.GetId(), k.GetName(), k.GetDisplayPrefix(), fmtStatus(k.GetStatus(), k.GetExpired()),
			fmtScope(k.GetScope(), true), fmtTime(k.GetExpireTime()), fmt.Sprint(k.GetLiveStreams()), fmtTime(k.GetLastUsedTime()),
		})
	}
	return rows
}

func ingestKeyFields(k *ingestgatev1.IngestKey) []field {
	fs := []field{
		{"ID", k.GetId()},
		{"Workspace", k.GetWorkspaceId()},
		{"Name", k.GetName()},
		{"Description", k.GetDescription()},
		{"Prefix", k.GetDisplayPrefix()},
		{"Status", fmtStatus(k.GetStatus(), k.GetExpired())},
		{"Scope", fmtScope(k.GetScope(), false)},
		{"Labels", fmtMap(k.GetLabels())},
		{"Expires", fmtTime(k.GetExpireTime())},
		{"Limits", fmtLimits(k.GetLimits())},
		{"Live streams", fmt.Sprintf("%d (on the node that answered)", k.GetLiveStreams())},
		{"Received", fmt.Sprintf("%d records in %d batches", k.GetRecordsReceived(), k.GetBatchesReceived())},
		{"Last used", fmtTime(k.GetLastUsedTime())},
		{"Created", fmtTime(k.GetCreateTime())},
		{"Updated", fmtTime(k.GetUpdateTime())},
	}
	return append(fs, revocationFields(k.GetRevokeTime(), k.GetRevokeReason(), k.GetPreviousSecretExpireTime(), k.GetPreviousDisplayPrefix())...)
}

// ingestKeyOps adapts IngestKeyService to credentialOps.
type ingestKeyOps struct {
	c  ingestgatev1.IngestKeyServiceClient
	ws string
}

func (o ingestKeyOps) get(ctx context.Context, id string) (proto.Message, *ingestgatev1.IngestKey, error) {
	r, err := o.c.GetIngestKey(ctx, &ingestgatev1.GetIngestKeyRequest{WorkspaceId: o.ws, KeyId: id})
	return r, r.GetIngestKey(), err
}

func (o ingestKeyOps) deactivate(ctx context.Context, id string) (proto.Message, *ingestgatev1.IngestKey, error) {
	r, err := o.c.DeactivateIngestKey(ctx, &ingestgatev1.DeactivateIngestKeyRequest{WorkspaceId: o.ws, KeyId: id})
	return r, r.GetIngestKey(), err
}

func (o ingestKeyOps) activate(ctx context.Context, id string) (proto.Message, *ingestgatev1.IngestKey, error) {
	r, err := o.c.ActivateIngestKey(ctx, &ingestgatev1.ActivateIngestKeyRequest{WorkspaceId: o.ws, KeyId: id})
	return r, r.GetIngestKey(), err
}

func (o ingestKeyOps) rotate(ctx context.Context, id string, grace *durationpb.Duration) (proto.Message, *ingestgatev1.IngestKey, string, error) {
	r, err := o.c.RotateIngestKey(ctx, &ingestgatev1.RotateIngestKeyRequest{WorkspaceId: o.ws, KeyId: id, GracePeriod: grace})
	return r, r.GetIngestKey(), r.GetSecret(), err
}

func (o ingestKeyOps) revoke(ctx context.Context, id, reason string) (proto.Message, *ingestgatev1.IngestKey, error) {
	r, err := o.c.RevokeIngestKey(ctx, &ingestgatev1.RevokeIngestKeyRequest{WorkspaceId: o.ws, KeyId: id, Reason: reason})
	return r, r.GetIngestKey(), err
}

func (o ingestKeyOps) delete(ctx context.Context, id string) (proto.Message, error) {
	return o.c.DeleteIngestKey(ctx, &ingestgatev1.DeleteIngestKeyRequest{WorkspaceId: o.ws, KeyId: id})
}
