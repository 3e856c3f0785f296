package engine

import (
	"strconv"
	"strings"
	"time"

	"github.com/skiff-project/skiff/errdefs"
)

// ParseTime reads a time as Docker's --since, --until and until filters
// take it: RFC 3339 (a time without a zone is local), Unix seconds, or a
// duration back from now (10m). flag names it in the error.
func ParseTime(s, flag string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, ok := unixTime(s); ok {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(0, int64(f*1e9)), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errdefs.Invalid("invalid %s %q: a time like 2024-01-02T13:23:37Z, Unix seconds or a duration like 10m", flag, s)
}

// unixTime reads Unix seconds with an optional fraction of up to nine
// digits exactly (the API's since=1700000000.123456789), which a float
// cannot hold to the nanosecond.
func unixTime(s string) (time.Time, bool) {
	sec, frac, hasFrac := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || sec == "" || sec[0] == '+' || sec[0] == '-' {
		return time.Time{}, false
	}
	var ns int64
	if hasFrac {
		if frac == "" || len(frac) > 9 || strings.Trim(frac, "0123456789") != "" {
			return time.Time{}, false
		}
		ns, _ = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	}
	return time.Unix(n, ns), true
}

// untilFilter is the until= filter of prunes: only what was created
// before it goes.
func untilFilter(f Filters) (time.Time, error) {
	var t time.Time
	for _, v := range f["until"] {
		u, err := ParseTime(v, "filter until")
		if err != nil {
			return t, err
		}
		t = u
	}
	return t, nil
}
