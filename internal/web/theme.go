package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// DefaultAccentColor is the pages' accent when ui.accent_color is unset: a
// blue on which white text has a contrast of 6.3:1 (WCAG 2.2 AA asks 4.5).
const DefaultAccentColor = "#2157c4"

// The pages' fixed surfaces (web/static/idp.css) that accent-coloured text
// must stand out from: the darkest light one and the lightest dark one.
var (
	lightSurface = rgb{0xf1, 0xf3, 0xf6}
	darkSurface  = rgb{0x26, 0x30, 0x3f}
	white        = rgb{0xff, 0xff, 0xff}
	ink          = rgb{0x11, 0x18, 0x27}
)

// minTextContrast is WCAG 2.2 AA for normal text (1.4.3).
const minTextContrast = 4.5

// theme is the accent colour and the variants derived from it so that
// every use passes WCAG 2.2 AA whatever colour an operator picks:
//   - buttons keep the exact accent as background; their text is white when
//     white reaches 4.5:1 on it, else near-black (one of the two always does);
//   - links and focus rings use the accent darkened (light mode) or
//     lightened (dark mode) just enough to reach 4.5:1 on the page's surfaces.
//
// So a brand colour is never refused for its contrast, only adjusted where
// it is used as text; docs/pages.md says so.
type theme struct {
	Accent, OnAccent, AccentHover, Link, LinkDark string
}

func newTheme(accent string) (theme, error) {
	if accent == "" {
		accent = DefaultAccentColor
	}
	c, err := parseHex(accent)
	if err != nil {
		return theme{}, fmt.Errorf("ui.accent_color %q: %w", accent, err)
	}
	t := theme{Accent: c.hex()}
	if contrast(white, c) >= minTextContrast {
		t.OnAccent = white.hex()
		t.AccentHover = mix(c, rgb{}, 0.15).hex()
	} else {
		t.OnAccent = ink.hex()
		t.AccentHover = mix(c, white, 0.2).hex()
	}
	t.Link = towards(c, rgb{}, lightSurface).hex()
	t.LinkDark = towards(c, white, darkSurface).hex()
	return t, nil
}

// css is the theme stylesheet, /static/theme.css.
func (t theme) css() []byte {
	return fmt.Appendf(nil, `/* Generated from ui.accent_color; see docs/pages.md. */
:root {
  --accent: %s;
  --on-accent: %s;
  --accent-hover: %s;
  --link: %s;
  --focus: %s;
}
@media (prefers-color-scheme: dark) {
  :root {
    --link: %s;
    --focus: %s;
  }
}
`, t.Accent, t.OnAccent, t.AccentHover, t.Link, t.Link, t.LinkDark, t.LinkDark)
}

type rgb struct{ r, g, b uint8 }

func parseHex(s string) (rgb, error) {
	h, ok := strings.CutPrefix(strings.TrimSpace(s), "#")
	if ok && len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if !ok || len(h) != 6 {
		return rgb{}, fmt.Errorf("use a hex colour such as %s or #25c", DefaultAccentColor)
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return rgb{}, fmt.Errorf("use a hex colour such as %s or #25c", DefaultAccentColor)
	}
	return rgb{uint8(v >> 16), uint8(v >> 8), uint8(v)}, nil
}

func (c rgb) hex() string { return fmt.Sprintf("#%02x%02x%02x", c.r, c.g, c.b) }

// luminance is WCAG's relative luminance of an sRGB colour.
func (c rgb) luminance() float64 {
	ch := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(c.r) + 0.7152*ch(c.g) + 0.0722*ch(c.b)
}

// contrast is WCAG's contrast ratio of two colours, 1 to 21.
func contrast(a, b rgb) float64 {
	la, lb := a.luminance(), b.luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// mix moves c the fraction f of the way to target.
func mix(c, target rgb, f float64) rgb {
	m := func(a, b uint8) uint8 { return uint8(math.Round(float64(a) + (float64(b)-float64(a))*f)) }
	return rgb{m(c.r, target.r), m(c.g, target.g), m(c.b, target.b)}
}

// towards mixes c with target (black or white) in small steps until it
// has text contrast on surface; c itself when it already has.
func towards(c, target, surface rgb) rgb {
	for i := 0; i <= 50; i++ {
		m := mix(c, target, float64(i)/50)
		if contrast(m, surface) >= minTextContrast {
			return m
		}
	}
	return target
}
