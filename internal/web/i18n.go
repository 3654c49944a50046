package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// defaultLang is the catalogue every other one is checked against and the
// language of a request that names none we have.
const defaultLang = "en"

// catalog is one language's messages by ID (web/i18n/<lang>.json). Values
// are fmt formats; plural messages have the IDs "<id>.one" and "<id>.other".
type catalog struct {
	lang string
	msgs map[string]string
}

// loadCatalogs parses every i18n/<lang>.json of base, then lays the
// overlay's files (ui.templates_dir) over them message by message, so an
// operator can reword one message without copying a whole catalogue. An
// ID a catalogue lacks falls back to English (a partial translation still
// renders); the embedded catalogues are complete, which
// TestCatalogsComplete checks on the files themselves.
func loadCatalogs(base, overlay map[string][]byte) (map[string]*catalog, error) {
	cats := map[string]*catalog{}
	for _, files := range []map[string][]byte{base, overlay} {
		for name, raw := range files {
			lang := strings.TrimSuffix(path.Base(name), ".json")
			if !validLangTag(lang) {
				return nil, fmt.Errorf("message catalogue %s: the file name must be a language tag such as de.json or pt-BR.json", name)
			}
			msgs := map[string]string{}
			if err := json.Unmarshal(raw, &msgs); err != nil {
				return nil, fmt.Errorf("message catalogue %s: %w", name, err)
			}
			key := strings.ToLower(lang)
			c, ok := cats[key]
			if !ok {
				c = &catalog{lang: lang, msgs: map[string]string{}}
				cats[key] = c
			}
			for id, m := range msgs {
				c.msgs[id] = m
			}
		}
	}
	en, ok := cats[defaultLang]
	if !ok {
		return nil, fmt.Errorf("message catalogue i18n/%s.json is missing", defaultLang)
	}
	for _, c := range cats {
		for id, m := range en.msgs {
			if _, ok := c.msgs[id]; !ok {
				c.msgs[id] = m
			}
		}
	}
	return cats, nil
}

func validLangTag(s string) bool {
	if s == "" || len(s) > 35 {
		return false
	}
	for _, part := range strings.Split(s, "-") {
		if part == "" || len(part) > 8 {
			return false
		}
		for _, c := range part {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				return false
			}
		}
	}
	return true
}

// message formats one message; ok is false when the ID is unknown, and the
// ID itself is then the text (an untranslated page beats a broken one).
func (c *catalog) message(id string, args ...any) (string, bool) {
	m, ok := c.msgs[id]
	if !ok {
		return id, false
	}
	if len(args) == 0 {
		return m, true
	}
	return fmt.Sprintf(m, args...), true
}

// pluralID picks the form of a counted message. English and German have the
// two CLDR forms "one" and "other"; a catalogue for a language with more
// forms can still say "<id>.other" only.
func pluralID(id string, n int) string {
	if n == 1 || n == -1 {
		return id + ".one"
	}
	return id + ".other"
}

// negotiate picks the catalogue for a request: the OpenID Connect
// ui_locales parameter (a space-separated list, most preferred first) from
// the query or an already parsed form, then Accept-Language by q-value,
// then English. A tag matches a catalogue exactly or by its primary
// language ("de-CH" -> "de").
func negotiate(r *http.Request, langs map[string]*catalog) string {
	if r != nil {
		locales := r.URL.Query().Get("ui_locales")
		if locales == "" && r.PostForm != nil {
			locales = r.PostForm.Get("ui_locales")
		}
		for _, tag := range strings.Fields(locales) {
			if l, ok := matchLang(tag, langs); ok {
				return l
			}
		}
		for _, tag := range acceptLanguages(r.Header.Get("Accept-Language")) {
			if l, ok := matchLang(tag, langs); ok {
				return l
			}
		}
	}
	return defaultLang
}

func matchLang(tag string, langs map[string]*catalog) (string, bool) {
	tag = strings.ToLower(strings.TrimSpace(tag))
	if tag == "" || tag == "*" {
		return "", false
	}
	if c, ok := langs[tag]; ok {
		return c.lang, true
	}
	if i := strings.IndexByte(tag, '-'); i > 0 {
		if c, ok := langs[tag[:i]]; ok {
			return c.lang, true
		}
	}
	return "", false
}

// acceptLanguages returns the tags of an Accept-Language header (RFC 9110
// 12.5.4), highest q first, ties in header order, q=0 left out. A
// malformed q counts as 1, as browsers never send one and lenience here
// costs nothing.
func acceptLanguages(h string) []string {
	type weighted struct {
		tag string
		q   float64
	}
	var tags []weighted
	for i, part := range strings.Split(h, ",") {
		if i >= 32 { // a header is not a place for a thousand languages
			break
		}
		tag, params, _ := strings.Cut(part, ";")
		tag = strings.TrimSpace(tag)
		if tag == "" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
					q = f
				}
			}
		}
		if q > 0 {
			tags = append(tags, weighted{tag, q})
		}
	}
	sort.SliceStable(tags, func(i, j int) bool { return tags[i].q > tags[j].q })
	out := make([]string, len(tags))
	for i, w := range tags {
		out[i] = w.tag
	}
	return out
}

// ago says how long ago t was ("5 minutes ago"); past a month it gives the
// date instead, which says more than "47 days ago".
func (c *catalog) ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		s, _ := c.message("time.just_now")
		return s
	case d < time.Hour:
		return c.counted("time.minutes_ago", int(d/time.Minute))
	case d < 24*time.Hour:
		return c.counted("time.hours_ago", int(d/time.Hour))
	case d < 30*24*time.Hour:
		return c.counted("time.days_ago", int(d/(24*time.Hour)))
	default:
		return c.date(t)
	}
}

func (c *catalog) counted(id string, n int) string {
	s, _ := c.message(pluralID(id, n), n)
	return s
}

// date is t's calendar day in UTC in the catalogue's words; datetime adds
// the time of day. The pages say UTC rather than guess the reader's zone.
func (c *catalog) date(t time.Time) string {
	t = t.UTC()
	month, _ := c.message("time.month." + strconv.Itoa(int(t.Month())))
	s, _ := c.message("time.date", t.Day(), month, t.Year())
	return s
}

func (c *catalog) datetime(t time.Time) string {
	t = t.UTC()
	month, _ := c.message("time.month." + strconv.Itoa(int(t.Month())))
	s, _ := c.message("time.datetime", t.Day(), month, t.Year(), t.Hour(), t.Minute())
	return s
}
