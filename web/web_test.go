package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	return rec.Result()
}

func TestServesConsoleWithStrictHeaders(t *testing.T) {
	for _, p := range []string{"/", "/app.css", "/js/app.js", "/js/api.js"} {
		res := get(t, http.MethodGet, p, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", p, res.StatusCode)
		}
		csp := res.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: CSP %q", p, csp)
		}
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("GET %s: %s = %q, want %q", p, k, got, want)
			}
		}
		if res.Header.Get("ETag") == "" {
			t.Errorf("GET %s: no ETag", p)
		}
	}
	if ct := get(t, http.MethodGet, "/js/app.js", nil).Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("module served as %q; browsers refuse modules that are not JavaScript", ct)
	}
}

func TestRevalidatesWithETag(t *testing.T) {
	tag := get(t, http.MethodGet, "/js/app.js", nil).Header.Get("ETag")
	if res := get(t, http.MethodGet, "/js/app.js", map[string]string{"If-None-Match": tag}); res.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match with the current tag: %d, want 304", res.StatusCode)
	}
	if tag == get(t, http.MethodGet, "/js/api.js", nil).Header.Get("ETag") {
		t.Fatal("two different files share an ETag")
	}
}

func TestRefusesWhatIsNotAFile(t *testing.T) {
	for _, p := range []string{"/js/", "/nope.js", "/../web.go", "/static/index.html"} {
		res := get(t, http.MethodGet, p, nil)
		if res.StatusCode == http.StatusOK {
			body, _ := io.ReadAll(res.Body)
			t.Errorf("GET %s: 200 with %d bytes; want no listing and no file", p, len(body))
		}
	}
	if res := get(t, http.MethodPost, "/", nil); res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d Allow=%q", res.StatusCode, res.Header.Get("Allow"))
	}
}

// The strict CSP only protects if the files obey it: no inline script or
// style, no inline handlers, no string-to-code, and no HTML built from
// strings (all text goes through textContent in dom.js).
func TestSourcesObeyThePolicy(t *testing.T) {
	forbidden := map[string]*regexp.Regexp{
		"innerHTML/outerHTML": regexp.MustCompile(`\b(inner|outer)HTML\b`),
		"insertAdjacentHTML":  regexp.MustCompile(`insertAdjacentHTML`),
		"document.write":      regexp.MustCompile(`document\.write`),
		"eval":                regexp.MustCompile(`\beval\(|new Function\(`),
		"string timers":       regexp.MustCompile(`set(Timeout|Interval)\(\s*['"\x60]`),
		"inline handler":      regexp.MustCompile(`<[^>]+\son[a-z]+=`),
		"inline script":       regexp.MustCompile(`<script>|<script(\s+type="(text/javascript|module)")?>[^<]`),
		"inline style":        regexp.MustCompile(`<style|\sstyle=`),
		"localStorage":        regexp.MustCompile(`localStorage`), // tokens stay in this tab only
		"console logging":     regexp.MustCompile(`console\.(log|debug|info)`),
	}
	err := filepath.WalkDir("static", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for what, re := range forbidden {
			if loc := re.FindIndex(b); loc != nil {
				t.Errorf("%s: %s at byte %d: %q", path, what, loc[0], b[loc[0]:min(len(b), loc[1]+20)])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The console stays small: it loads on every visit to a node.
func TestConsoleIsSmall(t *testing.T) {
	var total int64
	err := filepath.WalkDir("static", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if total > 200<<10 {
		t.Fatalf("console is %d KiB; keep it under 200 KiB uncompressed", total>>10)
	}
	t.Logf("console: %d KiB uncompressed", total>>10)
}
