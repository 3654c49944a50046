package web

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"

	assets "github.com/idp-dev/idp/web"
)

// RenderOptions brand the pages.
type RenderOptions struct {
	ProductName, LogoFile, AccentColor, TemplatesDir string
	Logger                                           *slog.Logger
}

// Renderer turns Views into pages. (A first, plain version: the designed
// one replaces it.)
type Renderer struct {
	opts  RenderOptions
	pages map[string]*template.Template
	msgs  map[string]string
}

// NewRenderer parses the embedded templates.
func NewRenderer(o RenderOptions) (*Renderer, error) {
	if o.ProductName == "" {
		o.ProductName = "idp"
	}
	raw, err := fs.ReadFile(assets.FS, "i18n/en.json")
	if err != nil {
		return nil, err
	}
	r := &Renderer{opts: o, pages: map[string]*template.Template{}}
	if err := json.Unmarshal(raw, &r.msgs); err != nil {
		return nil, fmt.Errorf("i18n/en.json: %w", err)
	}
	funcs := template.FuncMap{"t": r.t}
	for _, name := range []string{PageLogin, PagePasswordChange, PageForgot, PageReset, PageAccount, PageLogout, PageError, PageMessage, PageConsent} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets.FS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		r.pages[name] = t
	}
	return r, nil
}

func (r *Renderer) t(id string, args ...any) string {
	m, ok := r.msgs[id]
	if !ok {
		return id
	}
	if len(args) == 1 {
		if list, ok := args[0].([]any); ok {
			args = list
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(m, args...)
	}
	return m
}

// Render writes page with v.
func (r *Renderer) Render(w http.ResponseWriter, req *http.Request, status int, page string, v View) error {
	t, ok := r.pages[page]
	if !ok {
		return fmt.Errorf("web: no page %q", page)
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	v.Nonce = base64.RawStdEncoding.EncodeToString(nonce[:])
	v.Lang = "en"
	v.Brand = Brand{Product: r.opts.ProductName}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+v.Nonce+"'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// Static serves /static/.
func (r *Renderer) Static() http.Handler {
	sub, _ := fs.Sub(assets.FS, "static")
	return http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
}
