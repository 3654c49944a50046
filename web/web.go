// Package web holds the hosted pages' templates, static files and message
// catalogues, embedded in the binary (ui.templates_dir overrides any file).
package web

import "embed"

// FS is templates/, static/ and i18n/.
//
//go:embed templates static i18n
var FS embed.FS
