package token

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// Device tokens implement OWASP's "device cookies": a client that logged
// in successfully gets one, bound to that account, and by sending it back
// proves an earlier success, which buys it a lockout budget of its own. They
// are stateless: an HMAC under a key only the servers hold, over the
// account, a random id and the issue time. The account itself is not in the
// token, so a token shows nobody which email it belongs to.
const (
	devicePrefix   = "d1."
	deviceIDLen    = 16
	deviceMACLen   = 16
	deviceLabel    = "idp device token v1"
	deviceKeyLabel = "idp device token key v1"
)

// DeviceTokens issues and checks device tokens.
type DeviceTokens struct{ key []byte }

// NewDeviceTokens derives the token key from secret (keys.encryption_key),
// so every server of a deployment accepts the others' tokens, while the
// key itself is never used for two purposes.
func NewDeviceTokens(secret []byte) (*DeviceTokens, error) {
	if len(secret) < 32 {
		return nil, errors.New("token: device token secret must be at least 32 bytes")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(deviceKeyLabel))
	return &DeviceTokens{key: mac.Sum(nil)}, nil
}

func (d *DeviceTokens) mac(account string, id []byte, issued uint64) []byte {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte(deviceLabel))
	m.Write([]byte{0})
	m.Write([]byte(account))
	m.Write([]byte{0})
	m.Write(id)
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], issued)
	m.Write(ts[:])
	return m.Sum(nil)[:deviceMACLen]
}

// Issue returns a new device token for account, issued at now.
func (d *DeviceTokens) Issue(account string, now time.Time) string {
	id := make([]byte, deviceIDLen)
	_, _ = rand.Read(id)
	issued := uint64(now.Unix())
	buf := make([]byte, 0, deviceIDLen+8+deviceMACLen)
	buf = append(buf, id...)
	buf = binary.BigEndian.AppendUint64(buf, issued)
	buf = append(buf, d.mac(account, id, issued)...)
	return devicePrefix + base64.RawURLEncoding.EncodeToString(buf)
}

// Verify checks tok for account and returns its id (stable for the token's
// life, for keying its budget). A token for another account, older than
// maxAge, issued in the future or altered in any way is refused.
func (d *DeviceTokens) Verify(tok, account string, now time.Time, maxAge time.Duration) (string, bool) {
	// Our tokens are 56 characters; anything much longer is not worth decoding.
	if len(tok) > 128 || len(tok) <= len(devicePrefix) || tok[:len(devicePrefix)] != devicePrefix {
		return "", false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(tok[len(devicePrefix):])
	if err != nil || len(raw) != deviceIDLen+8+deviceMACLen {
		return "", false
	}
	id, rest := raw[:deviceIDLen], raw[deviceIDLen:]
	issued := binary.BigEndian.Uint64(rest[:8])
	if !hmac.Equal(rest[8:], d.mac(account, id, issued)) {
		return "", false
	}
	at := time.Unix(int64(issued), 0)
	if issued > uint64(now.Unix())+60 || now.Sub(at) > maxAge {
		return "", false
	}
	return base64.RawURLEncoding.EncodeToString(id), true
}
