package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

const (
	envAddr      = "INGESTGATE_ADDR"
	envAPIKey    = "INGESTGATE_API_KEY"
	envWorkspace = "INGESTGATE_WORKSPACE"
	// envUserPassword chooses the password of an account users create
	// makes, instead of a generated one.
	envUserPassword = "INGESTCTL_USER_PASSWORD"
	envTLSCA        = "INGESTGATE_TLS_CA"

	defaultAddr      = "127.0.0.1:50051"
	defaultWorkspace = "default"
)

// app holds what one invocation needs. Commands are built as closures over
// it, so tests can run the whole CLI in-process with their own writers and
// environment.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time

	// Global settings, filled from flags, then the environment (resolve).
	addr      string
	apiKey    string
	workspace string
	output    string
	timeout   time.Duration
	// TLS: tls uses the system roots; tlsCA names a CA file; tlsCert and
	// tlsKey are a client certificate (mTLS).
	tls                    bool
	tlsCA, tlsCert, tlsKey string

	cc *grpc.ClientConn // dialled lazily by conn, closed by execute
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return newApp(stdout, stderr, getenv).execute(ctx, args)
}

func newApp(stdout, stderr io.Writer, getenv func(string) string) *app {
	return &app{stdout: stdout, stderr: stderr, getenv: getenv, now: time.Now}
}

// execute runs the CLI and maps the outcome to an exit code: 0 success,
// 1 the call failed (gRPC or I/O), 2 the command line was wrong.
func (a *app) execute(ctx context.Context, args []string) int {
	root := a.rootCmd()
	root.SetArgs(args)
	// Help and cobra's own messages go to the writers run was given, not to
	// os.Stdout and os.Stderr behind the caller's back.
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if a.cc != nil {
		_ = a.cc.Close()
	}
	if err == nil {
		return 0
	}
	if st, ok := status.FromError(err); ok {
		fmt.Fprintf(a.stderr, "error: %s: %s\n", st.Code(), st.Message())
		return 1
	}
	fmt.Fprintf(a.stderr, "error: %v\n", err)
	var re *runtimeError
	if errors.As(err, &re) {
		return 1
	}
	// Everything else is a usage error: cobra reports bad flags, arguments
	// and required or conflicting flags as plain errors, so usage is the
	// default and failures after the command line was accepted are marked.
	if cmd != nil {
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return 2
}

// runtimeError marks a failure that is not the user's command line, such as
// a connection or write error, so it exits 1 rather than 2.
type runtimeError struct{ err error }

func (e *runtimeError) Error() string { return e.err.Error() }
func (e *runtimeError) Unwrap() error { return e.err }

func runtimeErrorf(format string, args ...any) error {
	return &runtimeError{fmt.Errorf(format, args...)}
}

func (a *app) rootCmd() *cobra.Command {
	root := group("ingestctl", "Administer an ingestgate server")
	root.Long = `ingestctl administers an ingestgate server over its gRPC management API.

Connection settings come from flags, then the environment:
  --addr       ` + envAddr + `       (default ` + defaultAddr + `)
  --api-key    ` + envAPIKey + `    (required; an API key with the needed permissions, or a
                                   signed-in user's access token)
  --workspace  ` + envWorkspace + `  (default ` + defaultWorkspace + `; keys, devices, events)`
	root.SilenceErrors = true // execute prints errors in one format
	root.SilenceUsage = true
	root.PersistentPreRunE = a.resolve

	pf := root.PersistentFlags()
	pf.StringVar(&a.addr, "addr", defaultAddr, "gRPC address of the server (env "+envAddr+")")
	pf.StringVar(&a.apiKey, "api-key", "", "management API key (env "+envAPIKey+"; prefer the env: flags show up in ps and shell history)")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	pf.DurationVar(&a.timeout, "timeout", 10*time.Second, "time limit for each call to the server")
	pf.BoolVar(&a.tls, "tls", false, "connect over TLS, trusting the system's CAs (implied by --tls-ca, --tls-cert)")
	pf.StringVar(&a.tlsCA, "tls-ca", "", "connect over TLS, trusting this PEM CA file (env "+envTLSCA+")")
	pf.StringVar(&a.tlsCert, "tls-cert", "", "client certificate (PEM) for a server that requires one (mTLS)")
	pf.StringVar(&a.tlsKey, "tls-key", "", "private key (PEM) of --tls-cert")

	root.AddCommand(a.keysCmd(), a.devicesCmd(), a.workspacesCmd(), a.apiKeysCmd(), a.eventsCmd(), a.usersCmd(), a.whoamiCmd(), a.telemetryCmd(), a.connectionsCmd())
	return root
}

// addWorkspaceFlag adds -w to a command group whose calls are scoped to
// one workspace.
func (a *app) addWorkspaceFlag(c *cobra.Command) {
	c.PersistentFlags().StringVarP(&a.workspace, "workspace", "w", defaultWorkspace, "workspace (env "+envWorkspace+")")
}

// resolve fills settings not given as flags from the environment and
// checks them, before any command runs.
func (a *app) resolve(cmd *cobra.Command, _ []string) error {
	fs := cmd.Flags()
	if !fs.Changed("addr") {
		if v := a.getenv(envAddr); v != "" {
			a.addr = v
		}
	}
	if !fs.Changed("api-key") {
		a.apiKey = a.getenv(envAPIKey)
	}
	if !fs.Changed("tls-ca") {
		a.tlsCA = a.getenv(envTLSCA)
	}
	if !fs.Changed("workspace") {
		if v := a.getenv(envWorkspace); v != "" {
			a.workspace = v
		}
	}
	if fs.Lookup("workspace") != nil && a.workspace == "" {
		return errors.New("--workspace must not be empty")
	}
	switch a.output {
	case "table", "json":
	default:
		return fmt.Errorf("--output must be table or json, not %q", a.output)
	}
	if a.timeout <= 0 {
		return fmt.Errorf("--timeout must be positive, not %s", a.timeout)
	}
	if strings.TrimSpace(a.addr) == "" {
		return errors.New("--addr must not be empty")
	}
	return nil
}

// group makes a command that only holds subcommands. Without its own RunE,
// cobra would print help and exit 0 for a mistyped subcommand.
func group(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
		},
	}
}

// oneArg requires exactly one non-empty positional argument, named in the
// error so the message says what is missing.
func oneArg(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return fmt.Errorf("missing argument %s", name)
		case len(args) > 1:
			return fmt.Errorf("%s takes one argument (%s), got %d: %q", cmd.CommandPath(), name, len(args), args)
		case args[0] == "":
			return fmt.Errorf("%s must not be empty", name)
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}
