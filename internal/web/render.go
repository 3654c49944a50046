package web

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"text/template/parse"
	"time"

	"github.com/idp-dev/idp/web"
)

// pageNames are the templates a Renderer must have, one per page.
var pageNames = []string{
	PageLogin, PagePasswordChange, PageForgot, PageReset, PageAccount,
	PageLogout, PageError, PageMessage, PageConsent,
	PageAdminUsers, PageAdminUserNew, PageAdminUser, PageAdminRoles, PageAdminAudit,
}

// The CSP of every page (docs/pages.md). It has no form-action: Chrome and
// Safari apply form-action to the redirects that follow a form post, which
// would block the way back to an app after sign-in.
const cspFormat = "default-src 'none'; script-src 'nonce-%s'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"

// RenderOptions configure a Renderer; the ui.* settings (docs/pages.md).
type RenderOptions struct {
	ProductName  string // ui.product_name; "idp" when empty
	LogoFile     string // ui.logo_file: an SVG, PNG, JPEG, WebP or GIF shown instead of the name
	AccentColor  string // ui.accent_color: "#rrggbb" or "#rgb"; DefaultAccentColor when empty
	TemplatesDir string // ui.templates_dir: templates/, static/ and i18n/ laid over the embedded ones
	Logger       *slog.Logger
	// Strict makes a message ID missing from the catalogue fail the render
	// (a 500) instead of showing the ID; for tests of the handlers.
	Strict bool
	// Now is the clock for "5 minutes ago"; time.Now when nil.
	Now func() time.Time
}

// Renderer turns Views into pages and serves the pages' static files. It is
// safe for concurrent use; everything is parsed once, in NewRenderer.
type Renderer struct {
	opts   RenderOptions
	log    *slog.Logger
	brand  Brand
	cats   map[string]*catalog
	pages  map[string]*template.Template // lang -> every page, as "<page>/layout.html" (see parse)
	assets map[string]*asset
	bufs   sync.Pool
	warned sync.Map // missing message IDs already logged
}

// Languages lists the languages the pages are rendered in (their
// catalogues), sorted: discovery's ui_locales_supported.
func (r *Renderer) Languages() []string {
	out := make([]string, 0, len(r.pages))
	for lang := range r.pages {
		out = append(out, lang)
	}
	slices.Sort(out)
	return out
}

// NewRenderer parses the embedded templates, catalogues and static files,
// each replaced by the file of the same name under o.TemplatesDir when there
// is one. It fails on a template that doesn't parse, a page or message
// catalogue that is missing, a file in TemplatesDir that replaces nothing
// (a typo would otherwise be silently ignored), an unreadable logo, and an
// accent colour that isn't a hex colour.
func NewRenderer(o RenderOptions) (*Renderer, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ProductName == "" {
		o.ProductName = "idp"
	}
	src, err := loadSources(web.FS(), o.TemplatesDir)
	if err != nil {
		return nil, err
	}
	r := &Renderer{opts: o, log: o.Logger, brand: Brand{Product: o.ProductName}}
	r.bufs.New = func() any { return new(bytes.Buffer) }
	if r.cats, err = loadCatalogs(src.i18n, src.i18nOverlay); err != nil {
		return nil, err
	}
	if r.assets, err = buildAssets(src.static, o); err != nil {
		return nil, err
	}
	if a, ok := r.assets["logo"]; ok {
		r.brand.LogoURL = "/static/logo?v=" + a.hash
	}
	r.pages = map[string]*template.Template{}
	for _, c := range r.cats {
		set, err := r.parse(src.templates, c)
		if err != nil {
			return nil, err
		}
		r.pages[c.lang] = set
	}
	return r, nil
}

// sources are the files the Renderer is built from, by path under web/.
type sources struct {
	templates, static, i18n, i18nOverlay map[string][]byte
}

func loadSources(embedded fs.FS, dir string) (sources, error) {
	s := sources{i18nOverlay: map[string][]byte{}}
	var err error
	if s.templates, err = readDir(embedded, "templates"); err != nil {
		return s, err
	}
	if s.static, err = readDir(embedded, "static"); err != nil {
		return s, err
	}
	if s.i18n, err = readDir(embedded, "i18n"); err != nil {
		return s, err
	}
	if dir == "" {
		return s, nil
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return s, fmt.Errorf("ui.templates_dir %s: not a readable directory", dir)
	}
	over := os.DirFS(dir)
	found := false
	for sub, into := range map[string]map[string][]byte{"templates": s.templates, "static": s.static, "i18n": s.i18nOverlay} {
		files, err := readDir(over, sub)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return s, fmt.Errorf("ui.templates_dir: %w", err)
		}
		found = true
		for name, b := range files {
			if sub == "templates" {
				if _, ok := into[name]; !ok && !strings.HasPrefix(path.Base(name), "_") {
					return s, fmt.Errorf("ui.templates_dir: %s/%s replaces no embedded template (new shared templates are named _*.html)", dir, name)
				}
			}
			into[name] = b
		}
	}
	if !found {
		return s, fmt.Errorf("ui.templates_dir %s has no templates/, static/ or i18n/ directory", dir)
	}
	return s, nil
}

// readDir reads the regular files directly in dir of fsys, keyed by
// "dir/name".
func readDir(fsys fs.FS, dir string) (map[string][]byte, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		name := dir + "/" + e.Name()
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out[name] = b
	}
	return out, nil
}

// parse builds one language's page templates as one set: the shared
// _*.html templates once, and for each page its own copy of the layout
// and its definitions, named "<page>/<name>". Cloning the layout and the
// shared templates for every page would hold them once per page and
// language (about 2 MB of parse trees); shared templates must therefore
// not call a template that the layout or a page defines.
func (r *Renderer) parse(files map[string][]byte, c *catalog) (*template.Template, error) {
	funcs := r.funcs(c)
	layoutText, ok := files["templates/layout.html"]
	if !ok {
		return nil, errors.New("template templates/layout.html is missing")
	}
	layout, err := parseTrees("layout.html", layoutText, funcs)
	if err != nil {
		return nil, err
	}
	set := template.New("").Funcs(funcs)
	shared := map[string]*parse.Tree{}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		base := path.Base(name)
		if !strings.HasPrefix(base, "_") || !strings.HasSuffix(name, ".html") {
			continue
		}
		trees, err := parseTrees(base, files[name], funcs)
		if err != nil {
			return nil, err
		}
		for n, tree := range trees {
			if n == base {
				continue // the file's text outside its definitions
			}
			if _, dup := layout[n]; dup {
				return nil, fmt.Errorf("template %s: %q is defined by layout.html too", base, n)
			}
			shared[n] = tree
		}
	}
	for n, tree := range shared {
		for _, call := range calledTemplates(tree.Root) {
			if _, ok := shared[call]; !ok {
				return nil, fmt.Errorf("template %s: it calls %q, which is not a shared (_*.html) template", n, call)
			}
		}
		if _, err := set.AddParseTree(n, tree); err != nil {
			return nil, err
		}
	}
	for _, page := range pageNames {
		text, ok := files["templates/"+page+".html"]
		if !ok {
			return nil, fmt.Errorf("template templates/%s.html is missing", page)
		}
		own, err := parseTrees(page+".html", text, funcs)
		if err != nil {
			return nil, err
		}
		delete(own, page+".html")
		if own["content"] == nil {
			return nil, fmt.Errorf(`template %s.html: it defines no "content" template`, page)
		}
		// The page's definitions replace the layout's defaults ({{block}}).
		trees := map[string]*parse.Tree{}
		for n, tree := range layout {
			trees[n] = tree.Copy()
		}
		for n, tree := range own {
			if _, clash := shared[n]; clash {
				return nil, fmt.Errorf("template %s.html: %q is a shared template's name", page, n)
			}
			trees[n] = tree
		}
		for n, tree := range trees {
			renameCalls(tree.Root, func(call string) string {
				if _, ok := trees[call]; ok {
					return page + "/" + call
				}
				return call
			})
			tree.Name = page + "/" + n
			if _, err := set.AddParseTree(tree.Name, tree); err != nil {
				return nil, err
			}
		}
	}
	return set, nil
}

// parseTrees parses one template file and returns its parse trees by
// name: the file's own (named name) and every template it defines.
func parseTrees(name string, text []byte, funcs template.FuncMap) (map[string]*parse.Tree, error) {
	t, err := template.New(name).Funcs(funcs).Parse(string(text))
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	out := map[string]*parse.Tree{}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			out[tt.Name()] = tt.Tree
		}
	}
	return out, nil
}

// calledTemplates lists the templates that {{template}} actions under n
// call.
func calledTemplates(n parse.Node) []string {
	var out []string
	renameCalls(n, func(call string) string { out = append(out, call); return call })
	return out
}

// renameCalls replaces the name of every {{template}} action under n by
// rename(name).
func renameCalls(n parse.Node, rename func(string) string) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			renameCalls(c, rename)
		}
	case *parse.IfNode:
		renameCalls(n.List, rename)
		renameCalls(n.ElseList, rename)
	case *parse.RangeNode:
		renameCalls(n.List, rename)
		renameCalls(n.ElseList, rename)
	case *parse.WithNode:
		renameCalls(n.List, rename)
		renameCalls(n.ElseList, rename)
	case *parse.TemplateNode:
		n.Name = rename(n.Name)
	}
}

// Render writes page with v as a complete response. It fills v.Lang (see
// negotiate), v.Nonce (fresh for each response) and v.Brand, renders into
// a buffer, and only then writes the headers and the page, so a template
// error never leaves half a page: Render then writes a plain 500 page
// itself and returns the error for the caller to log (the caller must not
// write to w again).
func (r *Renderer) Render(w http.ResponseWriter, req *http.Request, status int, page string, v View) error {
	v.Lang = negotiate(req, r.cats)
	v.Brand = r.brand
	nonce, err := newNonce()
	if err != nil {
		r.writeFailure(w)
		return err
	}
	v.Nonce = nonce
	t := r.pages[v.Lang]
	if t == nil || t.Lookup(page+"/layout.html") == nil {
		r.writeFailure(w)
		return fmt.Errorf("render: no page %q", page)
	}
	buf := r.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer r.bufs.Put(buf)
	if err := t.ExecuteTemplate(buf, page+"/layout.html", v); err != nil {
		r.writeFailure(w)
		return fmt.Errorf("render %s: %w", page, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", v.Lang)
	h.Set("Content-Security-Policy", fmt.Sprintf(cspFormat, nonce))
	setPageHeaders(h)
	w.WriteHeader(status)
	_, err = w.Write(buf.Bytes())
	return err
}

// setPageHeaders are the headers every page shares with the failure page.
func setPageHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// failurePage is what a person sees when a template itself fails: no
// template, no script, nothing that could fail again.
const failurePage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Error</title></head>
<body><main><h1>Something went wrong</h1><p>An unexpected error happened on our side. Please try again in a moment.</p></main></body></html>
`

func (r *Renderer) writeFailure(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'")
	setPageHeaders(h)
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte(failurePage))
}

func newNonce() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("csp nonce: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// missing handles a message ID the catalogue lacks: an error in strict
// mode, else one warning per language and ID.
func (r *Renderer) missing(lang, id string) error {
	if r.opts.Strict {
		return fmt.Errorf("message %q is not in the %s catalogue", id, lang)
	}
	if _, seen := r.warned.LoadOrStore(lang+"\x00"+id, true); !seen {
		r.log.Warn("web: message missing from catalogue", "lang", lang, "id", id)
	}
	return nil
}
