package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"github.com/idp-dev/idp/internal/core"
)

const (
	mediaJSON = "application/json"
	mediaForm = "application/x-www-form-urlencoded"
)

// mediaType returns the request's lower-cased media type, or "" when it is
// missing, malformed or declares a charset other than UTF-8 (the only one
// JSON allows, RFC 8259 section 8.1).
func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return ""
	}
	return mt
}

// readBody reads the body that the secure middleware has already capped.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, errBodyTooLarge
	}
	if err != nil {
		return nil, core.Errorf(core.EINVALID, "the request body could not be read")
	}
	return b, nil
}

// decodeJSON reads a JSON object into dst. Unknown fields are accepted so
// clients may send more than we need, but anything ambiguous is refused:
// a duplicated key could otherwise be read one way by a proxy or WAF and
// another way here (GitLab CVE-2023-7028 turned exactly that into account
// takeover), and a field of the wrong type is an error, not a zero value.
func decodeJSON(r *http.Request, dst any) error {
	if mediaType(r) != mediaJSON {
		return errContentType
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	return unmarshalStrict(body, dst)
}

func unmarshalStrict(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return core.Errorf(core.EINVALID, "the request body is empty; a JSON object is required")
	}
	if err := checkObject(body); err != nil {
		return err
	}
	if err := json.Unmarshal(body, dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return core.Errorf(core.EINVALID, "field %q must be %s", core.Escape(truncate(typeErr.Field, 64)), typeName(typeErr.Type))
		}
		return errBadJSON
	}
	return nil
}

var errBadJSON = core.Errorf(core.EINVALID, "the request body is not valid JSON")

// checkObject walks the top level of body: one object, no key twice, and
// nothing after it.
func checkObject(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return errBadJSON
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return core.Errorf(core.EINVALID, "the request body must be a JSON object")
	}
	seen := map[string]struct{}{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errBadJSON
		}
		key, ok := tok.(string)
		if !ok {
			return errBadJSON
		}
		// encoding/json matches keys to fields ignoring case, so "email"
		// and "EMAIL" land in the same field and count as the same key.
		fk := foldKey(key)
		if _, dup := seen[fk]; dup {
			return core.Errorf(core.EINVALID, "field %q appears more than once", core.Escape(truncate(key, 64)))
		}
		seen[fk] = struct{}{}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return errBadJSON
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return errBadJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return core.Errorf(core.EINVALID, "unexpected data after the JSON object")
	}
	return nil
}

// foldKey maps every rune to the smallest member of its case-folding orbit,
// so two keys fold to the same string exactly when strings.EqualFold (the
// rule encoding/json uses) says they match.
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		return m
	}, s)
}

func typeName(t reflect.Type) string {
	if t == nil {
		return "of another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(typeName(t.Elem()), "a "), "an ") + "s"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "a number"
	default:
		return "of another type"
	}
}

// readForm reads an application/x-www-form-urlencoded body. RFC 6749
// section 3.1 forbids repeating a parameter, for the same reason duplicate
// JSON keys are refused. The query string is never consulted: credentials
// belong in the body, not in URLs that end up in logs.
func readForm(r *http.Request) (map[string]string, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, core.Errorf(core.EINVALID, "the form body is malformed")
	}
	out := make(map[string]string, len(vals))
	for k, vs := range vals {
		if len(vs) > 1 {
			return nil, core.Errorf(core.EINVALID, "parameter %q appears more than once", core.Escape(truncate(k, 64)))
		}
		out[k] = vs[0]
	}
	return out, nil
}

// writeJSON writes v with status. Encoding happens before the header goes
// out, so a value that can't be encoded still gets a proper 500.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"server_error","error_description":"internal error"}`)
	}
	writeRawJSON(w, status, b)
}

func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte{'\n'})
}
