package redisstate

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// RenderJSON writes the full report as indented JSON.
func RenderJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// RenderText writes a readable report, docker-style:
//
//	Verified: 1000000 keys of snapshot 20261125T121500-ab12cd are intact (digest equal)
//
// or the counts per class, the first keys of each class and the failure reasons.
func RenderText(w io.Writer, r *Report) error {
	var b strings.Builder
	if r.DigestEqual && len(r.Reasons) == 0 {
		fmt.Fprintf(&b, "Verified: all %d keys of snapshot %s %s are intact (digest equal, %s → %s)\n",
			r.BeforeKeys, r.Before, r.dbScope(), short(r.BeforeRunID), short(r.AfterRunID))
	} else {
		fmt.Fprintf(&b, "Compared snapshot %s (%d keys, run %s) with %s (%d keys, run %s), %s\n",
			r.Before, r.BeforeKeys, short(r.BeforeRunID), r.After, r.AfterKeys, short(r.AfterRunID), r.dbScope())
		if len(r.Databases) > 1 || (len(r.Databases) == 1 && r.Databases[0].DB != 0) {
			for _, d := range r.Databases {
				fmt.Fprintf(&b, "  %-13s %d → %d keys\n", "db"+strconv.Itoa(d.DB), d.Before, d.After)
			}
		}
		fmt.Fprintf(&b, "Differing shards: %d/%d %s\n", len(r.DifferingShards), NumShards, shardList(r.DifferingShards, 16))
		fmt.Fprintf(&b, "  %-13s %d\n", "UNCHANGED", r.Unchanged)
		for _, c := range Classes {
			cr := r.Classes[c]
			label := c
			switch c {
			case ClassExpired:
				label = "EXPIRED"
				fmt.Fprintf(&b, "  %-13s %d (expected)\n", label, cr.Count)
			case ClassTTLChanged:
				if r.StrictTTL {
					fmt.Fprintf(&b, "  %-13s %d\n", label, cr.Count)
				} else {
					fmt.Fprintf(&b, "  %-13s %d (reported, not a failure)\n", label, cr.Count)
				}
			case ClassNew:
				fmt.Fprintf(&b, "  %-13s %d (written after the cut: fine)\n", label, cr.Count)
			default:
				fmt.Fprintf(&b, "  %-13s %d\n", label, cr.Count)
			}
		}
		for _, c := range Classes {
			cr := r.Classes[c]
			if cr.Count == 0 {
				continue
			}
			fmt.Fprintf(&b, "\n%s (%d", c, cr.Count)
			if int64(len(cr.Keys)) < cr.Count {
				fmt.Fprintf(&b, ", first %d", len(cr.Keys))
			}
			b.WriteString("):\n")
			for _, d := range cr.Keys {
				t := d.BeforeType
				if t == 0 {
					t = d.AfterType
				}
				fmt.Fprintf(&b, "  %-40s %-6s %s\n", dbKeyText(d.DB, d.Key), t, d.Detail)
			}
		}
	}
	if len(r.MustExist) > 0 {
		b.WriteString("\nRequired keys:\n")
		for _, k := range r.MustExist {
			st := "present"
			if !k.Present {
				st = "MISSING"
			}
			fmt.Fprintf(&b, "  %-40s %s\n", QuoteKey(k.Key), st)
		}
	}
	if r.OK() {
		fmt.Fprintf(&b, "\nVerdict: verified (compared in %s)\n", r.Elapsed.Round(time.Microsecond))
	} else {
		fmt.Fprintf(&b, "\nVerdict: FAILED: %s\n", strings.Join(r.Reasons, "; "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// dbScope says which databases the check covers: "in database 0", "in databases 0, 1
// (12 + 100 keys)", "in database 3 only".
func (r *Report) dbScope() string {
	if r.OnlyDB && len(r.Databases) > 0 {
		return fmt.Sprintf("in database %d only", r.Databases[0].DB)
	}
	var dbs []string
	for _, d := range r.Databases {
		if d.Before > 0 {
			dbs = append(dbs, strconv.Itoa(d.DB))
		}
	}
	switch len(dbs) {
	case 0:
		return "in every database (none held keys)"
	case 1:
		return "in database " + dbs[0] + " (the only one holding keys)"
	}
	return "in databases " + strings.Join(dbs, ", ")
}

// dbKeyText prints a key, with its database when it is not 0: key [db1].
func dbKeyText(db int, key string) string {
	if db == 0 {
		return QuoteKey(key)
	}
	return fmt.Sprintf("%s [db%d]", QuoteKey(key), db) // a bare key with a blank is quoted: no clash
}

// QuoteKey prints a key as-is when it is plain printable text, else Go-quoted.
func QuoteKey(k string) string {
	if k == "" || !utf8.ValidString(k) || strings.ContainsAny(k, " \t\r\n\"") || !strconv.IsPrint(firstRune(k)) {
		return strconv.Quote(k)
	}
	for _, r := range k {
		if !strconv.IsPrint(r) {
			return strconv.Quote(k)
		}
	}
	return k
}

func firstRune(s string) rune { r, _ := utf8.DecodeRuneInString(s); return r }

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func shardList(sh []int, max int) string {
	if len(sh) == 0 {
		return ""
	}
	parts := make([]string, 0, max)
	for i, s := range sh {
		if i == max {
			parts = append(parts, fmt.Sprintf("… +%d", len(sh)-max))
			break
		}
		parts = append(parts, fmt.Sprintf("%02x", s))
	}
	return "(" + strings.Join(parts, " ") + ")"
}

// Keys are bytes: JSON strings cannot hold a key that is not valid UTF-8 (encoding/json
// would turn every bad byte into U+FFFD, so two different keys would print the same).
// Such a key is written as "key_base64" (standard base64 of the bytes) instead of "key".
// The fields at depth 0 hide the embedded struct's "key".

func encodeKey(k string) (*string, string) {
	if utf8.ValidString(k) {
		return &k, ""
	}
	return nil, base64.StdEncoding.EncodeToString([]byte(k))
}

func decodeKey(k *string, b64 string) (string, error) {
	if k != nil {
		return *k, nil
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("key_base64: %w", err)
	}
	return string(b), nil
}

// MarshalJSON writes Key as "key", or as "key_base64" when it is not valid UTF-8.
func (d KeyDiff) MarshalJSON() ([]byte, error) {
	type plain KeyDiff
	v := struct {
		Key       *string `json:"key,omitempty"`
		KeyBase64 string  `json:"key_base64,omitempty"`
		plain
	}{plain: plain(d)}
	v.Key, v.KeyBase64 = encodeKey(d.Key)
	return json.Marshal(v)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *KeyDiff) UnmarshalJSON(b []byte) error {
	type plain KeyDiff
	v := struct {
		Key       *string `json:"key,omitempty"`
		KeyBase64 string  `json:"key_base64,omitempty"`
		*plain
	}{plain: (*plain)(d)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	k, err := decodeKey(v.Key, v.KeyBase64)
	d.Key = k
	return err
}

// MarshalJSON writes Key as "key", or as "key_base64" when it is not valid UTF-8.
func (k KeyCheck) MarshalJSON() ([]byte, error) {
	type plain KeyCheck
	v := struct {
		Key       *string `json:"key,omitempty"`
		KeyBase64 string  `json:"key_base64,omitempty"`
		plain
	}{plain: plain(k)}
	v.Key, v.KeyBase64 = encodeKey(k.Key)
	return json.Marshal(v)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (k *KeyCheck) UnmarshalJSON(b []byte) error {
	type plain KeyCheck
	v := struct {
		Key       *string `json:"key,omitempty"`
		KeyBase64 string  `json:"key_base64,omitempty"`
		*plain
	}{plain: (*plain)(k)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	s, err := decodeKey(v.Key, v.KeyBase64)
	k.Key = s
	return err
}
