package web

import "strings"

// deviceName says in a few words which browser on which system a User-Agent
// is, for the account page's session list ("Firefox on Linux"). It knows
// the common ones and says nothing rather than guess; the full string
// stays in the audit log.
func deviceName(ua string) string {
	if ua == "" {
		return ""
	}
	browser := firstMatch(ua, []namePattern{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chromium/", "Chromium"},
		{"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"}, {"Go-http-client", "Go client"},
		{"python-requests", "Python client"}, {"node", "Node.js client"}, {"idp-cli", "idp CLI"},
	})
	system := firstMatch(ua, []namePattern{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"CrOS", "ChromeOS"},
		{"Mac OS X", "macOS"}, {"Macintosh", "macOS"}, {"Windows", "Windows"}, {"Linux", "Linux"},
	})
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return system
	}
	return ""
}

type namePattern struct{ token, name string }

func firstMatch(ua string, patterns []namePattern) string {
	for _, p := range patterns {
		if strings.Contains(ua, p.token) {
			return p.name
		}
	}
	return ""
}
