package password

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/cryptotest"

	"golang.org/x/crypto/bcrypt"
)

// Cost 4 keeps the suite fast; production costs only change the run time.
const testCost = bcrypt.MinCost

var testPepper = []byte("test-pepper-0123456789abcdefghij") // 32 bytes

func newTestHasher(t *testing.T, pepper []byte, cost int) *Hasher {
	t.Helper()
	h, err := NewHasher(pepper, cost)
	if err != nil {
		t.Fatalf("NewHasher: %v", err)
	}
	return h
}

func mustHash(t *testing.T, h *Hasher, password string) string {
	t.Helper()
	encoded, err := h.Hash(password)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	return encoded
}

func TestNewHasher(t *testing.T) {
	tests := []struct {
		name    string
		pepper  []byte
		cost    int
		wantErr string
	}{
		{"ok", testPepper, testCost, ""},
		{"ok longer pepper", []byte(strings.Repeat("p", 64)), testCost + 1, ""},
		{"nil pepper", nil, testCost, "pepper"},
		{"31-byte pepper", testPepper[:31], testCost, "pepper"},
		{"cost below min", testPepper, bcrypt.MinCost - 1, "cost"},
		{"cost zero", testPepper, 0, "cost"},
		{"negative cost", testPepper, -1, "cost"},
		{"cost above max", testPepper, bcrypt.MaxCost + 1, "cost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHasher(tt.pepper, tt.cost)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("NewHasher: %v", err)
				}
				if h.Cost() != tt.cost {
					t.Errorf("Cost() = %d, want %d", h.Cost(), tt.cost)
				}
				return
			}
			if err == nil || h != nil {
				t.Fatalf("NewHasher = %v, %v; want nil and an error", h, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestHashFormat(t *testing.T) {
	h := newTestHasher(t, testPepper, testCost)
	encoded := mustHash(t, h, "correct horse battery staple")
	if !strings.HasPrefix(encoded, "$2a$") && !strings.HasPrefix(encoded, "$2b$") {
		t.Errorf("hash %q has no $2a$/$2b$ prefix", encoded)
	}
	if cost, err := bcrypt.Cost([]byte(encoded)); err != nil || cost != testCost {
		t.Errorf("bcrypt.Cost = %d, %v; want %d", cost, err, testCost)
	}
	for _, form := range []string{string(testPepper), base64.StdEncoding.EncodeToString(testPepper), base64.RawStdEncoding.EncodeToString(testPepper)} {
		if strings.Contains(encoded, form) {
			t.Errorf("hash %q contains the pepper", encoded)
		}
	}
	if again := mustHash(t, h, "correct horse battery staple"); again == encoded {
		t.Error("two hashes of the same password are equal; salt missing")
	}
}

func TestHasherDoesNotPrintPepper(t *testing.T) {
	h := newTestHasher(t, testPepper, testCost)
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		if s := fmt.Sprintf(verb, *h); strings.Contains(s, string(testPepper)) || strings.Contains(s, fmt.Sprint(testPepper)) {
			t.Errorf("%s of a Hasher shows the pepper: %s", verb, s)
		}
	}
}

func TestVerify(t *testing.T) {
	h := newTestHasher(t, testPepper, testCost)

	long := strings.Repeat("0123456789", 8) // 80 bytes
	sameFirst72 := long[:72] + "XXXXXXXX"
	zeroA, zeroB := twoPasswordsWithLeadingZeroMAC(t)

	otherPepper := []byte(strings.Repeat("x", MinPepperBytes))
	hOther := newTestHasher(t, otherPepper, testCost)

	valid := mustHash(t, h, "hunter2-but-longer")
	tests := []struct {
		name     string
		hasher   *Hasher
		encoded  string
		password string
		want     bool
	}{
		{"same password", h, valid, "hunter2-but-longer", true},
		{"wrong password", h, valid, "hunter2-but-longeR", false},
		{"empty password", h, valid, "", false},
		{"80-byte password", h, mustHash(t, h, long), long, true},
		{"shares first 72 bytes", h, mustHash(t, h, long), sameFirst72, false},
		{"shares first 72 bytes, reversed", h, mustHash(t, h, sameFirst72), long, false},
		{"leading-zero MAC", h, mustHash(t, h, zeroA), zeroA, true},
		{"other leading-zero MAC", h, mustHash(t, h, zeroA), zeroB, false},
		{"different pepper", hOther, valid, "hunter2-but-longer", false},
		{"unicode", h, mustHash(t, h, "пароль с пробелами ✓"), "пароль с пробелами ✓", true},
		{"malformed: empty", h, "", "x", false},
		{"malformed: garbage", h, "not a bcrypt hash", "not a bcrypt hash", false},
		{"malformed: truncated", h, valid[:len(valid)-5], "hunter2-but-longer", false},
		{"malformed: bad cost", h, "$2a$99$" + valid[7:], "hunter2-but-longer", false},
		{"unpeppered bcrypt of the password", h, unpepperedHash(t, "hunter2-but-longer"), "hunter2-but-longer", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.hasher.Verify(tt.encoded, tt.password); got != tt.want {
				t.Errorf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

func unpepperedHash(t *testing.T, password string) string {
	t.Helper()
	b, err := bcrypt.GenerateFromPassword([]byte(password), testCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// twoPasswordsWithLeadingZeroMAC finds two passwords whose HMAC under the
// test pepper starts with 0x00: fed raw to a NUL-terminating bcrypt, both
// would hash as the empty string.
func twoPasswordsWithLeadingZeroMAC(t *testing.T) (string, string) {
	t.Helper()
	var found []string
	for i := 0; len(found) < 2; i++ {
		if i > 1_000_000 {
			t.Fatal("no leading-zero MACs found")
		}
		candidate := fmt.Sprintf("candidate-%d", i)
		mac := hmac.New(sha256.New, testPepper)
		mac.Write([]byte(candidate))
		if mac.Sum(nil)[0] == 0 {
			found = append(found, candidate)
		}
	}
	return found[0], found[1]
}

func TestPepperIsCopied(t *testing.T) {
	pepper := append([]byte(nil), testPepper...)
	h := newTestHasher(t, pepper, testCost)
	encoded := mustHash(t, h, "some password here")
	for i := range pepper {
		pepper[i] = 0
	}
	if !h.Verify(encoded, "some password here") {
		t.Error("changing the caller's pepper slice changed the Hasher")
	}
}

func TestNeedsRehash(t *testing.T) {
	h4 := newTestHasher(t, testPepper, 4)
	h5 := newTestHasher(t, testPepper, 5)
	hash4 := mustHash(t, h4, "a password of some sort")
	hash5 := mustHash(t, h5, "a password of some sort")
	tests := []struct {
		name    string
		hasher  *Hasher
		encoded string
		want    bool
	}{
		{"stored cost lower", h5, hash4, true},
		{"equal cost", h4, hash4, false},
		{"equal cost 5", h5, hash5, false},
		{"stored cost higher", h4, hash5, false},
		{"garbage", h4, "garbage", true},
		{"empty", h4, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.hasher.NeedsRehash(tt.encoded); got != tt.want {
				t.Errorf("NeedsRehash = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestVerifyDummy(t *testing.T) {
	for _, cost := range []int{4, 5} {
		h := newTestHasher(t, testPepper, cost)
		// The dummy must cost as much as a real hash, or timing would
		// still tell unknown accounts apart.
		if got, err := bcrypt.Cost(h.dummy); err != nil || got != cost {
			t.Errorf("dummy hash cost = %d, %v; want %d", got, err, cost)
		}
		h.VerifyDummy("whatever")
		h.VerifyDummy("")
	}
}

func TestHasherConcurrentUse(t *testing.T) {
	h := newTestHasher(t, testPepper, testCost)
	encoded := mustHash(t, h, "shared password value")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if !h.Verify(encoded, "shared password value") {
				t.Error("Verify failed under concurrency")
			}
			h.VerifyDummy("x")
			_ = IsCommon(fmt.Sprint(i))
		})
	}
	wg.Wait()
}

func TestPolicyCheck(t *testing.T) {
	const email, tenant = "alice@example.com", "acme"
	tests := []struct {
		name     string
		min      int
		password string
		email    string
		tenant   string
		want     string // "" for nil, "too_long" for ErrTooLong, else a Rule
	}{
		{"1025 bytes", 12, strings.Repeat("x", 1025), email, tenant, "too_long"},
		{"1025 bytes containing email and tenant", 12, strings.Repeat("alice acme ", 94)[:1025], email, tenant, "too_long"},
		{"1025 bytes below a huge minimum", 2000, strings.Repeat("x", 1025), email, tenant, "too_long"},
		{"1025 bytes multibyte", 12, strings.Repeat("é", 512) + "x", email, tenant, "too_long"},
		{"1024 bytes", 12, strings.Repeat("xk7q", 256), email, tenant, ""},
		{"1024 bytes multibyte", 12, strings.Repeat("éü", 256), email, tenant, ""},
		{"11 runes", 12, "zq8-vh2-mw7", email, tenant, RuleMinLength},
		{"12 runes", 12, "zq8-vh2-mw7p", email, tenant, ""},
		{"empty", 12, "", email, tenant, RuleMinLength},
		{"empty with zero minimum", 0, "", email, tenant, ""},
		{"11 multibyte runes", 12, strings.Repeat("ぱ", 11), email, tenant, RuleMinLength},
		{"12 multibyte runes", 12, strings.Repeat("ぱすわ", 4), email, tenant, ""},
		{"12 bytes of emoji are 3 runes", 4, "🔑🔒🚪", email, tenant, RuleMinLength},
		{"invalid UTF-8, 11 bytes", 12, strings.Repeat("\xff", 11), email, tenant, RuleMinLength},
		{"invalid UTF-8, 12 bytes", 12, strings.Repeat("\xffa\xfez", 3), email, tenant, ""},
		{"spaces", 12, "correct horse battery staple", email, tenant, ""},
		{"leading and trailing spaces", 12, "  zq8 vh2 mw7  ", email, tenant, ""},
		{"spaces inside", 12, "  lots   of   space  ", email, tenant, ""},
		{"only spaces", 12, strings.Repeat(" ", 12), email, tenant, RuleCommon},
		{"common", 12, "1qaz2wsx3edc", email, tenant, RuleCommon},
		{"common upper case", 12, "1QAZ2WSX3EDC", email, tenant, RuleCommon},
		{"common mixed case", 12, "QwErTy123456", email, tenant, RuleCommon},
		{"common, lower minimum", 8, "TrustNo1", email, tenant, RuleCommon},
		{"common but short: length reported first", 12, "iloveyou", email, tenant, RuleMinLength},
		{"common plus a suffix", 12, "1qaz2wsx3edc!", email, tenant, ""},
		{"contains email local part", 12, "alice-secret-42", email, tenant, RuleContainsEmail},
		{"contains email local part, other case", 12, "my ALICE secret", email, tenant, RuleContainsEmail},
		{"email local part upper case", 12, "my alice secret", "ALICE@example.com", tenant, RuleContainsEmail},
		{"email without @ is all local part", 12, "my bobby secret", "bobby", tenant, RuleContainsEmail},
		{"dotted local part", 12, "x-alice.smith-x", "Alice.Smith@example.com", tenant, RuleContainsEmail},
		{"email domain not checked", 12, "example-stuff-99", email, tenant, ""},
		{"short local part ignored", 12, "al-is-my-nickname", "al@example.com", tenant, ""},
		{"empty email", 12, "al-is-my-nickname", "", tenant, ""},
		{"contains tenant", 12, "acme-rocks-2024", email, tenant, RuleContainsTenant},
		{"contains tenant, other case", 12, "I love AcMe corp", email, tenant, RuleContainsTenant},
		{"tenant upper case", 12, "i love acme corp", email, "ACME", RuleContainsTenant},
		{"short tenant ignored", 12, "ab-ab-ab-ab-ab", email, "ab", ""},
		{"empty tenant", 12, "acme-rocks-2024", email, "", ""},
		{"email reported before tenant", 12, "alice at acme!", email, tenant, RuleContainsEmail},
		{"unicode local part", 12, "ich bin JÜRGEN!", "jürgen@example.de", tenant, RuleContainsEmail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Policy{MinLength: tt.min}.Check(tt.password, tt.email, tt.tenant)
			switch tt.want {
			case "":
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
			case "too_long":
				if !errors.Is(err, ErrTooLong) {
					t.Fatalf("Check = %v, want ErrTooLong", err)
				}
			default:
				var weak *WeakError
				if !errors.As(err, &weak) {
					t.Fatalf("Check = %v, want *WeakError", err)
				}
				if weak.Rule != tt.want {
					t.Errorf("Rule = %q, want %q (reason %q)", weak.Rule, tt.want, weak.Reason)
				}
				if weak.Reason == "" || err.Error() != weak.Reason {
					t.Errorf("Error() = %q, Reason = %q", err.Error(), weak.Reason)
				}
				if tt.password != "" && strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tt.password)) {
					t.Errorf("reason %q contains the password", err.Error())
				}
			}
		})
	}
}

func TestMinLengthReasonNamesTheMinimum(t *testing.T) {
	err := Policy{MinLength: 15}.Check("short one", "", "")
	if err == nil || !strings.Contains(err.Error(), "15") {
		t.Errorf("Check = %v, want a reason naming 15", err)
	}
}

func TestIsCommon(t *testing.T) {
	tests := []struct {
		password string
		want     bool
	}{
		{"123456", true},
		{"password", true},
		{"PASSWORD", true},
		{"PassWord", true},
		{"1qaz2wsx3edc", true},
		{"leavemealone", true},
		{"finalfantasy", true},
		{"qqqqqq1", true},      // the 10,000th entry
		{"password1234", true}, // a listed password padded with digits
		{"", false},
		{" password", true}, // padded with a space
		{"zq8-vh2-mw7p", false},
		{"# zxcvbn is distributed under the MIT License, reproduced here:", false},
		{"#", false},
	}
	for _, tt := range tests {
		t.Run(tt.password, func(t *testing.T) {
			if got := IsCommon(tt.password); got != tt.want {
				t.Errorf("IsCommon(%q) = %v, want %v", tt.password, got, tt.want)
			}
		})
	}
}

func TestCommonListSize(t *testing.T) {
	set := commonSet()
	if n := len(set); n != 10000 {
		t.Errorf("common list has %d entries, want 10000", n)
	}
	for p := range set {
		if p != strings.ToLower(p) {
			t.Errorf("entry %q is not lower case; IsCommon would never match it", p)
		}
	}
}

func TestGenerateAlphabet(t *testing.T) {
	seen := map[rune]bool{}
	for _, r := range generateAlphabet {
		if seen[r] {
			t.Errorf("duplicate %q in alphabet", r)
		}
		seen[r] = true
	}
	if len(generateAlphabet) != 64 || len(seen) != 64 {
		t.Errorf("alphabet has %d bytes, %d distinct; masking needs exactly 64", len(generateAlphabet), len(seen))
	}
}

func TestGenerateLength(t *testing.T) {
	tests := []struct {
		n       int
		wantErr bool
	}{
		{-1, true},
		{0, true},
		{11, true},
		{12, false},
		{16, false},
		{64, false},
		{MaxBytes, false},
		{MaxBytes + 1, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			p, err := Generate(tt.n)
			if tt.wantErr {
				if err == nil || p != "" {
					t.Fatalf("Generate(%d) = %q, %v; want an error", tt.n, p, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Generate(%d): %v", tt.n, err)
			}
			if len(p) != tt.n {
				t.Errorf("len = %d, want %d", len(p), tt.n)
			}
			if strings.Trim(p, generateAlphabet) != "" {
				t.Errorf("%q has characters outside the alphabet", p)
			}
		})
	}
}

func TestGenerateUniqueAndPassesPolicy(t *testing.T) {
	policy := Policy{MinLength: 12}
	accounts := []struct{ email, tenant string }{
		{"", ""},
		{"abc@example.com", "xyz"},
		{"ABC@example.com", "XYZ"},
		{"a-b@example.com", "a_b"},
		{"admin@acme.test", "acme"},
	}
	seen := make(map[string]bool, 1000)
	for i := range 1000 {
		a := accounts[i%len(accounts)]
		p, err := GenerateFor(12+i%5, a.email, a.tenant)
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("Generate repeated %q", p)
		}
		seen[p] = true
		if err := policy.Check(p, a.email, a.tenant); err != nil {
			t.Fatalf("generated %q fails policy for %+v: %v", p, a, err)
		}
	}
}

func TestGenerateRetries(t *testing.T) {
	// With the same seed GenerateFor's first attempt reproduces first, which
	// contains the slug, so the result must come from a retry.
	cryptotest.SetGlobalRandom(t, 42)
	first, err := Generate(16)
	if err != nil {
		t.Fatal(err)
	}
	slug := strings.ToUpper(first[3:8])
	cryptotest.SetGlobalRandom(t, 42)
	got, err := GenerateFor(16, "", slug)
	if err != nil {
		t.Fatal(err)
	}
	if got == first || strings.Contains(strings.ToLower(got), strings.ToLower(slug)) {
		t.Errorf("GenerateFor = %q; first attempt was %q, slug %q", got, first, slug)
	}
}

func TestIsCommonCatchesLongVariations(t *testing.T) {
	tests := []struct {
		pw   string
		want bool
	}{
		{"password1234", true},
		{"Password2024!", true},
		{"!!iloveyou2024", true},
		{"aaaaaaaaaaaa", true},
		{"ZZZZZZZZZZZZZZ", true},
		{"123456789012", true},
		{"987654321098", true},
		{"abcdefghijklm", true},
		{"qwertyuiopas", true},
		{"lkjhgfdsapoiuy", true}, // the keyboard backwards
		{"zebra crossing at noon", false},
		{"1qaz2wsx3edc", true},
		{"correct horse battery staple", false},
		{"password is not my password", false},
		{"my dog ate 12 bananas", false},
		{"abc", false},
	}
	for _, tc := range tests {
		if got := IsCommon(tc.pw); got != tc.want {
			t.Errorf("IsCommon(%q) = %v, want %v", tc.pw, got, tc.want)
		}
	}
	if err := (Policy{MinLength: 12}).Check("password1234", "a@b.c", "t"); err == nil {
		t.Fatal("password1234 passes the policy")
	}
}

// TestPad: a failed comparison with a cheaper hash is padded with bcrypt
// at every cost from the hash's up to the configured one, whose work adds
// up to one comparison at the configured cost; a current hash gets none.
func TestPad(t *testing.T) {
	pepper := []byte(strings.Repeat("p", 32))
	strong, err := NewHasher(pepper, 7)
	if err != nil {
		t.Fatal(err)
	}
	hashAt := func(cost int) string {
		h, err := NewHasher(pepper, cost)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := h.Hash("a password")
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	work := func(costs []int) int {
		n := 0
		for _, c := range costs {
			n += 1 << c
		}
		return n
	}
	for _, cost := range []int{4, 5, 6, 7, 8} {
		costs, ok := strong.padCosts(hashAt(cost))
		if !ok {
			t.Fatalf("cost %d: not a bcrypt hash?", cost)
		}
		want := 0
		if cost < 7 {
			want = 1<<7 - 1<<cost // the configured comparison minus the one that ran
		}
		if got := work(costs); got != want {
			t.Errorf("hash at cost %d: padded with costs %v (%d units), want %d units", cost, costs, got, want)
		}
	}
	if _, ok := strong.padCosts("not a bcrypt hash"); ok {
		t.Error("a malformed hash has pad costs")
	}
	strong.Pad("not a bcrypt hash", "wrong") // one dummy comparison instead
	strong.Pad(hashAt(5), "wrong")
}
