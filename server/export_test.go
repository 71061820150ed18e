package server

import "time"

// SetCertCheckInterval shortens how often TLS handshakes look for a
// renewed certificate, for tests; it returns a func restoring the old one.
func SetCertCheckInterval(d time.Duration) func() {
	old := certCheckInterval
	certCheckInterval = d
	return func() { certCheckInterval = old }
}
