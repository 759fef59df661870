package ibctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Obj is a JSON object that keeps its keys in insertion order, as
// iproute2's json_writer does.
type Obj struct {
	keys []string
	vals []any
}

// Set appends a key.
func (o *Obj) Set(key string, v any) *Obj {
	o.keys = append(o.keys, key)
	o.vals = append(o.vals, v)
	return o
}

// MarshalJSON writes the keys in order.
func (o *Obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[i])
		if err != nil {
			return nil, fmt.Errorf("json %s: %w", k, err)
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Printer prints one record in text and JSON from the same calls, like
// iproute2's print_string(PRINT_ANY, key, fmt, value).
type Printer struct {
	text  strings.Builder
	stack []*Obj
}

// NewPrinter starts a record.
func NewPrinter() *Printer { return &Printer{stack: []*Obj{{}}} }

func (p *Printer) cur() *Obj { return p.stack[len(p.stack)-1] }

// Any prints value with format in text and under key in JSON; an empty key
// prints text only, an empty format JSON only.
func (p *Printer) Any(key, format string, value any) {
	if format != "" {
		fmt.Fprintf(&p.text, format, value)
	}
	if key != "" {
		p.cur().Set(key, value)
	}
}

// Text prints text only.
func (p *Printer) Text(s string) { p.text.WriteString(s) }

// Open starts a nested JSON object under key.
func (p *Printer) Open(key string) {
	o := &Obj{}
	p.cur().Set(key, o)
	p.stack = append(p.stack, o)
}

// Close ends the nested object.
func (p *Printer) Close() { p.stack = p.stack[:len(p.stack)-1] }

// TextOut is the text printed so far.
func (p *Printer) TextOut() string { return p.text.String() }

// Object is the JSON record.
func (p *Printer) Object() *Obj { return p.stack[0] }

// writeJSON prints v as ip -j does (one line), or indented with -p.
func writeJSON(w io.Writer, v any, pretty bool) error {
	var b []byte
	var err error
	if pretty {
		b, err = json.MarshalIndent(v, "", "    ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// emitList prints records as text, one after another, or as one JSON
// array (empty, not null, when there are none).
func emitList(w io.Writer, g *Globals, ps []*Printer) error {
	if g.JSON {
		objs := make([]*Obj, len(ps))
		for i, p := range ps {
			objs[i] = p.Object()
		}
		return writeJSON(w, objs, g.Pretty)
	}
	var text strings.Builder
	for _, p := range ps {
		text.WriteString(p.TextOut())
	}
	_, err := io.WriteString(w, text.String())
	return err
}
