package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

func (a *app) apiKeyClient() (ingestgatev1.ApiKeyServiceClient, error) {
	cc, err := a.conn()
	if err != nil {
		return nil, err
	}
	return ingestgatev1.NewApiKeyServiceClient(cc), nil
}

func (a *app) apiKeysCmd() *cobra.Command {
	c := group("apikeys", "Manage API keys, the credentials for this management API (needs admin)")
	c.AddCommand(a.apiKeysCreateCmd(), a.apiKeysListCmd(), a.apiKeysUpdateCmd())
	c.AddCommand(lifecycleCmds(a, credentialKind[*ingestgatev1.ApiKey]{
		noun: "API key",
		ops: func() (credentialOps[*ingestgatev1.ApiKey], error) {
			c, err := a.apiKeyClient()
			if err != nil {
				return nil, err
			}
			return apiKeyOps{c}, nil
		},
		fields: apiKeyFields,
	})...)
	return c
}

// apiKeyFlags holds the flags of apikeys create and apikeys update.
type apiKeyFlags struct {
	name, description string
	permissions       []string
	workspaces        []string
	allWorkspaces     bool
	expires           string
	noExpiry          bool
}

const permissionList = "keys:read, keys:write, devices:read, devices:write, events:read, telemetry:read, users:read, users:write, admin"

func (f *apiKeyFlags) register(fs *pflag.FlagSet, update bool) {
	fs.StringVar(&f.name, "name", "", "name")
	fs.StringVar(&f.description, "description", "", "description")
	fs.StringArrayVar(&f.permissions, "permission", nil, "grant this permission (repeatable, or comma-separated): "+permissionList)
	fs.StringArrayVar(&f.workspaces, "workspace-scope", nil, "limit the key to this workspace (repeatable; default: every workspace)")
	fs.StringVar(&f.expires, "expires", "", "expiry: RFC 3339 time, date (midnight UTC), or duration from now such as 720h or 30d")
	if update {
		fs.Lookup("permission").Usage = "set the permissions to exactly these (repeatable; replaces all): " + permissionList
		fs.Lookup("workspace-scope").Usage = "set the workspaces the key may act in to exactly these (repeatable; replaces all)"
		fs.BoolVar(&f.allWorkspaces, "all-workspaces", false, "let the key act in every workspace")
		fs.BoolVar(&f.noExpiry, "no-expiry", false, "remove the expiry")
	}
}

func buildAPIKeyCreate(f *apiKeyFlags, fs *pflag.FlagSet, now time.Time) (*ingestgatev1.ApiKey, error) {
	key := &ingestgatev1.ApiKey{Name: f.name, Description: f.description}
	var err error
	if key.Permissions, err = parseList("permission", f.permissions); err != nil {
		return nil, err
	}
	if key.WorkspaceIds, err = parseList("workspace-scope", f.workspaces); err != nil {
		return nil, err
	}
	if fs.Changed("expires") {
		t, err := parseExpiry(f.expires, now)
		if err != nil {
			return nil, err
		}
		key.ExpireTime = timestamppb.New(t)
	}
	return key, nil
}

func buildAPIKeyUpdate(id string, f *apiKeyFlags, fs *pflag.FlagSet, now time.Time) (*ingestgatev1.ApiKey, *fieldmaskpb.FieldMask, error) {
	key := &ingestgatev1.ApiKey{Id: id}
	var m maskBuilder
	var err error
	if m.add("name", fs.Changed("name")) {
		key.Name = f.name
	}
	if m.add("description", fs.Changed("description")) {
		key.Description = f.description
	}
	if m.add("permissions", fs.Changed("permission")) {
		if key.Permissions, err = parseList("permission", f.permissions); err != nil {
			return nil, nil, err
		}
	}
	if m.add("workspace_ids", fs.Changed("workspace-scope") || f.allWorkspaces) {
		if f.allWorkspaces && len(f.workspaces) > 0 {
			return nil, nil, errors.New("--all-workspaces conflicts with --workspace-scope")
		}
		if key.WorkspaceIds, err = parseList("workspace-scope", f.workspaces); err != nil {
			return nil, nil, err
		}
	}
	if key.ExpireTime, err = expiryUpdate(&m, f.expires, fs.Changed("expires"), f.noExpiry, now); err != nil {
		return nil, nil, err
	}
	mask, err := m.mask("name", "description", "permission", "workspace-scope", "all-workspaces", "expires", "no-expiry")
	return key, mask, err
}

func (a *app) apiKeysCreateCmd() *cobra.Command {
	var f apiKeyFlags
	c := &cobra.Command{
		Use:     "create --name NAME --permission PERM...",
		Short:   "Create an API key and print its secret once",
		Example: "  ingestctl apikeys create --name ci --permission keys:read --permission keys:write --workspace-scope prod --expires 30d",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := buildAPIKeyCreate(&f, cmd.Flags(), a.now())
			if err != nil {
				return err
			}
			c, err := a.apiKeyClient()
			if err != nil {
				return err
			}
			resp, err := c.CreateApiKey(cmd.Context(), &ingestgatev1.CreateApiKeyRequest{ApiKey: key})
			if err != nil {
				return err
			}
			return a.emitSecret(resp, resp.GetSecret(), showFields(apiKeyFields(resp.GetApiKey())))
		},
	}
	f.register(c.Flags(), false)
	_ = c.MarkFlagRequired("name")
	_ = c.MarkFlagRequired("permission")
	return c
}

func (a *app) apiKeysUpdateCmd() *cobra.Command {
	var f apiKeyFlags
	c := &cobra.Command{
		Use:     "update ID",
		Short:   "Change an API key's name, description, permissions, workspaces or expiry",
		Long:    "Change an API key. Only the fields named by flags are sent, as the update mask;\n--permission and --workspace-scope replace the whole list.",
		Example: "  ingestctl apikeys update ak_123 --permission events:read --all-workspaces",
		Args:    oneArg("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, mask, err := buildAPIKeyUpdate(args[0], &f, cmd.Flags(), a.now())
			if err != nil {
				return err
			}
			c, err := a.apiKeyClient()
			if err != nil {
				return err
			}
			resp, err := c.UpdateApiKey(cmd.Context(), &ingestgatev1.UpdateApiKeyRequest{ApiKey: key, UpdateMask: mask})
			if err != nil {
				return err
			}
			return a.emit(resp, showFields(apiKeyFields(resp.GetApiKey())))
		},
	}
	f.register(c.Flags(), true)
	return c
}

func (a *app) apiKeysListCmd() *cobra.Command {
	var (
		page   pageFlags
		status string
	)
	c := &cobra.Command{
		Use:     "list",
		Short:   "List API keys",
		Example: "  ingestctl apikeys list --status active",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := parseStatus(status)
			if err != nil {
				return err
			}
			c, err := a.apiKeyClient()
			if err != nil {
				return err
			}
			resp, err := listPages(cmd.Context(), page, func(ctx context.Context, size int32, token string) (*ingestgatev1.ListApiKeysResponse, error) {
				return c.ListApiKeys(ctx, &ingestgatev1.ListApiKeysRequest{PageSize: size, PageToken: token, Status: st})
			})
			if err != nil {
				return err
			}
			return a.emitList(resp, apiKeyHeader, apiKeyRows(resp.GetApiKeys()))
		},
	}
	c.Flags().StringVar(&status, "status", "", "only keys with this status: active, inactive or revoked")
	page.register(c.Flags())
	return c
}

var apiKeyHeader = []string{"ID", "NAME", "PREFIX", "STATUS", "PERMISSIONS", "WORKSPACES", "EXPIRES", "LAST USED"}

func apiKeyRows(keys []*ingestgatev1.ApiKey) [][]string {
	rows := make([][]string, 0, len(keys))
	for _, k := range keys {
		rows = append(rows, []string{
			k.GetId(), k.GetName(), k.GetDisplayPrefix(), fmtStatus(k.GetStatus(), k.GetExpired()),
			strings.Join(k.GetPermissions(), ","), fmtWorkspaces(k.GetWorkspaceIds()),
			fmtTime(k.GetExpireTime()), fmtTime(k.GetLastUsedTime()),
		})
	}
	return rows
}

// fmtWorkspaces spells out that an empty list means every workspace.
func fmtWorkspaces(ids []string) string {
	if len(ids) == 0 {
		return "all"
	}
	return strings.Join(ids, ",")
}

func apiKeyFields(k *ingestgatev1.ApiKey) []field {
	fs := []field{
		{"ID", k.GetId()},
		{"Name", k.GetName()},
		{"Description", k.GetDescription()},
		{"Prefix", k.GetDisplayPrefix()},
		{"Status", fmtStatus(k.GetStatus(), k.GetExpired())},
		{"Permissions", strings.Join(k.GetPermissions(), ", ")},
		{"Workspaces", fmtWorkspaces(k.GetWorkspaceIds())},
		{"Expires", fmtTime(k.GetExpireTime())},
		{"Last used", fmtTime(k.GetLastUsedTime())},
		{"Created", fmtTime(k.GetCreateTime())},
		{"Updated", fmtTime(k.GetUpdateTime())},
	}
	return append(fs, revocationFields(k.GetRevokeTime(), k.GetRevokeReason(), k.GetPreviousSecretExpireTime(), k.GetPreviousDisplayPrefix())...)
}

// apiKeyOps adapts ApiKeyService to credentialOps.
type apiKeyOps struct {
	c ingestgatev1.ApiKeyServiceClient
}

func (o apiKeyOps) get(ctx context.Context, id string) (proto.Message, *ingestgatev1.ApiKey, error) {
	r, err := o.c.GetApiKey(ctx, &ingestgatev1.GetApiKeyRequest{ApiKeyId: id})
	return r, r.GetApiKey(), err
}

func (o apiKeyOps) deactivate(ctx context.Context, id string) (proto.Message, *ingestgatev1.ApiKey, error) {
	r, err := o.c.DeactivateApiKey(ctx, &ingestgatev1.DeactivateApiKeyRequest{ApiKeyId: id})
	return r, r.GetApiKey(), err
}

func (o apiKeyOps) activate(ctx context.Context, id string) (proto.Message, *ingestgatev1.ApiKey, error) {
	r, err := o.c.ActivateApiKey(ctx, &ingestgatev1.ActivateApiKeyRequest{ApiKeyId: id})
	return r, r.GetApiKey(), err
}

func (o apiKeyOps) rotate(ctx context.Context, id string, grace *durationpb.Duration) (proto.Message, *ingestgatev1.ApiKey, string, error) {
	r, err := o.c.RotateApiKey(ctx, &ingestgatev1.RotateApiKeyRequest{ApiKeyId: id, GracePeriod: grace})
	return r, r.GetApiKey(), r.GetSecret(), err
}

func (o apiKeyOps) revoke(ctx context.Context, id, reason string) (proto.Message, *ingestgatev1.ApiKey, error) {
	r, err := o.c.RevokeApiKey(ctx, &ingestgatev1.RevokeApiKeyRequest{ApiKeyId: id, Reason: reason})
	return r, r.GetApiKey(), err
}

func (o apiKeyOps) delete(ctx context.Context, id string) (proto.Message, error) {
	return o.c.DeleteApiKey(ctx, &ingestgatev1.DeleteApiKeyRequest{ApiKeyId: id})
}
