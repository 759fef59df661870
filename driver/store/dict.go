package store

import (
	"fmt"
	"slices"
	"strings"
)

// dictCodes are the bytes that no valid JSON text contains: the control
// characters other than tab, newline and carriage return, which may
// appear only as whitespace between tokens and never raw inside a
// string. A value in memory uses them for the words of Options.Dict.
const dictCodes = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f" +
	"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f"

// MaxDictWords is how many words Options.Dict may hold.
const MaxDictWords = len(dictCodes)

// dict is the in-memory form of values: every occurrence of one of its
// words is replaced by that word's code, one byte. A nil dict keeps
// values as they are.
type dict struct {
	words [32]string // by code; "" where the byte is no code
	// long holds the codes of the words of three bytes or more by
	// trigram(their first three bytes), short those of the shorter
	// ones by their first byte; each list longest first.
	long  [256][]byte
	short [256][]byte
}

// trigram is where dict.long lists the words that start with a, b, c.
// Different starts may share a list: a word is compared whole before it
// is used.
func trigram(a, b, c byte) byte { return a ^ b<<2 ^ c*5 }

// newDict builds the dict of words; none means nil. A word must not be
// empty, repeated or hold a code byte.
func newDict(words []string) (*dict, error) {
	if len(words) == 0 {
		return nil, nil
	}
	if len(words) > MaxDictWords {
		return nil, fmt.Errorf("store: dictionary of %d words, at most %d", len(words), MaxDictWords)
	}
	d := &dict{}
	for i, w := range words {
		if w == "" || strings.ContainsAny(w, dictCodes) || slices.Contains(words[:i], w) {
			return nil, fmt.Errorf("store: dictionary word %q: empty, repeated or holding a control character", w)
		}
		c := dictCodes[i]
		d.words[c] = w
		if len(w) >= 3 {
			h := trigram(w[0], w[1], w[2])
			d.long[h] = append(d.long[h], c)
		} else {
			d.short[w[0]] = append(d.short[w[0]], c)
		}
	}
	longestFirst := func(a, b byte) int { return len(d.words[b]) - len(d.words[a]) }
	for i := range d.long {
		slices.SortStableFunc(d.long[i], longestFirst)
		slices.SortStableFunc(d.short[i], longestFirst)
	}
	return d, nil
}

// encode is v as kept in memory: at each position the longest word that
// starts there becomes its code. v is valid JSON, so it holds no code.
func (d *dict) encode(v []byte) string {
	if d == nil {
		return string(v)
	}
	var scratch [512]byte // most values: no allocation besides the result
	out := scratch[:0]
	for i := 0; i < len(v); {
		c, n := byte(0), 0
		if len(v)-i >= 3 {
			for _, code := range d.long[trigram(v[i], v[i+1], v[i+2])] {
				if w := d.words[code]; len(v)-i >= len(w) && string(v[i:i+len(w)]) == w {
					c, n = code, len(w)
					break
				}
			}
		}
		if n == 0 {
			for _, code := range d.short[v[i]] {
				if w := d.words[code]; len(v)-i >= len(w) && string(v[i:i+len(w)]) == w {
					c, n = code, len(w)
					break
				}
			}
		}
		if n == 0 {
			out = append(out, v[i])
			i++
			continue
		}
		out = append(out, c)
		i += n
	}
	return string(out)
}

// appendDecoded appends the value that e encodes to dst.
func (d *dict) appendDecoded(dst []byte, e string) []byte {
	if d == nil {
		return append(dst, e...)
	}
	for i := 0; i < len(e); {
		j := i
		for j < len(e) && (e[j] >= 0x20 || d.words[e[j]] == "") {
			j++
		}
		dst = append(dst, e[i:j]...)
		if j < len(e) {
			dst = append(dst, d.words[e[j]]...)
			j++
		}
		i = j
	}
	return dst
}

// decodedLen is the length of the value that e encodes.
func (d *dict) decodedLen(e string) int {
	if d == nil {
		return len(e)
	}
	n := len(e)
	for i := 0; i < len(e); i++ {
		if e[i] < 0x20 && d.words[e[i]] != "" {
			n += len(d.words[e[i]]) - 1
		}
	}
	return n
}
