package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path"
	"strings"
	"time"
)

// maxLogoBytes bounds ui.logo_file: it is held in memory and sent with
// every first visit.
const maxLogoBytes = 1 << 20

// asset is one static file, held in memory with its content hash.
type asset struct {
	body  []byte
	ctype string
	hash  string // first 16 hex digits of SHA-256, the ?v= of its URL and its ETag
}

// staticCSP is sent with every static file: a stylesheet needs none of it,
// and an SVG logo opened on its own runs no script on idp's origin.
const staticCSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

// staticTypes are the content types of the files a page may use, by
// extension. A fixed table rather than mime.TypeByExtension: that reads the
// machine's mime.types into memory (about 0.7 MB of the server's idle heap)
// and answers differently from one machine to the next.
var staticTypes = map[string]string{
	".css": "text/css", ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json",
	".map": "application/json", ".txt": "text/plain", ".svg": "image/svg+xml", ".png": "image/png",
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".avif": "image/avif",
	".gif": "image/gif", ".ico": "image/vnd.microsoft.icon", ".woff": "font/woff", ".woff2": "font/woff2",
	".ttf": "font/ttf", ".otf": "font/otf",
}

func buildAssets(files map[string][]byte, o RenderOptions) (map[string]*asset, error) {
	out := map[string]*asset{}
	for name, b := range files {
		base := strings.TrimPrefix(name, "static/")
		ctype := staticTypes[strings.ToLower(path.Ext(base))]
		if ctype == "" {
			ctype = http.DetectContentType(b)
		}
		out[base] = newAsset(b, ctype)
	}
	th, err := newTheme(o.AccentColor)
	if err != nil {
		return nil, err
	}
	if _, replaced := out["theme.css"]; !replaced {
		out["theme.css"] = newAsset(th.css(), "text/css; charset=utf-8")
	}
	if o.LogoFile != "" {
		logo, err := readLogo(o.LogoFile)
		if err != nil {
			return nil, err
		}
		out["logo"] = logo
	}
	return out, nil
}

func newAsset(b []byte, ctype string) *asset {
	sum := sha256.Sum256(b)
	if strings.HasPrefix(ctype, "text/") && !strings.Contains(ctype, "charset") {
		ctype += "; charset=utf-8"
	}
	return &asset{body: b, ctype: ctype, hash: hex.EncodeToString(sum[:8])}
}

func readLogo(file string) (*asset, error) {
	types := map[string]string{".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".gif": "image/gif"}
	ctype, ok := types[strings.ToLower(path.Ext(file))]
	if !ok {
		return nil, fmt.Errorf("ui.logo_file %s: use an .svg, .png, .jpg, .webp or .gif file", file)
	}
	st, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("ui.logo_file: %w", err)
	}
	if st.Size() > maxLogoBytes {
		return nil, fmt.Errorf("ui.logo_file %s: %d bytes is more than the 1 MiB a logo may have", file, st.Size())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("ui.logo_file: %w", err)
	}
	return newAsset(b, ctype), nil
}

// staticURL is the "static" template function: the file's URL with its
// content hash, so a changed file is a new URL and the old one can be
// cached for a year.
func (r *Renderer) staticURL(name string) (string, error) {
	a, ok := r.assets[name]
	if !ok {
		return "", fmt.Errorf("static: no file %q", name)
	}
	return "/static/" + name + "?v=" + a.hash, nil
}

// Static serves GET and HEAD /static/NAME: the static files, the logo
// (NAME "logo") and the theme stylesheet with the accent colour. A request
// carrying the file's current hash (as every page's URL does) may be
// cached for a year; any other is revalidated by ETag.
func (r *Renderer) Static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name, ok := strings.CutPrefix(req.URL.Path, "/static/")
		a := r.assets[name]
		if !ok || a == nil {
			http.NotFound(w, req)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", staticCSP)
		h.Set("ETag", `"`+a.hash+`"`)
		if req.URL.Query().Get("v") == a.hash {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(a.body))
	})
}
