package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type decodeTarget struct {
	Email string   `json:"email"`
	Roles []string `json:"roles"`
	All   bool     `json:"all"`
}

func TestUnmarshalStrict(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr string // substring of the message; "" means success
		want    decodeTarget
	}{
		{"ok", `{"email":"a@example.com"}`, "", decodeTarget{Email: "a@example.com"}},
		{"unknown fields accepted", `{"email":"a","extra":{"x":[1,2]},"n":1}`, "", decodeTarget{Email: "a"}},
		{"surrounding whitespace", " \n{\"email\":\"a\"}\n\t", "", decodeTarget{Email: "a"}},
		{"null leaves zero", `{"email":null}`, "", decodeTarget{}},
		{"all types", `{"email":"a","roles":["x","y"],"all":true}`, "", decodeTarget{Email: "a", Roles: []string{"x", "y"}, All: true}},
		{"nested duplicates are not top level", `{"extra":{"k":1,"k":2},"email":"a"}`, "", decodeTarget{Email: "a"}},
		{"duplicate key", `{"email":"a","email":"b"}`, "appears more than once", decodeTarget{}},
		{"duplicate key differing in case", `{"email":"a","EMAIL":"b"}`, "appears more than once", decodeTarget{}},
		{"duplicate key via escape", `{"email":"a","\u0065mail":"b"}`, "appears more than once", decodeTarget{}},
		{"duplicate key via unicode folding", `{"email":"a","emaıl":"b","ſ":1,"s":2}`, "appears more than once", decodeTarget{}},
		{"duplicate unknown key", `{"x":1,"x":2}`, "appears more than once", decodeTarget{}},
		{"array of emails", `{"email":["a","b"]}`, `"email" must be a string`, decodeTarget{}},
		{"number for string", `{"email":5}`, `"email" must be a string`, decodeTarget{}},
		{"object for string", `{"email":{"a":1}}`, `"email" must be a string`, decodeTarget{}},
		{"string for bool", `{"all":"true"}`, `"all" must be a boolean`, decodeTarget{}},
		{"string for array", `{"roles":"admin"}`, `"roles" must be an array of strings`, decodeTarget{}},
		{"top-level array", `[{"email":"a"}]`, "must be a JSON object", decodeTarget{}},
		{"top-level string", `"a"`, "must be a JSON object", decodeTarget{}},
		{"top-level null", `null`, "must be a JSON object", decodeTarget{}},
		{"trailing object", `{"email":"a"}{"email":"b"}`, "unexpected data", decodeTarget{}},
		{"trailing garbage", `{"email":"a"} x`, "unexpected data", decodeTarget{}},
		{"trailing comma", `{"email":"a",}`, "not valid JSON", decodeTarget{}},
		{"unterminated", `{"email":"a"`, "not valid JSON", decodeTarget{}},
		{"single quotes", `{'email':'a'}`, "not valid JSON", decodeTarget{}},
		{"empty", ``, "empty", decodeTarget{}},
		{"only whitespace", " \n ", "empty", decodeTarget{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got decodeTarget
			err := unmarshalStrict([]byte(tt.body), &got)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if got.Email != tt.want.Email || got.All != tt.want.All || strings.Join(got.Roles, ",") != strings.Join(tt.want.Roles, ",") {
					t.Fatalf("decoded %+v, want %+v", got, tt.want)
				}
				return
			}
			m, desc := describe(err)
			if m.Status != http.StatusBadRequest || m.Error != "invalid_request" || !strings.Contains(desc, tt.wantErr) {
				t.Fatalf("got %d %s %q, want 400 invalid_request containing %q", m.Status, m.Error, desc, tt.wantErr)
			}
		})
	}
}

func TestFoldKey(t *testing.T) {
	for _, pair := range [][2]string{{"email", "EMAIL"}, {"s", "ſ"}, {"k", "\u212a"}, {"Straße", "STRASSE"}} {
		same := foldKey(pair[0]) == foldKey(pair[1])
		if same != strings.EqualFold(pair[0], pair[1]) {
			t.Errorf("foldKey(%q) == foldKey(%q) is %v, EqualFold says %v", pair[0], pair[1], same, !same)
		}
	}
}

// TestDecodeOverHTTP runs bodies through the real middleware and an
// endpoint, so the 64 KiB cap and the content type check are the ones
// production uses. The endpoint never reaches core: each body fails first.
func TestDecodeOverHTTP(t *testing.T) {
	s, _ := newBareServer(t, Options{})
	h := s.Handler()
	big := `{"email":"` + strings.Repeat("a", 65<<10) + `"}`
	tests := []struct {
		name    string
		body    io.Reader
		length  int64 // -1: unknown (chunked)
		ct      string
		status  int
		errCode string
	}{
		{"too large with length", strings.NewReader(big), int64(len(big)), "application/json", 413, "invalid_request"},
		{"too large chunked", strings.NewReader(big), -1, "application/json", 413, "invalid_request"},
		{"no content type", strings.NewReader(`{"email":"a"}`), -1, "", 415, "invalid_request"},
		{"text/plain", strings.NewReader(`{"email":"a"}`), -1, "text/plain", 415, "invalid_request"},
		{"form on a JSON endpoint", strings.NewReader(`email=a`), -1, "application/x-www-form-urlencoded", 415, "invalid_request"},
		{"latin1 charset", strings.NewReader(`{"email":"a"}`), -1, "application/json; charset=latin1", 415, "invalid_request"},
		{"malformed content type", strings.NewReader(`{"email":"a"}`), -1, "application/json; ===", 415, "invalid_request"},
		{"empty body", strings.NewReader(""), 0, "application/json", 400, "invalid_request"},
		{"duplicate email", strings.NewReader(`{"email":"a@x.io","email":"b@x.io"}`), -1, "application/json; charset=utf-8", 400, "invalid_request"},
		{"array email", strings.NewReader(`{"email":["a@x.io","b@x.io"]}`), -1, "Application/JSON", 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/v1/auth/password/reset/initiate", tt.body)
			r.ContentLength = tt.length
			if tt.ct != "" {
				r.Header.Set("Content-Type", tt.ct)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error"] != tt.errCode {
				t.Fatalf("body %s", w.Body)
			}
		})
	}
}

func TestReadForm(t *testing.T) {
	tests := []struct {
		body string
		ok   bool
	}{
		{"grant_type=password&username=a&password=b", true},
		{"", true},
		{"grant_type=password&grant_type=refresh_token", false},
		{"username=a&username=", false},
		{"username=%zz", false},
		{"a=1;b=2", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
		_, err := readForm(r)
		if (err == nil) != tt.ok {
			t.Errorf("readForm(%q) error %v, want ok=%v", tt.body, err, tt.ok)
		}
	}
}
