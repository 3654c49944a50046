package web

import "strings"

// deviceSep joins browser and system in DeviceName; the "device" template
// function puts them into the page's language ("Firefox unter Linux").
const deviceSep = " on "

// DeviceName names the browser and operating system of a User-Agent header
// for the sessions list of the account page: "Firefox on Linux", "Safari on
// iOS", "curl". It is "" when it recognises neither, so the page says
// "Unknown device" rather than echo a header anyone can write. The name is
// a hint to the account's owner, never a security decision.
func DeviceName(ua string) string {
	b, os := browserName(ua), systemName(ua)
	switch {
	case b != "" && os != "":
		return b + deviceSep + os
	case b != "":
		return b
	default:
		return os
	}
}

// browserName checks the tokens in the order that resolves the UA strings'
// layered lies: Edge and Opera say Chrome, Chrome says Safari, and every
// browser says Mozilla.
func browserName(ua string) string {
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"},
		{"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"},
		{"Vivaldi/", "Vivaldi"}, {"YaBrowser/", "Yandex Browser"},
		{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
		{"CriOS/", "Chrome"}, {"HeadlessChrome/", "Chrome"}, {"Chromium/", "Chromium"}, {"Chrome/", "Chrome"},
		{"Version/", "Safari"}, // Safari proper: Version/x ... Safari/y, after every Chrome
		{"curl/", "curl"}, {"Wget/", "Wget"}, {"Go-http-client/", "Go HTTP client"},
		{"python-requests/", "Python requests"}, {"python-httpx/", "Python httpx"},
		{"okhttp/", "OkHttp"}, {"node-fetch", "Node.js"}, {"undici", "Node.js"},
	} {
		if strings.Contains(ua, b.token) {
			if b.name == "Safari" && !strings.Contains(ua, "Safari/") {
				continue
			}
			return b.name
		}
	}
	return ""
}

func systemName(ua string) string {
	for _, s := range []struct{ token, name string }{
		{"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Android", "Android"},
		{"CrOS", "ChromeOS"}, {"Windows", "Windows"}, {"Macintosh", "macOS"},
		{"Mac OS X", "macOS"}, {"Linux", "Linux"}, {"FreeBSD", "FreeBSD"},
	} {
		if strings.Contains(ua, s.token) {
			return s.name
		}
	}
	return ""
}
