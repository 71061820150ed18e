package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

func (a *app) workspaceClient() (ingestgatev1.WorkspaceServiceClient, error) {
	cc, err := a.conn()
	if err != nil {
		return nil, err
	}
	return ingestgatev1.NewWorkspaceServiceClient(cc), nil
}

func (a *app) workspacesCmd() *cobra.Command {
	c := group("workspaces", "Manage workspaces (tenants); changes need admin")
	c.AddCommand(a.workspacesCreateCmd(), a.workspacesListCmd(), a.workspacesGetCmd(),
		a.workspacesUpdateCmd(), a.workspacesDeleteCmd())
	return c
}

func (a *app) workspacesCreateCmd() *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:     "create ID",
		Short:   "Create a workspace",
		Example: "  ingestctl workspaces create acme-prod --name 'ACME production'",
		Args:    oneArg("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.workspaceClient()
			if err != nil {
				return err
			}
			resp, err := c.CreateWorkspace(cmd.Context(), &ingestgatev1.CreateWorkspaceRequest{
				Workspace: &ingestgatev1.Workspace{Id: args[0], DisplayName: name},
			})
			if err != nil {
				return err
			}
			return a.emit(resp, showFields(workspaceFields(resp.GetWorkspace())))
		},
	}
	c.Flags().StringVar(&name, "name", "", "display name (at most 200 characters)")
	return c
}

func (a *app) workspacesListCmd() *cobra.Command {
	var page pageFlags
	c := &cobra.Command{
		Use:   "list",
		Short: "List the workspaces this API key may see",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.workspaceClient()
			if err != nil {
				return err
			}
			resp, err := listPages(cmd.Context(), page, func(ctx context.Context, size int32, token string) (*ingestgatev1.ListWorkspacesResponse, error) {
				return c.ListWorkspaces(ctx, &ingestgatev1.ListWorkspacesRequest{PageSize: size, PageToken: token})
			})
			if err != nil {
				return err
			}
			rows := make([][]string, 0, len(resp.GetWorkspaces()))
			for _, w := range resp.GetWorkspaces() {
				rows = append(rows, []string{w.GetId(), w.GetDisplayName(), fmtTime(w.GetCreateTime()), fmtTime(w.GetUpdateTime())})
			}
			return a.emitList(resp, []string{"ID", "NAME", "CREATED", "UPDATED"}, rows)
		},
	}
	page.register(c.Flags())
	return c
}

func (a *app) workspacesGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show one workspace",
		Args:  oneArg("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.workspaceClient()
			if err != nil {
				return err
			}
			resp, err := c.GetWorkspace(cmd.Context(), &ingestgatev1.GetWorkspaceRequest{WorkspaceId: args[0]})
			if err != nil {
				return err
			}
			return a.emit(resp, showFields(workspaceFields(resp.GetWorkspace())))
		},
	}
}

func (a *app) workspacesUpdateCmd() *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:     "update ID --name DISPLAY",
		Short:   "Rename a workspace",
		Example: "  ingestctl workspaces update acme-prod --name 'ACME (prod)'",
		Args:    oneArg("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("name") {
				return errors.New("nothing to update: give --name")
			}
			c, err := a.workspaceClient()
			if err != nil {
				return err
			}
			resp, err := c.UpdateWorkspace(cmd.Context(), &ingestgatev1.UpdateWorkspaceRequest{
				Workspace:  &ingestgatev1.Workspace{Id: args[0], DisplayName: name},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}},
			})
			if err != nil {
				return err
			}
			return a.emit(resp, showFields(workspaceFields(resp.GetWorkspace())))
		},
	}
	c.Flags().StringVar(&name, "name", "", "new display name")
	return c
}

func (a *app) workspacesDeleteCmd() *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a workspace",
		Long: "Delete a workspace. The server refuses while it still holds ingest keys or\n" +
			"devices; --force deletes them along with it. Its audit log is kept:\n" +
			"events list -w ID still shows it, and a workspace created again with\n" +
			"the same ID continues it.",
		Args: oneArg("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.workspaceClient()
			if err != nil {
				return err
			}
			resp, err := c.DeleteWorkspace(cmd.Context(), &ingestgatev1.DeleteWorkspaceRequest{WorkspaceId: args[0], Force: force})
			if err != nil {
				return err
			}
			return a.emit(resp, deletedMsg("workspace", args[0]))
		},
	}
	c.Flags().BoolVar(&force, "force", false, "also delete every ingest key and device in the workspace (its audit log stays)")
	return c
}

func workspaceFields(w *ingestgatev1.Workspace) []field {
	return []field{
		{"ID", w.GetId()},
		{"Name", w.GetDisplayName()},
		{"Created", fmtTime(w.GetCreateTime())},
		{"Updated", fmtTime(w.GetUpdateTime())},
	}
}
