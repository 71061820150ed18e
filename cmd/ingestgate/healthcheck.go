package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthcheck probes a node's HTTP health endpoint and exits 0 when it
// answers 200: a container healthcheck that needs no curl in the image. The
// default URL is /healthz on the port of --http-addr (or
// INGESTGATE_HTTP_ADDR), on loopback.
func healthcheck(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := getenv("INGESTGATE_HTTP_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	url := fs.String("url", "", "URL to probe (default http://127.0.0.1:<port of INGESTGATE_HTTP_ADDR>/healthz)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *url == "" {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			fmt.Fprintf(stderr, "ingestgate healthcheck: INGESTGATE_HTTP_ADDR %q: %v\n", addr, err)
			return 2
		}
		*url = "http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz"
	}
	c := &http.Client{Timeout: *timeout}
	resp, err := c.Get(*url)
	if err != nil {
		fmt.Fprintln(stderr, "ingestgate healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "ingestgate healthcheck: %s answered %s\n", *url, resp.Status)
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}
