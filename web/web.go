// Package web is the operator console: static files embedded in the binary
// and served at / by the node's HTTP listener. The console is plain ES
// modules with no build step, so building the server needs no Node.js, and
// it talks only to the public REST gateway under /v1/, like any other client.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// ContentSecurityPolicy allows only the console's own files: no inline
// script or style, no eval, no framing. Every user-supplied string is set as
// text by the scripts, and this policy is the second line behind that.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the console. Only GET and HEAD of known files answer;
// every route inside the console lives in the URL fragment, so the server
// never sees it (nor any id typed into it).
func Handler() http.Handler {
	root, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(root)
	etags := make(map[string]string)
	err = fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, name)
		sum := sha256.Sum256(b)
		etags[name] = `"` + hex.EncodeToString(sum[:12]) + `"`
		return err
	})
	if err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean("/" + r.URL.Path)
		if p == "/index.html" {
			// FileServer would redirect it to /; say so directly.
			http.Redirect(w, r, "/", http.StatusMovedPermanently)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/") && p != "/" {
			http.NotFound(w, r) // no directory listings
			return
		}
		// Always revalidate, so a new binary's console is never mixed with
		// an old one's cached modules; the ETag makes that a 304.
		h.Set("Cache-Control", "no-cache")
		name := strings.TrimPrefix(p, "/")
		if name == "" {
			name = "index.html"
		}
		if tag, ok := etags[name]; ok {
			h.Set("ETag", tag)
		}
		files.ServeHTTP(w, r)
	})
}
