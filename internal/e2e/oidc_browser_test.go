package e2e

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// webBrowser is a Go HTTP client that behaves like a browser for idp's
// hosted pages and the relying parties' own: it follows redirects, keeps
// cookies per host as browsers do (not per port; Secure ones on
// 127.0.0.1 too, which browsers count as a secure origin), and sends
// Origin and Sec-Fetch-Site with the forms it posts.
type webBrowser struct {
	t      *testing.T
	client *http.Client
}

func newWebBrowser(t *testing.T) *webBrowser {
	return &webBrowser{t: t, client: &http.Client{Jar: &hostJar{byHost: map[string]map[string]*http.Cookie{}}, Timeout: 30 * time.Second}}
}

// webPage is where a request ended up after its redirects.
type webPage struct {
	status int
	url    *url.URL
	body   string
}

func (b *webBrowser) do(req *http.Request) webPage {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return webPage{status: resp.StatusCode, url: resp.Request.URL, body: string(raw)}
}

func (b *webBrowser) get(target string) webPage {
	b.t.Helper()
	req, err := http.NewRequest("GET", target, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post sends a form from a page of origin (same-origin).
func (b *webBrowser) post(target string, form url.Values) webPage {
	b.t.Helper()
	req, err := http.NewRequest("POST", target, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", req.URL.Scheme+"://"+req.URL.Host)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

// signIn fills in idp's sign-in page p (its hidden fields plus the
// credentials) and follows wherever it leads.
func (b *webBrowser) signIn(p webPage, email, password string) webPage {
	b.t.Helper()
	if p.status != http.StatusOK || p.url.Path != "/login" {
		b.t.Fatalf("not idp's sign-in page: %d %s\n%s", p.status, p.url, tail(p.body, 2000))
	}
	form := formFields(b.t, p.body, "/login")
	form.Set("email", email)
	form.Set("password", password)
	return b.post(p.url.Scheme+"://"+p.url.Host+"/login", form)
}

var (
	formTagRE   = regexp.MustCompile(`(?s)<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>`)
	hiddenTagRE = regexp.MustCompile(`<input[^>]*type="hidden"[^>]*>`)
	nameAttrRE  = regexp.MustCompile(`\bname="([^"]*)"`)
	valueAttrRE = regexp.MustCompile(`\bvalue="([^"]*)"`)
)

// formFields are the hidden fields of the page's form posting to action.
func formFields(t *testing.T, body, action string) url.Values {
	t.Helper()
	for _, f := range formTagRE.FindAllStringSubmatch(body, -1) {
		if html.UnescapeString(f[1]) != action {
			continue
		}
		out := url.Values{}
		for _, in := range hiddenTagRE.FindAllString(f[2], -1) {
			if n, v := nameAttrRE.FindStringSubmatch(in), valueAttrRE.FindStringSubmatch(in); n != nil && v != nil {
				out.Set(n[1], html.UnescapeString(v[1]))
			}
		}
		return out
	}
	t.Fatalf("no form posting to %s in:\n%s", action, tail(body, 2000))
	return nil
}

// hostJar is a cookie jar keyed by host name alone, as browsers scope
// cookies (every cookie here has Path=/).
type hostJar struct {
	mu     sync.Mutex
	byHost map[string]map[string]*http.Cookie
}

func (j *hostJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	host := j.byHost[u.Hostname()]
	if host == nil {
		host = map[string]*http.Cookie{}
		j.byHost[u.Hostname()] = host
	}
	for _, c := range cookies {
		if c.MaxAge < 0 || c.Value == "" || (!c.Expires.IsZero() && c.Expires.Before(time.Now())) {
			delete(host, c.Name)
			continue
		}
		host[c.Name] = c
	}
}

func (j *hostJar) Cookies(u *url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*http.Cookie
	for _, c := range j.byHost[u.Hostname()] {
		out = append(out, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	return out
}
