package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/idp-dev/idp/internal/core"
)

// adminPages is the pages with an admin of the default tenant, the test
// user (no roles) and a second tenant with its own admin and user.
type adminPages struct {
	*pagesEnv
	adminID, userID, otherUserID string
}

const adminEmail = "boss@example.com"

func newAdminPages(t *testing.T) *adminPages {
	t.Helper()
	e := newPages(t)
	ctx, meta := context.Background(), core.Meta{Actor: "test"}
	svcs := e.env.Services
	if _, err := svcs.Roles.Create(ctx, core.Operator(""), "member", "Signs in to the apps", meta); err != nil {
		t.Fatal(err)
	}
	admin, err := svcs.Admin.CreateUser(ctx, core.Operator(""), core.CreateInput{Email: adminEmail, Password: password, Roles: []string{"admin"}}, meta)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svcs.Tenants.Create(ctx, "other", "Other Inc", meta); err != nil {
		t.Fatal(err)
	}
	if _, err := svcs.Admin.CreateUser(ctx, core.Operator("other"), core.CreateInput{Email: "boss@other.example", Password: password, Roles: []string{"admin"}}, meta); err != nil {
		t.Fatal(err)
	}
	other, err := svcs.Admin.CreateUser(ctx, core.Operator("other"), core.CreateInput{Email: "secret.person@other.example", Password: password}, meta)
	if err != nil {
		t.Fatal(err)
	}
	user, err := svcs.Admin.User(ctx, core.Operator(""), core.ByEmail(userEmail), meta)
	if err != nil {
		t.Fatal(err)
	}
	return &adminPages{pagesEnv: e, adminID: admin.ID, userID: user.ID, otherUserID: other.ID}
}

func (e *adminPages) signedIn(t *testing.T, tenant, email string) *browser {
	t.Helper()
	b := e.browser(t)
	login := b.get("/login?tenant=" + tenant)
	wantStatus(t, login, http.StatusOK)
	res := b.submit(login, "/login", url.Values{"email": {email}, "password": {password}})
	wantRedirect(t, res, "/account")
	return b
}

// TestAdminPagesOnlyForAdmins: a signed-out browser is sent to sign in; a
// user without admin gets the 403 page on every admin page and form (with
// a valid form token), and nothing changes.
func TestAdminPagesOnlyForAdmins(t *testing.T) {
	e := newAdminPages(t)
	anon := e.browser(t)
	wantRedirect(t, anon.get("/admin/users"), "/login?return_to=%2Fadmin%2Fusers")
	wantRedirect(t, anon.get("/admin"), "/admin/users")

	b := e.signedIn(t, "", userEmail)
	account := b.get("/account")
	if strings.Contains(account.body, `href="/admin"`) {
		t.Error("the account page links a non-admin to the admin pages")
	}
	for _, path := range []string{"/admin/users", "/admin/users/new", "/admin/users/" + e.adminID, "/admin/roles", "/admin/audit"} {
		p := b.get(path)
		wantStatus(t, p, http.StatusForbidden)
		if !strings.Contains(p.body, "Not allowed") || strings.Contains(p.body, adminEmail) {
			t.Errorf("%s: not the 403 page, or it shows data:\n%.400s", path, p.body)
		}
	}
	token := hiddenFields(t, account.body, "/logout")["csrf"]
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{"/admin/users", url.Values{"email": {"sneaky@example.com"}}},
		{"/admin/users/" + e.adminID + "/update", url.Values{"display_name": {"x"}, "role:member": {"on"}}},
		{"/admin/users/" + e.adminID + "/disable", url.Values{}},
		{"/admin/users/" + e.adminID + "/sessions/revoke-all", url.Values{}},
		{"/admin/roles", url.Values{"name": {"sneaky"}}},
		{"/admin/roles/delete", url.Values{"role": {"member"}}},
	} {
		c.form.Set("csrf", token)
		wantStatus(t, b.do("POST", c.path, c.form), http.StatusForbidden)
	}
	svcs := e.env.Services
	if _, err := svcs.Admin.User(context.Background(), core.Operator(""), core.ByEmail("sneaky@example.com"), core.Meta{}); core.ErrorCode(err) != core.ENOTFOUND {
		t.Error("a refused form created a user")
	}
	if v, _ := svcs.Admin.User(context.Background(), core.Operator(""), core.ByID(e.adminID), core.Meta{}); v.Status != core.UserActive {
		t.Error("a refused form disabled the admin")
	}
}

// TestAdminPagesPasswordChangeFirst: a seeded admin with its one-time
// password is sent to change it, and then comes back.
func TestAdminPagesPasswordChangeFirst(t *testing.T) {
	e := newAdminPages(t)
	seed, err := e.env.Services.Users.Seed(context.Background(), core.SeedInput{Tenant: "fresh", Email: "root@fresh.example"}, core.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	login := b.get("/login?tenant=fresh")
	wantRedirect(t, b.submit(login, "/login", url.Values{"email": {seed.Email}, "password": {seed.Password}}), "/password/change")
	wantRedirect(t, b.get("/admin/users"), "/password/change?return_to=%2Fadmin%2Fusers")
	change := b.get("/password/change?return_to=%2Fadmin%2Fusers")
	res := b.submit(change, "/password/change", url.Values{"current_password": {seed.Password},
		"new_password": {"a long passphrase of my own"}, "confirm_password": {"a long passphrase of my own"}})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/users") {
		t.Fatalf("after the change: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	wantStatus(t, b.get("/admin/users"), http.StatusOK)
}

// TestAdminPagesTwoTenants: the admin of another tenant sees its own
// tenant only; a user page of this tenant is "not found" there.
func TestAdminPagesTwoTenants(t *testing.T) {
	e := newAdminPages(t)
	other := e.signedIn(t, "other", "boss@other.example")
	list := other.get("/admin/users")
	wantStatus(t, list, http.StatusOK)
	if !strings.Contains(list.body, "secret.person@other.example") || strings.Contains(list.body, "@example.com") {
		t.Errorf("the other tenant's list:\n%s", list.body)
	}
	wantStatus(t, other.get("/admin/users/"+e.userID), http.StatusNotFound)
	audit := other.get("/admin/audit?reads=1")
	wantStatus(t, audit, http.StatusOK)
	if strings.Contains(audit.body, "@example.com") {
		t.Errorf("the other tenant's audit page shows this tenant's people")
	}
	roles := other.get("/admin/roles")
	if strings.Contains(roles.body, "member") {
		t.Errorf("the other tenant's catalogue shows this tenant's roles")
	}

	mine := e.signedIn(t, "", adminEmail)
	wantStatus(t, mine.get("/admin/users/"+e.otherUserID), http.StatusNotFound)
	page := mine.get("/admin/users")
	if strings.Contains(page.body, "other.example") {
		t.Error("this tenant's list shows the other tenant's users")
	}
	account := mine.get("/account")
	if !strings.Contains(account.body, `href="/admin"`) {
		t.Error("the account page doesn't link an admin to the admin pages")
	}
}

// TestAdminPagesFlow: invite a member, change its roles, revoke its
// session, disable it (its browser session ends), enable it; roles come
// and go; the audit page shows each step by the admin.
func TestAdminPagesFlow(t *testing.T) {
	e := newAdminPages(t)
	b := e.signedIn(t, "", adminEmail)

	form := b.get("/admin/users/new")
	wantStatus(t, form, http.StatusOK)
	res := b.submit(form, "/admin/users", url.Values{"email": {"Newbie@Example.com"}, "display_name": {"New Bie"}, "role:member": {"on"}})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/users/") {
		t.Fatalf("create: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), res.body)
	}
	userPage := res.Header.Get("Location")
	id := strings.TrimSuffix(strings.TrimPrefix(userPage, "/admin/users/"), "?notice=invited")
	page := b.get(userPage)
	wantStatus(t, page, http.StatusOK)
	for _, want := range []string{"newbie@example.com", "The invite is sent", `name="role:member" checked`, "Resend invite"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("user page lacks %q", want)
		}
	}
	e.mail.wait(t, "newbie@example.com", core.MailInvite)

	// The form keeps what was typed when it fails.
	again := b.submit(b.get("/admin/users/new"), "/admin/users", url.Values{"email": {"newbie@example.com"}})
	wantStatus(t, again, http.StatusConflict)
	if !strings.Contains(again.body, "already exists") || !strings.Contains(again.body, `value="newbie@example.com"`) {
		t.Errorf("conflict page:\n%s", again.body)
	}
	wantStatus(t, b.submit(b.get("/admin/users/new"), "/admin/users", url.Values{"email": {"not an email"}}), http.StatusBadRequest)
	badName := b.submit(b.get("/admin/users/new"), "/admin/users", url.Values{"email": {"ok@example.com"}, "display_name": {"evil\u202ename"}})
	wantStatus(t, badName, http.StatusBadRequest)
	if !regexp.MustCompile(`id="display_name"[^>]*aria-invalid="true"`).MatchString(badName.body) {
		t.Error("a display name with a bidi override isn't marked on its input")
	}

	// The invitee sets a password and signs in.
	mail := e.mail.wait(t, "newbie@example.com", core.MailInvite)
	link, _ := url.Parse(mail.URL)
	person := e.browser(t)
	reset := person.get(link.RequestURI())
	wantStatus(t, person.submit(reset, "/password/reset", url.Values{"new_password": {"a welcome passphrase"}, "confirm_password": {"a welcome passphrase"}}), http.StatusOK)
	login := person.get("/login")
	wantRedirect(t, person.submit(login, "/login", url.Values{"email": {"newbie@example.com"}, "password": {"a welcome passphrase"}}), "/account")

	base := "/admin/users/" + id
	page = b.get(base)
	if !strings.Contains(page.body, "Disable user") || !strings.Contains(page.body, ">Revoke</button>") {
		t.Fatalf("user page after sign-in:\n%s", page.body)
	}
	wantRedirect(t, b.submit(page, base+"/update", url.Values{"display_name": {"Newbie"}, "role:member": {"on"}}), base+"?notice=saved")
	wantRedirect(t, b.submit(b.get(base), base+"/disable", nil), base+"?notice=disabled")
	wantRedirect(t, person.get("/account"), "/login")
	page = b.get(base)
	if !strings.Contains(page.body, "Enable user") || strings.Contains(page.body, ">Revoke</button>") {
		t.Errorf("disabled user's page:\n%s", page.body)
	}
	wantRedirect(t, b.submit(page, base+"/enable", nil), base+"?notice=enabled")
	wantRedirect(t, b.submit(b.get(base), base+"/unlock", nil), base+"?notice=unlocked")

	// An admin can't disable or demote itself: the page says so.
	self := "/admin/users/" + e.adminID
	own := b.get(self)
	if strings.Contains(own.body, "Disable user") || !strings.Contains(own.body, `name="role:admin" checked disabled`) {
		t.Errorf("own page offers to disable or demote:\n%s", own.body)
	}
	res = b.submit(own, self+"/update", url.Values{"display_name": {""}})
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("saving the own page (admin kept by its hidden field): %d\n%s", res.StatusCode, res.body)
	}
	res = b.do("POST", self+"/disable", url.Values{"csrf": {hiddenFields(t, own.body, self+"/update")["csrf"]}})
	wantStatus(t, res, http.StatusForbidden)
	if !strings.Contains(res.body, "disable your own account") {
		t.Errorf("self-disable page:\n%s", res.body)
	}

	// Roles.
	roles := b.get("/admin/roles")
	wantRedirect(t, b.submit(roles, "/admin/roles", url.Values{"name": {"reports:read"}, "description": {"Reads reports"}}), "/admin/roles?notice=role_created")
	bad := b.submit(b.get("/admin/roles"), "/admin/roles", url.Values{"name": {"Reports"}})
	wantStatus(t, bad, http.StatusBadRequest)
	if !regexp.MustCompile(`aria-invalid="true"`).MatchString(bad.body) {
		t.Error("a bad role name isn't marked on its input")
	}
	wantStatus(t, b.submit(b.get("/admin/roles"), "/admin/roles", url.Values{"name": {"reports:read"}}), http.StatusConflict)
	roles = b.get("/admin/roles")
	if strings.Count(roles.body, ">Delete</button>") != 1 {
		t.Errorf("only the unused role may be deleted:\n%s", roles.body)
	}
	wantRedirect(t, b.submit(roles, "/admin/roles/delete", url.Values{"role": {"reports:read"}}), "/admin/roles?notice=role_deleted")
	// A role in use has no Delete button; posted anyway (as after a
	// race), the page says why.
	token := hiddenFields(t, b.get("/admin/roles").body, "/admin/roles")["csrf"]
	inUse := b.do("POST", "/admin/roles/delete", url.Values{"csrf": {token}, "role": {"member"}})
	wantStatus(t, inUse, http.StatusConflict)
	if !strings.Contains(inUse.body, "Somebody holds this role") {
		t.Errorf("in-use page:\n%s", inUse.body)
	}

	// Forms need this browser's token.
	wantStatus(t, b.do("POST", base+"/disable", url.Values{"csrf": {"forged"}}), http.StatusBadRequest)
	cross := b.do("POST", base+"/disable", url.Values{}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	wantStatus(t, cross, http.StatusForbidden)

	// The audit page: every step, by the admin.
	audit := b.get("/admin/audit?user=" + id)
	wantStatus(t, audit, http.StatusOK)
	for _, want := range []string{"Events of newbie@example.com", "User created", "User changed", "User disabled", "User enabled",
		"Account unlocked", "Password set from a link", "Signed in", "By</dt><dd>" + adminEmail} {
		if !strings.Contains(audit.body, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	if strings.Contains(audit.body, `class="event-what">Admin page view`) {
		t.Error("admin page views show without asking")
	}
	if reads := b.get("/admin/audit?reads=1&event=admin_read"); !strings.Contains(reads.body, `class="event-what">Admin page view`) {
		t.Error("asked for, admin page views don't show")
	}
	wantStatus(t, b.get("/admin/audit?since=yesterday"), http.StatusBadRequest)
	filtered := b.get("/admin/users?status=pending")
	if strings.Contains(filtered.body, "newbie@example.com") {
		t.Error("the status filter shows an active user")
	}
	search := b.get("/admin/users?q=NEW")
	if !strings.Contains(search.body, "newbie@example.com") || strings.Contains(search.body, userEmail) {
		t.Error("the search doesn't filter by email prefix")
	}
}

// TestAdminPagesPaginate: the users table pages with "Next page" until
// every user was shown once.
func TestAdminPagesPaginate(t *testing.T) {
	e := newAdminPages(t)
	ctx := context.Background()
	for i := range 53 {
		if _, err := e.env.Services.Admin.CreateUser(ctx, core.Operator(""), core.CreateInput{Email: "p" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@example.com"}, core.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	b := e.signedIn(t, "", adminEmail)
	seen := map[string]bool{}
	next := regexp.MustCompile(`<a class="button button-secondary button-small" href="([^"]+)">Next page</a>`)
	emails := regexp.MustCompile(`<a class="break" href="/admin/users/[^"]+">([^<]+)</a>`)
	path := "/admin/users?q=p"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("too many pages")
		}
		p := b.get(path)
		wantStatus(t, p, http.StatusOK)
		for _, m := range emails.FindAllStringSubmatch(p.body, -1) {
			if seen[m[1]] {
				t.Fatalf("%s shown twice", m[1])
			}
			seen[m[1]] = true
		}
		path = ""
		if m := next.FindStringSubmatch(p.body); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
			if !strings.Contains(path, "q=p") {
				t.Fatalf("the next page drops the search: %s", path)
			}
		}
	}
	if len(seen) != 53+1 { // and person@example.com
		t.Fatalf("%d users shown, want 54", len(seen))
	}
}
