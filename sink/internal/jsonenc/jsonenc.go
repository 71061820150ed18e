// Package jsonenc has the pieces of JSON encoding the sinks write by hand
// on the ingest path, where encoding/json's and protojson's reflection
// cost several times more than the work itself.
package jsonenc

import (
	"slices"
	"unsafe"
)

const hexDigits = "0123456789abcdef"

// AppendString writes s, which must be valid UTF-8 (sink.CheckRecord
// makes sure of it), as a JSON string: quote, backslash and control
// characters escaped (with the short escapes protojson uses).
func AppendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		case '\b':
			buf = append(buf, '\\', 'b')
		case '\f':
			buf = append(buf, '\\', 'f')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// AppendObject writes m as a JSON object of strings, keys sorted so
// that equal maps encode equally.
func AppendObject(buf []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf = append(buf, '{')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = AppendString(buf, k)
		buf = append(buf, ':')
		buf = AppendString(buf, m[k])
	}
	return append(buf, '}')
}

// Seal returns buf as a string without copying it: a batch's encoding is
// as large as the batch, and a copy would allocate it twice on the
// ingest path. The caller must not touch buf afterwards.
func Seal(buf []byte) string {
	if len(buf) == 0 {
		return ""
	}
	return unsafe.String(&buf[0], len(buf))
}
