package web_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
	"github.com/ingestgate/ingestgate/sdk"
	"github.com/ingestgate/ingestgate/server"
	"github.com/ingestgate/ingestgate/server/servertest"
)

const (
	ownerEmail    = "owner@example.com"
	ownerPassword = "correct-horse-battery-staple"
	ws            = "default"
)

func startNode(t *testing.T) *servertest.Node {
	return servertest.Start(t, func(c *server.Config) {
		c.BootstrapEmail, c.BootstrapPassword = ownerEmail, ownerPassword
	})
}

func adminCtx(n *servertest.Node) context.Context {
	return servertest.WithKey(context.Background(), n.AdminKey)
}

func createKey(t *testing.T, n *servertest.Node, name string, scope *ingestgatev1.KeyScope) *ingestgatev1.IngestKey {
	t.Helper()
	r, err := ingestgatev1.NewIngestKeyServiceClient(n.Conn).CreateIngestKey(adminCtx(n), &ingestgatev1.CreateIngestKeyRequest{
		WorkspaceId: ws, IngestKey: &ingestgatev1.IngestKey{Name: name, Scope: scope},
	})
	if err != nil {
		t.Fatalf("create key %q: %v", name, err)
	}
	return r.GetIngestKey()
}

// signIn opens the console and signs in as the owner.
func signIn(b *browser, n *servertest.Node, email, password string) {
	b.t.Helper()
	b.run("sign in",
		chromedp.Navigate(n.BaseURL()+"/"),
		chromedp.WaitVisible("#email", chromedp.ByQuery),
		chromedp.SendKeys("#email", email, chromedp.ByQuery),
		chromedp.SendKeys("#password", password, chromedp.ByQuery),
		chromedp.Click(`form.signin button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible("nav", chromedp.ByQuery),
	)
}

// TestConsoleKeyLifecycle is the acceptance path: sign in, create
// a key and read its secret from the dialog, connect a device with it
// through the SDK, see the live stream, revoke it from the key's page, and
// see the device's stream end REVOKED, the count drop to 0 and the
// revocation in the event feed.
func TestConsoleKeyLifecycle(t *testing.T) {
	n := startNode(t)
	// A few keys so the list looks like a real one in the screenshot.
	createKey(t, n, "berlin-plant sensors", &ingestgatev1.KeyScope{Tags: []string{"site=berlin"}})
	createKey(t, n, "lab rigs", &ingestgatev1.KeyScope{DeviceIds: []string{"rig-1", "rig-2"}})
	b := newBrowser(t, 1280, 860)
	signIn(b, n, ownerEmail, ownerPassword)

	b.run("keys page lists the keys", chromedp.WaitVisible(`a.key-name`, chromedp.ByQuery))
	b.waitText(`nav a[aria-current="page"]`, "Ingest keys")

	// Add a key through the dialog.
	b.run("open the add-key dialog",
		chromedp.Click("#add-key", chromedp.ByQuery),
		chromedp.WaitVisible("#new-key-name", chromedp.ByQuery),
		chromedp.SendKeys("#new-key-name", "line-7 gateways", chromedp.ByQuery),
		chromedp.SendKeys("#new-key-desc", "Edge gateways on assembly line 7.", chromedp.ByQuery),
		chromedp.SendKeys("#new-key-rate", "500", chromedp.ByQuery),
	)
	b.screenshot("add-key-dialog")
	var secret string
	b.run("create the key and read its secret",
		chromedp.Click(`dialog form button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible("textarea.secret", chromedp.ByQuery),
		chromedp.Value("textarea.secret", &secret, chromedp.ByQuery),
	)
	if !strings.HasPrefix(secret, "ig_ikv1_") {
		t.Fatalf("secret dialog shows %q, want an ingest key token", secret)
	}

	// The dialog cannot be dismissed by accident: Escape leaves it open and
	// Done stays disabled until the user says they stored the secret.
	var open, disabled bool
	b.run("Escape does not dismiss the secret",
		chromedp.KeyEvent(kb.Escape),
		chromedp.Sleep(200*time.Millisecond),
		chromedp.KeyEvent(kb.Escape),
		chromedp.Sleep(200*time.Millisecond),
		chromedp.Evaluate(`!!document.querySelector('dialog[open] textarea.secret')`, &open),
		chromedp.Evaluate(`[...document.querySelectorAll('dialog[open] button')].find(b => b.textContent === 'Done').disabled`, &disabled),
	)
	if !open || !disabled {
		t.Fatalf("after Escape: secret dialog open=%v, Done disabled=%v; want both true", open, disabled)
	}
	b.run("confirm the secret is stored",
		chromedp.Click("#secret-stored", chromedp.ByQuery),
		chromedp.Click(`//dialog[@open]//button[text()="Done"]`, chromedp.BySearch),
		chromedp.WaitVisible("#live-streams", chromedp.ByQuery),
	)
	b.waitText("#live-streams", "0")

	// A device connects with the secret read from the dialog.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	dev, err := sdk.Dial(ctx, n.GRPCAddr, "sensor-1", secret, sdk.WithPlaintext())
	if err != nil {
		t.Fatalf("device dial: %v", err)
	}
	defer dev.Close()
	rec := &ingestgatev1.Record{Time: timestamppb.Now(), Name: "temp", Value: &ingestgatev1.Record_NumberValue{NumberValue: 21.5}}
	if err := dev.Send(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := dev.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	b.waitText("#live-streams", "1")
	b.run("the connection is listed", chromedp.WaitVisible(`//section//td[text()="sensor-1"]`, chromedp.BySearch))
	b.screenshot("key-detail")
	b.run("the keys page shows the live stream",
		chromedp.Click(`//a[text()="← Ingest keys"]`, chromedp.BySearch),
		waitJS(`[...document.querySelectorAll('tbody tr')].some(tr => tr.textContent.includes('line-7 gateways') && tr.querySelector('.live').textContent === '1')`),
	)
	b.screenshot("keys")
	b.run("back to the key",
		chromedp.Click(`//a[text()="line-7 gateways"]`, chromedp.BySearch),
		chromedp.WaitVisible("#revoke-key", chromedp.ByQuery),
	)
	b.waitText("#live-streams", "1")

	// Revoke from the page.
	b.run("revoke the key",
		chromedp.Click("#revoke-key", chromedp.ByQuery),
		chromedp.WaitVisible("#confirm-reason", chromedp.ByQuery),
	)
	var body string
	b.run("read the revoke confirmation", chromedp.Text("dialog[open] .dialog-body", &body, chromedp.ByQuery))
	if !strings.Contains(body, "1 device stream open now") || !strings.Contains(body, "REVOKED") {
		t.Errorf("revoke confirmation says %q; want it to say the 1 open stream closes with REVOKED", body)
	}
	b.run("confirm the revocation",
		chromedp.SendKeys("#confirm-reason", "gateway stolen", chromedp.ByQuery),
		chromedp.Click(`dialog[open] button[type="submit"]`, chromedp.ByQuery),
	)
	select {
	case <-dev.Done():
	case <-ctx.Done():
		t.Fatal("the device's stream did not end after the revocation")
	}
	var term *sdk.TerminalError
	if !errors.As(dev.Err(), &term) || term.Reason != ingestgatev1.GoodbyeReason_GOODBYE_REASON_KEY_REVOKED || term.Code != codes.Unauthenticated && term.Code != codes.PermissionDenied {
		t.Fatalf("device stream ended with %v; want a terminal KEY_REVOKED", dev.Err())
	}
	b.waitText("#live-streams", "0")
	b.run("the key shows as revoked", chromedp.WaitVisible(`h1 .badge-revoked`, chromedp.ByQuery))
	b.run("the audit trail shows the revocation with its reason",
		waitJS(`[...document.querySelectorAll('#key-audit li')].some(li => li.textContent.includes('ingest key revoked') && li.textContent.includes('gateway stolen'))`))

	// The live event feed shows it too.
	b.run("events page",
		chromedp.Click(`//nav//a[text()="Events"]`, chromedp.BySearch),
		chromedp.WaitVisible("#event-feed", chromedp.ByQuery),
	)
	b.waitText("#feed-state", "live")
	b.run("the feed shows the revocation first",
		waitJS(`(() => { const li = document.querySelector('#event-feed li'); return !!li && li.textContent.includes('ingest key revoked'); })()`))

	// New events arrive live, newest first.
	createKey(t, n, "added while watching", nil)
	b.run("a key created elsewhere appears at the top of the feed",
		waitJS(`(() => { const li = document.querySelector('#event-feed li'); return !!li && li.textContent.includes('ingest key created'); })()`))
	b.noProblems()
}

// TestConsoleRendersNamesAsText: a key name that is markup shows as the
// characters typed, in the list, on the key's page and in the feed; no
// element is made from it and no script runs.
func TestConsoleRendersNamesAsText(t *testing.T) {
	n := startNode(t)
	const evil = `<img src=x onerror=alert(1)>`
	k := createKey(t, n, evil, nil)
	b := newBrowser(t, 1280, 860)
	signIn(b, n, ownerEmail, ownerPassword)

	var name string
	var imgs int
	b.run("the list shows the name as text",
		chromedp.WaitVisible("a.key-name", chromedp.ByQuery),
		chromedp.Text("a.key-name", &name, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('img').length`, &imgs),
	)
	if name != evil || imgs != 0 {
		t.Fatalf("key list shows name %q with %d <img> elements; want the text %q and none", name, imgs, evil)
	}
	b.run("the key page shows it as text",
		chromedp.Navigate(n.BaseURL()+"/#/w/default/keys/"+k.GetId()),
		chromedp.WaitVisible("#live-streams", chromedp.ByQuery),
		chromedp.Text("h1", &name, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('img').length`, &imgs),
	)
	if !strings.HasPrefix(name, evil) || imgs != 0 {
		t.Fatalf("key page heading %q with %d <img> elements", name, imgs)
	}
	b.noProblems()
}

func createUser(t *testing.T, n *servertest.Node, email string, role ingestgatev1.Role) *ingestgatev1.User {
	t.Helper()
	r, err := ingestgatev1.NewUserServiceClient(n.Conn).CreateUser(adminCtx(n), &ingestgatev1.CreateUserRequest{
		WorkspaceId: ws, User: &ingestgatev1.User{Email: email, Role: role}, Password: ownerPassword,
	})
	if err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return r.GetUser()
}

// TestConsoleViewerAndErrors: a viewer sees no controls it could not use;
// a page it may not read says which permission is missing; a session ended
// on the server sends the user to sign in, saying why; a rate-limited
// sign-in says when to retry.
func TestConsoleViewerAndErrors(t *testing.T) {
	n := startNode(t)
	k := createKey(t, n, "read-only view", nil)
	viewer := createUser(t, n, "viewer@example.com", ingestgatev1.Role_ROLE_VIEWER)
	b := newBrowser(t, 1280, 860)
	signIn(b, n, "viewer@example.com", ownerPassword)

	var controls, ownerLinks int
	b.run("keys page without write controls",
		chromedp.WaitVisible("a.key-name", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('#add-key').length`, &controls),
		chromedp.Evaluate(`[...document.querySelectorAll('nav a')].filter(a => /API keys|Users/.test(a.textContent)).length`, &ownerLinks),
	)
	if controls != 0 || ownerLinks != 0 {
		t.Errorf("viewer sees %d add-key buttons and %d owner links; want none", controls, ownerLinks)
	}
	b.run("key page without write controls",
		chromedp.Navigate(n.BaseURL()+"/#/w/default/keys/"+k.GetId()),
		chromedp.WaitVisible("#live-streams", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('#revoke-key, #delete-key, #rotate-key, #key-active').length`, &controls),
	)
	if controls != 0 {
		t.Errorf("viewer sees %d key controls; want none", controls)
	}

	var msg string
	b.run("a page the viewer may not read says what is missing",
		chromedp.Navigate(n.BaseURL()+"/#/w/default/users"),
		chromedp.WaitVisible(".state-error", chromedp.ByQuery),
		chromedp.Text(".state-error p", &msg, chromedp.ByQuery),
	)
	if !strings.Contains(msg, "You do not have permission") || !strings.Contains(msg, "users:read") {
		t.Errorf("403 shown as %q; want plain words naming users:read", msg)
	}

	// Disabling the account on the server ends the console session: the
	// next poll is refused and the user lands on the sign-in page.
	b.run("keys page", chromedp.Navigate(n.BaseURL()+"/#/w/default/keys"), chromedp.WaitVisible("a.key-name", chromedp.ByQuery))
	_, err := ingestgatev1.NewUserServiceClient(n.Conn).UpdateUser(adminCtx(n), &ingestgatev1.UpdateUserRequest{
		WorkspaceId: ws, User: &ingestgatev1.User{Id: viewer.GetId(), Disabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"disabled"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	b.run("signed out when the account is disabled",
		chromedp.WaitVisible("#email", chromedp.ByQuery),
		chromedp.Text(".form-error", &msg, chromedp.ByQuery),
	)
	if !strings.Contains(msg, "session has ended") {
		t.Errorf("sign-in page says %q; want why the session ended", msg)
	}
	var stored string
	b.run("tokens are gone", chromedp.Evaluate(`sessionStorage.getItem('ingestgate.session') || ''`, &stored))
	if stored != "" {
		t.Errorf("session storage still holds %q after the session ended", stored)
	}

	// Too many sign-in attempts for one email: the form says when to retry.
	for i := 0; i < 15; i++ {
		res, err := servertest.HTTPClient.Post(n.BaseURL()+"/v1/auth/login", "application/json",
			strings.NewReader(`{"email":"owner@example.com","password":"wrong-password-123"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	b.run("rate-limited sign-in",
		chromedp.SetValue("#email", "owner@example.com", chromedp.ByQuery),
		chromedp.SetValue("#password", ownerPassword, chromedp.ByQuery),
		chromedp.Click(`form.signin button[type="submit"]`, chromedp.ByQuery),
		waitJS(`document.querySelector('.form-error').textContent.includes('Too many requests')`),
		chromedp.Text(".form-error", &msg, chromedp.ByQuery),
	)
	if !regexp.MustCompile(`Try again in \d+ s`).MatchString(msg) {
		t.Errorf("429 shown as %q; want when to retry", msg)
	}
	b.noProblems()
}

// TestConsoleKeyboardAndNarrowScreen: on a phone-sized screen nothing
// scrolls sideways, and a key can be added and its secret confirmed with
// the keyboard alone.
func TestConsoleKeyboardAndNarrowScreen(t *testing.T) {
	n := startNode(t)
	createKey(t, n, "a key with a rather long name to wrap on small screens", &ingestgatev1.KeyScope{Tags: []string{"site=berlin", "line=7"}})
	b := newBrowser(t, 390, 844)
	signIn(b, n, ownerEmail, ownerPassword)
	var fits bool
	b.run("keys page fits the width",
		chromedp.WaitVisible("a.key-name", chromedp.ByQuery),
		chromedp.Evaluate(`document.documentElement.scrollWidth <= window.innerWidth`, &fits),
	)
	if !fits {
		t.Error("the keys page scrolls sideways at 390 px")
	}
	b.screenshot("keys-narrow")

	var secret string
	b.run("add a key with the keyboard",
		chromedp.Focus("#add-key", chromedp.ByQuery),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible("#new-key-name", chromedp.ByQuery),
		chromedp.KeyEvent("typed key"), // the name field has focus
		chromedp.KeyEvent(kb.Enter),    // submits the form
		chromedp.WaitVisible("textarea.secret", chromedp.ByQuery),
		chromedp.Value("textarea.secret", &secret, chromedp.ByQuery),
	)
	if !strings.HasPrefix(secret, "ig_ikv1_") {
		t.Fatalf("secret %q", secret)
	}
	var active string
	b.run("confirm with the keyboard",
		chromedp.Focus("#secret-stored", chromedp.ByQuery),
		chromedp.KeyEvent(" "),
		chromedp.KeyEvent(kb.Tab),
		chromedp.Evaluate(`document.activeElement.textContent`, &active),
	)
	if active != "Done" {
		t.Fatalf("Tab after the checkbox focuses %q, want Done", active)
	}
	b.run("Done with Enter opens the key", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible("#live-streams", chromedp.ByQuery))
	var heading string
	b.run("key page", chromedp.Text("h1", &heading, chromedp.ByQuery))
	if !strings.HasPrefix(heading, "typed key") {
		t.Errorf("key page heading %q", heading)
	}
	b.noProblems()
}

// TestConsoleDevicesAndWorkspaces: a connected device shows as such; its
// tags are edited, it is disconnected (and comes back, its key being
// untouched) and deleted from the page. The workspace switcher moves to
// another workspace's page, and signing out forgets the tokens.
func TestConsoleDevicesAndWorkspaces(t *testing.T) {
	n := startNode(t)
	k := createKey(t, n, "pumps", nil)
	_, err := ingestgatev1.NewWorkspaceServiceClient(n.Conn).CreateWorkspace(adminCtx(n), &ingestgatev1.CreateWorkspaceRequest{Workspace: &ingestgatev1.Workspace{Id: "lab", DisplayName: "Lab"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingestgatev1.NewUserServiceClient(n.Conn).CreateUser(adminCtx(n), &ingestgatev1.CreateUserRequest{
		WorkspaceId: "lab", User: &ingestgatev1.User{Email: ownerEmail, Role: ingestgatev1.Role_ROLE_VIEWER},
	}); err != nil {
		t.Fatal(err)
	}
	secret := rotateForSecret(t, n, k.GetId())
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	dev, err := sdk.Dial(ctx, n.GRPCAddr, "pump-3", secret, sdk.WithPlaintext(), sdk.WithBackoff(50*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	if err := dev.Send(ctx, &ingestgatev1.Record{Time: timestamppb.Now(), Name: "rpm", Value: &ingestgatev1.Record_NumberValue{NumberValue: 1200}}); err != nil {
		t.Fatal(err)
	}
	if err := dev.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, 1280, 860)
	signIn(b, n, ownerEmail, ownerPassword)
	row := `//tr[@data-device="pump-3"]`
	b.run("the device shows connected",
		chromedp.Click(`//nav//a[text()="Devices"]`, chromedp.BySearch),
		chromedp.WaitVisible(row+`//span[text()="connected"]`, chromedp.BySearch),
	)
	b.run("edit its tags",
		chromedp.Click(row+`//button[text()="Edit tags"]`, chromedp.BySearch),
		chromedp.WaitVisible("#device-tags", chromedp.ByQuery),
		chromedp.SendKeys("#device-tags", "site=berlin\nline=7", chromedp.ByQuery),
		chromedp.Click(`dialog[open] button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(row+`//code[text()="site=berlin"]`, chromedp.BySearch),
	)
	d, err := ingestgatev1.NewDeviceServiceClient(n.Conn).GetDevice(adminCtx(n), &ingestgatev1.GetDeviceRequest{WorkspaceId: ws, DeviceId: "pump-3"})
	if err != nil || d.GetDevice().GetTags()["line"] != "7" || d.GetDevice().GetTags()["site"] != "berlin" {
		t.Fatalf("tags after editing: %v, %v", d.GetDevice().GetTags(), err)
	}
	before := dev.Stats().Reconnects
	b.run("disconnect it",
		chromedp.Click(row+`//button[text()="Disconnect"]`, chromedp.BySearch),
		chromedp.Click(`dialog[open] button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(row+`//span[text()="offline"]`, chromedp.BySearch),
	)
	// Its key is untouched: the device's next send reconnects.
	if err := dev.Send(ctx, &ingestgatev1.Record{Time: timestamppb.Now(), Name: "rpm", Value: &ingestgatev1.Record_NumberValue{NumberValue: 1300}}); err != nil {
		t.Fatal(err)
	}
	if err := dev.Flush(ctx); err != nil || dev.Stats().Reconnects == before {
		t.Fatalf("after the disconnect: flush %v, reconnects %d -> %d", err, before, dev.Stats().Reconnects)
	}
	b.run("connected again", chromedp.WaitVisible(row+`//span[text()="connected"]`, chromedp.BySearch))
	b.run("delete it",
		chromedp.WaitVisible(row, chromedp.BySearch),
		chromedp.Click(row+`//button[text()="Delete"]`, chromedp.BySearch),
		chromedp.Click(`dialog[open] button[type="submit"]`, chromedp.ByQuery),
	)
	select {
	case <-dev.Done():
	case <-ctx.Done():
		t.Fatal("the device's stream did not end after deleting it")
	}
	var term *sdk.TerminalError
	if !errors.As(dev.Err(), &term) || term.Reason != ingestgatev1.GoodbyeReason_GOODBYE_REASON_DEVICE_DELETED {
		t.Fatalf("device ended with %v; want DEVICE_DELETED", dev.Err())
	}
	b.run("the list no longer has it", waitJS(`!document.querySelector('tr[data-device="pump-3"]')`))

	var hash string
	b.run("switch workspace",
		chromedp.SetValue("#workspace", "lab", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('#workspace').dispatchEvent(new Event('change'))`, nil),
		waitJS(`location.hash === '#/w/lab/devices'`),
		chromedp.WaitVisible(".state-empty", chromedp.ByQuery),
		chromedp.Evaluate(`location.hash`, &hash),
	)
	var stored string
	b.run("sign out",
		chromedp.Click(`//button[text()="Sign out"]`, chromedp.BySearch),
		chromedp.WaitVisible("#email", chromedp.ByQuery),
		chromedp.Evaluate(`sessionStorage.getItem('ingestgate.session') || ''`, &stored),
	)
	if stored != "" {
		t.Errorf("tokens kept after signing out: %q", stored)
	}
	b.noProblems()
}

// rotateForSecret returns a usable secret of an existing key.
func rotateForSecret(t *testing.T, n *servertest.Node, keyID string) string {
	t.Helper()
	r, err := ingestgatev1.NewIngestKeyServiceClient(n.Conn).RotateIngestKey(adminCtx(n), &ingestgatev1.RotateIngestKeyRequest{WorkspaceId: ws, KeyId: keyID})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetSecret()
}
