package web

import (
	"fmt"
	"html/template"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// funcs are the template functions, bound to one catalogue:
//
//	t ID ARGS...        the message, formatted (html/template escapes it)
//	tn ID N ARGS...     the plural form of ID for N, N being the first argument
//	ta ID ARGS-SLICE    t with the arguments in one slice (MessagePage.Args)
//	msg MESSAGE         a View's Message (Alert, Fields)
//	ago TIME            "5 minutes ago", or the date past a month
//	date TIME, datetime TIME, iso TIME
//	static NAME         the URL of a static file, with its content hash
//	fieldErrors FIELDS  a View's Fields in the order of the forms' inputs
//	field VIEW NAME TYPE AUTOCOMPLETE LABEL-ID HINT FLAGS...
//	                    an input's data for the "field" template
//	device TEXT         a SessionRow's "Firefox on Linux" in the page's language
//	scope NAME          a scope in plain words
//	event NAME          an audit event in plain words (its code when it has none)
func (r *Renderer) funcs(c *catalog) template.FuncMap {
	t := func(id string, args ...any) (string, error) {
		s, ok := c.message(id, args...)
		if !ok {
			return s, r.missing(c.lang, id)
		}
		return s, nil
	}
	return template.FuncMap{
		"t": t,
		"tn": func(id string, n int, args ...any) (string, error) {
			return t(pluralID(id, n), append([]any{n}, args...)...)
		},
		"ta": func(id string, args []any) (string, error) { return t(id, args...) },
		"msg": func(m any) (string, error) {
			switch m := m.(type) {
			case Message:
				return t(m.ID, m.Args...)
			case *Message:
				if m == nil {
					return "", nil
				}
				return t(m.ID, m.Args...)
			}
			return "", fmt.Errorf("msg: %T is not a Message", m)
		},
		"fieldErrors": r.fieldErrors,
		"ago":         func(tm time.Time) string { return c.ago(r.opts.Now(), tm) },
		"date":        c.date,
		"datetime":    c.datetime,
		"iso":         func(tm time.Time) string { return tm.UTC().Format(time.RFC3339) },
		"static":      r.staticURL,
		"field": func(v View, name, typ, autocomplete, labelID, hint string, flags ...string) (field, error) {
			return r.field(c, v, name, typ, autocomplete, labelID, hint, flags)
		},
		"device": func(s string) string {
			browser, os, ok := strings.Cut(s, deviceSep)
			if !ok {
				return s
			}
			out, _ := c.message("device.on", browser, os)
			return out
		},
		// event names an audit event in words; an event without one (a
		// newer kind) shows its code.
		"event": func(s string) string {
			if out, ok := c.message("event." + s); ok {
				return out
			}
			return s
		},
		"scope": func(s string) (string, error) {
			if _, ok := c.msgs["scope."+s]; ok {
				return t("scope." + s)
			}
			return t("scope.other", s)
		},
	}
}

// deviceSep joins browser and system in a SessionRow's Device ("Firefox on
// Linux", device.go); the "device" function puts them into the page's
// language ("Firefox unter Linux").
const deviceSep = " on "

// field is what the "field" template (web/templates/_field.html) renders:
// an input with its label, hint and error, tied together by ids.
type field struct {
	ID, Name, Type, Autocomplete string
	Label, Hint, Error, Value    string
	DescribedBy                  string
	Required, Autofocus, Reveal  bool
	MinLength, MaxLength         int
	ShowText, HideText           string // the show-password toggle (web/static/idp.js)
	ShowLabel, HideLabel         string
}

// isError says whether a page's alert reports a problem (and so takes the
// focus) rather than a notice.
func (m *Message) isError() bool { return m != nil && (m.Kind == "" || m.Kind == "error") }

// field fills a field from the View. Flags: "focus" (this input may take
// the focus when the page has no error summary to focus instead; the
// browser gives it to the first such input without a value), "optional", "reveal" (a
// show-password toggle), "min=N" (minlength). Passwords are never
// re-filled from v.Form.
func (r *Renderer) field(c *catalog, v View, name, typ, autocomplete, labelID, hint string, flags []string) (field, error) {
	label, ok := c.message(labelID)
	if !ok {
		if err := r.missing(c.lang, labelID); err != nil {
			return field{}, err
		}
	}
	f := field{ID: name, Name: name, Type: typ, Autocomplete: autocomplete, Label: label, Hint: hint, Required: true, MaxLength: 1024}
	if typ == "email" {
		f.MaxLength = 320
	}
	if typ != "password" {
		f.Value = v.Form[name]
	}
	if m, ok := v.Fields[name]; ok {
		s, found := c.message(m.ID, m.Args...)
		if !found {
			if err := r.missing(c.lang, m.ID); err != nil {
				return field{}, err
			}
		}
		f.Error = s
	}
	focus := false
	for _, fl := range flags {
		switch {
		case fl == "focus":
			focus = true
		case fl == "optional":
			f.Required = false
		case fl == "reveal":
			f.Reveal = true
		case strings.HasPrefix(fl, "min="):
			n, err := strconv.Atoi(fl[4:])
			if err != nil {
				return field{}, fmt.Errorf("field %s: bad flag %q", name, fl)
			}
			f.MinLength = n
		default:
			return field{}, fmt.Errorf("field %s: unknown flag %q", name, fl)
		}
	}
	f.Autofocus = focus && f.Value == "" && !v.Alert.isError() && len(v.Fields) == 0
	var ids []string
	if f.Hint != "" {
		ids = append(ids, name+"-hint")
	}
	if f.Error != "" {
		ids = append(ids, name+"-error")
	}
	f.DescribedBy = strings.Join(ids, " ")
	if f.Reveal {
		f.ShowText, _ = c.message("password.show")
		f.HideText, _ = c.message("password.hide")
		f.ShowLabel, _ = c.message("password.show_label")
		f.HideLabel, _ = c.message("password.hide_label")
	}
	return f, nil
}

// formOrder is the order inputs appear in on the pages, so the error
// summary lists their errors top to bottom, each with its input's label.
var formOrder = []struct{ name, label string }{
	{FieldEmail, "field.email"}, {FieldPassword, "field.password"},
	{FieldCurrentPassword, "field.current_password"}, {FieldNewPassword, "field.new_password"},
	{FieldConfirmPassword, "field.confirm_password"},
	{FieldDisplayName, "admin.field.display_name"}, {FieldRoleName, "admin.field.role_name"},
	{FieldDescription, "admin.field.description"},
}

type fieldMessage struct {
	Name, LabelID string
	Message       Message
}

// fieldErrors are a View's Fields for the summary. An error for a field
// no page has is a handler's mistake: shown without a label, or an error
// in strict mode.
func (r *Renderer) fieldErrors(fields map[string]Message) ([]fieldMessage, error) {
	out := make([]fieldMessage, 0, len(fields))
	for _, f := range formOrder {
		if m, ok := fields[f.name]; ok {
			out = append(out, fieldMessage{f.name, f.label, m})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if !slices.ContainsFunc(formOrder, func(f struct{ name, label string }) bool { return f.name == name }) {
			if r.opts.Strict {
				return nil, fmt.Errorf("fieldErrors: no page has a field %q", name)
			}
			out = append(out, fieldMessage{name, "", fields[name]})
		}
	}
	return out, nil
}
