// Command ingestbench puts load on an ingestgate node over loopback and
// reports what it measured: acked records and batches per second, ack
// latency percentiles and errors by code, as text and as JSON.
//
//	ingestbench ingest --devices 100 --batch 100 --duration 10s
//
// It talks to the node only through its public gRPC API (the generated
// client), as devices and operators do.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

const usage = `Usage: ingestbench <workload> [flags]

Workloads:
  ingest   devices stream batches and count what the node acknowledges
  revoke   time how long a revocation takes to close every stream of a key
  connect  open idle device streams: open rate and the node's memory per stream

Run "ingestbench <workload> --help" for its flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	// INGESTBENCH_CPUPROFILE=file profiles the load generator itself, to
	// tell its cost from the node's.
	if f := getenv("INGESTBENCH_CPUPROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			fmt.Fprintln(stderr, "ingestbench:", err)
			return 1
		}
		defer out.Close()
		pprof.StartCPUProfile(out)
		defer pprof.StopCPUProfile()
	}
	var err error
	switch args[0] {
	case "ingest":
		err = runIngest(ctx, args[1:], stdout, stderr, getenv)
	case "revoke":
		err = runRevoke(ctx, args[1:], stdout, stderr, getenv)
	case "connect":
		err = runConnect(ctx, args[1:], stdout, stderr, getenv)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "ingestbench: unknown workload %q\n%s", args[0], usage)
		return 2
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "ingestbench: %v\n", err)
		return 1
	}
	return 0
}

// errUsage is a bad flag, already reported by the flag set.
var errUsage = errors.New("usage")

// parseFlags parses a workload's flags: flag.ErrHelp for --help, errUsage
// (already reported by the flag set) for a bad flag.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	return nil
}
