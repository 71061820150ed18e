package web_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// waitFor bounds each step of a browser test. Generous: CI machines are
// small and shared, and no test asserts that anything is fast.
const waitFor = 60 * time.Second

// screenshotDir is where the tests leave the README's screenshots.
const screenshotDir = "../docs/screenshots"

// browser is one headless Chromium (Debian's package, which scripts/test
// installs) with a fresh profile, closed when the test ends. It records
// every uncaught script exception and console error, and every script dialog, so
// a test can assert the page ran cleanly and injected markup never ran.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	problems []string
	alerts   []string
}

func newBrowser(t *testing.T, width, height int64) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: run scripts/test, which installs Debian's chromium package, or apt-get install chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(int(width), int(height)),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx}
	chromedp.ListenTarget(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			b.problems = append(b.problems, "exception: "+e.ExceptionDetails.Error())
		case *page.EventJavascriptDialogOpening:
			// An alert would block the page: remember it and dismiss it.
			b.alerts = append(b.alerts, e.Message)
			go chromedp.Run(ctx, page.HandleJavaScriptDialog(false))
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.problems = append(b.problems, "console.error: "+strings.Join(parts, " "))
			}
		}
	})
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return b
}

// run runs actions, failing the test (with what the page reported) when
// they fail or take longer than waitFor.
func (b *browser) run(what string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitFor)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		var text string
		_ = chromedp.Run(b.ctx, chromedp.Text("body", &text, chromedp.ByQuery))
		b.t.Fatalf("%s: %v\npage text:\n%s\npage problems: %v", what, err, text, b.pageProblems())
	}
}

func (b *browser) pageProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// waitText waits until the element's text, trimmed, is want.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.trim() === %q; })()`, sel, want)
	b.run(fmt.Sprintf("wait for %s to read %q", sel, want), waitJS(js))
}

// waitJS polls a boolean expression until it holds.
func waitJS(expr string) chromedp.Action {
	return chromedp.Poll(expr, nil, chromedp.WithPollingInterval(100*time.Millisecond))
}

// screenshot writes the viewport to docs/screenshots/name.png.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	var png []byte
	b.run("screenshot "+name, chromedp.Sleep(300*time.Millisecond), chromedp.CaptureScreenshot(&png))
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// noProblems fails the test when the page threw, logged an error, or an
// alert ran.
func (b *browser) noProblems() {
	b.t.Helper()
	b.mu.Lock()
	alerts := append([]string(nil), b.alerts...)
	b.mu.Unlock()
	if p := b.pageProblems(); len(p) > 0 || len(alerts) > 0 {
		b.t.Fatalf("the page reported problems: %v; dialogs: %v", p, alerts)
	}
}
