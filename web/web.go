// Package web holds the hosted pages' templates, static files and message
// catalogues, embedded into the binary. An operator replaces any of them,
// file by file, with ui.templates_dir (docs/pages.md): a directory of the
// same shape, templates/, static/ and i18n/.
package web

import (
	"embed"
	"io/fs"
)

//go:embed templates/*.html static/* i18n/*.json
var files embed.FS

// FS returns the embedded files: templates/*.html (a layout, partials named
// _*.html, one file per page), static/* and i18n/<lang>.json.
func FS() fs.FS { return files }
