package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

// testCA issues certificates for the TLS tests.
type testCA struct {
	t    *testing.T
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(t, "CA key", err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	check(t, "CA certificate", err)
	cert, _ := x509.ParseCertificate(der)
	return &testCA{t: t, cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a leaf certificate (server: for 127.0.0.1; else a client)
// and returns it and its key as PEM.
func (ca *testCA) issue(cn string, server bool) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(ca.t, "leaf key", err)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	check(ca.t, "leaf certificate", err)
	kder, err := x509.MarshalECPrivateKey(key)
	check(ca.t, "marshal key", err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func writeFile(t *testing.T, path string, data []byte) {
	check(t, "write "+path, os.WriteFile(path, data, 0o600))
}

// tlsNode starts a node serving TLS with a certificate from ca; clientCA
// non-nil turns on mTLS.
func tlsNode(t *testing.T, ca, clientCA *testCA) (*servertest.Node, string) {
	dir := t.TempDir()
	cert, key := ca.issue("ingestgate", true)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeFile(t, certFile, cert)
	writeFile(t, keyFile, key)
	n := servertest.Start(t, func(c *server.Config) {
		c.TLSCertFile, c.TLSKeyFile = certFile, keyFile
		if clientCA != nil {
			caFile := filepath.Join(dir, "client-ca.crt")
			writeFile(t, caFile, clientCA.pem)
			c.TLSClientCAFile = caFile
		}
	})
	return n, dir
}

func tlsClientConfig(ca *testCA, client *tls.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.pem)
	c := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if client != nil {
		c.Certificates = []tls.Certificate{*client}
	}
	return c
}

// listWorkspaces calls the node over gRPC with creds and returns the error.
func listWorkspaces(t *testing.T, n *servertest.Node, opt grpc.DialOption) error {
	conn, err := grpc.NewClient(n.GRPCAddr, opt)
	check(t, "dial", err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(adminCtx(n), 5*time.Second)
	defer cancel()
	_, err = ingestgatev1.NewWorkspaceServiceClient(conn).ListWorkspaces(ctx, &ingestgatev1.ListWorkspacesRequest{})
	return err
}

func httpsGet(n *servertest.Node, cfg *tls.Config, path string, key string) (*http.Response, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
	req, _ := http.NewRequest("GET", "https://"+n.HTTPAddr+path, nil)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	return c.Do(req)
}

// With a certificate gRPC and REST speak TLS (the REST gateway still
// reaches gRPC, through its private socket); plaintext clients get nowhere.
func TestTLS(t *testing.T) {
	ca := newTestCA(t, "test CA")
	n, _ := tlsNode(t, ca, nil)
	if err := listWorkspaces(t, n, grpc.WithTransportCredentials(credentials.NewTLS(tlsClientConfig(ca, nil)))); err != nil {
		t.Fatalf("gRPC over TLS: %v", err)
	}
	if err := listWorkspaces(t, n, grpc.WithTransportCredentials(insecure.NewCredentials())); status.Code(err) != codes.Unavailable {
		t.Fatalf("plaintext gRPC to a TLS node: %v, want UNAVAILABLE", err)
	}
	resp, err := httpsGet(n, tlsClientConfig(ca, nil), "/v1/workspaces", n.AdminKey)
	check(t, "REST over TLS", err)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("REST over TLS: %d over HTTP/%d, want 200 over HTTP/2", resp.StatusCode, resp.ProtoMajor)
	}
	// Plain HTTP gets Go's "client sent an HTTP request to an HTTPS
	// server", never the API.
	if resp, err := servertest.HTTPClient.Get("http://" + n.HTTPAddr + "/v1/workspaces"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP to a TLS node: %d, want 400", resp.StatusCode)
		}
	}
}

// Under mTLS a client with a certificate from the client CA gets in; one
// without a certificate, or with one from another CA, is refused, over gRPC
// and HTTP alike.
func TestMTLS(t *testing.T) {
	serverCA, clientCA, otherCA := newTestCA(t, "server CA"), newTestCA(t, "client CA"), newTestCA(t, "other CA")
	n, _ := tlsNode(t, serverCA, clientCA)
	pair := func(ca *testCA) *tls.Certificate {
		c, k := ca.issue("device-fleet-7", false)
		cert, err := tls.X509KeyPair(c, k)
		check(t, "client pair", err)
		return &cert
	}
	good := tlsClientConfig(serverCA, pair(clientCA))
	if err := listWorkspaces(t, n, grpc.WithTransportCredentials(credentials.NewTLS(good))); err != nil {
		t.Fatalf("gRPC with a client certificate: %v", err)
	}
	for name, cfg := range map[string]*tls.Config{"no client certificate": tlsClientConfig(serverCA, nil), "another CA's certificate": tlsClientConfig(serverCA, pair(otherCA))} {
		if err := listWorkspaces(t, n, grpc.WithTransportCredentials(credentials.NewTLS(cfg))); status.Code(err) != codes.Unavailable {
			t.Errorf("gRPC with %s: %v, want UNAVAILABLE", name, err)
		}
		if resp, err := httpsGet(n, cfg, "/healthz", ""); err == nil {
			resp.Body.Close()
			t.Errorf("HTTPS with %s: %d, want a refused handshake", name, resp.StatusCode)
		}
	}
	resp, err := httpsGet(n, good, "/v1/workspaces", n.AdminKey)
	check(t, "REST with a client certificate", err)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("REST with a client certificate: %d", resp.StatusCode)
	}
}

// A renewed certificate written over the files is served without a
// restart.
func TestTLSCertificateReload(t *testing.T) {
	defer server.SetCertCheckInterval(100 * time.Millisecond)()
	first, second := newTestCA(t, "first CA"), newTestCA(t, "second CA")
	n, dir := tlsNode(t, first, nil)
	if err := listWorkspaces(t, n, grpc.WithTransportCredentials(credentials.NewTLS(tlsClientConfig(first, nil)))); err != nil {
		t.Fatal(err)
	}
	cert, key := second.issue("ingestgate renewed", true)
	writeFile(t, filepath.Join(dir, "tls.key"), key)
	writeFile(t, filepath.Join(dir, "tls.crt"), cert)
	deadline := time.Now().Add(waitFor)
	for {
		err := listWorkspaces(t, n, grpc.WithTransportCredentials(credentials.NewTLS(tlsClientConfig(second, nil))))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the renewed certificate is not served: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(n.Logs.String(), "reloaded TLS certificate") {
		t.Error("the reload was not logged")
	}
}

// A client CA written over its file is trusted without a restart, and the
// CA it replaced no longer is.
func TestMTLSClientCAReload(t *testing.T) {
	defer server.SetCertCheckInterval(100 * time.Millisecond)()
	serverCA, oldCA, newCA := newTestCA(t, "server CA"), newTestCA(t, "old client CA"), newTestCA(t, "new client CA")
	n, dir := tlsNode(t, serverCA, oldCA)
	creds := func(ca *testCA) grpc.DialOption {
		c, k := ca.issue("device-fleet-7", false)
		cert, err := tls.X509KeyPair(c, k)
		check(t, "client pair", err)
		return grpc.WithTransportCredentials(credentials.NewTLS(tlsClientConfig(serverCA, &cert)))
	}
	if err := listWorkspaces(t, n, creds(oldCA)); err != nil {
		t.Fatalf("client of the first CA: %v", err)
	}
	if err := listWorkspaces(t, n, creds(newCA)); status.Code(err) != codes.Unavailable {
		t.Fatalf("client of a CA not yet trusted: %v, want UNAVAILABLE", err)
	}
	writeFile(t, filepath.Join(dir, "client-ca.crt"), newCA.pem)
	deadline := time.Now().Add(waitFor)
	for {
		err := listWorkspaces(t, n, creds(newCA))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new client CA is not trusted: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := listWorkspaces(t, n, creds(oldCA)); status.Code(err) != codes.Unavailable {
		t.Fatalf("client of the replaced CA: %v, want UNAVAILABLE", err)
	}
	if !strings.Contains(n.Logs.String(), "reloaded TLS client CA") {
		t.Error("the reload was not logged")
	}
}

// Beyond loopback without TLS the node refuses to start unless plaintext
// is asked for, and then says so loudly.
func TestPlaintextBeyondLoopbackIsExplicit(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.DataDir = "0.0.0.0:0", "127.0.0.1:0", t.TempDir()
	if _, err := server.New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "plaintext") {
		t.Fatalf("0.0.0.0 without TLS: %v, want a refusal naming plaintext", err)
	}
	n := servertest.Start(t, func(c *server.Config) { c.GRPCAddr, c.Plaintext = "0.0.0.0:0", true })
	if !strings.Contains(n.Logs.String(), "PLAINTEXT beyond loopback") {
		t.Fatal("no warning for plaintext beyond loopback")
	}
}
