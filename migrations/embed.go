// Package migrations holds the SQL schema of idp, embedded in the binary.
package migrations

import "embed"

// FS holds every NNNN_name.sql migration, each with an up and a down part.
//
//go:embed *.sql
var FS embed.FS
