package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

func (a *app) userClient() (ingestgatev1.UserServiceClient, error) {
	cc, err := a.conn()
	if err != nil {
		return nil, err
	}
	return ingestgatev1.NewUserServiceClient(cc), nil
}

func (a *app) usersCmd() *cobra.Command {
	c := group("users", "Manage who may sign in to a workspace, and their roles (owners)")
	a.addWorkspaceFlag(c)
	c.AddCommand(a.usersCreateCmd(), a.usersListCmd(), a.usersGetCmd(), a.usersSetRoleCmd(),
		a.usersSetDisabledCmd(true), a.usersSetDisabledCmd(false), a.usersRemoveCmd(), a.usersDeleteCmd())
	return c
}

const roleList = "owner, admin or viewer"

// parseRole reads owner, admin or viewer (or the enum name).
func parseRole(s string) (ingestgatev1.Role, error) {
	name := "ROLE_" + strings.ToUpper(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "ROLE_"))
	r, ok := ingestgatev1.Role_value[name]
	if !ok || r == 0 {
		return 0, fmt.Errorf("--role %q: want %s", s, roleList)
	}
	return ingestgatev1.Role(r), nil
}

func fmtRole(r ingestgatev1.Role) string {
	if r == ingestgatev1.Role_ROLE_UNSPECIFIED {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(r.String(), "ROLE_"))
}

func (a *app) usersCreateCmd() *cobra.Command {
	var email, name, role string
	c := &cobra.Command{
		Use:   "create --email EMAIL --role ROLE",
		Short: "Add a member: a new account, or an existing one given a role here",
		Long: "Add a member to the workspace. A new email creates the account with a generated\n" +
			"password, printed once (set INGESTCTL_USER_PASSWORD to choose it instead; never a flag,\n" +
			"so it stays out of shell history). An existing account is just given the role.",
		Example: "  ingestctl users create --email ada@example.com --name 'Ada' --role admin",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := parseRole(role)
			if err != nil {
				return err
			}
			c, err := a.userClient()
			if err != nil {
				return err
			}
			resp, err := c.CreateUser(cmd.Context(), &ingestgatev1.CreateUserRequest{
				WorkspaceId: a.workspace,
				User:        &ingestgatev1.User{Email: email, DisplayName: name, Role: r},
				Password:    a.getenv(envUserPassword),
			})
			if err != nil {
				return err
			}
			if pw := resp.GetInitialPassword(); pw != "" {
				return a.emitSecret(resp, pw, showFields(userFields(resp.GetUser())))
			}
			return a.emit(resp, showFields(userFields(resp.GetUser())))
		},
	}
	c.Flags().StringVar(&email, "email", "", "email address (required)")
	c.Flags().StringVar(&name, "name", "", "display name")
	c.Flags().StringVar(&role, "role", "", "role in the workspace: "+roleList+" (required)")
	c.MarkFlagRequired("email")
	c.MarkFlagRequired("role")
	return c
}

func (a *app) usersListCmd() *cobra.Command {
	var page pageFlags
	c := &cobra.Command{
		Use:   "list",
		Short: "List the workspace's members",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.userClient()
			if err != nil {
				return err
			}
			resp, err := listPages(cmd.Context(), page, func(ctx context.Context, size int32, token string) (*ingestgatev1.ListUsersResponse, error) {
				return c.ListUsers(ctx, &ingestgatev1.ListUsersRequest{WorkspaceId: a.workspace, PageSize: size, PageToken: token})
			})
			if err != nil {
				return err
			}
			return a.emitList(resp, userHeader, userRows(resp.GetUsers()))
		},
	}
	page.register(c.Flags())
	return c
}

func (a *app) usersGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get USER_ID",
		Short: "Show one member",
		Args:  oneArg("USER_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.userClient()
			if err != nil {
				return err
			}
			resp, err := c.GetUser(cmd.Context(), &ingestgatev1.GetUserRequest{WorkspaceId: a.workspace, UserId: args[0]})
			if err != nil {
				return err
			}
			return a.emit(resp, showFields(userFields(resp.GetUser())))
		},
	}
}

// updateUser sends one UpdateUser with the given fields and mask path.
func (a *app) updateUser(cmd *cobra.Command, u *ingestgatev1.User, path string) error {
	c, err := a.userClient()
	if err != nil {
		return err
	}
	resp, err := c.UpdateUser(cmd.Context(), &ingestgatev1.UpdateUserRequest{
		WorkspaceId: a.workspace, User: u, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{path}},
	})
	if err != nil {
		return err
	}
	return a.emit(resp, showFields(userFields(resp.GetUser())))
}

func (a *app) usersSetRoleCmd() *cobra.Command {
	var role string
	c := &cobra.Command{
		Use:     "set-role USER_ID --role ROLE",
		Short:   "Change a member's role in the workspace",
		Example: "  ingestctl users set-role usr_01h… --role viewer",
		Args:    oneArg("USER_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := parseRole(role)
			if err != nil {
				return err
			}
			return a.updateUser(cmd, &ingestgatev1.User{Id: args[0], Role: r}, "role")
		},
	}
	c.Flags().StringVar(&role, "role", "", "new role: "+roleList+" (required)")
	c.MarkFlagRequired("role")
	return c
}

func (a *app) usersSetDisabledCmd(disable bool) *cobra.Command {
	use, short := "enable", "Let a disabled user sign in again"
	if disable {
		use, short = "disable", "Stop a user from signing in and end their sessions at once"
	}
	return &cobra.Command{
		Use:   use + " USER_ID",
		Short: short,
		Args:  oneArg("USER_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.updateUser(cmd, &ingestgatev1.User{Id: args[0], Disabled: disable}, "disabled")
		},
	}
}

func (a *app) usersRemoveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "remove USER_ID",
		Short: "Take a member out of the workspace (the account remains)",
		Args:  oneArg("USER_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.userClient()
			if err != nil {
				return err
			}
			resp, err := c.RemoveUser(cmd.Context(), &ingestgatev1.RemoveUserRequest{WorkspaceId: a.workspace, UserId: args[0]})
			if err != nil {
				return err
			}
			return a.emit(resp, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "Removed user %s from workspace %s.\n", cell(args[0]), cell(a.workspace))
				return err
			})
		},
	}
}

func (a *app) usersDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete USER_ID",
		Short: "Delete the account everywhere and end its sessions",
		Args:  oneArg("USER_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.userClient()
			if err != nil {
				return err
			}
			resp, err := c.DeleteUser(cmd.Context(), &ingestgatev1.DeleteUserRequest{WorkspaceId: a.workspace, UserId: args[0]})
			if err != nil {
				return err
			}
			return a.emit(resp, deletedMsg("user", args[0]))
		},
	}
}

func (a *app) whoamiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show who the credential in use is and what it may do",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cc, err := a.conn()
			if err != nil {
				return err
			}
			resp, err := ingestgatev1.NewAuthServiceClient(cc).GetCurrentPrincipal(cmd.Context(), &ingestgatev1.GetCurrentPrincipalRequest{})
			if err != nil {
				return err
			}
			fs := []field{{"Actor", resp.GetActor()}}
			if k := resp.GetApiKey(); k != nil {
				ws := strings.Join(k.GetWorkspaceIds(), ", ")
				if ws == "" {
					ws = "every workspace"
				}
				fs = append(fs, field{"API key", k.GetDisplayPrefix()}, field{"Permissions", strings.Join(k.GetPermissions(), ", ")}, field{"Workspaces", ws})
			}
			if u := resp.GetUser(); u != nil {
				fs = append(fs, field{"Email", u.GetEmail()}, field{"Name", u.GetDisplayName()})
				for _, m := range resp.GetMemberships() {
					fs = append(fs, field{"Workspace " + m.GetWorkspaceId(), fmtRole(m.GetRole())})
				}
			}
			return a.emit(resp, showFields(fs))
		},
	}
}

var userHeader = []string{"ID", "EMAIL", "NAME", "ROLE", "STATUS", "LAST LOGIN"}

func fmtDisabled(d bool) string {
	if d {
		return "disabled"
	}
	return "active"
}

func userRows(us []*ingestgatev1.User) [][]string {
	rows := make([][]string, 0, len(us))
	for _, u := range us {
		rows = append(rows, []string{u.GetId(), u.GetEmail(), u.GetDisplayName(), fmtRole(u.GetRole()), fmtDisabled(u.GetDisabled()), fmtTime(u.GetLastLoginTime())})
	}
	return rows
}

func userFields(u *ingestgatev1.User) []field {
	return []field{
		{"ID", u.GetId()},
		{"Email", u.GetEmail()},
		{"Name", u.GetDisplayName()},
		{"Role", fmtRole(u.GetRole())},
		{"Status", fmtDisabled(u.GetDisabled())},
		{"Last login", fmtTime(u.GetLastLoginTime())},
		{"Created", fmtTime(u.GetCreateTime())},
		{"Updated", fmtTime(u.GetUpdateTime())},
	}
}
