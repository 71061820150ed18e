package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/local"
)

// certCheckInterval is how often, at most, a handshake looks whether the
// certificate or client CA files changed (a var for tests).
var certCheckInterval = 5 * time.Second

// reloading holds what was loaded from some files and loads it again when
// any of them changes, so a renewed certificate (cert-manager, certbot) or
// a rotated client CA is used without a restart. A broken new version is
// logged and the last good one kept.
type reloading[T any] struct {
	what  string // for logs: "TLS certificate", "TLS client CA"
	files []string
	load  func() (T, error)
	log   *slog.Logger

	mu      sync.Mutex
	val     T
	mtimes  []time.Time
	checked time.Time
}

func newReloading[T any](what string, files []string, load func() (T, error), log *slog.Logger) (*reloading[T], error) {
	r := &reloading[T]{what: what, files: files, load: load, log: log}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *reloading[T]) mtimesNow() ([]time.Time, error) {
	m := make([]time.Time, len(r.files))
	for i, f := range r.files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		m[i] = st.ModTime()
	}
	return m, nil
}

func (r *reloading[T]) reload() error {
	m, err := r.mtimesNow()
	if err != nil {
		return fmt.Errorf("%s: %w", strings.ToLower(r.what), err)
	}
	v, err := r.load()
	if err != nil {
		return fmt.Errorf("%s: %w", strings.ToLower(r.what), err)
	}
	r.val, r.mtimes, r.checked = v, m, time.Now()
	return nil
}

// get returns the current value, first loading it again if the files
// changed since the last look (at most every certCheckInterval).
func (r *reloading[T]) get() T {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) >= certCheckInterval {
		r.checked = time.Now()
		if m, err := r.mtimesNow(); err == nil && !slices.Equal(m, r.mtimes) {
			if err := r.reload(); err != nil {
				r.log.Error("reload "+r.what+"; still using the previous one", slog.Any("error", err))
			} else {
				r.log.Info("reloaded "+r.what, slog.String("file", r.files[0]))
			}
		}
	}
	return r.val
}

// loadCertPool reads PEM CA certificates.
func loadCertPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificate in " + file)
	}
	return pool, nil
}

// tlsConfig is the server side of TLS for gRPC and HTTP alike, or nil for
// plaintext. With a client CA, clients must present a certificate it
// signed (mTLS).
func (s *Server) tlsConfig() (*tls.Config, error) {
	if s.cfg.TLSCertFile == "" {
		return nil, nil
	}
	cert, err := newReloading("TLS certificate", []string{s.cfg.TLSCertFile, s.cfg.TLSKeyFile}, func() (*tls.Certificate, error) {
		c, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		return &c, err
	}, s.log)
	if err != nil {
		return nil, err
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert.get(), nil }}
	if s.cfg.TLSClientCAFile != "" {
		cas, err := newReloading("TLS client CA", []string{s.cfg.TLSClientCAFile}, func() (*x509.CertPool, error) {
			return loadCertPool(s.cfg.TLSClientCAFile)
		}, s.log)
		if err != nil {
			return nil, err
		}
		// crypto/tls verifies client certificates only against a fixed
		// ClientCAs; to follow a rotated CA file, the handshake demands a
		// certificate and verifyClient checks it as RequireAndVerifyClientCert
		// would, against the current pool.
		c.ClientAuth = tls.RequireAnyClientCert
		c.VerifyConnection = func(cs tls.ConnectionState) error { return verifyClient(cs, cas.get()) }
	}
	return c, nil
}

// verifyClient checks a client's chain against roots for client
// authentication, as crypto/tls does under RequireAndVerifyClientCert.
func verifyClient(cs tls.ConnectionState, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: client certificate required")
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
		return fmt.Errorf("tls: client certificate: %w", err)
	}
	return nil
}

// tlsOrLocal is TLS for network connections and no handshake for the
// node's own unix socket, which only the REST gateway in this process
// uses (the socket sits in a directory only this user can enter).
type tlsOrLocal struct {
	credentials.TransportCredentials
}

func (c tlsOrLocal) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if conn.LocalAddr().Network() == "unix" {
		return local.NewCredentials().ServerHandshake(conn)
	}
	return c.TransportCredentials.ServerHandshake(conn)
}

func (c tlsOrLocal) Clone() credentials.TransportCredentials {
	return tlsOrLocal{c.TransportCredentials.Clone()}
}

// isLoopback reports whether a listen address binds only the loopback
// interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
