package verify_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/idp-dev/idp/verify"
	"github.com/idp-dev/idp/verify/verifytest"
)

// A service verifies a bearer token itself. In production the issuer is
// idp's URL (its `issuer` setting) and the audience its tokens.audience.
func Example() {
	iss := verifytest.NewIssuer() // stands in for idp
	defer iss.Close()
	tok, err := iss.Token(verify.Claims{Subject: "user-1", TenantID: "tenant-1", Roles: []string{"admin"}})
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	v, err := verify.New(ctx, iss.URL, "idp")
	if err != nil {
		log.Fatal(err) // idp unreachable, or not an idp
	}
	claims, err := v.Verify(ctx, tok)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.Subject, claims.TenantID, claims.Roles, claims.HasRole("admin"))

	_, err = v.Verify(ctx, tok+"x")
	fmt.Println(errors.Is(err, verify.ErrInvalidToken))
	// Output:
	// user-1 tenant-1 [admin] true
	// true
}

// Middleware answers 401 without a valid token; RequireRole answers 403
// without the role. Handlers read the claims with FromContext.
func ExampleVerifier_Middleware() {
	iss := verifytest.NewIssuer()
	defer iss.Close()
	v, err := verify.New(context.Background(), iss.URL, iss.Audience)
	if err != nil {
		log.Fatal(err)
	}

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verify.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s of tenant %s", c.Subject, c.TenantID)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /me", v.Middleware(hello))
	mux.Handle("GET /admin", v.Middleware(verify.RequireRole("admin", hello)))

	admin, _ := iss.Token(verify.Claims{Subject: "ada", TenantID: "t1", Roles: []string{"admin"}})
	user, _ := iss.Token(verify.Claims{Subject: "bob", TenantID: "t1"})
	for _, call := range []struct{ path, token string }{
		{"/me", admin}, {"/me", user}, {"/me", ""}, {"/admin", admin}, {"/admin", user},
	} {
		r := httptest.NewRequest("GET", call.path, nil)
		if call.token != "" {
			r.Header.Set("Authorization", "Bearer "+call.token)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(call.path, w.Code, w.Header().Values("WWW-Authenticate"))
	}
	// Output:
	// /me 200 []
	// /me 200 []
	// /me 401 [Bearer error="invalid_token"]
	// /admin 200 []
	// /admin 403 []
}

// RequireScope guards routes for OAuth clients by the scope they were
// granted (the token's scope claim).
func ExampleRequireScope() {
	iss := verifytest.NewIssuer()
	defer iss.Close()
	v, err := verify.New(context.Background(), iss.URL, iss.Audience)
	if err != nil {
		log.Fatal(err)
	}
	h := v.Middleware(verify.RequireScope("reports:read", http.NotFoundHandler()))
	tok, _ := iss.Token(verify.Claims{ClientID: "dashboard", Scopes: []string{"openid"}})
	r := httptest.NewRequest("GET", "/reports", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// 403 Bearer error="insufficient_scope", scope="reports:read"
}
