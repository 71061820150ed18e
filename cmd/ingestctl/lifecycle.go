package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// credentialOps is what ingest keys and API keys have in common: the same
// lifecycle, with requests that differ only in how the key is named. Each
// call returns the whole response (printed as JSON) and the key inside it
// (rendered as a table).
type credentialOps[K proto.Message] interface {
	get(ctx context.Context, id string) (proto.Message, K, error)
	deactivate(ctx context.Context, id string) (proto.Message, K, error)
	activate(ctx context.Context, id string) (proto.Message, K, error)
	rotate(ctx context.Context, id string, grace *durationpb.Duration) (resp proto.Message, key K, secret string, err error)
	revoke(ctx context.Context, id, reason string) (proto.Message, K, error)
	delete(ctx context.Context, id string) (proto.Message, error)
}

// credentialKind describes one kind of credential to lifecycleCmds.
type credentialKind[K proto.Message] struct {
	noun   string // "ingest key" or "API key" (help text assumes "an")
	ops    func() (credentialOps[K], error)
	fields func(K) []field // detail view
}

func (k credentialKind[K]) show(key K) func(io.Writer) error {
	return showFields(k.fields(key))
}

// lifecycleCmds builds get, deactivate, activate, rotate, revoke and delete.
func lifecycleCmds[K proto.Message](a *app, k credentialKind[K]) []*cobra.Command {
	simple := func(use, short string, call func(credentialOps[K]) func(context.Context, string) (proto.Message, K, error)) *cobra.Command {
		return &cobra.Command{
			Use:   use + " ID",
			Short: short,
			Args:  oneArg("ID"),
			RunE: func(cmd *cobra.Command, args []string) error {
				ops, err := k.ops()
				if err != nil {
					return err
				}
				resp, key, err := call(ops)(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return a.emit(resp, k.show(key))
			},
		}
	}

	get := simple("get", "Show one "+k.noun,
		func(o credentialOps[K]) func(context.Context, string) (proto.Message, K, error) { return o.get })
	deactivate := simple("deactivate", "Suspend an "+k.noun+" (reversible with activate)",
		func(o credentialOps[K]) func(context.Context, string) (proto.Message, K, error) { return o.deactivate })
	activate := simple("activate", "Make an inactive "+k.noun+" active again",
		func(o credentialOps[K]) func(context.Context, string) (proto.Message, K, error) { return o.activate })

	var graceFlag string
	rotate := &cobra.Command{
		Use:   "rotate ID",
		Short: "Issue a new secret for an " + k.noun,
		Long: "Issue a new secret for an " + k.noun + ". The new secret is printed once.\n" +
			"With --grace the previous secret keeps working that long (at most 30 days);\n" +
			"rotating again ends an earlier grace period at once.",
		Args: oneArg("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			grace, err := parseGrace(graceFlag)
			if err != nil {
				return err
			}
			var gp *durationpb.Duration
			if grace > 0 {
				gp = durationpb.New(grace)
			}
			ops, err := k.ops()
			if err != nil {
				return err
			}
			resp, key, secret, err := ops.rotate(cmd.Context(), args[0], gp)
			if err != nil {
				return err
			}
			return a.emitSecret(resp, secret, k.show(key))
		},
	}
	rotate.Flags().StringVar(&graceFlag, "grace", "0s", "how long the previous secret keeps working, e.g. 24h or 7d")

	var reason string
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an " + k.noun + " for good",
		Args:  oneArg("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ops, err := k.ops()
			if err != nil {
				return err
			}
			resp, key, err := ops.revoke(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			return a.emit(resp, k.show(key))
		},
	}
	revoke.Flags().StringVar(&reason, "reason", "", "why, for the audit log (at most 500 characters)")

	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an " + k.noun + " (its audit events remain)",
		Args:  oneArg("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ops, err := k.ops()
			if err != nil {
				return err
			}
			resp, err := ops.delete(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.emit(resp, deletedMsg(k.noun, args[0]))
		},
	}
	return []*cobra.Command{get, deactivate, activate, rotate, revoke, del}
}

// deletedMsg is the table-mode output of delete commands.
func deletedMsg(noun, id string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "Deleted %s %s.\n", noun, cell(id))
		return err
	}
}
