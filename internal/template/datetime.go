package template

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// datetime is Python's datetime.datetime as the to_datetime filter returns
// it: a wall clock reading to the microsecond, naive unless the format
// parsed an offset (%z).
type datetime struct {
	t      time.Time // the wall clock in UTC; for an aware value, local to offset
	aware  bool
	offset int // seconds east of UTC, when aware
}

// timedelta is Python's datetime.timedelta, kept as microseconds; a
// datetime minus a datetime is one.
type timedelta struct{ us int64 }

const (
	usPerSecond = 1_000_000
	usPerDay    = 86400 * usPerSecond
)

var (
	_ object  = datetime{}
	_ jsoner  = datetime{}
	_ object  = timedelta{}
	_ truther = timedelta{}
)

// instant is the point in time the value names (a naive value as if UTC).
func (d datetime) instant() time.Time { return d.t.Add(-time.Duration(d.offset) * time.Second) }

func (d datetime) isoformat(sep string) string {
	t := d.t
	s := fmt.Sprintf("%04d-%02d-%02d%s%02d:%02d:%02d", t.Year(), int(t.Month()), t.Day(), sep, t.Hour(), t.Minute(), t.Second())
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	if d.aware {
		s += utcOffset(d.offset, ":")
	}
	return s
}

// utcOffset formats an offset as %z does (sep "") or as isoformat (":").
func utcOffset(off int, sep string) string {
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	s := fmt.Sprintf("%s%02d%s%02d", sign, off/3600, sep, off/60%60)
	if off%60 != 0 {
		s += fmt.Sprintf("%s%02d", sep, off%60)
	}
	return s
}

func (d datetime) str() string      { return d.isoformat(" ") }
func (d datetime) typeName() string { return "datetime" }
func (d datetime) jsonValue() any   { return d.isoformat("T") } // Ansible's JSON encoder

func (d datetime) repr() string {
	t := d.t
	fields := []int{t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond() / 1000}
	for i := 0; i < 2 && fields[len(fields)-1] == 0; i++ {
		fields = fields[:len(fields)-1] // Python drops a zero microsecond, then a zero second
	}
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = strconv.Itoa(f)
	}
	s := "datetime.datetime(" + strings.Join(parts, ", ")
	if d.aware {
		s += ", tzinfo=" + d.tzRepr()
	}
	return s + ")"
}

func (d datetime) tzRepr() string {
	if d.offset == 0 {
		return "datetime.timezone.utc"
	}
	return "datetime.timezone(" + timedelta{int64(d.offset) * usPerSecond}.repr() + ")"
}

func (d datetime) attr(name string) (any, bool) {
	t := d.t
	switch name {
	case "year":
		return t.Year(), true
	case "month":
		return int(t.Month()), true
	case "day":
		return t.Day(), true
	case "hour":
		return t.Hour(), true
	case "minute":
		return t.Minute(), true
	case "second":
		return t.Second(), true
	case "microsecond":
		return t.Nanosecond() / 1000, true
	case "tzinfo":
		if !d.aware {
			return nil, true
		}
		return "UTC" + strings.TrimSuffix(utcOffset(d.offset, ":"), "+00:00"), true
	case "strftime":
		return fn(func(_ *scope, args []any, kw map[string]any) any {
			return d.strftime(toStr(arg(args, kw, 0, "format", "")))
		}), true
	case "isoformat":
		return fn(func(_ *scope, args []any, kw map[string]any) any {
			return d.isoformat(toStr(arg(args, kw, 0, "sep", "T")))
		}), true
	case "timestamp":
		return fn(func(_ *scope, _ []any, _ map[string]any) any {
			if d.aware {
				return float64(d.instant().UnixMicro()) / usPerSecond
			}
			local := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.Local)
			return float64(local.UnixMicro()) / usPerSecond
		}), true
	case "weekday":
		return fn(func(_ *scope, _ []any, _ map[string]any) any { return (int(t.Weekday()) + 6) % 7 }), true
	case "isoweekday":
		return fn(func(_ *scope, _ []any, _ map[string]any) any { return (int(t.Weekday())+6)%7 + 1 }), true
	}
	return nil, false
}

// strftime is datetime.strftime: a naive value has no %z or %Z.
func (d datetime) strftime(format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 >= len(format) {
			b.WriteByte(format[i])
			continue
		}
		i++
		switch c := format[i]; {
		case c == 'z' && d.aware:
			b.WriteString(utcOffset(d.offset, ""))
		case c == 'Z' && d.aware:
			b.WriteString("UTC" + strings.TrimSuffix(utcOffset(d.offset, ":"), "+00:00"))
		case c == 'z' || c == 'Z':
		case c == 's':
			// C's %s reads the wall clock as local time, zone or not
			t := d.t
			local := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.Local)
			b.WriteString(strconv.FormatInt(local.Unix(), 10))
		default:
			b.WriteString(pyStrftime("%"+string(c), d.t))
		}
	}
	return b.String()
}

func (td timedelta) parts() (days, seconds, micros int64) {
	days = td.us / usPerDay
	if td.us%usPerDay < 0 {
		days--
	}
	rest := td.us - days*usPerDay
	return days, rest / usPerSecond, rest % usPerSecond
}

func (td timedelta) str() string {
	days, secs, us := td.parts()
	s := fmt.Sprintf("%d:%02d:%02d", secs/3600, secs/60%60, secs%60)
	if days != 0 {
		plural := "s"
		if days == 1 || days == -1 {
			plural = ""
		}
		s = fmt.Sprintf("%d day%s, %s", days, plural, s)
	}
	if us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s
}

func (td timedelta) repr() string {
	days, secs, us := td.parts()
	var args []string
	if days != 0 {
		args = append(args, fmt.Sprintf("days=%d", days))
	}
	if secs != 0 {
		args = append(args, fmt.Sprintf("seconds=%d", secs))
	}
	if us != 0 {
		args = append(args, fmt.Sprintf("microseconds=%d", us))
	}
	if args == nil {
		args = []string{"0"}
	}
	return "datetime.timedelta(" + strings.Join(args, ", ") + ")"
}

func (td timedelta) typeName() string { return "timedelta" }
func (td timedelta) truth() bool      { return td.us != 0 }

func (td timedelta) attr(name string) (any, bool) {
	days, secs, us := td.parts()
	switch name {
	case "days":
		return int(days), true
	case "seconds":
		return int(secs), true
	case "microseconds":
		return int(us), true
	case "total_seconds":
		return fn(func(_ *scope, _ []any, _ map[string]any) any { return float64(td.us) / usPerSecond }), true
	}
	return nil, false
}

// minDatetime and maxDatetime bound Python's datetime (years 1 to 9999).
var (
	minDatetime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDatetime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

func (d datetime) add(us int64) datetime {
	// two steps, so a delta beyond time.Duration's 292 years still adds
	days, rest := us/usPerDay, us%usPerDay
	if days > 4_000_000 || days < -4_000_000 {
		fail("date value out of range")
	}
	t := d.t.AddDate(0, 0, int(days)).Add(time.Duration(rest) * time.Microsecond)
	if t.Before(minDatetime) || t.After(maxDatetime) {
		fail("date value out of range")
	}
	d.t = t
	return d
}

// pyOperand names a value's type as Python's operator errors do.
func pyOperand(v any) string {
	switch v.(type) {
	case datetime:
		return "datetime.datetime"
	case timedelta:
		return "datetime.timedelta"
	}
	return typeName(v)
}

// objectArith is + and - on datetimes and timedeltas; ok is false when
// neither operand is an object.
func objectArith(op string, l, r any) (v any, ok bool) {
	_, lo := l.(object)
	_, ro := r.(object)
	if !lo && !ro {
		return nil, false
	}
	switch a := l.(type) {
	case datetime:
		switch b := r.(type) {
		case datetime:
			if op == "-" {
				if a.aware != b.aware {
					fail("can't subtract offset-naive and offset-aware datetimes")
				}
				return timedelta{a.instant().UnixMicro() - b.instant().UnixMicro()}, true
			}
		case timedelta:
			switch op {
			case "+":
				return a.add(b.us), true
			case "-":
				return a.add(-b.us), true
			}
		}
	case timedelta:
		switch b := r.(type) {
		case timedelta:
			switch op {
			case "+":
				return timedelta{a.us + b.us}, true
			case "-":
				return timedelta{a.us - b.us}, true
			}
		case datetime:
			if op == "+" {
				return b.add(a.us), true
			}
		}
	}
	fail("unsupported operand type(s) for %s: '%s' and '%s'", op, pyOperand(l), pyOperand(r))
	return nil, false
}

// objectCompare orders two datetimes or two timedeltas.
func objectCompare(a, b any) (int, bool) {
	var x, y int64
	switch a := a.(type) {
	case datetime:
		b, ok := b.(datetime)
		if !ok {
			return 0, false
		}
		if a.aware != b.aware {
			fail("can't compare offset-naive and offset-aware datetimes")
		}
		x, y = a.instant().UnixMicro(), b.instant().UnixMicro()
	case timedelta:
		b, ok := b.(timedelta)
		if !ok {
			return 0, false
		}
		x, y = a.us, b.us
	default:
		return 0, false
	}
	switch {
	case x < y:
		return -1, true
	case x > y:
		return 1, true
	}
	return 0, true
}

func objectEqual(a object, b any) bool {
	if da, ok := a.(datetime); ok {
		if db, ok := b.(datetime); !ok || da.aware != db.aware {
			return false // Python: naive and aware are never equal
		}
	}
	c, ok := objectCompare(a, b)
	return ok && c == 0
}

// strptimeField is the pattern of one strptime directive (Python's
// _strptime.TimeRE, C locale).
var strptimeField = map[byte]string{
	'd': `3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9]`,
	'f': `[0-9]{1,6}`,
	'H': `2[0-3]|[0-1]\d|\d`,
	'I': `1[0-2]|0[1-9]|[1-9]`,
	'j': `36[0-6]|3[0-5]\d|[1-2]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9]`,
	'm': `1[0-2]|0[1-9]|[1-9]`,
	'M': `[0-5]\d|\d`,
	'S': `6[0-1]|[0-5]\d|\d`,
	'w': `[0-6]`,
	'u': `[1-7]`,
	'y': `\d\d`,
	'Y': `\d\d\d\d`,
	'z': `[+-]\d\d:?[0-5]\d(?::?[0-5]\d(?:\.\d{1,6})?)?|(?-i:Z)`,
	'A': `wednesday|saturday|thursday|tuesday|sunday|monday|friday`,
	'a': `mon|tue|wed|thu|fri|sat|sun`,
	'B': `september|february|november|december|january|october|august|march|april|july|june|may`,
	'b': `jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec`,
	'p': `am|pm`,
	'Z': `utc|gmt`,
}

// strptimeMacro are the C locale's %c, %x and %X.
var strptimeMacro = map[byte]string{'c': "%a %b %d %H:%M:%S %Y", 'x': "%m/%d/%y", 'X': "%H:%M:%S"}

var spaceRun = regexp.MustCompile(`\s+`)

// strptimePattern turns a strptime format into an anchored regexp and the
// directive each group holds.
func strptimePattern(format string) (string, []byte) {
	var b strings.Builder
	var groups []byte
	b.WriteString(`(?i)^`)
	var walk func(f string)
	walk = func(f string) {
		for i := 0; i < len(f); i++ {
			c := f[i]
			if c != '%' {
				j := i
				for j < len(f) && f[j] != '%' {
					j++
				}
				for k, lit := range spaceRun.Split(f[i:j], -1) {
					if k > 0 {
						b.WriteString(`\s+`)
					}
					b.WriteString(regexp.QuoteMeta(lit))
				}
				i = j - 1
				continue
			}
			if i+1 >= len(f) {
				fail("stray %% in format '%s'", format)
			}
			i++
			d := f[i]
			if m, ok := strptimeMacro[d]; ok {
				walk(m)
				continue
			}
			if d == '%' {
				b.WriteByte('%')
				continue
			}
			p, ok := strptimeField[d]
			if !ok {
				fail("'%c' is a bad directive in format '%s'", d, format)
			}
			for _, g := range groups {
				if g == d {
					fail("redefinition of group name '%c' in format '%s'", d, format)
				}
			}
			groups = append(groups, d)
			b.WriteString("(" + p + ")")
		}
	}
	walk(format)
	return b.String(), groups
}

var monthNames = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// strptime is datetime.datetime.strptime in the C locale.
func strptime(s, format string) datetime {
	pat, groups := strptimePattern(format)
	m := regexp.MustCompile(pat).FindStringSubmatchIndex(s)
	if m == nil {
		fail("time data %s does not match format %s", pyQuote(s), pyQuote(format))
	}
	if m[1] != len(s) {
		fail("unconverted data remains: %s", s[m[1]:])
	}
	year, month, day, julian := 1900, 1, 1, -1
	hour, minute, second, micro := 0, 0, 0, 0
	hasYear, hasMonthDay := false, false
	ampm := ""
	hour12 := -1
	aware, offset := false, 0
	for i, d := range groups {
		v := strings.ToLower(s[m[2*i+2]:m[2*i+3]])
		n, _ := strconv.Atoi(strings.TrimSpace(v))
		switch d {
		case 'Y':
			year, hasYear = n, true
		case 'y':
			year, hasYear = n+1900, true
			if n <= 68 {
				year += 100
			}
		case 'm':
			month, hasMonthDay = n, true
		case 'b', 'B':
			for k, name := range monthNames {
				if strings.HasPrefix(v, name) {
					month = k + 1
				}
			}
			hasMonthDay = true
		case 'd':
			day, hasMonthDay = n, true
		case 'j':
			julian = n
		case 'H':
			hour = n
		case 'I':
			hour12 = n
		case 'p':
			ampm = v
		case 'M':
			minute = n
		case 'S':
			second = n
		case 'f':
			micro, _ = strconv.Atoi(v + strings.Repeat("0", 6-len(v)))
		case 'z':
			aware = true
			offset = parseUTCOffset(s[m[2*i+2]:m[2*i+3]])
		}
	}
	if hour12 >= 0 {
		hour = hour12
		switch {
		case ampm == "am" && hour == 12:
			hour = 0
		case ampm == "pm" && hour != 12:
			hour += 12
		}
	}
	if !hasYear && month == 2 && day == 29 {
		fail("day is out of range for month") // Python checks against its default year, 1900
	}
	if julian > 0 && !hasMonthDay {
		t := time.Date(year, 1, julian, 0, 0, 0, 0, time.UTC)
		year, month, day = t.Year(), int(t.Month()), t.Day()
	}
	switch {
	case year < 1 || year > 9999:
		fail("year %d is out of range", year)
	case day > daysIn(year, month):
		fail("day is out of range for month")
	case second > 59:
		fail("second must be in 0..59")
	}
	return datetime{t: time.Date(year, time.Month(month), day, hour, minute, second, micro*1000, time.UTC), aware: aware, offset: offset}
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseUTCOffset reads %z's "+HHMM", "+HH:MM[:SS[.ffffff]]" or "Z".
func parseUTCOffset(z string) int {
	if z == "Z" {
		return 0
	}
	orig := z
	if z[3] == ':' {
		z = z[:3] + z[4:]
		if len(z) > 5 {
			if z[5] != ':' {
				fail("Inconsistent use of : in %s", orig)
			}
			z = z[:5] + z[6:]
		}
	}
	h, _ := strconv.Atoi(z[1:3])
	mi, _ := strconv.Atoi(z[3:5])
	sec := 0
	if len(z) >= 7 {
		sec, _ = strconv.Atoi(z[5:7])
	}
	off := h*3600 + mi*60 + sec
	if off >= 86400 {
		fail("offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not %s", timedelta{int64(off) * usPerSecond}.repr())
	}
	if z[0] == '-' {
		off = -off
	}
	return off
}
