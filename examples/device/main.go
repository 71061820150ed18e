// Command device is a minimal ingestgate device: it sends one number
// reading every second through the Go SDK and prints what the server
// acknowledges, until it is interrupted or its key stops working.
//
// The ingest key comes from the environment, never from a flag, so it does
// not show in the process list or shell history:
//
//	export INGESTGATE_INGEST_KEY=ig_ikv1_...
//	go run ./examples/device -addr 127.0.0.1:50051 -device demo-1 -plaintext
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/ingestgate/ingestgate/sdk"
)

const keyEnv = "INGESTGATE_INGEST_KEY"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("device", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:50051", "ingestgate gRPC address")
	device := fs.String("device", "", "device id (required), e.g. demo-1")
	name := fs.String("name", "demo.temperature", "record name")
	every := fs.Duration("every", time.Second, "time between readings")
	plaintext := fs.Bool("plaintext", false, "connect without TLS (loopback or a trusted network only)")
	caFile := fs.String("ca", "", "PEM file of the CA that signed the server certificate (default: system roots)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s=<ingest key> device -device <id> [flags]\n", keyEnv)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	key := os.Getenv(keyEnv)
	if key == "" || *device == "" || *every <= 0 {
		fs.Usage()
		return 2
	}

	opts := []sdk.Option{sdk.WithLogger(slog.New(slog.NewTextHandler(stderr, nil)))}
	switch {
	case *plaintext:
		opts = append(opts, sdk.WithPlaintext())
	case *caFile != "":
		creds, err := credentials.NewClientTLSFromFile(*caFile, "")
		if err != nil {
			fmt.Fprintln(stderr, "device:", err)
			return 2
		}
		opts = append(opts, sdk.WithTransportCredentials(creds))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := sdk.Dial(ctx, *addr, *device, key, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "device:", err)
		return 2
	}
	defer c.Close()

	tick := time.NewTicker(*every)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return shutdown(c, stdout, stderr)
		case <-c.Done():
			return report(stderr, c.Err())
		case <-tick.C:
		}
		v := 21 + 2*math.Sin(float64(i)/10)
		if err := c.Send(ctx, sdk.Number(*name, v, sdk.Attr("unit", "C"))); err != nil {
			if ctx.Err() != nil {
				return shutdown(c, stdout, stderr)
			}
			return report(stderr, err)
		}
		// Waiting for the ack of every reading is for show: a real device
		// just keeps sending and lets the SDK batch.
		wait, cancel := context.WithTimeout(ctx, *every)
		err := c.Flush(wait)
		cancel()
		st := c.Stats()
		switch {
		case err == nil:
			fmt.Fprintf(stdout, "reading %d = %.2f acked (acked %d, duplicates %d, reconnects %d)\n",
				i, v, st.RecordsAcked, st.BatchesDuplicate, st.Reconnects)
		case errors.Is(err, context.DeadlineExceeded):
			fmt.Fprintf(stdout, "reading %d = %.2f buffered, not acked yet (%d waiting, reconnects %d)\n",
				i, v, st.Buffered, st.Reconnects)
		case ctx.Err() != nil:
			return shutdown(c, stdout, stderr)
		default:
			return report(stderr, err)
		}
	}
}

// shutdown gives buffered readings a few seconds to be acknowledged.
func shutdown(c *sdk.Client, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		fmt.Fprintf(stderr, "device: stopping with %d readings not acknowledged: %v\n", c.Stats().Buffered, err)
		return 1
	}
	fmt.Fprintln(stdout, "stopped; every reading acknowledged")
	return 0
}

// report explains why the client stopped.
func report(stderr io.Writer, err error) int {
	if te, ok := errors.AsType[*sdk.TerminalError](err); ok {
		fmt.Fprintf(stderr, "device: the server closed the stream for good (%s, reason %s): %s\n", te.Code, te.Reason, te.Message)
		fmt.Fprintln(stderr, "device: not reconnecting; this key no longer works for this device")
		return 1
	}
	fmt.Fprintln(stderr, "device:", err)
	return 1
}
