package main

import (
	"bytes"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ingestgate/ingestgate/server/servertest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestHealthcheck(t *testing.T) {
	n := servertest.Start(t)
	var out, errs bytes.Buffer
	if rc := run([]string{"healthcheck"}, &out, &errs, env(map[string]string{"INGESTGATE_HTTP_ADDR": n.HTTPAddr})); rc != 0 || out.String() != "ok\n" {
		t.Fatalf("healthcheck of a live node: rc %d, out %q, err %q", rc, out.String(), errs.String())
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String() + "/healthz"
	l.Close()
	errs.Reset()
	if rc := run([]string{"healthcheck", "--url", dead}, &out, &errs, env(nil)); rc != 1 || !strings.Contains(errs.String(), "refused") {
		t.Fatalf("healthcheck of a closed port: rc %d, err %q", rc, errs.String())
	}
	if rc := run([]string{"healthcheck", "--url", n.BaseURL() + "/v1/nothing"}, &out, &errs, env(nil)); rc != 1 {
		t.Fatalf("healthcheck of a 404: rc %d", rc)
	}
}

// flagNames lists the server's flags from its --help.
func flagNames(t *testing.T) map[string]bool {
	var out, errs bytes.Buffer
	if rc := run([]string{"--help"}, &out, &errs, env(nil)); rc != 0 {
		t.Fatalf("--help: rc %d", rc)
	}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(errs.String(), -1) {
		names[m[1]] = true
	}
	if !names["grpc-addr"] || !names["store"] {
		t.Fatalf("could not read flags from --help:\n%s", errs.String())
	}
	return names
}

// docker-compose.yml and the Dockerfile configure nodes through
// INGESTGATE_* variables, which fromEnv ignores when no flag has that name:
// a renamed flag would silently drop a setting. Every name must be a flag,
// and the compose file must keep its services and their healthchecks.
func TestDeployFilesNameRealFlags(t *testing.T) {
	flags := flagNames(t)
	checkName := func(where, name string) {
		flag := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, "INGESTGATE_")), "_", "-")
		if !flags[flag] {
			t.Errorf("%s sets %s, but ingestgate has no flag --%s", where, name, flag)
		}
	}
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Healthcheck *struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
			DependsOn map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, want := range []string{"postgres", "redis", "otel-collector", "node1", "node2", "node3"} {
		if _, ok := compose.Services[want]; !ok {
			t.Errorf("docker-compose.yml has no service %s", want)
		}
	}
	for _, name := range []string{"postgres", "redis", "node1", "node2", "node3"} {
		if s := compose.Services[name]; s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 {
			t.Errorf("service %s has no healthcheck", name)
		}
	}
	for _, name := range []string{"node1", "node2", "node3"} {
		s := compose.Services[name]
		if got := strings.Join(s.Healthcheck.Test, " "); got != "CMD ingestgate healthcheck" {
			t.Errorf("%s healthcheck %q", name, got)
		}
		for _, dep := range []string{"postgres", "redis"} {
			if s.DependsOn[dep].Condition != "service_healthy" {
				t.Errorf("%s does not wait for %s to be healthy", name, dep)
			}
		}
		for k := range s.Environment {
			if strings.HasPrefix(k, "INGESTGATE_") {
				checkName("docker-compose.yml "+name, k)
			}
		}
	}
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`INGESTGATE_[A-Z_]+`).FindAllString(string(df), -1) {
		checkName("Dockerfile", m)
	}
}

// --trusted-proxies takes addresses and prefixes, from the flag or the
// environment, and refuses anything else by name.
func TestTrustedProxiesFlag(t *testing.T) {
	var errs bytes.Buffer
	cfg, _, err := parseConfig([]string{"--trusted-proxies", "10.0.0.0/8, 192.168.1.5"}, &errs, env(nil))
	if err != nil || len(cfg.TrustedProxies) != 2 || cfg.TrustedProxies[1].String() != "192.168.1.5/32" {
		t.Fatalf("flag: %v %v", cfg.TrustedProxies, err)
	}
	cfg, _, err = parseConfig(nil, &errs, env(map[string]string{"INGESTGATE_TRUSTED_PROXIES": "::1"}))
	if err != nil || len(cfg.TrustedProxies) != 1 || cfg.TrustedProxies[0].String() != "::1/128" {
		t.Fatalf("environment: %v %v", cfg.TrustedProxies, err)
	}
	if _, _, err := parseConfig([]string{"--trusted-proxies", "proxy.example"}, &errs, env(nil)); err == nil || !strings.Contains(err.Error()+errs.String(), "proxy.example") {
		t.Fatalf("a host name: %v, want an error naming it", err)
	}
}
