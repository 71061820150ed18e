package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/local"
)

// certCheckInterval is how often, at most, a handshake looks whether the
// certificate files changed (a var for tests).
var certCheckInterval = 5 * time.Second

// certReloader serves the certificate in certFile/keyFile and reloads it
// when either file changes, so a renewed certificate (cert-manager,
// certbot) is used without a restart. A broken new pair is logged and the
// last good one kept.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	mtimes  [2]time.Time
	checked time.Time
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) mtimesNow() ([2]time.Time, error) {
	var m [2]time.Time
	for i, f := range []string{r.certFile, r.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return m, err
		}
		m[i] = st.ModTime()
	}
	return m, nil
}

func (r *certReloader) load() error {
	m, err := r.mtimesNow()
	if err != nil {
		return fmt.Errorf("tls certificate: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls certificate: %w", err)
	}
	r.cert, r.mtimes, r.checked = &cert, m, time.Now()
	return nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) >= certCheckInterval {
		r.checked = time.Now()
		if m, err := r.mtimesNow(); err == nil && m != r.mtimes {
			if err := r.load(); err != nil {
				r.log.Error("reload TLS certificate; still serving the previous one", slog.Any("error", err))
			} else {
				r.log.Info("reloaded TLS certificate", slog.String("cert", r.certFile))
			}
		}
	}
	return r.cert, nil
}

// tlsConfig is the server side of TLS for gRPC and HTTP alike, or nil for
// plaintext. With a client CA, clients must present a certificate it
// signed (mTLS).
func (s *Server) tlsConfig() (*tls.Config, error) {
	if s.cfg.TLSCertFile == "" {
		return nil, nil
	}
	r, err := newCertReloader(s.cfg.TLSCertFile, s.cfg.TLSKeyFile, s.log)
	if err != nil {
		return nil, err
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.get}
	if s.cfg.TLSClientCAFile != "" {
		pem, err := os.ReadFile(s.cfg.TLSClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("tls client CA: no PEM certificate in " + s.cfg.TLSClientCAFile)
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
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
