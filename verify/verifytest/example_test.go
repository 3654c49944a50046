package verifytest_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/idp-dev/idp/verify"
	"github.com/idp-dev/idp/verify/verifytest"
)

// A downstream unit test checks that its verifier refuses every forgery.
func ExampleIssuer_Forgeries() {
	iss := verifytest.NewIssuer()
	defer iss.Close()
	v, err := verify.New(context.Background(), iss.URL, iss.Audience)
	if err != nil {
		log.Fatal(err)
	}
	forged, err := iss.Forgeries()
	if err != nil {
		log.Fatal(err)
	}
	accepted := 0
	for _, f := range forged {
		if _, err := v.Verify(context.Background(), f.Token); !errors.Is(err, verify.ErrInvalidToken) {
			accepted++
			fmt.Println("accepted:", f.Name)
		}
	}
	fmt.Println("forgeries accepted:", accepted)
	// Output:
	// forgeries accepted: 0
}

// Rotate publishes keys as `idp keys rotate` does: tokens of the old key
// keep verifying, and the new key was known before it signed.
func ExampleIssuer_Rotate() {
	iss := verifytest.NewIssuer()
	defer iss.Close()
	v, err := verify.New(context.Background(), iss.URL, iss.Audience)
	if err != nil {
		log.Fatal(err)
	}
	before, _ := iss.Token(verify.Claims{Subject: "u1"})
	iss.Rotate()
	after, _ := iss.Token(verify.Claims{Subject: "u1"})
	for _, tok := range []string{before, after} {
		_, err := v.Verify(context.Background(), tok)
		fmt.Println(err == nil)
	}
	fmt.Println("JWKS fetches:", iss.Stats().JWKS)
	// Output:
	// true
	// true
	// JWKS fetches: 1
}
